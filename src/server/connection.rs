//! One accepted connection: hyper-util's auto builder speaks HTTP/1.1 or HTTP/2 on it and calls
//! the handler for each request. Here, and only here, requests get their [`ConnectionInfo`],
//! responses get the `Server` header and the protocol version, and bodies get their access-log
//! line.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::header::{HeaderValue, SERVER};
use http::Version;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};

use super::access_log::{AccessLog, Entry, LoggedBody};
use super::Protocol;
use crate::body::RequestBody;
use crate::handler::{Handler, Request};
use crate::response::ErrorMessage;

/// `Server:` as sent on every response, like CPython's `SimpleHTTP/0.6 Python/3.x`.
const SERVER_NAME: &str = concat!("serveur/", env!("CARGO_PKG_VERSION"));

/// Facts about the connection a request arrived on, found in every request's extensions.
///
/// ```
/// # fn f(req: &serveur::Request) {
/// if let Some(info) = req.extensions().get::<serveur::ConnectionInfo>() {
///     println!("{} asked on {}", info.peer, info.local);
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    /// The client's address (IPv4-mapped IPv6 addresses shown as IPv4).
    pub peer: SocketAddr,
    /// The server's address the client connected to.
    pub local: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The server's log, for handlers that have something to say (a CGI script's stderr).
    pub log: AccessLog,
}

/// Serves requests on `io` until the client leaves or the connection is shut down.
pub(crate) fn serve<H, IO>(
    builder: &auto::Builder<TokioExecutor>,
    io: IO,
    info: ConnectionInfo,
    handler: Arc<H>,
    protocol: Protocol,
) -> impl hyper_util::server::graceful::GracefulConnection
where
    H: Handler,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let info = Arc::new(info);
    let service = service_fn(move |req: http::Request<Incoming>| {
        let handler = Arc::clone(&handler);
        let info = Arc::clone(&info);
        async move {
            let log = info.log.clone();
            let request_line = log.is_on().then(|| request_line(&req));
            let mut req: Request = req.map(RequestBody::incoming);
            req.extensions_mut().insert(ConnectionInfo::clone(&info));
            let mut response = handler.handle(req).await;
            response
                .headers_mut()
                .entry(SERVER)
                .or_insert(HeaderValue::from_static(SERVER_NAME));
            if protocol == Protocol::Http10 {
                *response.version_mut() = Version::HTTP_10;
            }
            let entry = request_line.map(|request_line| Entry {
                client: info.peer.ip(),
                request_line,
                status: response.status().as_u16(),
                error: response
                    .extensions()
                    .get::<ErrorMessage>()
                    .map(|m| m.0.clone()),
            });
            Ok::<_, Infallible>(response.map(|body| LoggedBody::new(body, entry, log)))
        }
    });
    builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .into_owned()
}

/// The request line as the client sent it, for the log: `GET /path?q HTTP/1.1`.
fn request_line<B>(req: &http::Request<B>) -> String {
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let version = match req.version() {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/3.0",
    };
    format!("{} {} {}", req.method(), target, version)
}
