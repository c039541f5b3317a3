//! The script's answer (RFC 3875 §6): a header block of CGI fields and HTTP fields, a blank line,
//! then the body. This module reads the block from whatever bytes the caller has (a pipe for
//! CGI, `FCGI_STDOUT` records for FastCGI) with `httparse`, and decides what kind of response it
//! is: a document, a local redirect (§6.2.2), or a client redirect (§6.2.3, §6.2.4).

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, StatusCode};

/// The largest header block read before the script is called broken.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// The most header fields a script may send.
const MAX_FIELDS: usize = 100;

/// The status line and header fields of the response to send.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase the script gave, if any.
    pub reason: Option<String>,
    /// The header fields to send (CGI fields and hop-by-hop fields removed).
    pub headers: HeaderMap,
}

/// What the header block asks for.
#[derive(Debug)]
pub(crate) enum ScriptReply {
    /// A document, or a client redirect: send this head, then the body.
    Document(ResponseHead),
    /// `Location:` with a local path and nothing else (§6.2.2): if no body follows, serve
    /// `location` as if the client had asked for it; if one does, send `fallback` (a `302`).
    LocalRedirect {
        /// The local path and query.
        location: String,
        /// The head to send when the script did write a body after all.
        fallback: ResponseHead,
    },
    /// A document without `Content-Type` (§6.3.1 says it must have one).
    NoContentType,
}

/// Why a header block cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Malformed(pub String);

/// Reads the header block at the start of `buf`: `Ok(None)` if more bytes are needed, else the
/// reply and how many bytes the block took (the body starts there).
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(ScriptReply, usize)>, Malformed> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let (consumed, fields) = match httparse::parse_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(done)) => done,
        Ok(httparse::Status::Partial) => return incomplete(buf),
        Err(e) => return Err(Malformed(format!("bad header block: {e}"))),
    };
    let mut status = None;
    let mut headers = HeaderMap::new();
    for field in fields {
        if field.name.eq_ignore_ascii_case("status") {
            status = Some(parse_status(field.value)?);
            continue;
        }
        let (name, value) = http_field(field.name, field.value)?;
        if !is_hop_by_hop(&name) {
            headers.append(name, value);
        }
    }
    Ok(Some((decide(status, headers), consumed)))
}

/// Reads the status line and header block an `nph-` script writes itself (it speaks HTTP, not
/// CGI): `Ok(None)` if more bytes are needed. Only the status and the end-to-end fields are
/// kept: RFC 3875 §5.2 wants the bytes sent unmodified, but hyper owns the connection's framing
/// (and HTTP/2 has no status line), so the server writes the head and frames the body itself.
pub(crate) fn parse_nph(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, Malformed> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut response = httparse::Response::new(&mut fields);
    let consumed = match response.parse(buf) {
        Ok(httparse::Status::Complete(consumed)) => consumed,
        Ok(httparse::Status::Partial) => return incomplete(buf),
        Err(e) => return Err(Malformed(format!("bad status line or header block: {e}"))),
    };
    // A final status only (RFC 9110 §15: 2xx-5xx; httparse takes any three digits): hyper
    // would turn a 1xx into its own 500 and send 600-999 as they are. fuzz/script_response
    // found both; they are the script's error, a 502, as a bad CGI `Status` is.
    let code = response.code.unwrap_or(200);
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(|_| (200..600).contains(&code))
        .ok_or_else(|| Malformed(format!("bad status code {code}")))?;
    let mut headers = HeaderMap::new();
    for field in response.headers.iter() {
        let (name, value) = http_field(field.name, field.value)?;
        if !is_hop_by_hop(&name) {
            headers.append(name, value);
        }
    }
    let reason = response.reason.filter(|r| !r.is_empty()).map(str::to_owned);
    Ok(Some((
        ResponseHead {
            status,
            reason,
            headers,
        },
        consumed,
    )))
}

fn incomplete<T>(buf: &[u8]) -> Result<Option<T>, Malformed> {
    if buf.len() >= MAX_HEAD {
        Err(Malformed(format!(
            "header block longer than {MAX_HEAD} bytes"
        )))
    } else {
        Ok(None)
    }
}

