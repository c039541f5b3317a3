//! HTTP/2: with prior knowledge (h2c) on the plain port and by ALPN over TLS, the same answers
//! and log lines as HTTP/1.1, and 100 streams at once on one connection.

use crate::support;

use std::io::{Read, Write};
use std::process::Command;

use crate::support::tls::{
    assert_static_answers, client, make_cert, many_streams, runtime, send_h2c, site,
};
use crate::support::Serveur;
use rustls::pki_types::ServerName;
use rustls::version::TLS13;

#[test]
fn h2c_with_prior_knowledge_gets_the_same_answers_and_log_lines() {
    let site = site();
    let server = Serveur::start(site.path(), &[]);
    assert_static_answers(|request| {
        let (reply, version) = send_h2c(server.addr, request);
        assert_eq!(version, http::Version::HTTP_2);
        reply
    });
    server.wait_for_log("\"GET /a.txt HTTP/2.0\" 200 6");
    server.wait_for_log("code 404, message File not found");
    server.wait_for_log("\"GET /nope HTTP/2.0\" 404 ");
    server.wait_for_log("\"HEAD /a.txt HTTP/2.0\" 200 0");
    server.wait_for_log("\"GET /a.txt HTTP/2.0\" 304 0");
}

/// curl with HTTP/2 prior knowledge (h2c) and `args` before `url`: what it wrote, once it
/// succeeded; fails the test when curl is missing or fails.
fn curl_h2c(args: &[&str], url: &str) -> String {
    let output = Command::new("curl")
        .args(["-sS", "--http2-prior-knowledge"])
        .args(args)
        .arg(url)
        .output()
        .expect("the curl command is required for the HTTP/2 tests");
    assert!(
        output.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

#[test]
fn curl_with_http2_prior_knowledge_speaks_h2c() {
    let site = site();
    let server = Serveur::start(site.path(), &[]);
    let url = format!("http://127.0.0.1:{}/a.txt", server.port());
    assert_eq!(curl_h2c(&["-w", "\n%{http_version}"], &url), "hello\n\n2");
}

/// A HEAD answer over HTTP/2 has the GET's header fields and no DATA (RFC 9110 §9.3.2). An
/// error page is made alike for GET and HEAD; hyper leaves its body out over HTTP/1 only, and
/// over HTTP/2 curl saw DATA on a HEAD stream and failed it (`PROTOCOL_ERROR`).
#[test]
fn head_of_an_error_page_over_h2c_has_the_gets_length_and_no_content() {
    let site = site();
    let server = Serveur::start(site.path(), &[]);
    let url = format!("http://127.0.0.1:{}/nope", server.port());
    let get = curl_h2c(&["-D", "-"], &url);
    let (get_head, page) = get.split_once("\r\n\r\n").expect("a head");
    let head = curl_h2c(&["-I"], &url);
    assert!(head.starts_with("HTTP/2 404"), "{head}");
    let length = format!("content-length: {}\r\n", page.len());
    assert!(format!("{get_head}\r\n").contains(&length), "{get_head}");
    assert!(head.contains(&length), "{head}");
    assert!(
        head.ends_with("\r\n\r\n"),
        "no content after the head: {head}"
    );
    server.wait_for_log("\"HEAD /nope HTTP/2.0\" 404 0");
}

#[test]
fn a_hundred_concurrent_streams_share_one_h2c_connection() {
    let site = site();
    let server = Serveur::start(site.path(), &[]);
    let replies = runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        many_streams(tcp, 100, "/a.txt").await
    });
    assert_eq!(replies.len(), 100);
    assert!(replies
        .iter()
        .all(|r| r.status == 200 && r.text() == "hello\n"));
}

#[test]
fn a_hundred_concurrent_streams_share_one_tls_connection() {
    let site = site();
    let pki = tempfile::tempdir().expect("tempdir");
    let (cert, _) = make_cert(pki.path(), "ec", "ec");
    let key = pki.path().join("ec.key");
    let server = Serveur::start(
        site.path(),
        &[
            "--tls-cert",
            cert.to_str().expect("utf-8"),
            "--tls-key",
            key.to_str().expect("utf-8"),
        ],
    );
    let connector = client(&cert, &[b"h2"], &[&TLS13]);
    let replies = runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        let name = ServerName::try_from("localhost").expect("name");
        let tls = connector.connect(name, tcp).await.expect("handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        many_streams(tls, 100, "/sub/b.html").await
    });
    assert!(replies
        .iter()
        .all(|r| r.status == 200 && r.text() == "<p>b</p>"));
}

#[test]
fn protocol_http_1_0_turns_http2_off() {
    let site = site();
    let server = Serveur::start(site.path(), &["-p", "HTTP/1.0", "--tls-self-signed"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let connect = format!("127.0.0.1:{}", server.port());
    let out = support::tls::openssl(
        dir.path(),
        &["s_client", "-connect", &connect, "-alpn", "h2,http/1.1"],
    );
    assert!(String::from_utf8_lossy(&out).contains("ALPN protocol: http/1.1"));
}

/// Under `-p HTTP/1.0` every connection is HTTP/1, h2c's preface included: hyper-util's auto
/// builder, which ignored `http1_only` when serving with upgrades, answered it with HTTP/2's
/// SETTINGS frame. The preface's first line is a request line like any other, answered as
/// CPython answers it (`malformed::under_http_1_0_http2s_preface_gets_pythons_505`).
#[test]
fn protocol_http_1_0_never_speaks_h2c() {
    let site = site();
    let server = Serveur::start(site.path(), &["-p", "HTTP/1.0"]);
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connect");
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .expect("write the preface");
    stream
        .set_read_timeout(Some(support::WAIT))
        .expect("timeout");
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .expect("closed by the server");
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.starts_with("HTTP/1.0 505 Invalid HTTP version (2.0)\r\n"),
        "{reply}"
    );
    let answered = support::raw_text(server.addr, b"GET /a.txt HTTP/1.0\r\n\r\n");
    assert!(answered.starts_with("HTTP/1.0 200 OK\r\n"), "{answered}");
}
