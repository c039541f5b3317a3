//! Python's error page for requests hyper refuses to parse.
//!
//! When hyper cannot parse an HTTP/1 request head it answers by itself — before any handler
//! runs — with a bare head and no body (`HTTP/1.1 400 Bad Request`, `connection: close`,
//! `content-length: 0`, `date: …`), then closes. CPython answers the same requests with its
//! HTML error page, sometimes another code (505 for `HTTP/2.0`, 414 for a long request line),
//! and a log line. [`Guard`] wraps a connection's IO to make that so, without parsing HTTP:
//!
//! - **Read side**: it keeps a copy of the bytes read since requests were last handed to the
//!   service (two windows, capped at a little over CPython's 64 KiB line), so that when hyper
//!   refuses a request, the bytes it refused can be found (past the requests it did parse, which
//!   the service counts in [`Parsed`]) and judged by [`python_rules::judge`].
//! - **Write side**: hyper's automatic head is always the *last* bytes of a write (hyper writes
//!   nothing after it) and has a fixed shape. A write whose end matches that shape is checked
//!   further: the date must be now, and the unparsed bytes on the read side must be a head
//!   hyper would refuse. Only then are those last bytes replaced by Python's page, and hyper is
//!   told its bytes were written.
//!
//! Cost on the hot path: per write, a comparison of its last four bytes (and of about forty
//! more for a bodiless head); per read, one copy of the bytes into the window (none once a
//! window is full, so an upload's body is not copied); per request, one relaxed atomic add.
//!
//! Being the IO every connection has, plain or TLS, the guard also keeps the minimum rate's
//! [`Meter`] (`min_rate`): which `Pending` means waiting on the client, and the bytes moved
//! once one has; a branch per read and write for connections that never waited.
//!
//! A file whose content happens to end like hyper's head is left alone: it would need a date
//! of this very second *and* a malformed request pipelined behind it. When the refused bytes
//! cannot be located (they follow a chunked body, or a body longer than a window), the page
//! still replaces hyper's head, with hyper's code and no request line; there, and only there,
//! the date is the sole guard.
//! HTTP/2 connections are left alone (hyper answers their errors with frames, not heads).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

mod long_line;
mod page;
pub(crate) mod python_rules;
pub(crate) mod unparsed;

pub(crate) use page::error_response;
pub(crate) use python_rules::{Verdict, MAX_LINE};

use super::min_rate::{Meter, Waits};
use super::pressure::Signal;
use super::zero_copy::placeholder_offset;
use crate::access_log::Served;
use crate::request::ConnectionInfo;

/// How many requests hyper has parsed on a connection (the service counts them as it gets
/// them) and how many of their responses are done with, and whether the client sent bytes
/// after the last of them (the guard notes it as it reads): what tells a busy connection from
/// an idle one, and a client stalled in a head from an idle one (`supervisor`). It also carries
/// the signal that asks the connection to close to make room for another (`pressure`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Parsed(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicUsize,
    /// Responses sent whole or dropped.
    finished: AtomicUsize,
    /// `requests + 1` as it was at the last read that brought bytes; 0 before any.
    heard_after: AtomicUsize,
    /// Whether the connection speaks HTTP/2 (its requests are streams, not heads).
    http2: AtomicBool,
    /// Whether a request on it had a body.
    had_body: AtomicBool,
    /// Asks the connection to close to make room (`pressure`), or to rest (`rest`).
    signal: Signal,
    /// Whether a request on it was HTTP/1.0: such a connection never rests (`rest`).
    had_http10: AtomicBool,
    /// Whether the IO's next shutdown is skipped, the socket kept for the connection's rest.
    keep_open: AtomicBool,
    /// Whether the IO waits on the client, and the bytes it moved (`min_rate`).
    waits: Waits,
}

impl Parsed {
    /// One more request reached the service.
    pub(crate) fn bump(&self, version: http::Version) {
        self.0.requests.fetch_add(1, Ordering::Relaxed);
        if version == http::Version::HTTP_2 {
            self.0.http2.store(true, Ordering::Relaxed);
        } else if version == http::Version::HTTP_10 {
            self.0.had_http10.store(true, Ordering::Relaxed);
        }
    }

    /// One response is done with: sent, or dropped with its connection.
    pub(crate) fn finish(&self) {
        self.0.finished.fetch_add(1, Ordering::Relaxed);
    }

    /// The request that reached the service has a body.
    pub(crate) fn note_body(&self) {
        self.0.had_body.store(true, Ordering::Relaxed);
    }

    /// Whether a request had a body: after one, where the next head starts is hyper's to know.
    fn had_body(&self) -> bool {
        self.0.had_body.load(Ordering::Relaxed)
    }

    /// How many requests so far.
    pub(crate) fn get(&self) -> usize {
        self.0.requests.load(Ordering::Relaxed)
    }

