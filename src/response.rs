//! Building responses: Python's error page (`send_error`), redirects, and the common body kinds.
//! Every error a handler answers goes through [`error_with`], so the page, the reason phrase and
//! the access-log "code N, message M" line look exactly like CPython's everywhere.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, SERVER};
use http::{Method, StatusCode};
use http_body::Frame;
use http_body_util::StreamBody;
use hyper::ext::ReasonPhrase;

use crate::body::Body;
use crate::location::same_site;
use crate::status_text::python_status_text;

/// An HTTP response as a handler returns it: the `http` crate's type with serveur's body.
pub type Response = http::Response<Body>;

/// A boxed future of a [`Response`], what [`DynHandler`](crate::handler::DynHandler) returns.
pub type BoxResponseFuture<'a> = Pin<Box<dyn Future<Output = Response> + Send + 'a>>;

/// `Server:` as sent on every response, like CPython's `SimpleHTTP/0.6 Python/3.x`; also CGI's
/// `SERVER_SOFTWARE`. The connection layer adds it to each response that has none.
pub(crate) const SERVER_NAME: &str = concat!("serveur/", env!("CARGO_PKG_VERSION"));

/// `DEFAULT_ERROR_CONTENT_TYPE` of CPython's `http.server` (no space before `charset`).
const ERROR_CONTENT_TYPE: &str = "text/html;charset=utf-8";

/// The message of an error response, kept as a response extension so that the access log can
/// write Python's `code 404, message File not found` line before the request line.
///
/// Shared (`Arc<str>`) rather than owned: every error response carries a copy of it, and a
/// copied `String` was an allocation and a free per error (callgrind); the log line takes its
/// copy the same way.
///
/// ```
/// use serveur::response::{error, ErrorMessage};
/// let resp = error(http::StatusCode::NOT_FOUND);
/// assert_eq!(&*resp.extensions().get::<ErrorMessage>().unwrap().0, "Not Found");
/// ```
#[derive(Clone, Debug)]
pub struct ErrorMessage(pub Arc<str>);

/// Python's error response for `code` with its standard message and explanation,
/// e.g. `error(StatusCode::NOT_FOUND)`.
///
/// ```
/// let resp = serveur::response::error(http::StatusCode::NOT_FOUND);
/// assert_eq!(resp.status(), 404);
/// ```
pub fn error(code: StatusCode) -> Response {
    let (message, explain) = python_status_text(code.as_u16());
    error_with(code, message, explain)
}

/// Python's error response with a custom message (also the reason phrase, as Python sends it)
/// and explanation (`send_error(code, message, explain)`).
///
/// Unlike CPython, which closes the connection after every error (its handler cannot tell
/// whether the request body was read), the connection stays open: hyper knows whether the body
/// was consumed and closes by itself when it was not. Errors that must end the connection (a
/// malformed request) add `Connection: close` with [`closing`]. It carries serveur's `Server`
/// field already, which the connection layer would add.
///
/// ```
/// use http::{Method, StatusCode};
/// let resp = serveur::response::error_with(StatusCode::NOT_FOUND, "File not found",
///     "Nothing matches the given URI");
/// assert_eq!(resp.status(), 404);
/// assert!(resp.headers().get("connection").is_none());
/// ```
pub fn error_with(code: StatusCode, message: &str, explain: &str) -> Response {
    prepared(code, message, explain).map(|page| page.map_or_else(Body::empty, Body::full))
}

