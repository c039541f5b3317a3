//! A request's admission, at the byte level: request targets and `Host` (RFC 9112 §3.2),
//! `:authority` (RFC 9113 §8.3.1), CPython's 414 the moment a request line passes 64 KiB, and
//! how HTTP/1.0 answers end (`Connection: close` where the close is what ends the body, and on
//! errors under `-p HTTP/1.0`, as CPython's `send_error` says it). ApacheBench (`ab -k`, an
//! HTTP/1.0 keep-alive client) checks the framing against a script, an on-the-fly gzip file and
//! a PHP page.

use crate::fastcgi_apps;
use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use crate::support::{
    raw, raw_keep_open, sample_text, write_file, write_script, RawReply, Serveur, WAIT,
};

fn site() -> (tempfile::TempDir, Serveur) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), "a.txt", "hello\n");
    write_file(dir.path(), "dir/b.txt", "in dir\n");
    let server = Serveur::start(dir.path(), &[]);
    (dir, server)
}

/// Sends `request` raw and parses the one answer.
fn answer(server: &Serveur, request: &str) -> RawReply {
    RawReply::parse(&raw(server.addr, request.as_bytes()))
}

/// A 400 with Python's error page, `Connection: close`, and CPython's two log lines.
fn assert_refused(server: &Serveur, request: &str, message: &str) {
    let reply = answer(server, request);
    assert_eq!(reply.status(), format!("400 {message}"), "{request:?}");
    assert_eq!(reply.header("connection"), Some("close"));
    let page = String::from_utf8_lossy(&reply.body);
    assert!(page.contains("<p>Error code: 400</p>"), "{page}");
    assert!(page.contains("Message: "), "{page}");
    server.wait_for_log(&format!("code 400, message {message}"));
}

