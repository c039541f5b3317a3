//! The header timeout: a connection that does no work for a whole `--header-timeout` while no
//! request is being answered is closed. That stops a client stalled in a head (slowloris), one
//! that connects and sends nothing, and idle keep-alive connections.
//!
//! One watchdog per connection rather than hyper's `header_read_timeout`: hyper's timer is
//! armed anew for every request (a boxed `Sleep`, registered and cancelled in the timer wheel:
//! ~1,000 instructions a request, 5% of a small file's, callgrind), and it starts only once
//! its HTTP/1 parser runs, after hyper-util's auto builder has sniffed the protocol without a
//! timeout. The watchdog wakes once per period and compares the connection's counters
//! ([`Parsed::activity`]) with those it saw last: requests that reached the service and
//! responses that were finished. No change and nothing in flight for a whole period means the
//! client has not completed a head in that time. A connection is thus closed between one and
//! two periods after it went quiet; a request being answered (a long download, a slow CGI
//! script) is never cut.
//!
//! HTTP/2 connections are watched until their first request only: their requests are streams
//! that hyper multiplexes, and an idle one is best ended by the client or a GOAWAY, which the
//! graceful stop sends.
//!
//! Only a client that sent part of a head and stalled gets CPython's `Request timed out` line.
//! A connection that never sent a byte (a browser's unused preconnect) or an idle kept-alive
//! one is closed quietly, as `python -m http.server` (no timeout) never logs them: browsers
//! make those all day, and a line for each would bury the access log.

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use super::access_log::AccessLog;
use super::malformed::Parsed;

/// CPython's line when its `timeout` fires while it waits for a request line
/// (`handle_one_request` catching `TimeoutError`).
const TIMED_OUT: &str = "Request timed out: TimeoutError('timed out')";

/// Runs `conn` to its end, dropping it (which closes the socket) once it has done no work for a
/// whole `header_timeout` with no request in flight; logs the timeout of a client stalled in a
/// head.
pub(super) async fn run(
    conn: impl Future,
    parsed: &Parsed,
    header_timeout: Duration,
    log: &AccessLog,
    client: IpAddr,
) {
    tokio::pin!(conn);
    let mut seen = parsed.activity();
    loop {
        tokio::select! {
            _ = &mut conn => return,
            () = tokio::time::sleep(header_timeout) => {}
        }
        if parsed.is_http2() {
            let _ = conn.await;
            return;
        }
        let now = parsed.activity();
        if now == seen && !parsed.busy() {
            break;
        }
        seen = now;
    }
    if parsed.mid_head() {
        log.message(Some(client), TIMED_OUT);
    }
}
