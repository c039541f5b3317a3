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
//! **Minimum rate.** A request being answered is cut only when the server waits on its client
//! and the client moves too little: a [`RateCheck`] (`min_rate`), armed while the connection's
//! IO reports such a wait, closes the connection with one log line.
//!
//! **Stop.** When the server stops, the connection is told to finish gracefully (hyper ends
//! an HTTP/1 connection after its response in flight and sends HTTP/2's GOAWAY).
//!
//! **Cost.** The connection's task wakes for every request; the timer and the stop signal only
//! matter when they fire. They are polled with a waker of their own ([`SideWake`]) that notes
//! that one of them woke the task, so a wake by the socket polls the connection alone.
//! `tokio::select!` over the three, with hyper-util's `GracefulShutdown::watch`, cost ~390
//! instructions a request (callgrind, a hello-world handler on 64 connections).

use std::future::{poll_fn, Future};
use std::net::IpAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::time::Instant;
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::malformed::Parsed;
use super::min_rate::{MinRate, RateCheck};
use super::pressure;
use super::staged::Supervised;
use crate::access_log::AccessLog;

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
    pub client: IpAddr,
    /// The least a connection waiting on its client must move.
    pub min_rate: MinRate,
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
pub(super) async fn run<C: Supervised>(conn: C, watch: Watch) {
    let Watch {
        parsed,
        header_timeout,
        stopping,
        log,
        client,
        min_rate,
    } = watch;
    let mut rate = RateCheck::new(min_rate);
    let mut conn = pin!(conn);
    let mut timer = pin!(tokio::time::sleep(header_timeout));
    let mut stopping = pin!(stopping);
    let side = Arc::new(SideWake {
        // Set, so that the first poll registers the timer and the stop signal.
        woke: AtomicBool::new(true),
        task: AtomicWaker::new(),
    });
    let side_waker = Waker::from(Arc::clone(&side));
    parsed.shed().wake(&side_waker);
    let (mut stop_sent, mut timing, mut seen) = (false, true, parsed.activity());
    let end = poll_fn(|cx| {
        side.task.register(cx.waker());
        if conn.as_mut().poll(cx).is_ready() {
            return Poll::Ready(End::Done);
        }
        // A window starts when the IO first waits on the client; its timer is then polled
        // below, which registers it.
        let armed = rate.as_mut().is_some_and(|r| r.arm(parsed.waits()));
        if !side.woke.swap(false, Ordering::AcqRel) && !armed {
            return Poll::Pending;
        }
        let mut side_cx = Context::from_waker(&side_waker);
        if !stop_sent && stopping.as_mut().poll(&mut side_cx).is_ready() {
            stop_sent = true;
            conn.as_mut().graceful_shutdown();
            if conn.as_mut().poll(cx).is_ready() {
                return Poll::Ready(End::Done);
            }
        }
        if let Some(rate) = &mut rate {
            let window = rate.poll_window(&mut side_cx, parsed.waits(), parsed.busy());
            if let Poll::Ready(slow) = window {
                return Poll::Ready(End::TooSlow(slow.message(rate.rate())));
            }
        }
        // Asked to close to make room (`pressure`) and still reusable: closed quietly, after
        // one poll that lets hyper write HTTP/2's GOAWAY (RFC 9113 §9.1).
        if parsed.shed().take() && pressure::reusable(&parsed) {
            conn.as_mut().graceful_shutdown();
            let _ = conn.as_mut().poll(cx);
            return Poll::Ready(End::Done);
        }
        if timing && timer.as_mut().poll(&mut side_cx).is_ready() {
            if parsed.is_http2() {
                timing = false;
                return Poll::Pending;
            }
            let now = parsed.activity();
            if now == seen && !parsed.busy() {
                return Poll::Ready(End::TimedOut);
            }
            seen = now;
            timer.as_mut().reset(Instant::now() + header_timeout);
            // The next poll registers the new deadline (a zero timeout is due at once: this
            // yields to other tasks rather than spinning here).
            side_waker.wake_by_ref();
        }
        Poll::Pending
    })
    .await;
    match end {
        End::TimedOut if parsed.mid_head() => log.message(Some(client), TIMED_OUT),
        End::TooSlow(line) => log.message(Some(client), line),
        End::Done | End::TimedOut => {}
    }
}

/// The waker the timer and the stop signal are polled with: it notes that one of them woke the
/// connection's task, then wakes the task.
struct SideWake {
    woke: AtomicBool,
    task: AtomicWaker,
}

impl Wake for SideWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woke.store(true, Ordering::Release);
        self.task.wake();
    }
}
