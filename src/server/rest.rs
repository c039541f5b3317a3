//! Idle HTTP/1 connections rest: they give hyper's connection back, with its buffers, and wait
//! for their next request holding none, as nginx and lighttpd keep an idle keep-alive connection
//! (issue 19). hyper's HTTP/1 connection keeps an 8 KiB write buffer and its read buffer for
//! its whole life; 10,000 idle keep-alive connections held ~13.5 KB each, ~1.8 KB rested
//! (`bench/idle_rss.py`).
//!
//! **When.** Not after every response: under load a kept-alive connection's next request is
//! already on its way, and building hyper's connection again for each would cost every request
//! (the hot path is measured in instructions per request). A connection rests once it has been
//! quiet for a second or two: a [`sweep`] walks the connection registry that the connection
//! limit already keeps (`pressure`) once every [`REST_AFTER`], and asks to rest each connection
//! whose activity (`Parsed::activity`) did not change since the walk before and that
//! [`may_rest`]. It costs nothing per request and one walk a second (10,000 connections: two
//! relaxed loads each), and wakes only the connections it asks, once per quiet spell; with no
//! connection open it waits for one, so an idle server is never woken. A timer
//! per connection would fire for every idle connection or be armed per request (~1,000
//! instructions, `supervisor`).
//!
//! **How.** The connection's supervisor hears the ask (`pressure::Signal`, beside the shed),
//! checks [`may_rest`] again, and calls [`Http1::rest`]: hyper is asked to end gracefully (an
//! idle connection ends at once; one still flushing its last response ends once it is
//! flushed), and the IO's shutdown is only a flush that once (`Parsed::keep_open`, read by
//! `malformed::Guard`), so hyper gives back its IO, the bytes it had read and not parsed, and
//! the service (`into_parts`). The rest is dropped. The IO stack stays as it was: the guard
//! (its read-side copy emptied, `Guard::rest`), the read-ahead (which keeps hyper's unparsed
//! bytes, if any), the socket, and for TLS the rustls session. The connection then waits as a
//! new one does: a read onto the stack when the socket is readable (`ReadAhead::poll_refill`),
//! the bytes kept in a buffer of their size, and a new hyper connection over the same IO and
//! service. Its counters (`Parsed`) carry on, so the header timeout, the shed, the minimum rate,
//! the metrics and the graceful stop see one connection throughout.
//!
//! **Memory.** glibc keeps freed memory for later allocations and returns it to the system
//! only from the top of a heap, so a sweep after one that rested many connections calls
//! `malloc_trim` ([`give_back_memory`]). What a rested connection keeps must not sit between
//! hyper's buffers, or each such object keeps a page resident: its `ConnectionInfo` is made at
//! the accept, with its task, not at its first bytes on a worker thread (`malloc_stats`: 275
//! bytes a connection left in the workers' heaps kept ~4 KiB each resident).
//!
//! **What does not rest.** HTTP/2 (hyper has no `into_parts` for it; its idle connections are
//! for the client or a GOAWAY to end); a connection that carried an HTTP/1.0 request (it may be
//! closing after a body whose end only the close marks, and a TLS stream can still be flushing
//! it where the guard cannot see); one whose write waits on its client; one that never had a
//! request (it holds no hyper connection yet, `staged`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use super::connection::Builders;
use super::malformed::{Guard, Parsed};
use super::pressure::{self, Limit};
use super::read_ahead::ReadAhead;

/// How long a connection is quiet before it rests: between one and two of these.
pub(super) const REST_AFTER: Duration = Duration::from_secs(1);

/// Whether a connection may rest now: HTTP/1 with keep-alive, a request behind it, nothing being
/// answered or sent, no part of a head come in.
pub(super) fn may_rest(parsed: &Parsed) -> bool {
    parsed.get() > 0
        && pressure::reusable(parsed)
        && !parsed.is_http2()
        && !parsed.had_http10()
        && !parsed.waits().sending()
}

/// After a sweep that asked at least this many connections to rest (a megabyte or more of
/// hyper's buffers), the next gives the freed memory back to the system.
const TRIM_AFTER: usize = 64;

/// Asks quiet connections to rest, every [`REST_AFTER`], until the server stops; gives memory
/// back to the system the sweep after many did ([`TRIM_AFTER`]). While no connection is open
/// it waits for one instead: a server left alone for months is not woken every second.
pub(super) async fn sweep(limit: Arc<Limit>, stopping: CancellationToken) {
    let mut every = tokio::time::interval(REST_AFTER);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut many_rested = false;
    loop {
        if !many_rested && limit.is_empty() {
            tokio::select! {
                () = limit.occupied() => {}
                () = stopping.cancelled() => return,
            }
            every.reset();
        }
        tokio::select! {
            _ = every.tick() => {}
            () = stopping.cancelled() => return,
        }
        if std::mem::take(&mut many_rested) {
            give_back_memory();
        }
        many_rested = limit.ask_idle_to_rest() >= TRIM_AFTER;
    }
}