    /// Requests and finished responses so far: it changes whenever the connection does work.
    pub(crate) fn activity(&self) -> (usize, usize) {
        (self.get(), self.0.finished.load(Ordering::Relaxed))
    }

    /// Whether a request is being answered (its handler runs or its body is being sent).
    pub(crate) fn busy(&self) -> bool {
        let (requests, finished) = self.activity();
        requests > finished
    }

    /// What the server asks of the connection: to close to make room, or to rest.
    pub(crate) fn signal(&self) -> &Signal {
        &self.0.signal
    }

    /// Whether a request was HTTP/1.0.
    pub(crate) fn had_http10(&self) -> bool {
        self.0.had_http10.load(Ordering::Relaxed)
    }

    /// Whether hyper's end of the connection leaves the socket open (`true` while it rests),
    /// or shuts it down as usual.
    pub(crate) fn keep_open(&self, keep: bool) {
        self.0.keep_open.store(keep, Ordering::Relaxed);
    }

    fn keeps_open(&self) -> bool {
        self.0.keep_open.load(Ordering::Relaxed)
    }

    /// Whether the connection is HTTP/2.
    pub(crate) fn is_http2(&self) -> bool {
        self.0.http2.load(Ordering::Relaxed)
    }

    /// What the IO tells the minimum-rate check.
    pub(crate) fn waits(&self) -> &Waits {
        &self.0.waits
    }

    /// Whether a read now would be hyper reading a request's body: on HTTP/1, while a request
    /// that had one is answered (with `half_close`, hyper reads nothing else then). HTTP/2
    /// reads all the time.
    fn awaits_body(&self) -> bool {
        self.had_body() && self.busy() && !self.is_http2()
    }

    /// The client sent some bytes.
    pub(crate) fn hear(&self) {
        let after = self.get() + 1;
        self.0.heard_after.store(after, Ordering::Relaxed);
    }

    /// Whether bytes came after the last request reached the service: part of a head (or,
    /// after a request with a body, that body).
    pub(crate) fn mid_head(&self) -> bool {
        self.0.heard_after.load(Ordering::Relaxed) > self.get()
    }
}

/// A connection's IO with hyper's bare parse-error heads replaced by Python's error page.
pub(crate) struct Guard<IO> {
    io: IO,
    parsed: Parsed,
    /// Who the connection is with, for the replacement page's log lines; its socket is marked
    /// closed when the IO drops.
    connection: Arc<ConnectionInfo>,
    /// `HTTP/1.0` or `HTTP/1.1`, the version of the status line (`-p`).
    version: &'static str,
    windows: unparsed::Windows,
    line: long_line::LongLine,
    replacing: Option<Replacement>,
    /// A head was answered from the read side (a request line past CPython's limit, HTTP/2's
    /// preface to a server that does not speak it): its page goes out, then the read side
    /// ends.
    ended: bool,
    /// Waits on the client and bytes moved, for the minimum rate.
    meter: Meter,
}

/// Bytes written instead of what hyper asked for, and how much hyper is told was written.
struct Replacement {
    bytes: Vec<u8>,
    written: usize,
    report: usize,
}

impl<IO> Guard<IO> {
    /// Guards `io`, whose responses' status lines say `version`, on a server that speaks
    /// HTTP/2 as well or not (`speaks_http2`).
    pub(crate) fn new(
        io: IO,
        parsed: Parsed,
        connection: Arc<ConnectionInfo>,
        version: &'static str,
        speaks_http2: bool,
    ) -> Self {
        Guard {
            io,
            parsed,
            connection,
            version,
            windows: unparsed::Windows::new(speaks_http2),
            line: long_line::LongLine::default(),
            replacing: None,
            ended: false,
            meter: Meter::default(),
        }
    }

    /// The IO under the guard.
    pub(crate) fn get_mut(&mut self) -> &mut IO {
        &mut self.io
    }

    /// Forgets what the read side kept: the connection rests between requests, every byte
    /// read so far belonged to the requests the service was handed (any hyper held unparsed
    /// is read again, through this guard, after the rest).
    pub(crate) fn rest(&mut self) {
        self.windows = unparsed::Windows::after(self.parsed.get());
        self.line = long_line::LongLine::default();
    }

