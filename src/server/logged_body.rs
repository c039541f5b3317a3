//! The access line of one request: [`Entry`], filled in before the body is sent, and
//! [`LoggedBody`], which counts the bytes hyper writes and sends the line to the
//! [`AccessLog`](crate::access_log::AccessLog) when the body ends or is dropped; under
//! metrics, it also reports the answer to the connection's [`Metrics`](crate::metrics::Metrics)
//! then.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::header::{REFERER, USER_AGENT};
use http::HeaderValue;
use http_body::{Frame, SizeHint};

use super::connection::ConnectionState;
use crate::access_log::{push_decimal, AccessLog, Client, Served};
use crate::body::Body;
use crate::metrics::Handled;
use crate::request::ConnectionInfo;

/// What the access line of one request says, filled in before the body is sent.
pub(crate) struct Entry {
    pub client: Client,
    /// `"GET / HTTP/1.1`: the request line after the opening quote, in a string with room
    /// for the rest of the access line, which is completed in it.
    pub request_line: String,
    pub status: u16,
    pub error: Option<Arc<str>>,
    /// The authenticated user (access control's `LoggedUser`), for the identity field.
    pub user: Option<Arc<str>>,
    /// What a detailed log format says besides; `None` for CPython's line.
    pub details: Option<Box<Details>>,
}

/// What the combined and JSON formats log that CPython's line does not, taken from the request
/// as it arrives only when the log's format wants it: CPython's line pays nothing for them.
pub(crate) struct Details {
    started: Instant,
    referer: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
}

impl Details {
    /// The details of `req`, if `log`'s format writes them.
    pub(crate) fn of<B>(req: &http::Request<B>, log: &AccessLog) -> Option<Box<Details>> {
        log.format().is_detailed().then(|| {
            Box::new(Details {
                started: Instant::now(),
                referer: req.headers().get(REFERER).cloned(),
                user_agent: req.headers().get(USER_AGENT).cloned(),
            })
        })
    }
}

/// What the metrics record of one answer besides its bytes, kept only when metrics are on.
pub(crate) struct Metered {
    pub handled: Handled,
    pub status: u16,
    /// When the request's head reached the service.
    pub started: Instant,
}

/// A response body that counts the bytes it hands to the connection and writes the access
/// line when it ends or is dropped (a client that goes away still gets its line, with the bytes
/// actually sent). When hyper drops it, the response is done with: the connection's counters
/// hear of it (the header timeout waits for no answer in flight, `supervisor`).
pub(crate) struct LoggedBody {
    inner: Body,
    sent: u64,
    entry: Option<Entry>,
    metered: Option<Metered>,
    /// The connection: its log and its counters.
    connection: Arc<ConnectionInfo>,
}

impl LoggedBody {
    pub(crate) fn new(
        inner: Body,
        entry: Option<Entry>,
        metered: Option<Metered>,
        connection: Arc<ConnectionInfo>,
    ) -> Self {
        LoggedBody {
            inner,
            sent: 0,
            entry,
            metered,
            connection,
        }
    }

    fn finish(&mut self) {
        if let Some(metered) = self.metered.take() {
            if let Some(open) = &ConnectionState::of(&self.connection).metrics {
                let took = metered.started.elapsed();
                let metrics = open.metrics();
                metrics.answered(metered.handled, metered.status, self.sent, took);
            }
        }
        if let Some(entry) = self.entry.take() {
            // Built by hand: format! was ~1,700 instructions of a logged request (callgrind).
            if let Some(error) = &entry.error {
                let mut line = String::with_capacity(24 + error.len());
                line.push_str("code ");
                push_decimal(&mut line, entry.status.into());
                line.push_str(", message ");
                line.push_str(error);
                let user = entry.user.clone();
                self.connection
                    .log
                    .message_by(Some(entry.client), user, line);
            }
            if let Some(details) = entry.details {
                self.connection.log.served(Served {
                    client: entry.client,
                    user: entry.user,
                    request_line: entry.request_line,
                    status: entry.status,
                    bytes: self.sent,
                    duration: details.started.elapsed(),
                    referer: details.referer,
                    user_agent: details.user_agent,
                    tls: self.connection.tls,
                });
                return;
            }
            let mut line = entry.request_line;
            line.push_str("\" ");
            push_decimal(&mut line, entry.status.into());
            line.push(' ');
            push_decimal(&mut line, self.sent);
            self.connection
                .log
                .message_by(Some(entry.client), entry.user, line);
        }
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        self.finish();
        ConnectionState::of(&self.connection).parsed.finish();
    }
}

impl http_body::Body for LoggedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len() as u64;
                }
            }
            Poll::Ready(None) => this.finish(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