/// `response` with `Connection: close`, so the connection ends after it (RFC 9112 §9.6), as
/// CPython ends it after every error.
///
/// ```
/// let resp = serveur::response::closing(serveur::response::error(http::StatusCode::BAD_REQUEST));
/// assert_eq!(resp.headers()["connection"], "close");
/// ```
pub fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The error response for `code`, `message` and `explain`, its page as the body (`None` for a
/// status that carries no content), copied from the last one made on this thread: a server
/// answers the same error many times in a row (a missing favicon, a scanner's 404s), and
/// formatting and escaping the page was ~2,000 instructions of a 404, inserting the extensions
/// one by one ~360 where a copy of the map costs ~200, and inserting the header fields ~470
/// where a copy of the map is one allocation of each of its two tables (callgrind).
fn prepared(code: StatusCode, message: &str, explain: &str) -> http::Response<Option<Bytes>> {
    struct Prepared {
        message: String,
        explain: String,
        response: http::Response<Option<Bytes>>,
    }
    thread_local! {
        static LAST: RefCell<Option<Prepared>> = const { RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some(p) if p.response.status() == code && p.message == message && p.explain == explain => {
            p.response.clone()
        }
        _ => {
            let p = last.insert(Prepared {
                message: message.to_owned(),
                explain: explain.to_owned(),
                response: make_error(code, message, explain),
            });
            p.response.clone()
        }
    })
}

/// [`prepared`]'s response made anew.
fn make_error(code: StatusCode, message: &str, explain: &str) -> http::Response<Option<Bytes>> {
    let mut response = http::Response::new(None);
    *response.status_mut() = code;
    let headers = response.headers_mut();
    // The `Server` field the connection layer would add: a copied map has no room left, and
    // growing it for that one field costs more than copying it (as for a kept file's head).
    headers.insert(SERVER, HeaderValue::from_static(SERVER_NAME));
    // RFC 9110 §15.3.5, §15.3.6, §15.4.5: 204, 205 and 304 carry no content; 1xx neither.
    let has_body = code.as_u16() >= 200
        && !matches!(
            code,
            StatusCode::NO_CONTENT | StatusCode::RESET_CONTENT | StatusCode::NOT_MODIFIED
        );
    if has_body {
        // No `Content-Length` field: the body's length is exact, and hyper writes it from
        // that (for HEAD too), as for [`bytes`]; the field in the map cost ~90 instructions
        // of a 404 (its copy, and hyper's check of it; callgrind).
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(ERROR_CONTENT_TYPE));
        *response.body_mut() = Some(Bytes::from(error_page(code.as_u16(), message, explain)));
    }
    let extensions = response.extensions_mut();
    // hyper sends a status's own phrase unasked: a reason phrase only where CPython's message
    // differs (`File not found`), which saves an allocation and a free per error where not.
    if code.canonical_reason() != Some(message) {
        if let Ok(reason) = ReasonPhrase::try_from(message.as_bytes()) {
            extensions.insert(reason);
        }
    }
    extensions.insert(ErrorMessage(message.into()));
    response
}

/// CPython 3.14's `DEFAULT_ERROR_MESSAGE` filled in, with message and explanation HTML-escaped
/// (bpo-1100201).
fn error_page(code: u16, message: &str, explain: &str) -> String {
    format!(
        "<!DOCTYPE HTML>
<html lang=\"en\">
    <head>
        <meta charset=\"utf-8\">
        <style type=\"text/css\">
            :root {{
                color-scheme: light dark;
            }}
        </style>
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: {code}</p>
        <p>Message: {}.</p>
        <p>Error code explanation: {code} - {}.</p>
    </body>
</html>
",
        html_escape::encode_text(message),
        html_escape::encode_text(explain)
    )
}