#[test]
fn invalid_request_targets_are_400_with_pythons_page_the_same_way_every_time() {
    let (_dir, server) = site();
    for _ in 0..2 {
        // hyper reads `a.txt` as an authority, `tmp/a.txt` as nothing: both are invalid
        // origin-forms and get the same answer.
        assert_refused(
            &server,
            "GET a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
            "Bad request target ('a.txt')",
        );
        let reply = answer(&server, "GET dir/b.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(reply.status_line.starts_with("HTTP/1.1 400 "), "{reply:?}");
        assert!(String::from_utf8_lossy(&reply.body).contains("Error code: 400"));
        // Authority-form outside CONNECT, asterisk-form outside OPTIONS.
        assert_refused(
            &server,
            "GET localhost:80 HTTP/1.1\r\nHost: x\r\n\r\n",
            "Bad request target ('localhost:80')",
        );
        assert_refused(
            &server,
            "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
            "Bad request target ('*')",
        );
        assert_refused(
            &server,
            "GET ftp://x/a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
            "Bad request target ('ftp://x/a.txt')",
        );
    }
    server.wait_for_log("\"GET a.txt HTTP/1.1\" 400 ");
}

#[test]
fn the_asterisk_is_for_options_and_the_authority_form_for_connect() {
    let (_dir, server) = site();
    let options = answer(&server, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(options.status_line, "HTTP/1.1 204 No Content");
    // A valid CONNECT target reaches the handler, which does not tunnel.
    let connect = answer(&server, "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n");
    assert_eq!(
        connect.status_line,
        "HTTP/1.1 501 Unsupported method ('CONNECT')"
    );
}

#[test]
fn http_1_1_needs_exactly_one_valid_host_and_http_1_0_may_have_none() {
    let (_dir, server) = site();
    assert_refused(
        &server,
        "GET /a.txt HTTP/1.1\r\n\r\n",
        "Missing Host header",
    );
    assert_refused(
        &server,
        "GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "More than one Host header",
    );
    assert_refused(
        &server,
        "GET /a.txt HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
        "More than one Host header",
    );
    for bad in ["user@x", "a b", "x:port", "x:80:80"] {
        assert_refused(
            &server,
            &format!("GET /a.txt HTTP/1.1\r\nHost: {bad}\r\n\r\n"),
            &format!("Bad Host header ('{bad}')"),
        );
    }
    for good in ["x", "x:8000", "127.0.0.1:1", "[::1]:8000", ""] {
        let reply = answer(
            &server,
            &format!("GET /a.txt HTTP/1.1\r\nHost: {good}\r\n\r\n"),
        );
        assert_eq!(reply.status_line, "HTTP/1.1 200 OK", "Host: {good}");
    }
    let reply = answer(&server, "GET /a.txt HTTP/1.0\r\n\r\n");
    assert_eq!(reply.status_line, "HTTP/1.0 200 OK");
    assert_eq!(reply.body, b"hello\n");
}

#[test]
fn an_absolute_form_target_is_served_as_its_path() {
    let (_dir, server) = site();
    let reply = answer(
        &server,
        "GET http://elsewhere.example/a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
    assert_eq!(reply.body, b"hello\n");
    // The directory redirect names the path only (Python keeps the scheme and host it got).
    let reply = answer(
        &server,
        "GET http://elsewhere.example/dir?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(reply.status_line, "HTTP/1.1 301 Moved Permanently");
    assert_eq!(reply.header("location"), Some("/dir/?q=1"));
}

#[test]
fn over_http2_host_must_match_authority_and_authority_has_no_userinfo() {
    let (_dir, server) = site();
    let status = |uri: &str, hosts: &[&str]| {
        support::tls::runtime().block_on(h2_status(server.addr, uri, hosts))
    };
    assert_eq!(status("http://localhost/a.txt", &[]), 200);
    assert_eq!(status("http://localhost/a.txt", &["LocalHost"]), 200);
    assert_eq!(
        status("http://localhost/a.txt", &["elsewhere.example"]),
        400
    );
    assert_eq!(status("http://user@localhost/a.txt", &[]), 400);
    assert_eq!(
        status("http://localhost/a.txt", &["localhost", "localhost"]),
        400
    );
    server.wait_for_log("code 400, message Host header differs from :authority");
    server.wait_for_log("code 400, message Bad :authority (userinfo)");
}

/// The status of one h2c request for `uri` (its authority is `:authority`) with these `Host`
/// fields (hyper's client sends them as they are).
async fn h2_status(addr: std::net::SocketAddr, uri: &str, hosts: &[&str]) -> u16 {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, _conn) = support::tls::h2_handshake(tcp).await;
    let mut request = http::Request::get(uri)
        .body(Full::new(Bytes::new()))
        .expect("request");
    for host in hosts {
        let value = host.parse().expect("host");
        request.headers_mut().append("host", value);
    }
    let response = sender.send_request(request).await.expect("response");
    response.status().as_u16()
}

#[test]
fn a_request_line_past_64_kib_without_its_end_is_414_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A header timeout far beyond the read's wait: only the line's length can bring the 414.
    let server = Serveur::start(dir.path(), &["--header-timeout", "120"]);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let line = format!("GET /{}", "a".repeat(65_536 - "GET /".len() + 1));
    stream.write_all(line.as_bytes()).expect("write");
    let mut got = Vec::new();
    stream
        .read_to_end(&mut got)
        .expect("the 414 and the close, without waiting for more bytes");
    let reply = RawReply::parse(&got);
    assert_eq!(reply.status_line, "HTTP/1.1 414 URI Too Long");
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(String::from_utf8_lossy(&reply.body).contains("Error code: 414"));
    server.wait_for_log("code 414, message URI Too Long");
    server.wait_for_log("\"\" 414 ");
}

#[test]
fn a_line_of_exactly_64_kib_still_waiting_for_its_end_is_not_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), "a.txt", "hello\n");
    let server = Serveur::start(dir.path(), &[]);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    // A line of 65,534 bytes, 65,536 with its CRLF: CPython's limit, which it serves. The line
    // goes first, its end in a second write, so the server watches it as a line still without
    // its end, and must not refuse it.
    let path = format!(
        "/a.txt?{}",
        "q".repeat(65_536 - "GET /a.txt? HTTP/1.1\r\n".len())
    );
    let line = format!("GET {path} HTTP/1.1");
    stream.write_all(line.as_bytes()).expect("write line");
    stream
        .write_all(b"\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write end of head");
    let mut got = Vec::new();
    stream.read_to_end(&mut got).expect("answer");
    let reply = RawReply::parse(&got);
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
}

#[test]
fn a_long_body_is_never_taken_for_a_request_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), "a.txt", "hello\n");
    let server = Serveur::start(dir.path(), &[]);
    // A POST the static files refuse without reading its body, then a second request.
    let body = "b".repeat(200_000);
    let request = format!(
        "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (got, _) = raw_keep_open(server.addr, request.as_bytes(), Duration::from_secs(2));
    let reply = RawReply::parse(&got);
    assert_eq!(
        reply.status_line,
        "HTTP/1.1 501 Unsupported method ('POST')"
    );
    assert!(!String::from_utf8_lossy(&got).contains(" 414 "));
}

