//! Slow clients against the real binary over raw sockets: a head trickled byte by byte (the
//! header timeout), and, once a request is being answered, the minimum rate (`--min-rate`): a
//! download read too slowly and a request body sent too slowly are cut after a window, a
//! reader at a fine rate and a slow script are not. Windows of a second or two keep each test
//! within seconds.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::tls::{self, make_cert};
use crate::support::{
    connect_with_small_receive_buffer, sample_bytes, serve_script, Serveur, WAIT,
};

/// Larger than every buffer between the server and a client that does not read.
const BIG: usize = 16 * 1024 * 1024;

/// A site holding `big.bin` ([`BIG`] bytes), served with `args`.
fn big_file_site(args: &[&str]) -> (tempfile::TempDir, Vec<u8>, Serveur) {
    let dir = tempfile::tempdir().expect("tempdir");
    let content = sample_bytes(BIG);
    std::fs::write(dir.path().join("big.bin"), &content).expect("write");
    let server = Serveur::start(dir.path(), args);
    (dir, content, server)
}

/// Reads one byte every `pause` until `done` says so or `limit` passes: a client reading a
/// download at a crawl. Returns whether `done` came.
fn crawl(
    stream: &mut TcpStream,
    pause: Duration,
    limit: Duration,
    done: impl Fn() -> bool,
) -> bool {
    let start = Instant::now();
    let mut byte = [0u8; 1];
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        let _ = stream.read(&mut byte);
        std::thread::sleep(pause);
    }
    false
}

/// Reads what is left until the server's close (or a reset), within [`WAIT`].
fn drain(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("the connection stayed open: {e}"),
        }
    }
}

fn has_line(server: &Serveur, needle: &str) -> bool {
    server.log().iter().any(|l| l.contains(needle))
}

/// The connection was cut `took` after its request, not before a whole window of 1 s, with the
/// minimum rate's line, which says `what` the server was doing; the line is returned.
fn assert_cut_after_a_window(server: &Serveur, took: Duration, what: &str) -> String {
    assert!(
        took >= Duration::from_millis(900),
        "cut before a whole window: {took:?}"
    );
    let line = server.wait_for_log("Connection closed");
    assert!(
        line.contains(&format!("in 1s while the server was {what}")),
        "{line}"
    );
    line
}

/// No connection of the server was closed by the minimum rate.
fn assert_never_cut(server: &Serveur) {
    assert!(
        !has_line(server, "Connection closed"),
        "{:#?}",
        server.log()
    );
}

#[test]
fn a_download_read_at_a_crawl_is_cut_after_the_window_with_a_log_line() {
    let (_dir, _content, server) =
        big_file_site(&["--min-rate", "10000", "--min-rate-window", "1"]);
    let mut slow = connect_with_small_receive_buffer(server.addr);
    slow.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let start = Instant::now();
    // About 5 bytes a second, where 10,000 are asked for.
    let cut = crawl(&mut slow, Duration::from_millis(200), WAIT, || {
        has_line(&server, "Connection closed")
    });
    let took = start.elapsed();
    assert!(cut, "never cut: {:#?}", server.log());
    let line = assert_cut_after_a_window(
        &server,
        took,
        "sending the response (--min-rate 10000 bytes/s)",
    );
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    // The response stops short, and its access line says how much went.
    let got = drain(&mut slow);
    assert!(got.len() < BIG, "the whole file came: {}", got.len());
    let access = server.wait_for_log("\"GET /big.bin HTTP/1.1\" 200 ");
    let sent: usize = access
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("bytes sent");
    assert!(sent < BIG, "{access}");
}

#[test]
fn a_download_read_at_a_fine_rate_is_never_cut() {
    let (_dir, content, server) =
        big_file_site(&["--min-rate", "100000", "--min-rate-window", "1"]);
    let mut reader = TcpStream::connect(server.addr).expect("connect");
    reader
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    // 64 KiB every 20 ms, about 3 MB/s, 30 times the least asked: the server waits on the
    // client for the whole download (it sends faster), across several windows.
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    reader.set_read_timeout(Some(WAIT)).expect("timeout");
    while start.elapsed() < 4 * WAIT {
        let n = reader.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        start.elapsed() > Duration::from_secs(2),
        "over before two windows: {:?}",
        start.elapsed()
    );
    let body_start = got.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    assert!(got[body_start..] == content[..], "the download was cut");
    server.wait_for_log(&format!("\"GET /big.bin HTTP/1.1\" 200 {BIG}"));
    assert_never_cut(&server);
}

