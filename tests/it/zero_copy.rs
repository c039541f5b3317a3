//! Files of 16 KiB and more go by `sendfile` on plain HTTP/1 connections (the connection's IO
//! swaps placeholders for file regions, `src/server/zero_copy.rs`), once the server has sent
//! one such file: connections made before that are flat and copy files. These tests read the
//! bytes back off real sockets, on servers that have sent a large file first
//! ([`sendfile_ready`]), and on a fresh one where the case differs: pipelined responses
//! interleaving copied and zero-copy bodies, ranges, a reader slow enough to fill the socket,
//! HEAD, HTTP/1.0, h2c on the same port (which must not use the path; TLS never does), a
//! file cut short while it is sent (the connection ends; no byte is invented), a large
//! file's tail not held back by the cork its regions go out under, and small
//! requests answered while a download drains as fast as it can on the same worker thread.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{head_end, read_responses, request, sample_bytes, RawReply, Serveur};

/// A served directory with files on both sides of the threshold and one larger than a region.
fn site() -> (tempfile::TempDir, Vec<(&'static str, Vec<u8>)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = vec![
        ("small.bin", sample_bytes(1000)),
        ("edge.bin", sample_bytes(16 * 1024)),
        ("mid.bin", sample_bytes(200_000)),
        ("large.bin", sample_bytes(5 * 1024 * 1024 + 17)),
    ];
    for (name, data) in &files {
        std::fs::write(dir.path().join(name), data).expect("write");
    }
    (dir, files)
}

/// A server on `root` that has sent `warm` (larger than the 64 KiB the small-file cache holds:
/// a cached file is not sent by `sendfile`) on a connection of its own, so that the connections
/// made next send large files by `sendfile`.
fn sendfile_ready(root: &std::path::Path, args: &[&str], warm: &str) -> Serveur {
    let server = Serveur::start(root, args);
    assert_eq!(request(server.addr, "GET", warm, &[]).status, 200, "{warm}");
    server
}

fn connect(server: &Serveur) -> TcpStream {
    let stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
}

#[test]
fn pipelined_small_and_large_files_arrive_whole_and_in_order() {
    let (dir, files) = site();
    let fresh = Serveur::start(dir.path(), &["-q"]);
    let ready = sendfile_ready(dir.path(), &["-q"], "/mid.bin");
    for server in [&fresh, &ready] {
        pipeline_every_file_twice(server, &files);
    }
}

