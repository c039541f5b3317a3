//! The read side of [`Guard`](super::Guard): the bytes read lately, and where in them the
//! request hyper refused begins.
//!
//! Bytes are kept in two windows. A new window opens at the first read after the service was
//! handed a request, so the current and previous windows together hold every byte read since
//! before the last request hyper parsed; the refused request starts right after the requests
//! hyper parsed, found by walking their heads with `httparse` (hyper's own parser) and skipping
//! their `Content-Length` bodies. Each window is capped, so a large upload costs one bounded
//! copy, not a copy of the whole body.

use httparse::{Request, Status, EMPTY_HEADER};

use super::python_rules::{MAX_HEADERS, MAX_LINE};

/// How many read bytes a window keeps: a request line at CPython's limit and one byte more
/// (to see it is over).
const WINDOW_CAP: usize = MAX_LINE + 2;

/// A window's capacity is given back when it grew past this (after a large head or body).
const KEEP_CAPACITY: usize = 16 * 1024;

/// The first bytes of the HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";

/// The whole preface: with it at the start of its buffer, hyper's HTTP/1 parser closes the
/// connection without an answer (it takes the client for an HTTP/2 one).
pub(super) const H2_WHOLE_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// hyper's longest URI (`MAX_URI_LEN` in `proto/h1/role.rs`).
const HYPER_MAX_URI: usize = u16::MAX as usize - 1;

#[derive(Default)]
pub(crate) struct Windows {
    prev: Window,
    cur: Window,
    started: bool,
    off: bool,
}

#[derive(Default)]
struct Window {
    bytes: Vec<u8>,
    /// How many requests the service had been handed when this window opened.
    base: usize,
    /// Whether bytes were left out past the cap.
    cut: bool,
}

/// What the read side says about the bytes after the parsed requests.
pub(crate) enum Refused {
    /// A head hyper refuses, as far as it was kept.
    Head(Vec<u8>),
    /// hyper refused something, but where it begins cannot be told (a body longer than a
    /// window, chunked framing): the page goes out without a request line.
    Unknown,
}

impl Windows {
    /// The windows of a new connection. On a server that speaks HTTP/2 (`speaks_http2`), one
    /// that opens with the preface is HTTP/2 and left alone; on one that does not (`-p
    /// HTTP/1.0`), the preface is a request like any other, which CPython answers with `505`.
    pub(crate) fn new(speaks_http2: bool) -> Windows {
        Windows {
            started: !speaks_http2,
            ..Windows::default()
        }
    }

    /// Whether the connection opened with HTTP/2's whole preface to a server that does not
    /// speak HTTP/2: hyper would close it without a word, where CPython answers the request
    /// line `PRI * HTTP/2.0` with `505 Invalid HTTP version (2.0)`. (With less of the preface
    /// read, hyper answers `400` itself, which the guard replaces as any other.)
    pub(crate) fn opens_with_preface(&self, parsed: usize) -> bool {
        parsed == 0
            && !self.off
            && self.cur.base == 0
            && self.cur.bytes.starts_with(H2_WHOLE_PREFACE)
    }

    /// Empty windows (no buffer held) for a connection whose next byte comes right after its
    /// `parsed`-th request (and its body): what a resting connection keeps.
    pub(crate) fn after(parsed: usize) -> Windows {
        let window = || Window {
            base: parsed,
            ..Window::default()
        };
        Windows {
            prev: window(),
            cur: window(),
            started: true,
            off: false,
        }
    }

    /// Whether the connection turned out to be HTTP/2, which this layer leaves alone.
    pub(super) fn is_off(&self) -> bool {
        self.off
    }

