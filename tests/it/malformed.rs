//! Requests hyper refuses to parse get CPython's codes, its HTML error page with a real status
//! line, `Connection: close`, and its two log lines; normal responses are never touched.

use std::time::SystemTime;

use crate::support::{raw, Serveur};

/// One HTTP/1 response cut out of raw bytes: status line, head, body (by Content-Length).
struct Answer {
    status_line: String,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Splits `bytes` into the responses it holds, in order.
fn answers(bytes: &[u8]) -> Vec<Answer> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut rest = text.as_str();
    let mut out = Vec::new();
    while let Some((head, after)) = rest.split_once("\r\n\r\n") {
        let mut answer = Answer {
            status_line: head.lines().next().unwrap_or_default().to_owned(),
            head: head.to_owned(),
            body: String::new(),
        };
        let len: usize = answer
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        answer.body = after[..len.min(after.len())].to_owned();
        rest = &after[len.min(after.len())..];
        out.push(answer);
    }
    out
}

fn serve() -> (tempfile::TempDir, Serveur) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "hello\n").expect("write");
    let server = Serveur::start(dir.path(), &[]);
    (dir, server)
}

/// Sends `request`, expects exactly one answer: Python's error page for `code` and `message`.
fn assert_python_error(server: &Serveur, request: &[u8], code: u16, message: &str) -> Answer {
    let got = answers(&raw(server.addr, request));
    assert_eq!(
        got.len(),
        1,
        "one answer for {:?}",
        &request[..request.len().min(60)]
    );
    let answer = got.into_iter().next().expect("one");
    assert_eq!(answer.status_line, format!("HTTP/1.1 {code} {message}"));
    assert_eq!(answer.header("connection"), Some("close"));
    assert_eq!(
        answer.header("content-type"),
        Some("text/html;charset=utf-8")
    );
    assert!(answer
        .header("server")
        .is_some_and(|s| s.starts_with("serveur/")));
    assert!(answer.header("date").is_some());
    let escaped = html_escape::encode_text(message).into_owned();
    assert!(
        answer.body.contains(&format!("<p>Error code: {code}</p>"))
            && answer.body.contains(&format!("<p>Message: {escaped}.</p>")),
        "Python's page in {}",
        answer.body
    );
    server.wait_for_log(&format!("code {code}, message {message}"));
    answer
}

#[test]
fn http_2_0_on_the_request_line_is_505_invalid_http_version() {
    let (_dir, server) = serve();
    assert_python_error(
        &server,
        b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
        505,
        "Invalid HTTP version (2.0)",
    );
    server.wait_for_log("\"GET / HTTP/2.0\" 505 ");
}

#[test]
fn a_malformed_version_is_400_bad_request_version() {
    let (_dir, server) = serve();
    assert_python_error(
        &server,
        b"GET / HTTP/1.x\r\n\r\n",
        400,
        "Bad request version ('HTTP/1.x')",
    );
    server.wait_for_log("\"GET / HTTP/1.x\" 400 ");
}

#[test]
fn a_malformed_request_line_is_400_bad_request_syntax() {
    let (_dir, server) = serve();
    assert_python_error(
        &server,
        b"GET / x HTTP/1.1\r\n\r\n",
        400,
        "Bad request syntax ('GET / x HTTP/1.1')",
    );
    server.wait_for_log("\"GET / x HTTP/1.1\" 400 ");
}

#[test]
fn a_malformed_header_is_400_with_the_request_line_logged() {
    let (_dir, server) = serve();
    assert_python_error(
        &server,
        b"GET /a.txt HTTP/1.1\r\nno colon\r\n\r\n",
        400,
        "Bad Request",
    );
    server.wait_for_log("\"GET /a.txt HTTP/1.1\" 400 ");
}

#[test]
fn a_request_line_over_64_kib_is_414_whatever_its_length() {
    let (_dir, server) = serve();
    // Just over CPython's 65,536-byte line (hyper itself takes this URI), over hyper's URI
    // limit, and far over hyper's head buffer.
    for uri_len in [65_530, 70_000, 600_000] {
        let request = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(uri_len));
        assert_python_error(&server, request.as_bytes(), 414, "URI Too Long");
    }
    server.wait_for_log("\"\" 414 ");
}

#[test]
fn a_request_line_of_exactly_64_kib_is_served() {
    let (_dir, server) = serve();
    // 65,536 bytes with CRLF: CPython's limit, not over it.
    let uri_len = 65_536 - "GET /".len() - " HTTP/1.1\r\n".len();
    let request = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(uri_len));
    let got = answers(&raw(server.addr, request.as_bytes()));
    assert_eq!(got[0].status_line, "HTTP/1.1 404 File not found");
}

#[test]
fn a_header_line_over_64_kib_is_431_line_too_long() {
    let (_dir, server) = serve();
    let request = format!(
        "GET /a.txt HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "b".repeat(65_530)
    );
    let answer = assert_python_error(&server, request.as_bytes(), 431, "Line too long");
    assert!(answer
        .body
        .contains("got more than 65536 bytes when reading header line"));
    server.wait_for_log("\"GET /a.txt HTTP/1.1\" 431 ");
}

