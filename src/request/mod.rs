//! Reading a request: [`RequestExt`] adds to [`Request`] what `BaseHTTPRequestHandler` offers
//! a Python handler (`self.path`, `self.client_address`, `self.rfile`), plus the parsing a
//! handler otherwise writes by hand: query pairs, a body read with a size limit, form fields.
//! Every failure is already the Python-style error response to send back.

mod access;
mod body;
mod connection;
pub(crate) mod departure;
mod form;

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http::StatusCode;
use http_body::Body as _;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::response::{error, Response};

pub(crate) use access::{Access, LoggedUser, ReadCheck};
pub use body::RequestBody;
pub use connection::ConnectionInfo;
pub(crate) use connection::{ServerSide, TopHandler, NO_ADDRESS};
pub use form::{Form, FormField};

/// An HTTP request as a handler sees it: the `http` crate's type with serveur's body.
///
/// A request from a client carries its [`ConnectionInfo`] with its body
/// ([`RequestExt::connection`]).
pub type Request = http::Request<RequestBody>;

/// Helpers on [`Request`]; bring them in with `use serveur::RequestExt`.
///
/// ```
/// use serveur::{RequestExt, RequestBody};
///
/// let req = serveur::http::Request::builder()
///     .uri("/caf%C3%A9/menu?lang=fr&dish=cr%C3%AApe+suzette")
///     .body(RequestBody::empty())
///     .unwrap();
/// assert_eq!(req.decoded_path(), "/café/menu");
/// assert_eq!(req.query("dish").as_deref(), Some("crêpe suzette"));
/// assert_eq!(req.peer_addr(), None); // only requests from a connection have one
/// ```
pub trait RequestExt: sealed::Sealed {
    /// The path, percent-decoded (invalid UTF-8 replaced by `�`), without the query: what
    /// Python's handlers get from `urllib.parse.unquote(self.path)`.
    fn decoded_path(&self) -> Cow<'_, str>;

    /// The query string's `name=value` pairs, decoded as a form (`+` is a space), in order.
    fn query_pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)>;

    /// The value of the first query pair named `name`.
    fn query(&self, name: &str) -> Option<String>;

    /// Reads the whole body, at most `limit` bytes. Past the limit (announced by
    /// `Content-Length` or found while reading) the error is a `413` page; a body the client
    /// stops sending halfway gets a `400`. The body is taken: a second call returns nothing.
    fn body_bytes(&mut self, limit: usize) -> impl Future<Output = Result<Bytes, Response>> + Send;

    /// Reads the body (at most `limit` bytes, as [`body_bytes`](Self::body_bytes)) as form
    /// fields: `application/x-www-form-urlencoded` (also assumed when there is no
    /// `Content-Type`, as CPython's `cgi.FieldStorage` did) or `multipart/form-data`, parsed by
    /// the `multer` crate. Other types get `415`, malformed bodies `400`.
    fn form(&mut self, limit: usize) -> impl Future<Output = Result<Form, Response>> + Send;

    /// The connection the request came from: addresses, TLS, the server's log. `None` for a
    /// request a handler or a test built. (It travels with the body: see
    /// [`RequestBody::connection`](crate::RequestBody::connection).)
    fn connection(&self) -> Option<&ConnectionInfo>;

    /// The client's address, when the request came from a TCP connection (`None` on a
    /// Unix-domain socket: [`ConnectionInfo::unix_socket`]).
    fn peer_addr(&self) -> Option<SocketAddr>;

    /// The server's address the client connected to, when the request came from a TCP
    /// connection.
    fn local_addr(&self) -> Option<SocketAddr>;

    /// Whether the request came over TLS.
    fn is_tls(&self) -> bool;

    /// The user the request was authenticated as (HTTP Basic, checked by
    /// [`Auth`](crate::auth::Auth) in front of this handler); `None` for an anonymous request
    /// or when no access control is in front.
    fn user(&self) -> Option<&str>;
}

impl RequestExt for Request {
    fn decoded_path(&self) -> Cow<'_, str> {
        percent_encoding::percent_decode_str(self.uri().path()).decode_utf8_lossy()
    }

    fn query_pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        form_urlencoded::parse(self.uri().query().unwrap_or("").as_bytes())
    }

    fn query(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    async fn body_bytes(&mut self, limit: usize) -> Result<Bytes, Response> {
        let body = self.body_mut().take_content();
        // Refuse a body announced too large before reading any of it.
        if body.size_hint().lower() > limit as u64 {
            return Err(error(StatusCode::PAYLOAD_TOO_LARGE));
        }
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<LengthLimitError>() => Err(error(StatusCode::PAYLOAD_TOO_LARGE)),
            Err(_) => Err(error(StatusCode::BAD_REQUEST)),
        }
    }

    async fn form(&mut self, limit: usize) -> Result<Form, Response> {
        let content_type = self
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap_or("invalid").to_owned());
        let body = self.body_bytes(limit).await?;
        Form::parse(content_type.as_deref(), body).await
    }

    fn connection(&self) -> Option<&ConnectionInfo> {
        self.body().connection()
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.connection()
            .filter(|info| info.unix.is_none())
            .map(|info| info.peer)
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.connection()
            .filter(|info| info.unix.is_none())
            .map(|info| info.local)
    }

    fn is_tls(&self) -> bool {
        self.connection().is_some_and(|info| info.tls)
    }

    fn user(&self) -> Option<&str> {
        self.extensions().get::<Access>()?.user.as_deref()
    }
}

/// Only [`Request`] implements [`RequestExt`], so methods can be added without breaking anyone.
mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Request {}
}
