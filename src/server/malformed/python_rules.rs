//! CPython's verdicts on a request head it would refuse, as `BaseHTTPRequestHandler`
//! (`parse_request`, `http.client.parse_headers`) gives them: the code, the message (also the
//! reason phrase and the `code N, message M` log line) and the request line it logs.
//!
//! hyper parses requests; this module never does. It reads bytes hyper has already refused
//! (to tell *why*, the way Python would say it), and gives the verdicts that `admission` and
//! the guard's early 414 hand out for the CPython limits hyper has no setting for.

use http::StatusCode;

use crate::py_repr::py_repr;
use crate::status_text::python_status_text;

/// CPython's `http.client._MAXLINE`: the longest request or header line, CRLF included.
pub(crate) const MAX_LINE: usize = 65536;
/// CPython's `http.client._MAXHEADERS`: more headers than this is a 431.
pub(crate) const MAX_HEADERS: usize = 100;

/// Why Python refuses a request, and the request line it logs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// The status code.
    pub code: StatusCode,
    /// `send_error`'s message.
    pub message: String,
    /// `send_error`'s explanation.
    pub explain: String,
    /// The request line as CPython logs it (empty for a 414, as CPython resets it).
    pub request_line: String,
}

impl Verdict {
    fn new(code: StatusCode, message: Option<String>, explain: Option<&str>, line: String) -> Self {
        let (default_message, default_explain) = python_status_text(code.as_u16());
        Verdict {
            code,
            message: message.unwrap_or_else(|| default_message.to_owned()),
            explain: explain.unwrap_or(default_explain).to_owned(),
            request_line: line,
        }
    }
}

/// Python's verdict on `head`, the first bytes of a request hyper refused (maybe cut short).
/// When Python would have accepted what hyper refused (a header line without a colon, a
/// character RFC 9112 forbids in the target, a head over hyper's buffer), the answer is a
/// plain 400 or 431 with the request line, so the client still gets a page and the log a line.
/// Empty `head` (the bytes could not be found) gives hyper's code and no request line.
pub(crate) fn judge(head: &[u8], hyper_code: StatusCode) -> Verdict {
    let head = trim_leading_newlines(head);
    if head.is_empty() {
        return Verdict::new(hyper_code, None, None, String::new());
    }
    let mut lines = head.split_inclusive(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    // A line longer than CPython reads (`readline(65537)`), or one whose end we never saw.
    let unfinished = !first.ends_with(b"\n");
    if first.len() > MAX_LINE || (unfinished && hyper_code != StatusCode::BAD_REQUEST) {
        return Verdict::uri_too_long();
    }
    let line = latin1(first.strip_suffix(b"\n").unwrap_or(first));
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if let Some((code, message)) = request_line_verdict(&line) {
        return Verdict::new(code, Some(message), None, line);
    }
    // `http.client.parse_headers`: each line is checked for length, then counted.
    let mut count = 0;
    for header in lines {
        if header == b"\r\n" || header == b"\n" {
            break;
        }
        if header.len() > MAX_LINE {
            return too_long_header(line);
        }
        count += 1;
        if count > MAX_HEADERS {
            let explain = format!("got more than {MAX_HEADERS} headers");
            let message = Some("Too many headers".to_owned());
            return Verdict::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                message,
                Some(&explain),
                line,
            );
        }
    }
    Verdict::new(hyper_code, None, None, line)
}

fn too_long_header(line: String) -> Verdict {
    let explain = format!("got more than {MAX_LINE} bytes when reading header line");
    let message = Some("Line too long".to_owned());
    Verdict::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        message,
        Some(&explain),
        line,
    )
}

