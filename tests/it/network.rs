//! Connections and addresses: keep-alive and pipelining under HTTP/1.1, one request per
//! connection under `-p HTTP/1.0`, IPv6 on `[::1]`, and every interface (dual-stack) when no
//! `-b` is given.

use crate::support;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::{get, raw, raw_keep_open, send_on_one_connection, serveur_command, Serveur};
use bytes::Bytes;
use http_body_util::Full;

fn site() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("a.txt"), "AAAA").expect("write");
    std::fs::write(tmp.path().join("b.txt"), "BBBBBBBB").expect("write");
    tmp
}

fn get_request(path: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(path)
        .header("host", "test")
        .body(Full::new(Bytes::new()))
        .expect("request")
}

#[test]
fn several_requests_share_one_keep_alive_connection() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &[]);
    let paths = ["/a.txt", "/b.txt", "/", "/a.txt"];
    let replies =
        send_on_one_connection(server.addr, paths.iter().map(|p| get_request(p)).collect());
    let statuses: Vec<_> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200; 4]);
    assert_eq!(replies[0].body, "AAAA");
    assert_eq!(replies[1].body, "BBBBBBBB");
    assert!(replies[2].text().contains("Directory listing for /"));
    assert_eq!(replies[3].body, "AAAA");
    for reply in &replies {
        assert_ne!(reply.header("connection"), "close");
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &[]);
    // Two requests in one write; the second asks to close so that the read ends.
    let answer = raw(
        server.addr,
        b"GET /b.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{text}");
    let b = text.find("\r\n\r\nBBBBBBBB").expect("b.txt's body");
    let a = text.find("\r\n\r\nAAAA").expect("a.txt's body");
    assert!(b < a, "responses out of order: {text}");
    assert!(text.ends_with("AAAA"), "{text}");
}

#[test]
fn keep_alive_is_the_default_so_the_connection_stays_open() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &[]);
    let (answer, closed) = raw_keep_open(
        server.addr,
        b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n",
        Duration::from_millis(500),
    );
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(!closed, "an HTTP/1.1 server closed a keep-alive connection");
}

#[test]
fn http_1_0_protocol_answers_one_request_per_connection() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &["-p", "HTTP/1.0"]);
    let (answer, closed) = raw_keep_open(
        server.addr,
        b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: t\r\n\r\n",
        support::WAIT,
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(closed, "the connection stayed open: {text}");
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
    assert_eq!(text.matches("HTTP/1.").count(), 1, "{text}");
    assert!(text.ends_with("AAAA"), "{text}");
    assert!(!text.contains("BBBB"), "{text}");
    // Keep-alive asked for explicitly changes nothing: Python's HTTP/1.0 server closes too.
    let (_, closed) = raw_keep_open(
        server.addr,
        b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        support::WAIT,
    );
    assert!(closed);
}

#[test]
fn ipv6_loopback_is_served_and_bracketed_in_the_url_only() {
    let tmp = site();
    let server = Serveur::start_with(tmp.path(), "::1", &[]);
    let port = server.port();
    assert_eq!(
        server.startup_line,
        format!("Serving HTTP on ::1 port {port} (http://[::1]:{port}/) ...")
    );
    assert!(server.addr.is_ipv6());
    assert_eq!(get(server.addr, "/a.txt").text(), "AAAA");
    let line = server.wait_for_log("\"GET /a.txt HTTP/1.1\" 200 4");
    assert!(line.starts_with("::1 - - ["), "{line}");
}

#[test]
fn bracketed_ipv6_bind_is_accepted() {
    let tmp = site();
    let server = Serveur::start_with(tmp.path(), "[::1]", &[]);
    assert!(server.startup_line.contains("(http://[::1]:"));
    assert_eq!(get(server.addr, "/a.txt").text(), "AAAA");
}

#[test]
fn without_bind_every_interface_is_served_dual_stack_and_the_line_says_0_0_0_0() {
    let tmp = site();
    let mut command = serveur_command();
    command.arg("-d").arg(tmp.path()).arg("0");
    let server = Serveur::spawn(command);
    let port = server.port();
    assert_eq!(
        server.startup_line,
        format!("Serving HTTP on 0.0.0.0 port {port} (http://0.0.0.0:{port}/) ...")
    );
    let v4 = SocketAddr::from(([127, 0, 0, 1], port));
    let v6: SocketAddr = format!("[::1]:{port}").parse().expect("address");
    assert_eq!(get(v4, "/a.txt").text(), "AAAA");
    assert_eq!(get(v6, "/b.txt").text(), "BBBBBBBB");
    // IPv4 clients of the dual-stack socket are logged as IPv4, as on an IPv4 socket.
    let line = server.wait_for_log("\"GET /a.txt HTTP/1.1\" 200 4");
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    let line = server.wait_for_log("\"GET /b.txt HTTP/1.1\" 200 8");
    assert!(line.starts_with("::1 - - ["), "{line}");
}

#[test]
fn bind_to_ipv4_loopback_does_not_answer_on_ipv6() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &[]);
    let v6: SocketAddr = format!("[::1]:{}", server.port()).parse().expect("address");
    assert!(TcpStream::connect_timeout(&v6, support::WAIT).is_err());
}
