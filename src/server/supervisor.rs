//! One supervisor per connection: it runs the connection to its end and watches two things
//! beside it, the header timeout and the server's stop.
//!
//! **Header timeout.** A connection that does no work for a whole `--header-timeout` while no
//! request is being answered is closed. That stops a client stalled in a head (slowloris), one
//! that connects and sends nothing, and idle keep-alive connections. One timer per connection
//! rather than hyper's `header_read_timeout`: hyper's timer is armed anew for every request (a
//! boxed `Sleep`, registered and cancelled in the timer wheel: ~1,000 instructions a request,
//! 5% of a small file's, callgrind), and it starts only once its HTTP/1 parser runs, after
//! the protocol was told from the first bytes (`read_ahead`) without a timeout. The timer fires once
//! per period and the supervisor compares the connection's counters ([`Parsed::activity`]) with
//! those it saw last: requests that reached the service and responses that were finished. No
//! change and nothing in flight for a whole period means the client has not completed a head
//! in that time. A connection is thus closed between one and two periods after it went quiet;
//! a request being answered (a long download, a slow CGI script) is never cut.
//!
//! HTTP/2 connections are watched until their first request only: their requests are streams
//! that hyper multiplexes, and an idle one is best ended by the client or a GOAWAY, which the
//! graceful stop sends.
//!
//! Only a client that sent part of a head and stalled gets CPython's `Request timed out` line.
//! A connection that never sent a byte (a browser's unused preconnect) or an idle kept-alive
//! one is closed quietly, as `python -m http.server` (no timeout) never logs them: browsers
//! make those all day, and a line for each would bury the access log.
//!
//! **Shed.** When the connection limit is reached, the accept loop may ask a reusable
//! connection to close (`pressure`); its supervisor closes it if it still is.
//!
//! **Rest.** A connection quiet for a second or two is asked to rest (`rest`): if it still
//! may, hyper's connection is given back and it waits for its next request holding no buffer.
//!
//! **Minimum rate.** A request being answered is cut only when the server waits on its client
//! and the client moves too little: a [`RateCheck`] (`min_rate`), armed while the connection's
//! IO reports such a wait, closes the connection with one log line.
//!
//! **Stop.** When the server stops, the connection is told to finish gracefully (hyper ends
//! an HTTP/1 connection after its response in flight and sends HTTP/2's GOAWAY).
//!
//! **Cost.** The connection's task wakes for every request; the timer and the stop signal only
//! matter when they fire. They are polled with a waker of their own ([`SideWake`]) that notes
//! that one of them woke the task, so a wake by the socket polls the connection alone
//! (`side_wake`).
//! `tokio::select!` over the three, with hyper-util's `GracefulShutdown::watch`, cost ~390
//! instructions a request (callgrind, a hello-world handler on 64 connections).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::malformed::Parsed;
use super::min_rate::{MinRate, RateCheck};
use super::pressure;
use super::rest;
use super::side_wake::SideWake;
use super::staged::Supervised;
use crate::access_log::{AccessLog, Client};

/// CPython's line when its `timeout` fires while it waits for a request line
/// (`handle_one_request` catching `TimeoutError`).
const TIMED_OUT: &str = "Request timed out: TimeoutError('timed out')";

/// What the connection is watched with, besides its own IO.
pub(super) struct Watch {
    /// The connection's counters.
    pub parsed: Parsed,
    /// The header timeout.
    pub header_timeout: Duration,
    /// Resolves when the server stops.
    pub stopping: WaitForCancellationFutureOwned,
    /// Where a timed-out client is logged.
    pub log: AccessLog,
    /// The client, for that line.
    pub client: Client,
    /// The least a connection waiting on its client must move.
    pub min_rate: MinRate,
    /// The connection's place under the connection limit, given back once it is closed.
    pub place: pressure::Place,
}

/// How a connection's run ended.
enum End {
    /// By itself, or after a graceful stop.
    Done,
    /// Closed by the header timeout.
    TimedOut,
    /// Closed by the minimum rate, with its log line.
    TooSlow(String),
}

/// Runs `conn` to its end, dropping it (which closes the socket) once it has done no work for a
/// whole header timeout with no request in flight, or moved too little while waiting on its
/// client (`min_rate`), and shutting it down gracefully when the server stops; logs the timeout
/// of a client stalled in a head, and the cut of a slow one.
pub(super) fn run<C: Supervised>(conn: C, watch: Watch) -> Supervisor<C> {
    let (side, side_waker) = SideWake::new();
    watch.parsed.signal().wake(&side_waker);
    Supervisor {
        conn,
        timer: tokio::time::sleep(watch.header_timeout),
        stopping: watch.stopping,
        side,
        side_waker,
        rate: RateCheck::new(watch.min_rate),
        stop_sent: false,
        timing: true,
        seen: watch.parsed.activity(),
        parsed: watch.parsed,
        header_timeout: watch.header_timeout,
        log: watch.log,
        client: watch.client,
        place: watch.place,
    }
}

