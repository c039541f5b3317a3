//! A request's admission: what a request hyper parsed must also be before any handler sees
//! it. hyper checks the syntax of the head; this checks what RFC 9112 and RFC 9113 ask of a
//! request's target and `Host` beyond syntax, and CPython's line limits that hyper has no
//! setting for. A request that fails gets Python's error page (400, 414 or 431) and the
//! connection closes after it, as after any malformed request.
//!
//! Cost on the hot path: a few comparisons on the parsed URI and one pass over the header map
//! (its lengths and the `Host` fields), which the line-limit check already made.

use http::header::{HeaderValue, HOST};
use http::uri::{Authority, Scheme};
use http::{Method, Request, StatusCode, Version};

use super::malformed::{Verdict, MAX_LINE};
use crate::py_repr::py_repr;

/// Why `req` must not reach a handler, or `None` when it may. `target` is the request target
/// as the client sent it (for the request line's length and the message).
pub(super) fn refusal<B>(req: &Request<B>, target: &str) -> Option<Verdict> {
    if req.version() == Version::HTTP_2 {
        return authority_refusal(req);
    }
    // `METHOD SP target SP HTTP/1.1 CRLF`, as CPython counts its line (hyper's own URI limit
    // is 65,534 bytes, a little more).
    let line_len = req.method().as_str().len() + 1 + target.len() + 1 + 8 + 2;
    if line_len > MAX_LINE {
        return Some(Verdict::uri_too_long());
    }
    if let Some(verdict) = target_refusal(req, target) {
        return Some(verdict);
    }
    host_refusal(req)
}

/// RFC 9112 §3.2: origin-form (`/path`) for every method, absolute-form (`http://host/path`,
/// §3.2.2) for every method, authority-form (`host:port`) only for CONNECT, asterisk-form
/// (`*`) only for OPTIONS. hyper reads `a.txt` (no leading `/`) as an authority, so that is
/// where a relative path lands, and is refused like any other invalid target.
fn target_refusal<B>(req: &Request<B>, target: &str) -> Option<Verdict> {
    let uri = req.uri();
    let valid = match (uri.scheme(), uri.authority()) {
        (Some(scheme), Some(_)) => *scheme == Scheme::HTTP || *scheme == Scheme::HTTPS,
        (None, Some(_)) => req.method() == Method::CONNECT,
        (_, None) if uri.path() == "*" => req.method() == Method::OPTIONS,
        (_, None) => uri.path().starts_with('/'),
    };
    (!valid).then(|| bad_request(format!("Bad request target ({})", py_repr(target))))
}

/// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
/// HTTP/1.1 request message that lacks a Host header field and to any request message that
/// contains more than one Host header field line or a Host header field with an invalid field
/// value." HTTP/1.0 requests may come without one. The same pass applies CPython's limit on
/// one header line (`http.client._MAXLINE`).
fn host_refusal<B>(req: &Request<B>) -> Option<Verdict> {
    let (mut hosts, mut host) = (0, None);
    for (name, value) in req.headers() {
        // `Name: value CRLF`
        if name.as_str().len() + 2 + value.len() + 2 > MAX_LINE {
            return Some(Verdict::header_line_too_long());
        }
        if name == HOST {
            hosts += 1;
            host = Some(value);
        }
    }
    match (hosts, host) {
        (0, _) => (req.version() == Version::HTTP_11)
            .then(|| bad_request("Missing Host header".to_owned())),
        (1, Some(host)) => bad_host(host),
        _ => Some(bad_request("More than one Host header".to_owned())),
    }
}

/// A 400 for a `Host` that is not `uri-host [ ":" port ]` (RFC 9110 §7.2), or empty (RFC 9112
/// §3.2, for a target without authority).
fn bad_host(host: &HeaderValue) -> Option<Verdict> {
    let host = host.as_bytes();
    (!valid_host(host)).then(|| {
        let shown = String::from_utf8_lossy(host);
        bad_request(format!("Bad Host header ({})", py_repr(&shown)))
    })
}

/// `uri-host [ ":" port ]` by RFC 3986 §3.2.2's character classes: an IP literal in brackets,
/// or a reg-name (IPv4 addresses are reg-names by their characters), then `:` and digits. A
/// look-up per byte: `http::uri::Authority`'s parser copies the value into new `Bytes` first,
/// which cost ~900 instructions a request (callgrind).
fn valid_host(host: &[u8]) -> bool {
    let (name_ok, port) = match host.strip_prefix(b"[") {
        Some(literal) => match literal.iter().position(|&b| b == b']') {
            Some(end) => (
                literal[..end].iter().all(|&b| IP_LITERAL[usize::from(b)]),
                &literal[end + 1..],
            ),
            None => return false,
        },
        // The first byte a reg-name cannot hold ends it: the port's `:`, or a wrong byte.
        None => {
            let end = host.iter().position(|&b| !REG_NAME[usize::from(b)]);
            (true, &host[end.unwrap_or(host.len())..])
        }
    };
    let digits = |port: &[u8]| port.iter().all(u8::is_ascii_digit);
    name_ok && (port.is_empty() || port.strip_prefix(b":").is_some_and(digits))
}

/// reg-name's bytes: unreserved, `%` of pct-encoded, sub-delims.
const REG_NAME: &[bool; 256] = &byte_class(b"-._~%!$&'()*+,;=");

/// An IP literal's bytes: IPv6 (hex digits, `:`, `.` of an embedded IPv4) and IPvFuture
/// (`v`, then unreserved, sub-delims and `:`).
const IP_LITERAL: &[bool; 256] = &byte_class(b"-._~!$&'()*+,;=:");

