//! Turning a script's parsed answer into what the server does next, the same for every
//! gateway: whether a body is sent at all, the [`Response`] for a [`ResponseHead`] and its body,
//! and a local redirect (RFC 3875 §6.2.2): the request the server answers in its place,
//! served from the top of the server's handlers. And, before any answer, whether the client is
//! still there to get one ([`departure`]).

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::request::Parts;
use http::{StatusCode, Version};
use std::sync::Arc;

use super::script_response::ResponseHead;
use crate::body::Body;
use crate::handler::{DynHandler, Handler, Request, Response};
use crate::request::departure::Departure;
use crate::request::{ConnectionInfo, RequestBody};
use crate::response::error;

/// Marks the request a local redirect made: §6.2.2 allows one, and it must not redirect again.
#[derive(Clone, Copy)]
struct Redirected;

/// The watch for the client's leaving while its script has not answered (README, CGI): none
/// outside a server, and none when the gateway lets its scripts finish whatever the client
/// does (`ignore_abort`, `--ignore-client-abort`).
pub(crate) fn departure(
    connection: Option<&ConnectionInfo>,
    version: Version,
    ignore_abort: bool,
) -> Departure<'_> {
    match connection {
        Some(info) if !ignore_abort => Departure::of(info, version),
        _ => Departure::never(),
    }
}

/// Whether the response to send has no body although the script may write one: HEAD, `204`
/// and `304` (RFC 9110 §9.3.2, §6.4.1). hyper sends none for them and never reads the body
/// given, so the gateway must read the script's output to its end itself.
pub(crate) fn bodiless(head_only: bool, status: StatusCode) -> bool {
    head_only || matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED)
}

/// The response the script asked for: its status, reason phrase, header fields, and `body`.
pub(crate) fn response(head: ResponseHead, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = head.status;
    *response.headers_mut() = head.headers;
    if let Some(reason) = head.reason {
        if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(reason.into_bytes()) {
            response.extensions_mut().insert(reason);
        }
    }
    response
}

/// §6.2.2: answers as if the client had asked for `location` with GET, once, on the same
/// `connection`. The new request starts from the top of the server's handlers (the
/// connection's top handler, in its `ConnectionInfo`), as a request from the client would: a
/// handler further down (the static files under a gateway) must not answer a path that an
/// earlier one owns, or a redirect to `/app.php` would send PHP's source. Without a server (a
/// handler called directly) the gateway that redirected, `here`, answers. `say` logs why a
/// redirect fails.
pub(crate) async fn redirect_locally(
    parts: Parts,
    connection: Option<Arc<ConnectionInfo>>,
    location: &str,
    here: &impl Handler,
    say: impl Fn(&str),
) -> Response {
    if parts.extensions.get::<Redirected>().is_some() {
        say(&format!(
            "local redirect to {location} refused: only one is followed"
        ));
        return error(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let top = connection
        .as_ref()
        .and_then(|info| info.top_handler.clone());
    let mut req = match local_request(parts, location, connection) {
        Ok(req) => req,
        Err(why) => {
            say(&why);
            return error(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    req.extensions_mut().insert(Redirected);
    match top {
        Some(top) => top(req).await,
        // Boxed (type-erased): `here` may redirect again, refused above.
        None => here.handle_boxed(req).await,
    }
}

/// The request the server answers instead, as if the client had asked for `location` (a local
/// path and query) with GET: the client's header fields and connection facts are kept, those
/// describing its body are not. `Err` names a location that is not a path.
fn local_request(
    parts: Parts,
    location: &str,
    connection: Option<Arc<ConnectionInfo>>,
) -> Result<Request, String> {
    let uri = location
        .parse::<http::Uri>()
        .map_err(|_| format!("local redirect to a bad path {location:?}"))?;
    let mut req = Request::new(RequestBody::empty().on_connection(connection));
    *req.uri_mut() = uri;
    *req.version_mut() = parts.version;
    *req.headers_mut() = parts.headers;
    for name in [CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING] {
        req.headers_mut().remove(name);
    }
    *req.extensions_mut() = parts.extensions;
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_redirect_is_a_bodiless_get_keeping_the_other_fields() {
        let (parts, ()) = http::Request::builder()
            .method("POST")
            .uri("/form.php")
            .header("cookie", "a=1")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("content-length", "3")
            .body(())
            .expect("request")
            .into_parts();
        let req = local_request(parts, "/done?x=1", None).expect("a path");
        assert_eq!(req.method(), "GET");
        assert_eq!(req.uri(), "/done?x=1");
        assert_eq!(req.headers()["cookie"], "a=1");
        assert!(!req.headers().contains_key("content-type"));
        assert!(!req.headers().contains_key("content-length"));
    }
}
