//! Files sent with `sendfile(2)` on plain HTTP/1 connections, under hyper, which only writes
//! bytes it holds in memory.
//!
//! nginx and lighttpd hand a file to the kernel, which moves its pages to the socket; a server
//! that reads the file first copies every byte twice (into its buffer, then into the socket),
//! and on a 64 KiB or 1 MiB download those copies are most of its CPU time (perf: the kernel's
//! `_copy_to_iter` and `_copy_from_iter` were 18% of serveur's samples at 64 KiB).
//!
//! hyper has no way to write a file, but it writes what a body yields untouched and in order:
//! with vectored writes (its `Queue` strategy) each data frame reaches the IO as an `IoSlice`
//! over the frame's own memory. So a file body on such a connection yields *placeholders*:
//! slices of one static, never-written buffer ([`placeholder`]), and queues a [`Region`] (file,
//! offset, length) for each in the connection's [`FileRegions`]. [`ZeroCopy`], the connection's
//! IO, recognises a placeholder by its address: bytes before it go out with `sendmsg(MSG_MORE)`,
//! the placeholder itself with `sendfile` from its region, and hyper is told the lengths it
//! handed over, as if the bytes had been its own.
//!
//! Vectored writes cost hyper about 500 instructions per response more than its flat strategy
//! (one buffer, one `sendto`; callgrind, hyper's own hello world with `writev(false)`: 6,299
//! against 6,844), and hyper picks the strategy once per connection. A server that never sends
//! a file large enough for `sendfile` should not pay that on every response, so a server's
//! plain connections start flat ([`FileSending::Copied`]: files are read and copied, as on TLS)
//! until one of its responses is a file that would have gone by `sendfile`; from then on, its
//! new connections are made vectored ([`FileSending::ByRegions`]). The [`SendfileDemand`] is
//! the server's memory of that. (hyper 0.12's `WriteStrategy::Auto` made the same choice per
//! connection, when it could still switch.)
//!
//! A download takes its turn on the worker thread like any connection: one `sendfile` call of
//! at most 256 KiB, then it lets the thread's other tasks run before it sends more ([`Turn`]),
//! as lighttpd sends 256 KiB per pass of its event loop (nginx one `sendfile_max_chunk`,
//! 2 MiB). Without turns, a client draining as fast as `sendfile` fills (a fast network, a big
//! socket buffer) would hold the thread for up to tokio's budget of 128 writes per poll, as
//! hyper writes a body until its IO says to wait. Short turns also keep every download moving
//! at once rather than one whole response after another: 16 clients of 1 MiB files got 2,735
//! MB/s with 2 MiB calls and 7,211 with turns of 256 KiB (lighttpd 8,123; `bench.sh`, f1m,
//! the same run), the clients' core busy rather than waiting on one socket at a time. A long
//! download's regions but its last go out corked ([`Region::cork`]), so that the kernel sends
//! full segments only.
//!
//! Safety of the trick rests on one check: a placeholder's bytes must never be written as
//! bytes. Placeholders are made only for HTTP/1 responses on connections whose IO is a
//! `ZeroCopy`; a placeholder must be met at exactly its region's next unsent byte; and a write
//! while a region waits that does not carry its placeholder (hyper would have copied the bytes,
//! i.e. changed strategy) fails the connection instead of sending zeros.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use rustix::net::{SendAncillaryBuffer, SendFlags};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use super::by_regions;
use super::stream::Stream;
use crate::body::Body;

/// The longest placeholder, so the most one region sends: larger files are several regions.
pub(crate) const MAX_REGION: usize = 2 * 1024 * 1024;

/// Placeholders' memory. It is never written (it stays zero, costs no resident memory), and
/// only its address range is used: a slice inside it is a placeholder.
static PLACEHOLDERS: [u8; MAX_REGION] = [0; MAX_REGION];

/// A placeholder for `len` bytes of a region (`len` at most [`MAX_REGION`]).
pub(crate) fn placeholder(len: usize) -> Bytes {
    Bytes::from_static(&PLACEHOLDERS[..len.min(MAX_REGION)])
}