    /// Keeps `bytes`, just read, knowing `parsed` requests were handed to the service so far.
    pub(crate) fn record(&mut self, bytes: &[u8], parsed: usize) {
        if self.off || bytes.is_empty() {
            return;
        }
        if !self.started {
            self.started = true;
            let n = bytes.len().min(H2_PREFACE.len());
            if bytes[..n] == H2_PREFACE[..n] {
                self.off = true;
                return;
            }
        }
        if parsed != self.cur.base {
            std::mem::swap(&mut self.prev, &mut self.cur);
            self.cur.bytes.clear();
            self.cur.bytes.shrink_to(KEEP_CAPACITY);
            self.cur.base = parsed;
            self.cur.cut = false;
        }
        let room = WINDOW_CAP.saturating_sub(self.cur.bytes.len());
        self.cur.cut |= bytes.len() > room;
        self.cur
            .bytes
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The request hyper refused, if the bytes after the `parsed` requests are one hyper would
    /// refuse; `None` when they are not (nothing, or a request hyper accepts): then the write
    /// that looked like hyper's error head was a normal response and must go out untouched.
    pub(crate) fn refused(&self, parsed: usize) -> Option<Refused> {
        let joined;
        let candidates: [(&[u8], usize, bool); 2] = [
            (
                if self.prev.cut {
                    &[]
                } else {
                    joined = [self.prev.bytes.as_slice(), &self.cur.bytes].concat();
                    &joined
                },
                self.prev.base,
                !self.prev.cut,
            ),
            (&self.cur.bytes, self.cur.base, true),
        ];
        for (bytes, base, usable) in candidates {
            let Some(skip) = parsed.checked_sub(base).filter(|_| usable) else {
                continue;
            };
            if let Some(rest) = skip_requests(bytes, skip) {
                return (!rest.is_empty() && !hyper_accepts(rest, self.cur.cut))
                    .then(|| Refused::Head(rest.to_vec()));
            }
        }
        Some(Refused::Unknown)
    }
}

/// The bytes after `count` complete requests, or `None` when they cannot be walked.
fn skip_requests(mut bytes: &[u8], count: usize) -> Option<&[u8]> {
    for _ in 0..count {
        let mut headers = [EMPTY_HEADER; MAX_HEADERS];
        let mut req = Request::new(&mut headers);
        let Ok(Status::Complete(head)) = req.parse(bytes) else {
            return None;
        };
        let mut body = 0;
        for header in req.headers.iter() {
            if header.name.eq_ignore_ascii_case("transfer-encoding") {
                return None;
            }
            if header.name.eq_ignore_ascii_case("content-length") {
                body = std::str::from_utf8(header.value)
                    .ok()?
                    .trim()
                    .parse()
                    .ok()?;
            }
        }
        bytes = bytes.get(head.checked_add(body)?..)?;
    }
    Some(bytes)
}

/// Whether hyper would take `head` as the start of a good request: it parses (or is still
/// arriving, within the window), has at most 100 headers, a URI, method and framing hyper
/// takes.
fn hyper_accepts(head: &[u8], cut: bool) -> bool {
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    let mut req = Request::new(&mut headers);
    match req.parse(head) {
        Ok(Status::Complete(_)) => {
            let uri = req.path.unwrap_or_default();
            let method = req.method.unwrap_or_default();
            uri.len() <= HYPER_MAX_URI
                && uri.parse::<http::Uri>().is_ok()
                && http::Method::from_bytes(method.as_bytes()).is_ok()
                && framing_accepted(req.version == Some(1), req.headers)
        }
        Ok(Status::Partial) => !cut,
        Err(_) => false,
    }
}

/// hyper's framing checks on a request head (`role::Server::parse`, after RFC 9112 §6.1 and
/// §6.3): no `Transfer-Encoding` in HTTP/1.0, `chunked` last when it is there, and every
/// `Content-Length` the same run of digits.
fn framing_accepted(http_11: bool, headers: &[httparse::Header<'_>]) -> bool {
    let mut length: Option<&[u8]> = None;
    let mut chunked_last = None;
    for header in headers {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if !http_11 {
                return false;
            }
            let last = header
                .value
                .rsplit(|&b| b == b',')
                .next()
                .unwrap_or_default();
            chunked_last = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if header.name.eq_ignore_ascii_case("content-length") {
            let value = header.value.trim_ascii();
            let digits = !value.is_empty() && value.iter().all(u8::is_ascii_digit);
            if !digits || length.is_some_and(|seen| seen != value) {
                return false;
            }
            length = Some(value);
        }
    }
    chunked_last != Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(windows: &Windows, parsed: usize) -> Option<Vec<u8>> {
        match windows.refused(parsed) {
            Some(Refused::Head(head)) => Some(head),
            Some(Refused::Unknown) => Some(b"?".to_vec()),
            None => None,
        }
    }

    #[test]
    fn a_bad_request_after_pipelined_good_ones_is_found() {
        let mut w = Windows::default();
        w.record(
            b"GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/2.0\r\n\r\n",
            0,
        );
        assert_eq!(
            refused(&w, 2).as_deref(),
            Some(&b"GET / HTTP/2.0\r\n\r\n"[..])
        );
    }

    #[test]
    fn a_bad_request_in_its_own_read_is_found() {
        let mut w = Windows::default();
        w.record(b"GET /a HTTP/1.1\r\n\r\n", 0);
        w.record(b"GET / HTTP/9", 1);
        w.record(b".9\r\n\r\n", 1);
        assert_eq!(
            refused(&w, 1).as_deref(),
            Some(&b"GET / HTTP/9.9\r\n\r\n"[..])
        );
    }

    #[test]
    fn good_or_unfinished_requests_are_not_refused() {
        let mut w = Windows::default();
        w.record(
            b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HT",
            0,
        );
        assert_eq!(refused(&w, 0), None);
        assert_eq!(refused(&w, 1), None);
        assert_eq!(refused(&w, 2), None);
    }

    #[test]
    fn heads_with_framing_hyper_refuses_are_refused() {
        for head in [
            &b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        ] {
            assert!(
                !hyper_accepts(head, false),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        assert!(hyper_accepts(
            b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            false
        ));
    }

    #[test]
    fn http2_connections_are_left_alone() {
        let mut w = Windows::default();
        w.record(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0);
        assert!(w.is_off());
    }
}
