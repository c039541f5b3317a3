//! What handlers receive: [`RequestBody`], the bytes a client sends after the head, and the
//! [`ConnectionInfo`] of the connection they came on.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

use super::ConnectionInfo;
use crate::body::Once;

/// A request body: the bytes a client sends after the head, read as the handler asks for them.
///
/// A body from a client also carries the [`ConnectionInfo`] of the connection it arrives on
/// ([`connection`](RequestBody::connection), or `RequestExt::connection` on the request). It
/// travels here rather than as a request extension because an extension costs three
/// allocations per request (callgrind: ~760 instructions, 7% of a hello-world request), and a
/// shared pointer in the body none.
pub struct RequestBody {
    kind: RequestKind,
    connection: Option<Arc<ConnectionInfo>>,
}

enum RequestKind {
    Incoming(hyper::body::Incoming),
    Full(Once),
}

impl RequestBody {
    /// An empty request body (for requests built in tests or by other handlers).
    pub fn empty() -> Self {
        RequestBody::full(Bytes::new())
    }

    /// A request body held in memory.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        RequestBody {
            kind: RequestKind::Full(Once::new(bytes.into())),
            connection: None,
        }
    }

    /// The body hyper reads from `connection`.
    pub(crate) fn incoming(body: hyper::body::Incoming, connection: Arc<ConnectionInfo>) -> Self {
        RequestBody {
            kind: RequestKind::Incoming(body),
            connection: Some(connection),
        }
    }

    /// The connection the request arrived on; `None` for a body a handler or a test made.
    ///
    /// A handler that replaces the body (after reading it, say) and hands the request on keeps
    /// the connection with [`with_connection_of`](RequestBody::with_connection_of).
    pub fn connection(&self) -> Option<&ConnectionInfo> {
        self.connection.as_deref()
    }

    /// This body, said to arrive on the same connection as `other`.
    ///
    /// ```
    /// # async fn f(mut req: serveur::Request) {
    /// use serveur::{RequestBody, RequestExt};
    /// let read = req.body_bytes(1 << 20).await.unwrap_or_default();
    /// let peer = req.peer_addr();
    /// let body = RequestBody::full(read).with_connection_of(req.body());
    /// *req.body_mut() = body;
    /// assert_eq!(req.peer_addr(), peer);
    /// # }
    /// ```
    pub fn with_connection_of(mut self, other: &RequestBody) -> Self {
        self.connection.clone_from(&other.connection);
        self
    }

    /// The connection, shared, for what outlives the body (a gateway's log, a local redirect).
    pub(crate) fn shared_connection(&self) -> Option<Arc<ConnectionInfo>> {
        self.connection.clone()
    }

    /// This body, arriving on `connection`.
    pub(crate) fn on_connection(mut self, connection: Option<Arc<ConnectionInfo>>) -> Self {
        self.connection = connection;
        self
    }

    /// Takes the content, leaving an empty body that still knows its connection.
    pub(crate) fn take_content(&mut self) -> RequestBody {
        RequestBody {
            kind: std::mem::replace(&mut self.kind, RequestKind::Full(Once::new(Bytes::new()))),
            connection: None,
        }
    }

    /// The next chunk of data, `None` at the end; trailers are skipped.
    pub async fn chunk(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            let frame = self.frame().await?;
            match frame {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl Default for RequestBody {
    fn default() -> Self {
        RequestBody::empty()
    }
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestBody")
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.get_mut().kind {
            RequestKind::Full(once) => Poll::Ready(once.take()),
            RequestKind::Incoming(body) => Pin::new(body).poll_frame(cx).map_err(io::Error::other),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            RequestKind::Full(once) => once.is_end_stream(),
            RequestKind::Incoming(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            RequestKind::Full(once) => once.size_hint(),
            RequestKind::Incoming(body) => body.size_hint(),
        }
    }
}