fn decide(status: Option<(StatusCode, Option<String>)>, headers: HeaderMap) -> ScriptReply {
    let has_status = status.is_some();
    let (code, reason) = status.unwrap_or((StatusCode::OK, None));
    if let Some(location) = headers.get(LOCATION).and_then(|l| l.to_str().ok()) {
        let local = location.starts_with('/') && !location.starts_with("//");
        if local && !has_status && !headers.contains_key(CONTENT_TYPE) {
            let location = location.to_owned();
            return ScriptReply::LocalRedirect {
                location,
                fallback: ResponseHead {
                    status: StatusCode::FOUND,
                    reason: None,
                    headers,
                },
            };
        }
        // §6.2.3, §6.2.4: a client redirect is a 302 unless the script said otherwise.
        let status = if has_status { code } else { StatusCode::FOUND };
        return ScriptReply::Document(ResponseHead {
            status,
            reason,
            headers,
        });
    }
    let bodiless = matches!(code, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED);
    if !headers.contains_key(CONTENT_TYPE) && !bodiless {
        return ScriptReply::NoContentType;
    }
    ScriptReply::Document(ResponseHead {
        status: code,
        reason,
        headers,
    })
}

/// `Status: 404 Not Found` (§6.3.3): three digits, then an optional reason phrase.
fn parse_status(value: &[u8]) -> Result<(StatusCode, Option<String>), Malformed> {
    let text = std::str::from_utf8(value)
        .map_err(|_| Malformed("Status is not text".into()))?
        .trim();
    let (code, reason) = text.split_once(' ').unwrap_or((text, ""));
    let code = code
        .parse::<u16>()
        .ok()
        .filter(|c| (200..600).contains(c) && code.len() == 3)
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| Malformed(format!("bad Status {text:?}")))?;
    let reason = reason.trim();
    Ok((code, (!reason.is_empty()).then(|| reason.to_owned())))
}

fn http_field(name: &str, value: &[u8]) -> Result<(HeaderName, HeaderValue), Malformed> {
    let header = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Malformed(format!("bad field name {name:?}")))?;
    let value =
        HeaderValue::from_bytes(value).map_err(|_| Malformed(format!("bad value for {name}")))?;
    Ok((header, value))
}

/// Fields about this connection rather than the message (RFC 9110 §7.6.1): the server frames
/// the response itself.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(block: &[u8]) -> ScriptReply {
        parse(block).expect("well formed").expect("complete").0
    }

    #[test]
    fn status_sets_the_code_and_reason_with_either_line_ending() {
        let ScriptReply::Document(head) =
            reply(b"Status: 404 Gone Fishing\r\nContent-Type: text/plain\r\n\r\nbody")
        else {
            panic!("not a document")
        };
        assert_eq!(head.status, 404);
        assert_eq!(head.reason.as_deref(), Some("Gone Fishing"));
        assert!(!head.headers.contains_key("status"));
        let (_, used) = parse(b"Content-type: text/html\n\nx")
            .expect("ok")
            .expect("done");
        assert_eq!(used, 25);
    }

    #[test]
    fn locations_make_local_or_client_redirects() {
        assert!(matches!(
            reply(b"Location: /other?x=1\n\n"),
            ScriptReply::LocalRedirect { location, .. } if location == "/other?x=1"
        ));
        let ScriptReply::Document(head) = reply(b"Location: http://example.com/\n\n") else {
            panic!("not a redirect")
        };
        assert_eq!(head.status, 302);
        let ScriptReply::Document(head) = reply(b"Location: //evil.example/\n\n") else {
            panic!("a protocol-relative URL is not local")
        };
        assert_eq!(head.status, 302);
    }

    #[test]
    fn missing_content_type_and_garbage_are_refused() {
        assert!(matches!(reply(b"X-A: b\n\n"), ScriptReply::NoContentType));
        assert!(matches!(
            reply(b"Status: 204\n\n"),
            ScriptReply::Document(_)
        ));
        assert!(parse(b"not a header\n\n").is_err());
        assert!(parse(b"Status: 99\nContent-Type: a/b\n\n").is_err());
        assert!(parse(b"Content-Type: text/plain\n")
            .expect("partial")
            .is_none());
        assert!(parse(&vec![b'a'; MAX_HEAD]).is_err());
    }

    #[test]
    fn nph_output_is_read_as_an_http_response() {
        let (head, used) = parse_nph(b"HTTP/1.1 201 Made\r\nX-A: b\r\n\r\nrest")
            .expect("ok")
            .expect("complete");
        assert_eq!(head.status, 201);
        assert_eq!(head.reason.as_deref(), Some("Made"));
        assert_eq!(used, 29);
    }

    /// Found by fuzz/script_response: an interim or out-of-range status line was kept.
    #[test]
    fn nph_status_must_be_final() {
        for line in [
            "HTTP/1.1 101 Switching",
            "HTTP/1.1 100 Go",
            "HTTP/1.1 600 X",
            "HTTP/1.0 999 X",
        ] {
            let block = format!("{line}\r\n\r\n");
            assert!(parse_nph(block.as_bytes()).is_err(), "{line} accepted");
        }
    }
}