/// CPython's `parse_request` on the request line: `None` when it would go on to the headers.
fn request_line_verdict(line: &str) -> Option<(StatusCode, String)> {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    if words.len() >= 3 {
        let version = words[words.len() - 1];
        match version_number(version) {
            None => {
                let message = format!("Bad request version ({})", py_repr(version));
                return Some((StatusCode::BAD_REQUEST, message));
            }
            Some((major, _)) if major >= 2 => {
                let base = &version["HTTP/".len()..];
                let message = format!("Invalid HTTP version ({base})");
                return Some((StatusCode::HTTP_VERSION_NOT_SUPPORTED, message));
            }
            Some(_) => {}
        }
    }
    if !(2..=3).contains(&words.len()) {
        return Some((
            StatusCode::BAD_REQUEST,
            format!("Bad request syntax ({})", py_repr(line)),
        ));
    }
    if words.len() == 2 && words[0] != "GET" {
        let message = format!("Bad HTTP/0.9 request type ({})", py_repr(words[0]));
        return Some((StatusCode::BAD_REQUEST, message));
    }
    None
}

/// `HTTP/major.minor` as CPython accepts it: one dot, digits only, at most 10 per part.
fn version_number(version: &str) -> Option<(u64, u64)> {
    let (major, minor) = version.strip_prefix("HTTP/")?.split_once('.')?;
    let part = |p: &str| {
        let ok = !p.is_empty() && p.len() <= 10 && p.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| p.parse::<u64>().ok()).flatten()
    };
    Some((part(major)?, part(minor)?))
}

impl Verdict {
    /// A refusal of serveur's own (not one of CPython's verdicts): `code` with `message`, the
    /// standard explanation, and the request line the access log shows anyway.
    pub(crate) fn refusal(code: StatusCode, message: String) -> Self {
        Verdict::new(code, Some(message), None, String::new())
    }

    /// CPython's 414 for a request line over [`MAX_LINE`] (it logs no request line then).
    pub(crate) fn uri_too_long() -> Self {
        Verdict::new(StatusCode::URI_TOO_LONG, None, None, String::new())
    }

    /// CPython's 431 for a header line over [`MAX_LINE`].
    pub(crate) fn header_line_too_long() -> Self {
        too_long_header(String::new())
    }
}

fn trim_leading_newlines(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// CPython decodes the request line as ISO-8859-1: every byte is the char of the same number.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(head: &[u8]) -> (u16, String, String) {
        let v = judge(head, StatusCode::BAD_REQUEST);
        (v.code.as_u16(), v.message, v.request_line)
    }

    #[test]
    fn version_two_or_more_is_505_with_pythons_message() {
        let (code, message, line) = verdict(b"GET / HTTP/2.0\r\n\r\n");
        assert_eq!(
            (code, message.as_str()),
            (505, "Invalid HTTP version (2.0)")
        );
        assert_eq!(line, "GET / HTTP/2.0");
        assert_eq!(
            verdict(b"GET / HTTP/10.01\r\n").1,
            "Invalid HTTP version (10.01)"
        );
    }

    #[test]
    fn malformed_versions_and_syntax_get_pythons_400_messages() {
        assert_eq!(
            verdict(b"GET / HTTP/1.x\r\n").1,
            "Bad request version ('HTTP/1.x')"
        );
        assert_eq!(verdict(b"GET / FOO\r\n").1, "Bad request version ('FOO')");
        assert_eq!(
            verdict(b"GET / x HTTP/1.1\r\n").1,
            "Bad request syntax ('GET / x HTTP/1.1')"
        );
        assert_eq!(verdict(b"GET\r\n").1, "Bad request syntax ('GET')");
        assert_eq!(
            verdict(b"POST /\r\n").1,
            "Bad HTTP/0.9 request type ('POST')"
        );
    }

    #[test]
    fn long_lines_and_many_headers_get_431_or_414() {
        let mut long_header = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long_header.extend(std::iter::repeat_n(b'a', MAX_LINE));
        long_header.extend_from_slice(b"\r\n\r\n");
        let v = judge(&long_header, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!(
            (v.code.as_u16(), v.message.as_str()),
            (431, "Line too long")
        );

        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..101 {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        let v = judge(&many, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!(v.message, "Too many headers");
        assert_eq!(v.explain, "got more than 100 headers");

        let long_line = [b"GET /".as_slice(), &[b'a'; MAX_LINE]].concat();
        let v = judge(&long_line, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!((v.code.as_u16(), v.request_line.as_str()), (414, ""));
    }
}