/// Every file twice, in one write, on one connection: a vectored connection queues several
/// regions at once; a flat one copies every file.
fn pipeline_every_file_twice(server: &Serveur, files: &[(&str, Vec<u8>)]) {
    let mut stream = connect(server);
    let order: Vec<&(&str, Vec<u8>)> = files.iter().chain(files.iter().rev()).collect();
    let mut requests = Vec::new();
    for (name, _) in &order {
        requests.extend_from_slice(format!("GET /{name} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    stream.write_all(&requests).expect("write");
    let replies = read_responses(&mut stream, order.len());
    for ((name, data), reply) in order.iter().zip(&replies) {
        assert_eq!(reply.status(), "200 OK", "{name}");
        assert!(reply.body == *data, "{name}: body differs");
    }
}

#[test]
fn ranges_of_large_files_are_the_files_bytes() {
    let (dir, files) = site();
    let server = sendfile_ready(dir.path(), &["-q"], "/mid.bin");
    let large = &files[3].1;
    for (range, start, end) in [
        ("bytes=100000-3000000", 100_000, 3_000_001),
        ("bytes=-40000", large.len() - 40_000, large.len()),
        ("bytes=5000000-", 5_000_000, large.len()),
    ] {
        let reply = request(server.addr, "GET", "/large.bin", &[("range", range)]);
        assert_eq!(reply.status, 206, "{range}");
        assert!(reply.body == large[start..end], "{range}: body differs");
    }
}

#[test]
fn a_slow_reader_gets_every_byte_of_a_large_file() {
    let (dir, files) = site();
    let server = sendfile_ready(dir.path(), &["-q"], "/mid.bin");
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /large.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("write");
    // Small reads with pauses first, so the socket fills and sendfile sends part of a region.
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    for _ in 0..20 {
        let n = stream.read(&mut chunk).expect("read");
        received.extend_from_slice(&chunk[..n]);
        std::thread::sleep(Duration::from_millis(20));
    }
    stream.read_to_end(&mut received).expect("read");
    let reply = RawReply::parse(&received);
    assert_eq!(reply.status(), "200 OK");
    assert!(reply.body == files[3].1, "body differs");
}

/// A region sent in several calls goes out corked (`TCP_CORK`), and the kernel holds a corked
/// partial segment for up to 200 ms (tcp(7)): the end of each region must uncork, or every
/// large response on a kept-alive connection would end 200 ms late.
#[test]
fn a_large_files_last_bytes_are_not_held_back() {
    let (dir, files) = site();
    let server = sendfile_ready(dir.path(), &["-q"], "/mid.bin");
    let mut stream = connect(&server);
    let mut fastest = Duration::MAX;
    for _ in 0..5 {
        let asked = Instant::now();
        stream
            .write_all(b"GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("write");
        let reply = read_responses(&mut stream, 1).remove(0);
        fastest = fastest.min(asked.elapsed());
        assert_eq!(reply.status(), "200 OK");
        assert!(reply.body == files[3].1, "body differs");
    }
    // 5 MiB on loopback take a few milliseconds; a held tail, 200 ms each time.
    assert!(
        fastest < Duration::from_millis(150),
        "the fastest of five downloads took {fastest:?}"
    );
}

#[test]
fn head_then_get_on_one_connection_sends_the_body_once() {
    let (dir, files) = site();
    let server = sendfile_ready(dir.path(), &["-q"], "/mid.bin");
    let mut stream = connect(&server);
    stream
        .write_all(
            b"HEAD /mid.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /mid.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .expect("write");
    let mut received = Vec::new();
    stream.read_to_end(&mut received).expect("read");
    let end = head_end(&received).expect("HEAD's head");
    let head = RawReply::parse(&received[..end]);
    assert_eq!(head.header("content-length"), Some("200000"));
    let get = RawReply::parse(&received[end..]);
    assert_eq!(get.status(), "200 OK");
    assert!(get.body == files[2].1, "GET's body differs");
}

#[test]
fn http_1_0_and_h2c_on_the_plain_port_serve_large_files_whole() {
    let (dir, files) = site();
    let large = &files[3].1;
    let http10 = sendfile_ready(dir.path(), &["-q", "-p", "HTTP/1.0"], "/mid.bin");
    assert!(request(http10.addr, "GET", "/large.bin", &[]).body == *large);
    // HTTP/2 frames its data itself: the same connection type must not use placeholders.
    let plain = sendfile_ready(dir.path(), &["-q"], "/mid.bin");
    let request = http::Request::get("/large.bin")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let (reply, version) = support::tls::send_h2c(plain.addr, request);
    assert_eq!(version, http::Version::HTTP_2);
    assert!(reply.body == *large, "h2c body differs");
}

#[test]
fn a_file_cut_short_while_sent_ends_the_connection_without_invented_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = sample_bytes(32 * 1024 * 1024);
    let path = dir.path().join("shrinks.bin");
    std::fs::write(&path, &data).expect("write");
    // Larger than the small-file cache holds (64 KiB), so that it goes by `sendfile` and the
    // connections made next are vectored; a cached warm file would leave them copying.
    std::fs::write(dir.path().join("warm.bin"), sample_bytes(200_000)).expect("write");
    let server = sendfile_ready(dir.path(), &["-q"], "/warm.bin");
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /shrinks.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("write");
    let mut received = vec![0u8; 65536];
    stream.read_exact(&mut received).expect("read");
    // The client has the start; the file now loses all but its first 4 MiB.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(4 * 1024 * 1024))
        .expect("truncate");
    stream
        .read_to_end(&mut received)
        .expect("the server closes the connection");
    let end = head_end(&received).expect("head");
    let body = &received[end..];
    assert!(
        body.len() < data.len(),
        "a whole body was claimed for a cut file"
    );
    assert!(
        body == &data[..body.len()],
        "bytes that were not the file's were sent"
    );
}

#[test]
fn small_requests_are_answered_while_a_download_takes_the_same_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Sparse: its pages are the kernel's zeros, so the download costs no disk and no copy.
    let big_len: u64 = 512 * 1024 * 1024;
    std::fs::File::create(dir.path().join("big.bin"))
        .and_then(|f| f.set_len(big_len))
        .expect("big file");
    let small = sample_bytes(1000);
    std::fs::write(dir.path().join("small.bin"), &small).expect("write");
    // Larger than the small-file cache holds, as in the test above.
    std::fs::write(dir.path().join("warm.bin"), sample_bytes(200_000)).expect("write");
    // One core, so one worker thread: the download and the small requests share it.
    let server = Serveur::start_on_one_core(dir.path(), &["-q"]);
    assert_eq!(request(server.addr, "GET", "/warm.bin", &[]).status, 200);

    let (started, first_bytes) = mpsc::channel();
    let mut big = connect(&server);
    let download = std::thread::spawn(move || {
        big.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .expect("write");
        // As fast as the client can: the socket rarely makes the server wait.
        let mut buf = vec![0u8; 1024 * 1024];
        let (mut head, mut body) = (Vec::new(), 0u64);
        loop {
            let n = big.read(&mut buf).expect("read");
            if n == 0 {
                return (RawReply::parse(&head), body, Instant::now());
            }
            if head.is_empty() {
                started.send(()).expect("signal");
            }
            match head_end(&head) {
                Some(_) => body += n as u64,
                None => {
                    head.extend_from_slice(&buf[..n]);
                    if let Some(end) = head_end(&head) {
                        body = (head.len() - end) as u64;
                        head.truncate(end);
                    }
                }
            }
        }
    });
    first_bytes
        .recv_timeout(support::WAIT)
        .expect("the download starts");
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let asked = Instant::now();
        let reply = request(server.addr, "GET", "/small.bin", &[]);
        assert_eq!(reply.status, 200);
        assert!(reply.body == small, "small body differs");
        slowest = slowest.max(asked.elapsed());
    }
    let answered = Instant::now();
    let (head, body, finished) = download.join().expect("download thread");
    assert_eq!(head.status(), "200 OK");
    assert_eq!(body, big_len, "the download's body");
    // Were the server to send the download whole before it looked at other connections,
    // the small answers would come after its last byte.
    assert!(
        answered < finished,
        "the small requests waited for the download to finish (slowest {slowest:?})"
    );
}
