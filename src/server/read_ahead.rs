//! The first bytes of a connection, read before hyper runs, and given back to it.
//!
//! A connection's first bytes tell which protocol it speaks: HTTP/2 with prior knowledge
//! starts with the 24-byte preface (RFC 9113 §3.4), anything else is HTTP/1. On a plain
//! connection they are read by [`first_read`], which is how the accept loop waits for a client
//! to speak, allocating nothing until it does (`staged`); [`speaks_http2`] decides from them
//! (reading more only while they could still be the preface), once per connection, and hyper's
//! HTTP/1 or HTTP/2 connection is made for the rest of its life. [`ReadAhead`] hands the bytes
//! read to hyper's first read, then is a branch per read.
//!
//! hyper-util's auto builder made the same decision with a read of exactly 24 bytes of its
//! own, and kept its `Rewind` wrapper under every read and write of the connection afterwards
//! (callgrind, 1 KiB files: ~60 instructions a request in `Rewind` alone). One socket read
//! serves both the sniff and hyper's first read of the head (strace, the `close` scenario: 2 →
//! 1 `recvfrom` per request).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use super::malformed::Parsed;
use super::stream::Stream;

/// How much the first read fetches: a typical request head, whole.
const AHEAD: usize = 2048;

/// HTTP/2's connection preface (RFC 9113 §3.4): what a client speaking HTTP/2 with prior
/// knowledge (h2c, or TLS with or without ALPN `h2`) sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An IO whose first reads are served from bytes read before it was made.
pub(crate) struct ReadAhead<IO> {
    io: IO,
    /// What was read ahead and not yet handed out; freed once drained.
    ahead: BytesMut,
}

/// Waits for the client's first bytes and reads them, up to [`AHEAD`]; `None` if the client
/// left (or the socket failed) before sending any. They are read onto the stack (tokio assumes
/// an accepted socket readable until a read says otherwise, so the first try may find nothing)
/// and kept in a buffer of their own size: a connection that sends nothing holds no buffer,
/// and one that does holds only its bytes until hyper takes them.
pub(crate) async fn first_read(stream: &impl Stream) -> Option<BytesMut> {
    loop {
        stream.readable().await.ok()?;
        let mut first = [0u8; AHEAD];
        match stream.try_read(&mut first) {
            Ok(0) => return None,
            Ok(n) => return Some(BytesMut::from(&first[..n])),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return None,
        }
    }
}

/// Whether the client speaks HTTP/2 with prior knowledge: whether `ahead`, the bytes read from
/// `io` so far, start with HTTP/2's preface. More is read into `ahead` only while they are a
/// part of it. A client that ends its stream first is left to HTTP/1 (hyper answers the bytes it
/// sent, as after hyper-util's own sniff); `None` if a read fails. `parsed` hears of bytes that
/// stall there, so a header timeout logs them as a stalled head.
pub(crate) async fn speaks_http2<IO: AsyncRead + Unpin>(
    io: &mut IO,
    ahead: &mut BytesMut,
    parsed: &Parsed,
) -> Option<bool> {
    loop {
        let n = ahead.len().min(H2_PREFACE.len());
        if ahead[..n] != H2_PREFACE[..n] {
            return Some(false);
        }
        if n == H2_PREFACE.len() {
            return Some(true);
        }
        if n > 0 {
            parsed.hear();
        }
        if ahead.capacity() == ahead.len() {
            ahead.reserve(AHEAD);
        }
        if io.read_buf(ahead).await.ok()? == 0 {
            return Some(false);
        }
    }
}

impl<IO> ReadAhead<IO> {
    /// `io`, with `ahead` read from it already (empty if nothing was).
    pub(crate) fn new(io: IO, ahead: BytesMut) -> Self {
        ReadAhead { io, ahead }
    }

    /// Keeps `bytes` to hand out first: those hyper had read and not parsed when the
    /// connection rested (`rest`).
    pub(crate) fn give_back(&mut self, bytes: &[u8]) {
        self.ahead = BytesMut::from(bytes);
    }