pin_project_lite::pin_project! {
    /// A connection and what watches it ([`run`]). A future of its own rather than an `async fn`:
    /// an `async fn` keeps its arguments and the pinned locals they move into side by side, so
    /// every connection's task held its waiting state twice and copied it at the first poll
    /// (callgrind, the `close` scenario: ~200 instructions of `memcpy` per connection).
    pub(super) struct Supervisor<C> {
        #[pin]
        conn: C,
        #[pin]
        timer: Sleep,
        #[pin]
        stopping: WaitForCancellationFutureOwned,
        side: Arc<SideWake>,
        side_waker: Waker,
        rate: Option<RateCheck>,
        // Whether the graceful stop was asked of the connection.
        stop_sent: bool,
        // Whether the header timer still runs (not once an HTTP/2 connection had a request).
        timing: bool,
        // The connection's activity when the timer last fired.
        seen: (usize, usize),
        parsed: Parsed,
        header_timeout: Duration,
        log: AccessLog,
        client: Client,
        // Last: dropped after the connection (its socket closed), as the task drops this once
        // it is done.
        place: pressure::Place,
    }
}

impl<C: Supervised> Future for Supervisor<C> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let end = ready!(self.as_mut().poll_end(cx));
        let this = self.project();
        match end {
            End::TimedOut if this.parsed.mid_head() => {
                this.log.message_about(Some(*this.client), TIMED_OUT);
            }
            End::TooSlow(line) => this.log.message_about(Some(*this.client), line),
            End::Done | End::TimedOut => {}
        }
        Poll::Ready(())
    }
}

impl<C: Supervised> Supervisor<C> {
    /// Polls the connection, and what watches it when one of them woke the task.
    fn poll_end(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<End> {
        let this = self.project();
        let (mut conn, parsed) = (this.conn, &*this.parsed);
        this.side.register(cx.waker());
        if conn.as_mut().poll(cx).is_ready() {
            return Poll::Ready(End::Done);
        }
        // A window starts when the IO first waits on the client; its timer is then polled
        // below, which registers it.
        let armed = this.rate.as_mut().is_some_and(|r| r.arm(parsed.waits()));
        if !this.side.take() && !armed {
            return Poll::Pending;
        }
        let mut side_cx = Context::from_waker(this.side_waker);
        if !*this.stop_sent && this.stopping.poll(&mut side_cx).is_ready() {
            *this.stop_sent = true;
            conn.as_mut().graceful_shutdown();
            if conn.as_mut().poll(cx).is_ready() {
                return Poll::Ready(End::Done);
            }
        }
        if let Some(rate) = this.rate {
            let window = rate.poll_window(&mut side_cx, parsed.waits(), parsed.busy());
            if let Poll::Ready(slow) = window {
                return Poll::Ready(End::TooSlow(slow.message(rate.rate())));
            }
        }
        // Registered again before the asks are read: the signal forgets its waker when it wakes
        // it, and a connection may be asked to rest, then to close.
        parsed.signal().wake(this.side_waker);
        // Asked to close to make room (`pressure`) and still reusable: closed quietly, after
        // one poll that lets hyper write HTTP/2's GOAWAY (RFC 9113 §9.1).
        if parsed.signal().take_close() && pressure::reusable(parsed) {
            conn.as_mut().graceful_shutdown();
            let _ = conn.as_mut().poll(cx);
            return Poll::Ready(End::Done);
        }
        // Quiet for a while (`rest`): hyper's connection is given back, and the connection
        // waits for its next request holding no buffer.
        if parsed.signal().take_rest() && rest::may_rest(parsed) {
            conn.as_mut().rest();
            if conn.as_mut().poll(cx).is_ready() {
                return Poll::Ready(End::Done);
            }
        }
        let mut timer = this.timer;
        if *this.timing && timer.as_mut().poll(&mut side_cx).is_ready() {
            if parsed.is_http2() {
                *this.timing = false;
                return Poll::Pending;
            }
            let now = parsed.activity();
            if now == *this.seen && !parsed.busy() {
                return Poll::Ready(End::TimedOut);
            }
            *this.seen = now;
            timer.reset(Instant::now() + *this.header_timeout);
            // The next poll registers the new deadline (a zero timeout is due at once: this
            // yields to other tasks rather than spinning here).
            this.side_waker.wake_by_ref();
        }
        Poll::Pending
    }
}