/// Returns the free pages of glibc's heaps to the system. glibc keeps what `free` gives it for
/// later allocations, and returns memory by itself only from the top of a heap: the buffers of
/// thousands of connections that rest stay resident otherwise (bench/idle_rss.py, 10,000 kept-
/// alive connections: ~13 KB each without, ~2 KB with). On a blocking thread: it walks every
/// heap (~30 ms after 10,000 connections rested; microseconds when little is free).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back_memory() {
    // Unsafe only as every foreign function is: `malloc_trim` takes no pointer, and locks each
    // heap it walks (it may run while other threads allocate).
    #[allow(unsafe_code)]
    let trim = || unsafe { libc::malloc_trim(0) };
    tokio::task::spawn_blocking(trim);
}

/// Other C libraries (musl) return freed pages by themselves, or have no such call.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_memory() {}

/// What hyper's HTTP/1 connection serves, with the bounds hyper asks of it (and `Unpin`, so
/// that a connection that ended can be taken apart).
pub(super) trait Service:
    HttpService<
        Incoming,
        Error: Into<BoxError>,
        ResBody: http_body::Body<Error: Into<BoxError>> + 'static,
    > + Unpin
{
}

impl<S> Service for S where
    S: HttpService<
            Incoming,
            Error: Into<BoxError>,
            ResBody: http_body::Body<Error: Into<BoxError>> + 'static,
        > + Unpin
{
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The IO an HTTP/1 connection's hyper speaks over.
type Io<IO> = TokioIo<Guard<ReadAhead<IO>>>;

/// An HTTP/1 connection that can rest: hyper's connection on the heap while it serves, only its
/// IO and service while it rests.
pub(super) struct Http1<IO, S: Service> {
    state: State<IO, S>,
    builders: Arc<Builders>,
    parsed: Parsed,
}

// The resting state inline: boxed, each rest would allocate (`connection::Speaking`).
#[allow(clippy::large_enum_variant)]
enum State<IO, S: Service> {
    /// hyper serves; `resting` once it was asked to end for a rest.
    Speaking {
        conn: Pin<Box<http1::Connection<Io<IO>, S>>>,
        resting: bool,
    },
    /// Waiting for the client's next bytes.
    Resting {
        io: Io<IO>,
        service: S,
    },
    Over,
}

impl<IO: AsyncRead + AsyncWrite + Unpin, S: Service> Http1<IO, S> {
    /// hyper's HTTP/1 connection over `io`, serving `service`, built with `builders`' HTTP/1
    /// builder now and after each rest; `parsed` are the connection's counters.
    pub(super) fn new(builders: Arc<Builders>, io: Io<IO>, service: S, parsed: Parsed) -> Self {
        let conn = Box::pin(builders.http1.serve_connection(io, service));
        Http1 {
            state: State::Speaking {
                conn,
                resting: false,
            },
            builders,
            parsed,
        }
    }

    /// Asks hyper to end, keeping the socket open, so the connection rests once it has.
    pub(super) fn rest(&mut self) {
        if let State::Speaking { conn, resting } = &mut self.state {
            if !*resting {
                *resting = true;
                self.parsed.keep_open(true);
                conn.as_mut().graceful_shutdown();
            }
        }
    }

    /// Ends the connection after its response in flight; a resting one at once.
    pub(super) fn graceful_shutdown(&mut self) {
        match &mut self.state {
            State::Speaking { conn, resting } => {
                *resting = false;
                self.parsed.keep_open(false);
                conn.as_mut().graceful_shutdown();
            }
            State::Resting { .. } => self.state = State::Over,
            State::Over => {}
        }
    }

    /// hyper ended for a rest: its IO and service kept, its buffers dropped.
    fn rested(&mut self) {
        let State::Speaking { conn, .. } = std::mem::replace(&mut self.state, State::Over) else {
            return;
        };
        let parts = Pin::into_inner(conn).into_parts();
        self.parsed.keep_open(false);
        let mut io = parts.io;
        let guard = io.inner_mut();
        guard.rest();
        if !parts.read_buf.is_empty() {
            guard.get_mut().give_back(&parts.read_buf);
        }
        self.state = State::Resting {
            io,
            service: parts.service,
        };
    }

    /// The client spoke again: a new hyper connection over the same IO and service.
    fn wake_up(&mut self) {
        let State::Resting { io, service } = std::mem::replace(&mut self.state, State::Over) else {
            return;
        };
        self.state = State::Speaking {
            conn: Box::pin(self.builders.http1.serve_connection(io, service)),
            resting: false,
        };
    }
}

/// Runs to the connection's end, through its rests. hyper's error is the client's doing (it
/// left, sent garbage), as in `connection::Speaking`.
impl<IO: AsyncRead + AsyncWrite + Unpin, S: Service> Future for Http1<IO, S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Speaking { conn, resting } => {
                    let ended = ready!(conn.as_mut().poll(cx));
                    if *resting && ended.is_ok() {
                        this.rested();
                    } else {
                        this.state = State::Over;
                    }
                }
                State::Resting { io, .. } => {
                    match ready!(io.inner_mut().get_mut().poll_refill(cx)) {
                        Ok(true) => this.wake_up(),
                        Ok(false) | Err(_) => this.state = State::Over,
                    }
                }
                State::Over => return Poll::Ready(()),
            }
        }
    }
}