/// A redirect with status `code` (301, 302, 303, 307, 308) to `location`, and no body,
/// as Python's directory redirect is.
///
/// A `location` with a scheme (`https://example.org/x`) is sent as it is: sending the client
/// to another site on purpose is the program's business. Any other `location` (a path such as
/// `/docs/`, or a relative reference) is made to stay on this site, however it is spelt:
/// a browser reads `\` as `/` and drops tabs and line breaks, so `/\evil.example/` (or `/`,
/// a tab, `/evil.example/`) echoed from a request would send the visitor to `evil.example`
/// (CWE-601, CPython gh-132826). So `\` in the path, control characters, spaces and non-ASCII
/// characters are percent-encoded (`%` is not: the path is taken as already encoded), and
/// leading slashes collapse to one (`//evil.example/` is a host to a browser). To send a
/// client to another host, give an absolute URL.
///
/// ```
/// use serveur::http::StatusCode;
/// use serveur::response::redirect;
///
/// let moved = redirect(StatusCode::MOVED_PERMANENTLY, "/docs/");
/// assert_eq!(moved.headers()["location"], "/docs/");
/// // A path stays a path on this site, however a request spelt it.
/// let echoed = redirect(StatusCode::FOUND, "//\\evil.example/\tx/?q=\\");
/// assert_eq!(echoed.headers()["location"], "/%5Cevil.example/%09x/?q=\\");
/// // An absolute URL is where the program means to send the client.
/// let away = redirect(StatusCode::FOUND, "https://example.org/x");
/// assert_eq!(away.headers()["location"], "https://example.org/x");
/// ```
///
/// An absolute URL that cannot be a header value (a control character such as a line break)
/// gives CPython's 500 page instead, never a split header.
pub fn redirect(code: StatusCode, location: &str) -> Response {
    let mut response = http::Response::new(Body::empty());
    *response.status_mut() = code;
    match HeaderValue::from_str(&same_site(location)) {
        Ok(value) => {
            response.headers_mut().insert(LOCATION, value);
            response
                .headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
            response
        }
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// A `200 OK` response with `body` and the given content type.
///
/// The body's length is known, so the server sends it as `Content-Length` (and keeps it in an
/// answer to HEAD) without the header being in the map: hyper writes it from the body's exact
/// size, which costs less than a header value formatted, stored, then parsed back (callgrind:
/// ~590 instructions of a hello-world request).
pub fn bytes(content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut response = http::Response::new(Body::full(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A `200 OK` HTML page (`text/html; charset=utf-8`).
pub fn html(body: impl Into<Bytes>) -> Response {
    bytes("text/html; charset=utf-8", body)
}

/// A `200 OK` plain-text body (`text/plain; charset=utf-8`).
pub fn text(body: impl Into<Bytes>) -> Response {
    bytes("text/plain; charset=utf-8", body)
}

/// A `200 OK` JSON body (`application/json`) from text already serialized, e.g. by
/// `serde_json::to_string`: serveur does not choose a serializer for you.
///
/// ```
/// let resp = serveur::response::json(r#"{"name":"Ada"}"#);
/// assert_eq!(resp.headers()["content-type"], "application/json");
/// ```
pub fn json(body: impl Into<Bytes>) -> Response {
    bytes("application/json", body)
}

/// A `200 OK` response whose body is sent as `chunks` yields it, with no `Content-Length`
/// (HTTP/1.1 chunked encoding, or up to the close under HTTP/1.0). An error from the stream
/// cuts the response short, so the client sees it incomplete rather than complete and wrong.
///
/// ```
/// use serveur::bytes::Bytes;
/// let lines = (1..=3).map(|n| Ok(Bytes::from(format!("line {n}\n"))));
/// let resp = serveur::response::stream("text/plain", futures_util::stream::iter(lines));
/// assert!(resp.headers().get("content-length").is_none());
/// ```
pub fn stream<S>(content_type: &'static str, chunks: S) -> Response
where
    S: Stream<Item = io::Result<Bytes>> + Send + 'static,
{
    let frames = StreamBody::new(chunks.map(|chunk| chunk.map(Frame::data)));
    let mut response = http::Response::new(Body::stream(frames));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// CPython's `501 Unsupported method ('X')`.
///
/// ```
/// let resp = serveur::response::unsupported_method(&http::Method::PUT);
/// assert_eq!(resp.status(), 501);
/// ```
pub fn unsupported_method(method: &Method) -> Response {
    let (_, explain) = python_status_text(501);
    let message = format!("Unsupported method ('{}')", method.as_str());
    error_with(StatusCode::NOT_IMPLEMENTED, &message, explain)
}

/// What a handler whose client has left answers: no response at all. The connection finds
/// this marker on it and ends without writing a byte, by handing hyper this error (HTTP/1 has
/// no other way to answer nothing; nginx closes the same way).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientLeft;

impl ClientLeft {
    /// The marked non-response.
    pub(crate) fn response() -> Response {
        let mut response = Response::new(Body::empty());
        response.extensions_mut().insert(ClientLeft);
        response
    }
}

impl std::fmt::Display for ClientLeft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the client left before its response")
    }
}

impl std::error::Error for ClientLeft {}