/// Letters and digits, and `extra`.
const fn byte_class(extra: &[u8]) -> [bool; 256] {
    let mut class = [false; 256];
    let mut b = 0;
    while b < 256 {
        class[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        class[extra[i] as usize] = true;
        i += 1;
    }
    class
}

/// RFC 9113 §8.3.1: `:authority` must not carry userinfo, and a `Host` field that names
/// another authority than `:authority` makes the request malformed (a server SHOULD treat it
/// so); more than one `Host` is malformed in any version (RFC 9110 §7.2). §8.1.1 lets a server
/// answer a malformed request before it resets the stream.
fn authority_refusal<B>(req: &Request<B>) -> Option<Verdict> {
    let authority = req.uri().authority().map(Authority::as_str);
    if authority.is_some_and(|a| a.contains('@')) {
        return Some(bad_request("Bad :authority (userinfo)".to_owned()));
    }
    let mut hosts = req.headers().get_all(HOST).iter();
    let host = hosts.next()?;
    if hosts.next().is_some() {
        return Some(bad_request("More than one Host header".to_owned()));
    }
    bad_host(host).or_else(|| {
        let same = authority.is_none_or(|a| a.as_bytes().eq_ignore_ascii_case(host.as_bytes()));
        (!same).then(|| bad_request("Host header differs from :authority".to_owned()))
    })
}

fn bad_request(message: String) -> Verdict {
    Verdict::refusal(StatusCode::BAD_REQUEST, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(method: &str, target: &str, version: Version, hosts: &[&str]) -> Option<u16> {
        let mut builder = Request::builder()
            .method(method)
            .uri(target)
            .version(version);
        for host in hosts {
            builder = builder.header(HOST, *host);
        }
        let req = builder.body(()).expect("request");
        refusal(&req, target).map(|v| v.code.as_u16())
    }

    #[test]
    fn targets_follow_rfc_9112_section_3_2() {
        let v11 = Version::HTTP_11;
        assert_eq!(verdict("GET", "/a.txt", v11, &["x"]), None);
        assert_eq!(verdict("GET", "http://x/a.txt", v11, &["x"]), None);
        assert_eq!(verdict("GET", "https://x/a.txt", v11, &["x"]), None);
        assert_eq!(verdict("OPTIONS", "*", v11, &["x"]), None);
        assert_eq!(verdict("CONNECT", "x:443", v11, &["x"]), None);
        assert_eq!(verdict("GET", "a.txt", v11, &["x"]), Some(400));
        assert_eq!(verdict("GET", "x:443", v11, &["x"]), Some(400));
        assert_eq!(verdict("GET", "*", v11, &["x"]), Some(400));
        assert_eq!(verdict("GET", "ftp://x/a.txt", v11, &["x"]), Some(400));
    }

    #[test]
    fn host_is_required_once_in_http_1_1_and_valid_in_any_version() {
        let (v10, v11) = (Version::HTTP_10, Version::HTTP_11);
        assert_eq!(verdict("GET", "/", v11, &[]), Some(400));
        assert_eq!(verdict("GET", "/", v10, &[]), None);
        assert_eq!(verdict("GET", "/", v11, &["a", "b"]), Some(400));
        assert_eq!(verdict("GET", "/", v10, &["a", "a"]), Some(400));
        assert_eq!(verdict("GET", "/", v11, &[""]), None);
        assert_eq!(verdict("GET", "/", v11, &["[::1]:8000"]), None);
        assert_eq!(verdict("GET", "/", v11, &["user@x"]), Some(400));
        assert_eq!(verdict("GET", "/", v10, &["a b"]), Some(400));
        assert_eq!(verdict("GET", "/", v11, &["x:port"]), Some(400));
        assert_eq!(verdict("GET", "/", v11, &["x:80:80"]), Some(400));
        assert_eq!(verdict("GET", "/", v11, &["[::1"]), Some(400));
        assert_eq!(verdict("GET", "/", v11, &["[::1]x"]), Some(400));
        assert_eq!(verdict("GET", "/", v11, &["a/b"]), Some(400));
        assert_eq!(verdict("GET", "/", v11, &["x:"]), None);
        assert_eq!(verdict("GET", "/", v11, &["[v1.fe80::a+en1]:80"]), None);
        assert_eq!(
            verdict("GET", "/", v11, &["xn--caf-dma.example:8000"]),
            None
        );
    }

    #[test]
    fn http2_authority_and_host_must_agree() {
        let v2 = Version::HTTP_2;
        assert_eq!(verdict("GET", "http://x/", v2, &[]), None);
        assert_eq!(verdict("GET", "http://x/", v2, &["X"]), None);
        assert_eq!(verdict("GET", "/", v2, &["x"]), None);
        assert_eq!(verdict("GET", "http://x/", v2, &["y"]), Some(400));
        assert_eq!(verdict("GET", "http://u@x/", v2, &[]), Some(400));
        assert_eq!(verdict("GET", "http://x/", v2, &["x", "x"]), Some(400));
    }

    #[test]
    fn a_header_line_over_pythons_limit_is_431_wherever_it_stands() {
        let long = "h".repeat(MAX_LINE);
        let v11 = Version::HTTP_11;
        assert_eq!(verdict("GET", "/", v11, &[&long]), Some(431));
        let req = Request::builder()
            .uri("/")
            .header(HOST, "x")
            .header("x-long", &long)
            .body(())
            .expect("request");
        assert_eq!(refusal(&req, "/").map(|v| v.code.as_u16()), Some(431));
    }
}
