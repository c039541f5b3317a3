//! The connection layer under slow, idle, numerous and departing clients, and on stop.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{connect_with_small_receive_buffer, get, raw, raw_text, Serveur, WAIT};

/// Reads until the server closes the connection; returns what came and how long it took.
fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut got = Vec::new();
    stream
        .read_to_end(&mut got)
        .expect("closed by the server, not timed out");
    (got, start.elapsed())
}

#[test]
fn a_client_sending_half_a_head_is_disconnected_after_the_header_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(dir.path(), &["--header-timeout", "1"]);
    let mut slow = TcpStream::connect(server.addr).expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow:")
        .expect("write");
    let (_, took) = read_until_closed(&mut slow);
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "closed too late: {took:?}");
    // CPython's line when its `timeout` fires, naming the client.
    let line = server.wait_for_log("Request timed out: TimeoutError('timed out')");
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
}

/// Browsers open connections they may never use (preconnect); closing one at the timeout is
/// routine, not worth a log line.
#[test]
fn a_client_that_connects_and_sends_nothing_is_closed_quietly_at_the_header_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "hello\n").expect("write");
    let server = Serveur::start(dir.path(), &["--header-timeout", "1"]);
    let mut silent = TcpStream::connect(server.addr).expect("connect");
    let (got, took) = read_until_closed(&mut silent);
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert!(took < Duration::from_secs(5), "closed too late: {took:?}");
    assert_no_timeout_line(&server);
}

/// Makes one request and waits for its access line: the log is written in order, so a
/// timeout line logged before would be there by then.
fn assert_no_timeout_line(server: &Serveur) {
    assert_eq!(get(server.addr, "/a.txt").status, 200);
    server.wait_for_log("\"GET /a.txt HTTP/1.1\" 200 6");
    let log = server.log();
    assert!(!log.iter().any(|l| l.contains("timed out")), "{log:#?}");
}

#[test]
fn an_h2c_client_that_sends_only_the_preface_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(dir.path(), &["--header-timeout", "1"]);
    let mut lazy = TcpStream::connect(server.addr).expect("connect");
    lazy.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .expect("write preface");
    // The server's SETTINGS frame, then the close.
    let (_, took) = read_until_closed(&mut lazy);
    assert!(took < Duration::from_secs(5), "closed too late: {took:?}");
    server.wait_for_log("Request timed out: TimeoutError('timed out')");
}

/// The protocol is told from the first bytes; a client that stalls while they could still be
/// HTTP/2's preface has sent part of a head, and is logged as CPython logs a stalled head.
#[test]
fn a_client_stalled_inside_the_http2_preface_is_a_stalled_head() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(dir.path(), &["--header-timeout", "1"]);
    let mut stalled = TcpStream::connect(server.addr).expect("connect");
    stalled.write_all(b"PRI * HTTP/2.0\r\n").expect("write");
    let (got, took) = read_until_closed(&mut stalled);
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert!(took < Duration::from_secs(5), "closed too late: {took:?}");
    server.wait_for_log("Request timed out: TimeoutError('timed out')");
}

#[test]
fn connections_that_end_normally_log_no_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "hello\n").expect("write");
    let server = Serveur::start(dir.path(), &["--header-timeout", "1"]);
    assert_eq!(get(server.addr, "/a.txt").status, 200);
    let closed = raw_text(
        server.addr,
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(closed.starts_with("HTTP/1.1 200 OK"), "{closed}");
    drop(TcpStream::connect(server.addr).expect("connect and leave"));
    server.wait_for_log("\"GET /a.txt HTTP/1.1\" 200 6");
    // Rather than sleep past the timeout, a last client sends half a head and stalls: its
    // timeout, started after the others ended, fires after any of theirs would have.
    let mut stalled = TcpStream::connect(server.addr).expect("connect");
    stalled
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow:")
        .expect("write");
    read_until_closed(&mut stalled);
    server.wait_for_log("Request timed out");
    let log = server.log();
    let timeouts = log.iter().filter(|l| l.contains("timed out")).count();
    assert_eq!(timeouts, 1, "only the stalled client's line: {log:#?}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "hello\n").expect("write");
    let server = Serveur::start(dir.path(), &["--header-timeout", "1"]);
    let mut idle = TcpStream::connect(server.addr).expect("connect");
    idle.write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let (got, took) = read_until_closed(&mut idle);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("hello\n"), "{text}");
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "closed too late: {took:?}");
    assert_no_timeout_line(&server);
}

