//! The write side of [`Guard`](super::Guard): recognising hyper's automatic error head at the
//! end of a write, and writing Python's error response in its place.

use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use http::header::{HeaderValue, CONNECTION, SERVER};
use http::StatusCode;
use http_body_util::BodyExt;

use super::python_rules::Verdict;
use crate::response::SERVER_NAME;

/// What hyper writes after the status line of its automatic head (`Conn::on_parse_error` with
/// `role::Server::on_error` in hyper 1.x), up to the date's value.
const AFTER_STATUS: &[u8] = b"\r\nconnection: close\r\ncontent-length: 0\r\ndate: ";

/// An IMF-fixdate (`Sat, 21 Nov 2026 13:15:50 GMT`) is always this long (RFC 9110 §5.6.7).
const DATE_LEN: usize = 29;

/// The statuses hyper answers parse errors with, as it writes them after `HTTP/1.x`.
const STATUSES: [(StatusCode, &[u8]); 3] = [
    (StatusCode::BAD_REQUEST, b" 400 Bad Request"),
    (StatusCode::URI_TOO_LONG, b" 414 URI Too Long"),
    (
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        b" 431 Request Header Fields Too Large",
    ),
];

/// hyper's automatic head found at the end of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct AutoHead {
    /// The code hyper chose.
    pub code: StatusCode,
    /// How many bytes at the end of the write it takes.
    pub len: usize,
}

/// hyper's automatic head, if `buf` ends with one dated now. Most writes are turned away by
/// the first comparison (a body rarely ends with a blank line; a head does, but not with
/// `content-length: 0` right before the date).
pub(super) fn auto_head_at_end(buf: &[u8]) -> Option<AutoHead> {
    let date_end = buf.len().checked_sub(4)?;
    if &buf[date_end..] != b"\r\n\r\n" {
        return None;
    }
    let date_start = date_end.checked_sub(DATE_LEN)?;
    let before_date = &buf[..date_start];
    let status_end = before_date.len().checked_sub(AFTER_STATUS.len())?;
    if &before_date[status_end..] != AFTER_STATUS {
        return None;
    }
    let before_tail = &buf[..status_end];
    let (code, status) = STATUSES
        .into_iter()
        .find(|(_, status)| before_tail.ends_with(status))?;
    let version_start = status_end.checked_sub(status.len() + 8)?;
    let version = &buf[version_start..status_end - status.len()];
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return None;
    }
    let date = std::str::from_utf8(&buf[date_start..date_end]).ok()?;
    let dated = httpdate::parse_http_date(date).ok()?;
    let now = SystemTime::now();
    let age = now.duration_since(dated).unwrap_or_else(|e| e.duration());
    (age <= Duration::from_secs(2)).then_some(AutoHead {
        code,
        len: buf.len() - version_start,
    })
}

/// Appends Python's error response for `verdict` to `out` — status line with the message as
/// reason phrase, `Server`, `Date`, then [`error_with`](crate::response::error_with)'s other
/// headers, `Content-Length` and the page — and returns the page's length.
pub(super) fn render(verdict: &Verdict, version: &str, out: &mut Vec<u8>) -> usize {
    let response = error_response(verdict);
    let (parts, body) = response.into_parts();
    // `error_with` builds its page in memory: collecting it is ready at once.
    let page = body
        .collect()
        .now_or_never()
        .and_then(Result::ok)
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    out.extend_from_slice(version.as_bytes());
    out.extend_from_slice(format!(" {} ", verdict.code.as_u16()).as_bytes());
    out.extend_from_slice(&reason_phrase(verdict));
    out.extend_from_slice(b"\r\nserver: ");
    out.extend_from_slice(SERVER_NAME.as_bytes());
    out.extend_from_slice(b"\r\ndate: ");
    out.extend_from_slice(httpdate::fmt_http_date(SystemTime::now()).as_bytes());
    out.extend_from_slice(b"\r\n");
    // `Server` is written above, before `Date` as CPython orders them; `error_with` leaves
    // `Content-Length` to hyper, which writes it from the body's length: so does this.
    for (name, value) in parts.headers.iter().filter(|(name, _)| *name != SERVER) {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", page.len()).as_bytes());
    out.extend_from_slice(&page);
    page.len()
}

/// Python's error response for `verdict`, ending the connection: after a request it could not
/// parse, the server cannot know where the next one starts (RFC 9112 §9.6 `close`).
pub(crate) fn error_response(verdict: &Verdict) -> crate::handler::Response {
    let mut response =
        crate::response::error_with(verdict.code, &verdict.message, &verdict.explain);
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The message as reason phrase, as CPython sends it (ISO-8859-1), unless it holds a byte a
/// reason phrase may not (RFC 9112 §4: HTAB, SP, VCHAR, obs-text): then the standard phrase.
fn reason_phrase(verdict: &Verdict) -> Vec<u8> {
    let latin1: Option<Vec<u8>> = verdict
        .message
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect();
    match latin1 {
        Some(bytes) if bytes.iter().all(|&b| b == b'\t' || b >= b' ' && b != 0x7f) => bytes,
        _ => verdict
            .code
            .canonical_reason()
            .unwrap_or_default()
            .as_bytes()
            .to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hyper_head(status: &str, date: SystemTime) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: 0\r\ndate: {}\r\n\r\n",
            httpdate::fmt_http_date(date)
        )
        .into_bytes()
    }

    #[test]
    fn hyper_heads_are_found_at_the_end_of_a_write() {
        let head = hyper_head("431 Request Header Fields Too Large", SystemTime::now());
        let mut write = b"previous response tail".to_vec();
        write.extend_from_slice(&head);
        let found = auto_head_at_end(&write).expect("found");
        assert_eq!(found.code, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!(found.len, head.len());
    }

    #[test]
    fn old_dates_other_statuses_and_heads_with_more_headers_are_not_hypers() {
        let old = SystemTime::now() - Duration::from_secs(60);
        assert_eq!(auto_head_at_end(&hyper_head("400 Bad Request", old)), None);
        let now = SystemTime::now();
        assert_eq!(auto_head_at_end(&hyper_head("404 Not Found", now)), None);
        let ours = format!(
            "HTTP/1.1 400 Bad Request\r\nserver: x\r\ncontent-length: 0\r\ndate: {}\r\n\r\n",
            httpdate::fmt_http_date(now)
        );
        assert_eq!(auto_head_at_end(ours.as_bytes()), None);
    }
}