#[test]
fn more_than_100_headers_is_431_too_many_headers_and_100_are_fine() {
    let (_dir, server) = serve();
    // `Host` is one of the `n` (HTTP/1.1 requires it).
    let with = |n: usize| {
        let mut request = "GET /a.txt HTTP/1.1\r\nHost: x\r\n".to_owned();
        for i in 1..n {
            request.push_str(&format!("X-H{i}: v\r\n"));
        }
        request + "\r\n"
    };
    let answer = assert_python_error(&server, with(101).as_bytes(), 431, "Too many headers");
    assert!(answer.body.contains("got more than 100 headers"));
    let got = answers(&raw(server.addr, with(100).as_bytes()));
    assert_eq!(got[0].status_line, "HTTP/1.1 200 OK");
}

#[test]
fn pipelined_good_requests_are_answered_before_the_bad_one_and_not_after() {
    let (_dir, server) = serve();
    let request = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n\
        GET / HTTP/2.0\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    let got = answers(&raw(server.addr, request));
    let lines: Vec<&str> = got.iter().map(|a| a.status_line.as_str()).collect();
    assert_eq!(
        lines,
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 505 Invalid HTTP version (2.0)"
        ]
    );
    assert_eq!(got[1].body, "hello\n");
    server.wait_for_log("\"GET / HTTP/2.0\" 505 ");
}

#[test]
fn a_bad_request_after_a_request_with_a_body_is_found() {
    let (_dir, server) = serve();
    let request =
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/3.1\r\n\r\n";
    let got = answers(&raw(server.addr, request));
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].status_line,
        "HTTP/1.1 505 Invalid HTTP version (3.1)"
    );
}

#[test]
fn a_file_that_looks_like_hypers_error_head_is_served_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = format!(
        "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: {}\r\n\r\n",
        httpdate::fmt_http_date(SystemTime::now())
    );
    std::fs::write(dir.path().join("fake.txt"), &fake).expect("write");
    let server = Serveur::start(dir.path(), &[]);
    let request =
        b"GET /fake.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /fake.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let got = raw(server.addr, request);
    let text = String::from_utf8_lossy(&got);
    assert_eq!(text.matches(fake.as_str()).count(), 2, "{text}");
    assert!(!text.contains("Error response"));
}

#[test]
fn under_http_1_0_the_error_status_line_says_http_1_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(dir.path(), &["-p", "HTTP/1.0"]);
    let got = answers(&raw(server.addr, b"GET / HTTP/2.0\r\n\r\n"));
    assert_eq!(
        got[0].status_line,
        "HTTP/1.0 505 Invalid HTTP version (2.0)"
    );
}

#[test]
fn under_http_1_0_http2s_preface_gets_pythons_505() {
    // A server that does not speak HTTP/2 takes the preface's first line for a request, as
    // CPython does (`PRI * HTTP/2.0`: 505). hyper closed on the whole preface without a word,
    // and answered part of it with its bare 400.
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(dir.path(), &["-p", "HTTP/1.0"]);
    let settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    let whole = [b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".as_slice(), settings].concat();
    for preface in [
        whole.as_slice(),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\n",
        b"PRI * HTTP/2.0\r\n",
    ] {
        let got = answers(&raw(server.addr, preface));
        assert_eq!(got.len(), 1, "{}", String::from_utf8_lossy(preface));
        assert_eq!(
            got[0].status_line,
            "HTTP/1.0 505 Invalid HTTP version (2.0)"
        );
        assert!(
            got[0].body.contains("<p>Error code: 505</p>"),
            "{}",
            got[0].body
        );
    }
    server.wait_for_log("\"PRI * HTTP/2.0\" 505 ");
}

#[test]
fn a_bad_request_after_a_chunked_body_still_gets_a_page_with_hyper_s_code() {
    let (_dir, server) = serve();
    // The chunked body cannot be walked without an HTTP parser: the refused bytes are not
    // located, so the page carries hyper's 400 (Python would say 505) and no request line.
    let request = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
        5\r\nhello\r\n0\r\n\r\nGET / HTTP/2.0\r\n\r\n";
    let got = answers(&raw(server.addr, request));
    let lines: Vec<&str> = got.iter().map(|a| a.status_line.as_str()).collect();
    assert_eq!(lines, ["HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"]);
    assert!(got[1].body.contains("<p>Error code: 400</p>"));
    server.wait_for_log("\"\" 400 ");
}

#[test]
fn framing_hyper_refuses_gets_pythons_page_too() {
    let (_dir, server) = serve();
    assert_python_error(
        &server,
        b"GET /a.txt HTTP/1.1\r\nContent-Length: 12x\r\n\r\n",
        400,
        "Bad Request",
    );
    server.wait_for_log("\"GET /a.txt HTTP/1.1\" 400 ");
}