/// Where `bytes` start in the placeholder buffer, if they are a placeholder.
pub(crate) fn placeholder_offset(bytes: &[u8]) -> Option<usize> {
    let start = PLACEHOLDERS.as_ptr() as usize;
    let at = bytes.as_ptr() as usize;
    (!bytes.is_empty() && at >= start && at < start + MAX_REGION).then(|| at - start)
}

/// Part of a file a placeholder stands for.
pub(crate) struct Region {
    pub file: Arc<File>,
    pub offset: u64,
    pub len: usize,
    /// Whether the socket is corked while this region goes out: a long download's regions
    /// but its last ([`ZeroCopy::send_region`]).
    pub cork: bool,
}

/// The regions handed to hyper and not yet sent, oldest first: shared by a connection's
/// [`ZeroCopy`] and the bodies of its responses.
#[derive(Clone, Default)]
pub(crate) struct FileRegions(Arc<Mutex<VecDeque<Region>>>);

impl FileRegions {
    /// Queues `region` and returns its placeholder, which must be the next data frame yielded.
    pub(crate) fn push(&self, region: Region) -> Bytes {
        let bytes = placeholder(region.len);
        self.lock().push_back(region);
        bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Region>> {
        // A panic elsewhere cannot leave the queue half-changed: each change is one call.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a server has answered with a file large enough to go by `sendfile`: shared by its
/// plain connections, it decides how the next ones are made ([`ZeroCopy::new`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct SendfileDemand(Arc<AtomicBool>);

impl SendfileDemand {
    fn is_felt(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How a plain HTTP/1 connection sends its responses' files.
#[derive(Clone)]
pub(crate) enum FileSending {
    /// By `sendfile`, through the regions its vectored [`ZeroCopy`] owns.
    ByRegions(FileRegions),
    /// Read and copied, the connection being flat; a file that would have gone by `sendfile`
    /// makes the server's next connections vectored.
    Copied(SendfileDemand),
}

impl FileSending {
    /// `body` as this connection sends it.
    pub(crate) fn prepare(&self, body: Body) -> Body {
        match self {
            FileSending::ByRegions(regions) => by_regions::send_by_regions(body, regions),
            FileSending::Copied(demand) => {
                if by_regions::gains(&body) && !demand.is_felt() {
                    demand.0.store(true, Ordering::Relaxed);
                }
                body
            }
        }
    }
}

/// A plain (TCP or Unix-domain) connection's IO: flat, or vectored and sending placeholders'
/// regions with `sendfile`.
pub(crate) struct ZeroCopy<S> {
    stream: S,
    /// Present when the connection is vectored.
    regions: Option<FileRegions>,
    /// What the vectored connection has written since its socket last made it wait.
    turn: Turn,
}

/// How many bytes a connection sends without waiting before it lets the others run, and the
/// most one `sendfile` call sends: lighttpd's chunk, ~100 µs of the thread at a few GB/s.
const TURN: usize = 256 * 1024;

/// A connection's share of its worker thread: bytes written since the socket last made it
/// wait, and the pause it takes after [`TURN`] of them. A full socket also ends a turn (a
/// slow client's, before its 256 KiB are out). Waiting for a request does not count
/// (hyper polls the socket's read side while it writes a body, so it would end every turn):
/// a keep-alive connection whose answers always fit its socket pauses once per [`TURN`] bytes
/// of them, one extra trip through the scheduler.
#[derive(Default)]
struct Turn {
    sent: usize,
    /// `tokio::task::yield_now`, whose wake comes only after the runtime has polled its IO
    /// driver: a bare self-wake would put the task back in the queue before a waiting
    /// connection's readiness is even seen. Boxed: its type has no name, and it is made once
    /// per [`TURN`] bytes at most.
    pause: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl Turn {
    /// Ready when the connection may send: at once within its turn, else after a pause.
    fn poll_go(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.sent < TURN && self.pause.is_none() {
            return Poll::Ready(());
        }
        let pause = self
            .pause
            .get_or_insert_with(|| Box::pin(tokio::task::yield_now()));
        ready!(pause.as_mut().poll(cx));
        *self = Turn::default();
        Poll::Ready(())
    }

    /// The socket made the connection wait for room: the others run meanwhile.
    fn waited(&mut self) {
        self.sent = 0;
    }
}

impl<S: Stream> ZeroCopy<S> {
    /// Wraps `stream`, vectored if the server has sent a file worth `sendfile` before; its
    /// responses' bodies are to be prepared by the returned [`FileSending`].
    pub(crate) fn new(stream: S, demand: &SendfileDemand) -> (Self, FileSending) {
        if !demand.is_felt() {
            let io = ZeroCopy {
                stream,
                regions: None,
                turn: Turn::default(),
            };
            return (io, FileSending::Copied(demand.clone()));
        }
        let regions = FileRegions::default();
        let io = ZeroCopy {
            stream,
            regions: Some(regions.clone()),
            turn: Turn::default(),
        };
        (io, FileSending::ByRegions(regions))
    }

    /// The stream, to wait on before anything is read through this IO (`read_ahead`).
    pub(crate) fn stream(&self) -> &S {
        &self.stream
    }

    /// One system call for the start of `bufs`: the bytes before the first placeholder, or the
    /// placeholder's region.
    fn write_some(&self, regions: &FileRegions, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let first = bufs.iter().position(|b| placeholder_offset(b).is_some());
        match first {
            None if regions.lock().is_empty() => {
                rustix::io::writev(&self.stream, bufs).map_err(io::Error::from)
            }
            None => Err(io::Error::other(
                "a file region was queued but its placeholder was not written",
            )),
            // More follows at once: let the kernel put the head and the file's first bytes in
            // one segment.
            Some(n) if n > 0 => rustix::net::sendmsg(
                &self.stream,
                &bufs[..n],
                &mut SendAncillaryBuffer::default(),
                SendFlags::MORE | SendFlags::NOSIGNAL,
            )
            .map_err(io::Error::from),
            Some(_) => self.send_region(regions, &bufs[0]),
        }
    }

    /// Sends the next bytes of the oldest region, which `placeholder` must stand for.
    fn send_region(&self, regions: &FileRegions, placeholder: &[u8]) -> io::Result<usize> {
        let mut regions = regions.lock();
        let Some(region) = regions.front_mut() else {
            return Err(io::Error::other(
                "a placeholder was written without its file region",
            ));
        };
        let sent = placeholder_offset(placeholder).unwrap_or(usize::MAX);
        if sent + placeholder.len() != region.len {
            return Err(io::Error::other(
                "a placeholder does not match its file region",
            ));
        }
        let mut offset = region.offset + sent as u64;
        // A long download goes out corked but for its last region (nginx's `tcp_nopush`
        // with `sendfile`): the kernel then sends only full segments, where each call's
        // partial tail, and whatever the receiver's window allowed, would otherwise leave at
        // once. On loopback a 100 MiB download took 29,700 segments uncorked and 16,600
        // corked (`nstat`), the client slept half as often and the server's system time per
        // GiB fell from 0.48 s to 0.42 s (`bench.sh` big, one run: 1,731 → 2,420 MB/s).
        // Corking files of one region (16 clients of 1 MiB files, `f1m`) halved their MB/s
        // instead, for the same CPU: so the last region, the whole of a shorter file, is not
        // corked. Corking again on a retried call is harmless. (Both calls fail harmlessly on
        // a Unix-domain socket.)
        if region.cork && sent == 0 {
            let _ = rustix::net::sockopt::set_tcp_cork(&self.stream, true);
        }
        let n = rustix::fs::sendfile(
            self.stream.as_fd(),
            region.file.as_fd(),
            Some(&mut offset),
            placeholder.len().min(TURN),
        )?;
        if n == 0 {
            // The file shrank after its length was sent: end the response short rather than
            // invent bytes, as a read would.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being sent",
            ));
        }
        if n == placeholder.len() {
            // Uncorking pushes the tail out: nothing stays held once the region is sent. (Its
            // error is not the call's: the `n` bytes are sent. Should it fail, the kernel
            // still sends a corked tail within 200 ms, tcp(7).)
            if regions.pop_front().is_some_and(|sent| sent.cork) {
                let _ = rustix::net::sockopt::set_tcp_cork(&self.stream, false);
            }
        }
        Ok(n)
    }
}

impl<S: Stream> AsyncRead for ZeroCopy<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl<S: Stream> AsyncWrite for ZeroCopy<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.regions.is_none() {
            return Pin::new(&mut self.get_mut().stream).poll_write(cx, buf);
        }
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(regions) = &this.regions else {
            return Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        };
        ready!(this.turn.poll_go(cx));
        loop {
            let Poll::Ready(ready) = this.stream.poll_write_ready(cx) else {
                this.turn.waited();
                return Poll::Pending;
            };
            ready?;
            let written = this
                .stream
                .try_io(Interest::WRITABLE, || this.write_some(regions, bufs));
            match written {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Ok(n) => {
                    this.turn.sent += n;
                    return Poll::Ready(Ok(n));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        // With regions, hyper must hand each data frame over as its own slice (its `Queue`
        // strategy); without, it is to flatten each response into one buffer.
        self.regions.is_some()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_body(len: usize) -> Body {
        let mut file = tempfile::tempfile().expect("temp file");
        std::io::Write::write_all(&mut file, &vec![7u8; len]).expect("write");
        Body::file(file, len as u64)
    }

    #[tokio::test]
    async fn connections_turn_vectored_after_the_first_file_worth_sendfile() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stream = || async { tokio::net::TcpStream::connect(addr).await.expect("connect") };
        let demand = SendfileDemand::default();

        let (io, files) = ZeroCopy::new(stream().await, &demand);
        assert!(!io.is_write_vectored());
        assert!(matches!(files, FileSending::Copied(_)));
        // Small files and other bodies leave the next connections flat...
        for body in [file_body(16 * 1024 - 1), Body::full("x".repeat(100_000))] {
            files.prepare(body);
        }
        assert!(!demand.is_felt());
        let (io, _) = ZeroCopy::new(stream().await, &demand);
        assert!(!io.is_write_vectored());
        // ...a large one is still copied on this connection, and makes the next ones vectored.
        let body = files.prepare(file_body(16 * 1024));
        assert!(by_regions::gains(&body), "the body stays a file to copy");
        let (io, files) = ZeroCopy::new(stream().await, &demand);
        assert!(io.is_write_vectored());
        assert!(matches!(files, FileSending::ByRegions(_)));
        // (A body prepared for regions is no longer a file to copy.)
        assert!(!by_regions::gains(&files.prepare(file_body(16 * 1024))));
    }

    /// One poll of `turn.poll_go`.
    async fn go(turn: &mut Turn) -> Poll<()> {
        std::future::poll_fn(|cx| Poll::Ready(turn.poll_go(cx))).await
    }

    #[tokio::test]
    async fn a_turn_ends_in_a_pause_after_a_regions_worth_or_when_the_socket_waited() {
        let mut turn = Turn {
            sent: TURN - 1,
            pause: None,
        };
        assert!(go(&mut turn).await.is_ready(), "within its turn");
        turn.sent = TURN;
        assert!(
            go(&mut turn).await.is_pending(),
            "a turn's worth sent: pause"
        );
        tokio::task::yield_now().await;
        assert!(go(&mut turn).await.is_ready(), "on again after the pause");
        assert_eq!(turn.sent, 0, "in a new turn");
        turn.sent = TURN + 5;
        turn.waited();
        assert!(
            go(&mut turn).await.is_ready(),
            "the socket's wait ended the turn"
        );
    }

    #[test]
    fn placeholders_are_told_from_other_bytes_by_address() {
        let p = placeholder(100);
        assert_eq!(placeholder_offset(&p), Some(0));
        assert_eq!(placeholder_offset(&p[40..]), Some(40));
        let zeros = vec![0u8; 100];
        assert_eq!(placeholder_offset(&zeros), None);
        assert_eq!(placeholder_offset(&p[..0]), None);
    }
}