#[test]
fn under_protocol_http_1_0_errors_say_connection_close_as_python_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), "a.txt", "hello\n");
    let server = Serveur::start(dir.path(), &["-p", "HTTP/1.0"]);
    let missing = answer(&server, "GET /missing HTTP/1.0\r\n\r\n");
    assert_eq!(missing.status_line, "HTTP/1.0 404 File not found");
    assert_eq!(missing.header("connection"), Some("close"));
    let post = answer(&server, "POST /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(post.status_line, "HTTP/1.0 501 Unsupported method ('POST')");
    assert_eq!(post.header("connection"), Some("close"));
    // A success carries none, as in CPython.
    let found = answer(&server, "GET /a.txt HTTP/1.0\r\n\r\n");
    assert_eq!(found.status_line, "HTTP/1.0 200 OK");
    assert_eq!(found.header("connection"), None);
}

/// A site with a CGI script that sends no length and a text file compressed on the fly.
fn unframed_site() -> (tempfile::TempDir, Serveur) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(
        dir.path(),
        "cgi-bin/nolength.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\necho no length here\n",
    );
    std::fs::write(dir.path().join("big.txt"), sample_text(200_000)).expect("write");
    support::age(&dir.path().join("big.txt"), 60);
    let server = Serveur::start(dir.path(), &["--cgi", "-q"]);
    (dir, server)
}

#[test]
fn an_http_1_0_keep_alive_answer_without_a_length_says_close_and_closes() {
    let (_dir, server) = unframed_site();
    for (path, extra) in [
        ("/cgi-bin/nolength.sh", ""),
        ("/big.txt", "Accept-Encoding: gzip\r\n"),
    ] {
        let request = format!("GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n{extra}\r\n");
        let (got, closed) = raw_keep_open(server.addr, request.as_bytes(), WAIT);
        assert!(closed, "{path}: the close ends the body");
        let reply = RawReply::parse(&got);
        assert_eq!(reply.status_line, "HTTP/1.0 200 OK", "{path}");
        assert_eq!(reply.header("connection"), Some("close"), "{path}");
        assert_eq!(reply.header("content-length"), None, "{path}");
        assert!(!reply.body.is_empty());
    }
    // With a length, the connection is kept as asked.
    let request = "GET /big.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    let (got, closed) = raw_keep_open(server.addr, request.as_bytes(), Duration::from_secs(1));
    assert!(!closed, "a known length keeps the connection");
    let reply = RawReply::parse(&got);
    assert_eq!(reply.header("connection"), Some("keep-alive"));
    assert_eq!(reply.header("content-length"), Some("200000"));
}

/// `ab -k -n 300 -c 4` with `extra` arguments against `url`; fails unless every request
/// completed and none failed.
fn assert_ab_keep_alive_clean(url: &str, extra: &[&str]) {
    let output = Command::new("ab")
        .args(["-k", "-n", "300", "-c", "4", "-s", "10"])
        .args(extra)
        .arg(url)
        .output()
        .expect("ab (Debian's apache2-utils) must be installed");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{url}: {text}");
    assert!(
        text.contains("Complete requests:      300"),
        "{url}: {text}"
    );
    assert!(text.contains("Failed requests:        0"), "{url}: {text}");
    assert!(!text.contains("Non-2xx responses"), "{url}: {text}");
}

#[test]
fn apachebench_keep_alive_gets_whole_answers_from_a_script_and_a_gzip_file() {
    let (_dir, server) = unframed_site();
    let base = format!("http://{}", server.addr);
    assert_ab_keep_alive_clean(&format!("{base}/cgi-bin/nolength.sh"), &[]);
    assert_ab_keep_alive_clean(&format!("{base}/big.txt"), &["-H", "Accept-Encoding: gzip"]);
}

#[test]
fn apachebench_keep_alive_gets_whole_answers_from_php() {
    let php = fastcgi_apps::php_site(2, &["-q"]);
    fastcgi_apps::write(
        php.site.path(),
        "stream.php",
        "<?php header('Content-Type: text/plain'); echo str_repeat(\"line\\n\", 2000); flush(); echo 'end';",
    );
    let url = format!("http://{}/stream.php", php.server.addr);
    assert_ab_keep_alive_clean(&url, &[]);
}