    /// Waits, holding no buffer, for the client's next bytes after a rest, and keeps them
    /// (as [`first_read`] does for the first ones); `true` once there are bytes to hand out,
    /// `false` if the client ended the connection.
    pub(crate) fn poll_refill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>>
    where
        IO: AsyncRead + Unpin,
    {
        if !self.ahead.is_empty() {
            return Poll::Ready(Ok(true));
        }
        let mut first = [0u8; AHEAD];
        let mut out = ReadBuf::new(&mut first);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut out))?;
        self.ahead = BytesMut::from(out.filled());
        Poll::Ready(Ok(!self.ahead.is_empty()))
    }

    /// Moves what is kept into `out`, as much as fits.
    ///
    /// All at once: a first read that is not a whole head makes hyper parse twice and scan the
    /// head again for its end (`is_complete_fast`), and grow its read buffer to 16 KiB (callgrind,
    /// a new connection per request: ~1,500 instructions per connection). Handed the whole head,
    /// hyper keeps an 8 KiB buffer (8 KiB less per kept-alive connection) and reclaims its space
    /// before each later request instead (~60 instructions a request).
    fn drain_into(&mut self, out: &mut ReadBuf<'_>) {
        let n = out.remaining().min(self.ahead.len());
        out.put_slice(&self.ahead[..n]);
        self.ahead.advance(n);
        if self.ahead.is_empty() {
            self.ahead = BytesMut::new();
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for ReadAhead<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.ahead.is_empty() {
            return Pin::new(&mut this.io).poll_read(cx, out);
        }
        this.drain_into(out);
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for ReadAhead<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// What `speaks_http2` says of a client that sends `sent` in these pieces and then closes,
    /// with `first` already read, and every byte then read through a `ReadAhead`.
    async fn sniffed(first: &[u8], pieces: &[&[u8]]) -> (Option<bool>, Vec<u8>) {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let writer = async {
            for piece in pieces {
                client.write_all(piece).await.expect("write");
                tokio::task::yield_now().await;
            }
            drop(client);
        };
        let mut ahead = BytesMut::from(first);
        let parsed = Parsed::default();
        let (http2, ()) = tokio::join!(speaks_http2(&mut server, &mut ahead, &parsed), writer);
        let mut all = Vec::new();
        let mut io = ReadAhead::new(server, ahead);
        io.read_to_end(&mut all).await.expect("read");
        (http2, all)
    }

    #[tokio::test]
    async fn the_preface_in_pieces_is_http2_and_every_byte_is_given_back_in_order() {
        let (http2, all) =
            sniffed(b"PRI * H", &[b"TTP/2.0\r\n\r\nS", b"M\r\n\r\n", b"frames"]).await;
        assert_eq!(http2, Some(true));
        assert!(all.starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        assert!(all.ends_with(b"frames"), "{all:?}");
    }

    #[tokio::test]
    async fn a_request_head_is_http1_without_another_read() {
        let (_client, mut server) = tokio::io::duplex(1024);
        let mut ahead = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
        let said = speaks_http2(&mut server, &mut ahead, &Parsed::default()).now_or_never();
        assert_eq!(said, Some(Some(false)));
        // Even one byte that the preface does not start with decides it.
        let mut ahead = BytesMut::from(&b"G"[..]);
        let said = speaks_http2(&mut server, &mut ahead, &Parsed::default()).now_or_never();
        assert_eq!(said, Some(Some(false)));
    }

    #[tokio::test]
    async fn a_part_of_the_preface_then_the_end_is_left_to_http1_whole() {
        let (http2, all) = sniffed(b"PRI", &[b" * HTTP/2"]).await;
        assert_eq!(http2, Some(false));
        assert_eq!(all, b"PRI * HTTP/2");
    }

    #[tokio::test]
    async fn a_refill_gives_back_kept_bytes_first_then_reads_the_next_and_sees_the_end() {
        use std::future::poll_fn;
        let (mut client, server) = tokio::io::duplex(1024);
        let mut io = ReadAhead::new(server, BytesMut::new());
        // hyper's unparsed bytes, given back at a rest: there at once.
        io.give_back(b"GET /a");
        assert!(poll_fn(|cx| io.poll_refill(cx)).await.expect("refill"));
        let mut got = [0u8; 6];
        io.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"GET /a");
        // Then the client's next bytes, once they come.
        client.write_all(b"GET /b").await.expect("write");
        assert!(poll_fn(|cx| io.poll_refill(cx)).await.expect("refill"));
        io.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"GET /b");
        // And the end of the stream.
        drop(client);
        assert!(!poll_fn(|cx| io.poll_refill(cx)).await.expect("refill"));
    }

    #[tokio::test]
    async fn nothing_read_yet_reads_first() {
        let (http2, all) = sniffed(b"", &[b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"]).await;
        assert_eq!(http2, Some(false));
        assert_eq!(all, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    }
}
