//! The header timeout before a connection's first request, and the log line of a connection
//! closed for taking too long to send a head.
//!
//! hyper's `header_read_timeout` runs only once its HTTP/1 parser has started, but
//! hyper-util's auto builder first reads until it can tell HTTP/1 from the HTTP/2 preface, with
//! no timeout: a client that connects and sends nothing (or only an h2c preface) would hold a
//! connection slot forever, and `--max-connections` of them would lock everyone out. So the
//! whole connection is raced against the header timeout until its first request reaches the
//! service; after that, hyper's own timer covers each further HTTP/1 head.
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
/// the service within `header_timeout`; logs the client's timeout either way it happens.
pub(super) async fn run(
    conn: impl Future<Output = Ended>,
    parsed: &Parsed,
    header_timeout: Duration,
    log: &AccessLog,
    client: IpAddr,
) {
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = &mut conn => ended,
        () = tokio::time::sleep(header_timeout) => {
            if parsed.get() == 0 {
                log.message(Some(client), TIMED_OUT);
                return;
            }
            conn.await
        }
    };
    // hyper closes silently when its header timer fires (on a later head, or on an idle
    // keep-alive connection, which CPython's `timeout` also closes with this line).
    if let Err(error) = ended {
        if error
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout)
        {
            log.message(Some(client), TIMED_OUT);
        }
    }
}