#[test]
fn a_connection_busy_for_several_header_timeouts_is_never_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content: Vec<u8> = (0..32 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &content).expect("write");
    std::fs::write(dir.path().join("a.txt"), "hello\n").expect("write");
    let server = Serveur::start(dir.path(), &["--header-timeout", "1"]);

    // A download the client does not read for 2.5 s: the server waits on a full socket. A
    // supervisor that took a response stuck in flight for idleness would cut it at the end of
    // the first whole second without progress, at most 2 s in; 2.5 s shows it did not. Only
    // waiting shows that something does not happen.
    let mut slow = connect_with_small_receive_buffer(server.addr);
    slow.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    std::thread::sleep(Duration::from_millis(2500));
    let (got, _) = read_until_closed(&mut slow);
    let body_start = got.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    assert!(got[body_start..] == content[..], "the download was cut");

    // Requests every 0.6 s keep a connection open across 2.4 s of 1 s timeouts: more than two
    // whole periods, each of which would have closed an idle one.
    let mut chatty = TcpStream::connect(server.addr).expect("connect");
    chatty.set_read_timeout(Some(WAIT)).expect("timeout");
    for _ in 0..4 {
        chatty
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("the connection is still open");
        let mut answer = [0u8; 512];
        let n = chatty.read(&mut answer).expect("read");
        assert!(
            answer[..n].ends_with(b"hello\n"),
            "{:?}",
            String::from_utf8_lossy(&answer[..n])
        );
        std::thread::sleep(Duration::from_millis(600));
    }
}

#[test]
fn a_client_that_half_closes_after_its_request_gets_the_whole_response() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &content).expect("write");
    let server = Serveur::start(dir.path(), &[]);
    // `raw` shuts its write side down right after the request.
    let got = raw(server.addr, b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    let body_start = got.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    assert_eq!(&got[body_start..], &content[..]);
}

#[test]
fn protocol_http_1_0_answers_in_http_1_0_and_closes_after_each_response() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "hello\n").expect("write");
    let server = Serveur::start(dir.path(), &["-p", "HTTP/1.0"]);
    let text = raw_text(
        server.addr,
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
    assert_eq!(text.matches("HTTP/1.0 200 OK").count(), 1, "{text}");
    assert_eq!(get(server.addr, "/a.txt").text(), "hello\n");
}

/// The size of `big.bin` in [`start_big_download`]: far more than socket buffers hold, so the
/// download is still in flight when the test acts.
const BIG: u64 = 100 * 1024 * 1024;

/// Serves a directory holding `big.bin` ([`BIG`] bytes, sparse) with `args`, and starts
/// downloading it: returns the directory, the server, the connection and the first bytes read.
fn start_big_download(args: &[&str]) -> (tempfile::TempDir, Serveur, TcpStream, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = std::fs::File::create(dir.path().join("big.bin")).expect("create");
    file.set_len(BIG).expect("size");
    let server = Serveur::start(dir.path(), args);
    let mut download = TcpStream::connect(server.addr).expect("connect");
    download
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    download.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut first = vec![0u8; 64 * 1024];
    let n = download.read(&mut first).expect("first bytes");
    first.truncate(n);
    (dir, server, download, first)
}

/// Starts a 100 MiB download, sends `signal` mid-way, and checks the download completes, new
/// connections are refused, and the server exits 0.
fn download_survives(signal: &str) -> Serveur {
    let (_dir, mut server, mut download, first) = start_big_download(&["--shutdown-grace", "30"]);
    let mut got = first.len() as u64;

    server.signal(signal);
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(server.addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting after SIG{signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        match download.read(&mut buf).expect("read") {
            0 => break,
            n => got += n as u64,
        }
    }
    let _ = download.shutdown(Shutdown::Both);
    let head = first
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head")
        + 4;
    assert_eq!(got - head as u64, BIG, "the whole file arrived");
    assert_eq!(server.wait_exit(), 0);
    server
}

#[test]
fn sigterm_lets_a_100_mib_download_finish_refuses_new_connections_and_exits_0() {
    let server = download_survives("TERM");
    assert!(!server
        .log()
        .iter()
        .any(|l| l.contains("Keyboard interrupt")));
}

#[test]
fn sigint_does_the_same_and_prints_pythons_keyboard_interrupt_line() {
    let server = download_survives("INT");
    server.wait_for_log("stdout: Keyboard interrupt received, exiting.");
}

#[test]
fn a_download_stalled_past_the_grace_period_is_cut_and_the_server_exits_0() {
    let (_dir, mut server, mut stalled, first) = start_big_download(&["--shutdown-grace", "1"]);
    // The client reads nothing more: the response stays in flight with full socket buffers.
    let signalled = Instant::now();
    server.signal("TERM");
    assert_eq!(server.wait_exit(), 0);
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "exited {took:?} after SIGTERM, with a 1 s grace period"
    );
    server.wait_for_log("grace period of 1s over; closing the connections still open");
    let mut rest = Vec::new();
    let _ = stalled.read_to_end(&mut rest);
    assert!(
        ((first.len() + rest.len()) as u64) < BIG,
        "the connection was closed before the whole file"
    );
}