/// Under TLS the wait is the same (the IO sits above rustls): rustls's own buffer fills, then the
/// socket's, and the connection is cut as a plain one.
#[test]
fn over_tls_a_download_read_at_a_crawl_is_cut_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let pki = tempfile::tempdir().expect("tempdir");
    let (cert_file, key_file) = make_cert(pki.path(), "ec", "ec");
    let (cert, key) = (
        cert_file.to_str().expect("utf-8"),
        key_file.to_str().expect("utf-8"),
    );
    let (_dir, _content, server) = big_file_site(&[
        "--tls-cert",
        cert,
        "--tls-key",
        key,
        "--min-rate",
        "10000",
        "--min-rate-window",
        "1",
    ]);
    let connector = tls::client(&cert_file, &[b"http/1.1"], rustls::ALL_VERSIONS);
    let cut = tls::runtime().block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .set_recv_buffer_size(4096)
            .expect("small receive buffer");
        let tcp = socket.connect(server.addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut tls = connector.connect(name, tcp).await.expect("handshake");
        tls.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let start = Instant::now();
        let mut byte = [0u8; 1];
        while start.elapsed() < WAIT {
            if has_line(&server, "Connection closed") {
                return Some(start.elapsed());
            }
            let _ = tokio::time::timeout(Duration::from_millis(10), tls.read(&mut byte)).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    });
    let took = cut.unwrap_or_else(|| panic!("never cut: {:#?}", server.log()));
    assert_cut_after_a_window(&server, took, "sending the response");
}

#[test]
fn an_upload_body_trickled_is_cut_after_the_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(
        dir.path(),
        &["--upload", "--min-rate", "1000", "--min-rate-window", "1"],
    );
    let mut slow = TcpStream::connect(server.addr).expect("connect");
    slow.write_all(b"PUT /up.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nstart")
        .expect("write");
    slow.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    // One byte every 200 ms, until the server closes: reading shows the close.
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    let closed = loop {
        assert!(start.elapsed() < WAIT, "never cut: {:#?}", server.log());
        match slow.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => panic!("an answer: {:?}", String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break true,
            Err(_) => {}
        }
        if slow.write_all(b"x").is_err() {
            break true;
        }
    };
    assert!(closed);
    assert_cut_after_a_window(
        &server,
        start.elapsed(),
        "reading the request body (--min-rate 1000 bytes/s)",
    );
    assert!(
        !dir.path().join("up.bin").exists(),
        "a partial upload was kept"
    );
}

#[test]
fn a_script_slower_than_the_window_is_not_cut() {
    // It reads nothing of its body for 2.5 s, then all of it: the server, not the client, is
    // what waits, for two and a half windows.
    let (_dir, server) = serve_script(
        "cgi-bin/slow.sh",
        "#!/bin/sh\nsleep 2.5\nprintf 'Content-Type: text/plain\\n\\n'\nwc -c\n",
        &["--cgi", "--min-rate", "1000000", "--min-rate-window", "1"],
    );
    let body = vec![b'b'; 4 * 1024 * 1024];
    let mut client = TcpStream::connect(server.addr).expect("connect");
    client.set_read_timeout(Some(WAIT)).expect("timeout");
    let head = format!(
        "POST /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let start = Instant::now();
    client.write_all(head.as_bytes()).expect("write head");
    client.write_all(&body).expect("the whole body is taken");
    let mut answer = String::new();
    client.read_to_string(&mut answer).expect("an answer");
    assert!(
        start.elapsed() >= Duration::from_millis(2400),
        "{:?}",
        start.elapsed()
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The chunk `wc -c` wrote: the whole body reached the script.
    assert!(
        answer.contains(&format!("\r\n{}\n\r\n", body.len())),
        "{answer}"
    );
    assert_never_cut(&server);
}

#[test]
fn a_head_trickled_a_byte_every_two_seconds_is_cut_by_the_header_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(dir.path(), &["--header-timeout", "3"]);
    let mut slowloris = TcpStream::connect(server.addr).expect("connect");
    slowloris
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let start = Instant::now();
    let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-a: b\r\n";
    let mut buf = [0u8; 1024];
    // Each byte shows the client alive; only a completed head counts as work.
    let mut closed = false;
    for byte in head {
        if slowloris.write_all(&[*byte]).is_err() {
            closed = true;
            break;
        }
        match slowloris.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => panic!("an answer: {:?}", String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                closed = true;
                break;
            }
            Err(_) => {}
        }
    }
    let took = start.elapsed();
    assert!(closed, "still open after {took:?}");
    // Between one and two periods of 3 s, plus a byte's pause.
    assert!(
        took >= Duration::from_millis(2900),
        "closed too early: {took:?}"
    );
    assert!(took < Duration::from_secs(9), "closed too late: {took:?}");
    server.wait_for_log("Request timed out: TimeoutError('timed out')");
}

#[test]
fn min_rate_0_turns_the_check_off() {
    let (_dir, content, server) = big_file_site(&["--min-rate", "0", "--min-rate-window", "1"]);
    let mut slow = connect_with_small_receive_buffer(server.addr);
    slow.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    // Three windows at a crawl: with the check on, the first would end the download.
    crawl(
        &mut slow,
        Duration::from_millis(200),
        Duration::from_secs(3),
        || false,
    );
    let got = drain(&mut slow);
    assert!(got.len() > BIG, "cut: {} bytes", got.len());
    assert!(got.ends_with(&content[content.len() - 1024..]));
    assert_never_cut(&server);
}
