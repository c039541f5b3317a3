//! One accepted connection: hyper speaks HTTP/1.1 or HTTP/2 on it, as its first bytes say
//! (`read_ahead`), and calls the handler for each request. Here, and only here, requests get their [`ConnectionInfo`],
//! responses get the `Server` header and the protocol version, and bodies get their access-log
//! line.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::BytesMut;
use http::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, SERVER};
use http::{Method, Version};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite};

use super::admission;
use super::logged_body::{Details, Entry, LoggedBody, Metered};
use super::malformed::{self, Guard, Parsed};
use super::read_ahead::{self, ReadAhead};
use super::rest::{Http1, Service};
use super::staged::Supervised;
use super::zero_copy::FileSending;
use super::Protocol;
use crate::body::Body;
use crate::handler::{Handler, Request, Response};
use crate::metrics::{self, Handled, OpenConnection};
use crate::request::{ConnectionInfo, LoggedUser, RequestBody};
use crate::response::{ClientLeft, ErrorMessage, SERVER_NAME};

/// What the server keeps about a connection, in its [`ConnectionInfo`] where only `server/`
/// can open it ([`ServerSide`](crate::request::ServerSide)).
pub(super) struct ConnectionState {
    /// The connection's counters, which each response's body reports to when it is done.
    pub(super) parsed: Parsed,
    /// How HTTP/1 responses' files are sent, when the connection's IO is a
    /// [`ZeroCopy`](super::zero_copy::ZeroCopy).
    pub(super) files: Option<FileSending>,
    /// The server's metrics, when it has some: the connection counts as open while this
    /// lives, and each response reports to it.
    pub(super) metrics: Option<OpenConnection>,
}

impl ConnectionState {
    /// The state of a connection the server made. Every `ConnectionInfo` a server hands its
    /// handlers carries one; a handler cannot make another.
    pub(super) fn of(info: &ConnectionInfo) -> &ConnectionState {
        info.server
            .get()
            .expect("a connection made by the server carries its state")
    }
}

/// hyper's connection builders: HTTP/1, and HTTP/2 unless the server speaks HTTP/1.0 only
/// (`-p HTTP/1.0` answers every client in HTTP/1, as CPython).
pub(super) struct Builders {
    pub(super) http1: http1::Builder,
    pub(super) http2: Option<http2::Builder<TokioExecutor>>,
}

