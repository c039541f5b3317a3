//! Headers the operator asks for on every answer of the static-file handler: `Cache-Control`
//! (`--cache-control`) on content and 304 responses, CORS (`--cors`) with `*` as the allowed
//! origin; and the answer to `OPTIONS`: a preflight gets the CORS grant (Fetch standard,
//! "CORS-preflight request"), any other `OPTIONS` a `204` with `Allow` (RFC 9110 §9.3.7).
//! CPython answers `OPTIONS` with 501; serveur follows the RFC instead.

use http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ALLOW, CACHE_CONTROL, ORIGIN,
};
use http::StatusCode;

use crate::body::Body;
use crate::handler::{Request, Response};

/// The methods the static-file handler answers.
const METHODS: &str = "GET, HEAD, OPTIONS";

/// Request headers a cross-origin script may send: the ones serveur acts on.
const ALLOWED_HEADERS: &str =
    "Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range";

/// Response headers a cross-origin script may read beyond the safelisted ones.
const EXPOSED_HEADERS: &str = "Content-Range, Accept-Ranges, Content-Encoding, ETag";

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "86400";

/// The operator's header choices.
#[derive(Clone, Debug, Default)]
pub(super) struct Policy {
    /// `Cache-Control` value for 200, 206 and 304 answers.
    pub cache_control: Option<HeaderValue>,
    /// Whether cross-origin reads are allowed from anywhere.
    pub cors: bool,
}

impl Policy {
    /// Adds the configured headers to `response`.
    pub(super) fn decorate(&self, mut response: Response) -> Response {
        let status = response.status();
        let headers = response.headers_mut();
        if let Some(value) = &self.cache_control {
            if matches!(
                status,
                StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
            ) {
                headers.insert(CACHE_CONTROL, value.clone());
            }
        }
        if self.cors {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            headers.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
        response
    }

    /// The answer to an `OPTIONS` request: `204` with `Allow`, and with `--cors` the
    /// preflight grant when the request is one.
    pub(super) fn options(&self, req: &Request) -> Response {
        let mut response = http::Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(ALLOW, HeaderValue::from_static(METHODS));
        let preflight = req.headers().contains_key(ORIGIN)
            && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
        if self.cors && preflight {
            headers.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(METHODS),
            );
            headers.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            headers.insert(
                ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(PREFLIGHT_MAX_AGE),
            );
        }
        self.decorate(response)
    }
}
