//! The header timeout before a connection's first request, and the log line of a client that
//! stalled in the middle of a request head.
//!
//! hyper's `header_read_timeout` runs only once its HTTP/1 parser has started, but
//! hyper-util's auto builder first reads until it can tell HTTP/1 from the HTTP/2 preface, with
//! no timeout: a client that connects and sends nothing (or only an h2c preface) would hold a
//! connection slot forever, and `--max-connections` of them would lock everyone out. So the
//! whole connection is raced against the header timeout until its first request reaches the
//! service; after that, hyper's own timer covers each further HTTP/1 head.
//!
//! Only a client that sent part of a head and stalled (a slowloris) gets CPython's `Request
//! timed out` line. A connection that never sent a byte (a browser's unused preconnect) or an
//! idle kept-alive one is closed quietly, as `python -m http.server` (no timeout) never logs
//! them: browsers make those all day, and a line for each would bury the access log.
//!
//! Cost: one timer per connection, cancelled at its first request; nothing per request.

use std::error::Error;
use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use super::access_log::AccessLog;
use super::malformed::Parsed;

/// How a connection future ends: hyper's and hyper-util's boxed error.
type Ended = Result<(), Box<dyn Error + Send + Sync>>;

/// CPython's line when its `timeout` fires while it waits for a request line
/// (`handle_one_request` catching `TimeoutError`).
const TIMED_OUT: &str = "Request timed out: TimeoutError('timed out')";

/// Runs `conn` to its end, dropping it (which closes the socket) when no request has reached
/// the service within `header_timeout`; logs the timeout of a client stalled in a head.
pub(super) async fn run(
    conn: impl Future<Output = Ended>,
    parsed: &Parsed,
    header_timeout: Duration,
    log: &AccessLog,
    client: IpAddr,
) {
    tokio::pin!(conn);
    let timed_out = tokio::select! {
        ended = &mut conn => is_timeout(&ended),
        () = tokio::time::sleep(header_timeout) => {
            if parsed.get() == 0 {
                true
            } else {
                // hyper's own timer covers the heads after the first.
                is_timeout(&conn.await)
            }
        }
    };
    if timed_out && parsed.mid_head() {
        log.message(Some(client), TIMED_OUT);
    }
}

/// Whether hyper ended the connection for its header timeout.
fn is_timeout(ended: &Ended) -> bool {
    ended.as_ref().is_err_and(|error| {
        error
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout)
    })
}