    /// Called with the buffers of a write whose last one ends like hyper's automatic head:
    /// prepares the replacement when the read side confirms a refused request.
    fn replace(&mut self, bufs: &[IoSlice<'_>], head: page::AutoHead) -> bool {
        let refused = match self.windows.refused(self.parsed.get()) {
            Some(unparsed::Refused::Head(head)) => head,
            Some(unparsed::Refused::Unknown) => Vec::new(),
            None => return false,
        };
        let verdict = python_rules::judge(&refused, head.code);
        let report: usize = bufs.iter().map(|b| b.len()).sum();
        let mut bytes = Vec::with_capacity(report + 1024);
        for buf in bufs {
            bytes.extend_from_slice(buf);
        }
        bytes.truncate(report - head.len);
        self.answer(&verdict, bytes, report);
        true
    }

    /// Prepares Python's page for `verdict` after the `bytes` of hyper's write kept before it
    /// (`report` bytes, what hyper is told was written), and logs it as CPython would.
    fn answer(&mut self, verdict: &Verdict, mut bytes: Vec<u8>, report: usize) {
        let body_len = page::render(verdict, self.version, &mut bytes);
        let client = Some(self.connection.client());
        let log = &self.connection.log;
        log.message_about(
            client,
            format!(
                "code {}, message {}",
                verdict.code.as_u16(),
                verdict.message
            ),
        );
        if log.format().is_detailed() {
            // An access line like any other, so the combined log stays readable by log tools;
            // the head was refused unparsed, so there is no referer, user agent or duration.
            log.served(Served {
                client: self.connection.client(),
                user: None,
                request_line: format!("\"{}", verdict.request_line),
                status: verdict.code.as_u16(),
                bytes: body_len as u64,
                duration: Duration::ZERO,
                referer: None,
                user_agent: None,
                tls: self.connection.tls,
            });
        } else {
            log.message_about(
                client,
                format!(
                    "\"{}\" {} {}",
                    verdict.request_line,
                    verdict.code.as_u16(),
                    body_len
                ),
            );
        }
        self.replacing = Some(Replacement {
            bytes,
            written: 0,
            report,
        });
    }
}

/// The socket closes when the IO is dropped, right after this: a departure watch must not
/// take its number from then on.
impl<IO> Drop for Guard<IO> {
    fn drop(&mut self) {
        self.connection.socket.close();
    }
}

impl<IO: AsyncWrite + Unpin> Guard<IO> {
    /// Writes the replacement out; hyper hears of its own byte count once all of it is sent.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(rep) = &mut self.replacing else {
            return Poll::Ready(Ok(0));
        };
        while rep.written < rep.bytes.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &rep.bytes[rep.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            rep.written += n;
        }
        let report = rep.report;
        self.replacing = None;
        Poll::Ready(Ok(report))
    }

    /// Tells the meter of a write: a full send buffer, or bytes moved.
    #[inline]
    fn metered(&mut self, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match &written {
            Poll::Pending => self.meter.write_blocked(self.parsed.waits()),
            Poll::Ready(Ok(n)) => self.meter.wrote(self.parsed.waits(), *n),
            Poll::Ready(Err(_)) => {}
        }
        written
    }

    fn check(&mut self, bufs: &[IoSlice<'_>]) -> bool {
        if self.windows.is_off() {
            return false;
        }
        let last = bufs.iter().rev().find(|b| !b.is_empty());
        let Some(head) = last.and_then(|b| page::auto_head_at_end(b)) else {
            return false;
        };
        // The replacement copies the write's bytes; a file placeholder must never be copied
        // (`zero_copy`), so such a write keeps hyper's bare head. (Looked for only now: most
        // writes end in no head at all.)
        if bufs.iter().any(|b| placeholder_offset(b).is_some()) {
            return false;
        }
        self.replace(bufs, head)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guard<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.ended {
            // The 414 is written whole, then hyper reads the end of the stream (and, holding
            // an unfinished head, closes without an answer of its own).
            ready!(this.poll_replacement(cx))?;
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let Poll::Ready(read) = Pin::new(&mut this.io).poll_read(cx, buf) else {
            if this.parsed.awaits_body() {
                this.meter.body_awaited(this.parsed.waits());
            }
            return Poll::Pending;
        };
        read?;
        let fresh = &buf.filled()[before..];
        this.meter.read(this.parsed.waits(), fresh.len());
        if !fresh.is_empty() {
            this.parsed.hear();
        }
        this.windows.record(fresh, this.parsed.get());
        if this.windows.is_off() {
            return Poll::Ready(Ok(()));
        }
        let answered_here = if this.line.passes_limit(fresh, &this.parsed) {
            Some(Verdict::uri_too_long())
        } else if this.windows.opens_with_preface(this.parsed.get()) {
            Some(python_rules::judge(
                unparsed::H2_WHOLE_PREFACE,
                http::StatusCode::BAD_REQUEST,
            ))
        } else {
            None
        };
        if let Some(verdict) = answered_here {
            // hyper never sees these bytes: it reads the end of the stream instead.
            buf.set_filled(before);
            this.answer(&verdict, Vec::new(), 0);
            this.ended = true;
            ready!(this.poll_replacement(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guard<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_some() || this.check(&[IoSlice::new(buf)]) {
            return this.poll_replacement(cx);
        }
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.metered(written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_some() || this.check(bufs) {
            return this.poll_replacement(cx);
        }
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.metered(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        // hyper ends a connection asked to rest by shutting its IO down; the socket (and TLS
        // session) must outlive it (`rest`). What TLS still holds of the last response is sent
        // first, as a shutdown would: hyper does not wait for it before ending.
        if this.parsed.keeps_open() {
            return Pin::new(&mut this.io).poll_flush(cx);
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