/// Serves requests on `io` until the client leaves or the connection is shut down, counting
/// in its [`ConnectionState`]'s `parsed` the requests that reach the service. The state's
/// `files` is given when `io` is a [`ZeroCopy`](super::zero_copy::ZeroCopy), and prepares
/// HTTP/1 responses' files for it. `ahead` holds the bytes already read from `io`, if any
/// ([`first_read`](super::read_ahead::first_read)): the protocol is decided from them, reading
/// more only while they could be HTTP/2's preface; `None` if that read fails.
///
/// Each request costs two clones of the connection's one `Arc` (its future's and its body's),
/// and one of the handler's: atomic operations are among the dearest instructions here.
pub(crate) async fn serve<H, IO>(
    builders: &Arc<Builders>,
    mut io: IO,
    mut ahead: BytesMut,
    info: Arc<ConnectionInfo>,
    handler: Arc<H>,
    protocol: Protocol,
) -> Option<impl Supervised>
where
    H: Handler,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let parsed = ConnectionState::of(&info).parsed.clone();
    let counters = parsed.clone();
    let http2 = match &builders.http2 {
        Some(http2) => read_ahead::speaks_http2(&mut io, &mut ahead, &parsed)
            .await?
            .then_some(http2),
        None => None,
    };
    let metered = ConnectionState::of(&info).metrics.is_some();
    let io = Guard::new(
        ReadAhead::new(io, ahead),
        parsed.clone(),
        Arc::clone(&info),
        protocol.status_version(),
        builders.http2.is_some(),
    );
    let service = service_fn(move |req: http::Request<Incoming>| {
        parsed.bump(req.version());
        if !req.body().is_end_stream() {
            parsed.note_body();
        }
        let keep_alive_10 = req.version() == Version::HTTP_10 && asks_keep_alive(&req);
        let handler = Arc::clone(&handler);
        let info = Arc::clone(&info);
        async move {
            let started = metered.then(Instant::now);
            // Which handler answered (`metrics::Labelled`), when metered; else the server.
            let mut handled = Handled::Server;
            // HTTP/2 (h2c) frames data itself: placeholders would be sent as bytes.
            let by_regions = req.version() <= Version::HTTP_11;
            let head_over_http2 = req.version() == Version::HTTP_2 && req.method() == Method::HEAD;
            let mut request_line = info.log.is_on().then(|| request_line(&req));
            let details = Details::of(&req, &info.log);
            let refused = admission::refusal(&req, &target(&req));
            let mut response = match refused {
                Some(verdict) => {
                    // CPython logs an empty request line for a 414 (it never kept it).
                    if verdict.code == http::StatusCode::URI_TOO_LONG {
                        request_line = request_line.map(|_| String::from("\""));
                    }
                    malformed::error_response(&verdict)
                }
                None => {
                    let connection = Arc::clone(&info);
                    let req: Request = req.map(|body| RequestBody::incoming(body, connection));
                    if metered {
                        metrics::clear_label();
                    }
                    let response = handler.handle(req).await;
                    // In the poll that completed the handler's future (`metrics::Labelled`).
                    if metered {
                        handled = metrics::take_label();
                    }
                    // A gateway saw the client leave before it had an answer: no response is
                    // written; hyper, given an error, closes the connection.
                    if response.extensions().get::<ClientLeft>().is_some() {
                        return Err(ClientLeft);
                    }
                    response
                }
            };
            // Looked up before it is added: kept files' heads and error pages carry it already,
            // and an entry makes room in the map before it looks (looking first saved ~100
            // instructions of a 404, callgrind).
            let headers = response.headers_mut();
            if !headers.contains_key(SERVER) {
                headers.insert(SERVER, HeaderValue::from_static(SERVER_NAME));
            }
            // An HTTP/1.0 client that asked for keep-alive, given a body whose end only the
            // close can mark (no length; 1.0 has no chunking): hyper would still say
            // `connection: keep-alive` and the client could not tell where the body ends
            // (RFC 9112 §9.3). Said as an HTTP/1.0 answer with `close`, hyper closes after it.
            let unframed_10 = keep_alive_10 && response.body().size_hint().exact().is_none();
            if protocol == Protocol::Http10 || unframed_10 {
                *response.version_mut() = Version::HTTP_10;
            }
            // CPython's `send_error` says `Connection: close`; under `-p HTTP/1.0` it is true.
            let python_error = protocol == Protocol::Http10
                && response.extensions().get::<ErrorMessage>().is_some();
            if unframed_10 || python_error {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            if head_over_http2 {
                response = without_content(response);
            }
            let entry = request_line.map(|request_line| Entry {
                client: info.client(),
                request_line,
                status: response.status().as_u16(),
                error: response
                    .extensions()
                    .get::<ErrorMessage>()
                    .map(|m| Arc::clone(&m.0)),
                user: response
                    .extensions()
                    .get::<LoggedUser>()
                    .map(|u| Arc::clone(&u.0)),
                details,
            });
            let metered = started.map(|started| Metered {
                handled,
                status: response.status().as_u16(),
                started,
            });
            Ok::<_, ClientLeft>(response.map(|body| {
                let files = ConnectionState::of(&info).files.as_ref();
                let body = match files.filter(|_| by_regions) {
                    Some(files) => files.prepare(body),
                    None => body,
                };
                LoggedBody::new(body, entry, metered, info)
            }))
        }
    });
    let io = TokioIo::new(io);
    // hyper's connection boxed as hyper returns it: boxing the enum instead copied the
    // connection once more (~110 instructions of `memcpy` per connection, callgrind).
    Some(match http2 {
        Some(http2) => Speaking::Http2(Box::pin(http2.serve_connection(io, service))),
        None => Speaking::Http1(Http1::new(Arc::clone(builders), io, service, counters)),
    })
}

/// hyper's connection in the protocol chosen at the start, for the connection's life, on the
/// heap: a connection's waiting state holds no hyper state (`staged`), nor does a resting
/// HTTP/1 one (`rest`).
// HTTP/1's variant holds, inline, what a resting connection keeps (its IO and service): boxed,
// each rest would allocate it again. The task's future is larger still while it waits for the
// first bytes, so this costs no connection anything.
#[allow(clippy::large_enum_variant)]
pub(super) enum Speaking<IO, S: Service, H2> {
    Http1(Http1<IO, S>),
    Http2(Pin<Box<H2>>),
}

/// Runs to the connection's end. Its error is the client's doing (it left, sent garbage):
/// hyper has answered what deserved an answer, and the supervisor only needs the end.
impl<IO, S, H2> Future for Speaking<IO, S, H2>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service,
    H2: GracefulConnection,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.get_mut() {
            Speaking::Http1(conn) => Pin::new(conn).poll(cx),
            Speaking::Http2(conn) => conn.as_mut().poll(cx).map(drop),
        }
    }
}

impl<IO, S, H2> Supervised for Speaking<IO, S, H2>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    S: Service,
    H2: GracefulConnection,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        match self.get_mut() {
            Speaking::Http1(conn) => conn.graceful_shutdown(),
            Speaking::Http2(conn) => conn.as_mut().graceful_shutdown(),
        }
    }

    fn rest(self: Pin<&mut Self>) {
        if let Speaking::Http1(conn) = self.get_mut() {
            conn.rest();
        }
    }
}

/// Whether an HTTP/1.0 request's `Connection` field asks to keep the connection (RFC 9112
/// §9.3: 1.0 connections close unless `keep-alive` is among its options).
fn asks_keep_alive<B>(req: &http::Request<B>) -> bool {
    req.headers().get_all(CONNECTION).iter().any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|o| o.trim().eq_ignore_ascii_case("keep-alive"))
        })
    })
}

/// The request target as sent: the origin form (`/path?q`) or, for HTTP/1, the absolute or
/// asterisk form the client used. HTTP/2 carries the target in `:path`, which the URI's path
/// and query hold, so both versions log the same line.
fn target<B>(req: &http::Request<B>) -> std::borrow::Cow<'_, str> {
    let uri = req.uri();
    match uri.path_and_query() {
        Some(pq) if uri.scheme().is_none() || req.version() == Version::HTTP_2 => {
            pq.as_str().into()
        }
        _ => uri.to_string().into(),
    }
}

/// The request line as the client sent it, for the log, after the quote that opens it there:
/// `"GET /path?q HTTP/1.1`, with room for the rest of the access line (`LoggedBody`).
fn request_line<B>(req: &http::Request<B>) -> String {
    let target = target(req);
    let version = match req.version() {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/3.0",
    };
    // Pushed piece by piece: format! was ~1,350 instructions of a logged request (callgrind).
    let method = req.method().as_str();
    let mut line = String::with_capacity(method.len() + target.len() + 40);
    for part in ["\"", method, " ", &target, " ", version] {
        line.push_str(part);
    }
    line
}

/// The answer to a HEAD request over HTTP/2 without its content, whose length stays said
/// (RFC 9110 §9.3.2: the header fields of a GET, no content). hyper leaves a HEAD response's
/// body out over HTTP/1 but sends it over HTTP/2, where the DATA frames break the stream
/// (curl: `PROTOCOL_ERROR`): an error page, made alike for GET and HEAD, did so every time.
fn without_content(mut response: Response) -> Response {
    if response.body().is_end_stream() {
        return response;
    }
    if let Some(len) = response.body().size_hint().exact() {
        response
            .headers_mut()
            .entry(CONTENT_LENGTH)
            .or_insert_with(|| HeaderValue::from(len));
    }
    *response.body_mut() = Body::empty();
    response
}
