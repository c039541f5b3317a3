//! Connections under pressure: at `--max-connections`, the oldest connections doing nothing
//! are closed to make room for a new one, busy ones never; the default limit follows the
//! open-file limit.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::tls::{client as tls_client, fetch_tls, make_cert};
use crate::support::{children_of, raw_text, serveur_command, write_script, Serveur, WAIT};

const LIMIT: usize = 50;
const REQUEST: &[u8] = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";

/// A served directory with `a.txt` ("hello\n").
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "hello\n").expect("write");
    dir
}

/// `serveur` serving `dir` with `--max-connections limit` and `extra` flags, and a header
/// timeout long enough that only making room can free a slot within a test.
fn at_limit(dir: &std::path::Path, limit: usize, extra: &[&str]) -> Serveur {
    let limit = limit.to_string();
    let mut args = vec!["--max-connections", &limit, "--header-timeout", "60"];
    args.extend_from_slice(extra);
    Serveur::start(dir, &args)
}

/// Reads from `conn` until what came ends with `end`; fails the test if it closes first.
fn read_through(conn: &mut TcpStream, end: &[u8]) -> Vec<u8> {
    conn.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(end) {
        let n = conn.read(&mut buf).expect("the answer");
        assert!(n > 0, "closed before the answer: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Opens `n` connections one after the other (so the server accepts them in this order).
fn connect(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect()
}

/// Sends one keep-alive GET on `conn` and reads its whole answer.
fn get_kept_alive(conn: &mut TcpStream) {
    conn.write_all(REQUEST).expect("write");
    read_through(conn, b"hello\n");
}

/// A new connection's GET, answered in full: how long it took.
fn probe(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let text = raw_text(
        addr,
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("hello\n"), "{text}");
    start.elapsed()
}

/// Whether the server closed `conn` (it reads the end, or a reset), waiting up to `wait`.
fn closed_by_server(conn: &mut TcpStream, wait: Duration) -> bool {
    conn.set_read_timeout(Some(wait)).expect("timeout");
    let mut byte = [0u8; 1];
    match conn.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => panic!("an idle connection was sent bytes"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
        Err(e) => {
            assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "{e}"
            );
            false
        }
    }
}

/// Which of `conns` the server closed: each checked once, the first with time to see it.
fn which_closed(conns: &mut [TcpStream]) -> Vec<bool> {
    let mut wait = Duration::from_secs(2);
    conns
        .iter_mut()
        .map(|conn| {
            let closed = closed_by_server(conn, wait);
            wait = Duration::from_millis(50);
            closed
        })
        .collect()
}

/// The closed ones are the oldest: some are closed, then none after the first left open.
fn assert_oldest_first(closed: &[bool]) {
    let kept = closed.iter().position(|c| !c).unwrap_or(closed.len());
    assert!(kept > 0, "none closed: {closed:?}");
    assert!(
        closed[kept..].iter().all(|c| !c),
        "not the oldest first: {closed:?}"
    );
    assert!(
        kept < closed.len(),
        "all closed, not just enough: {closed:?}"
    );
}

#[test]
fn at_the_limit_connections_that_sent_nothing_make_room_oldest_first() {
    let dir = site();
    let server = at_limit(dir.path(), LIMIT, &[]);
    let mut silent = connect(server.addr, LIMIT);
    let took = probe(server.addr);
    assert!(took < Duration::from_secs(2), "the probe waited {took:?}");
    assert_oldest_first(&which_closed(&mut silent));
    let line = server.wait_for_log("idle connections, oldest first");
    assert!(
        line.contains(&format!("connection limit ({LIMIT}) reached; closing ")),
        "{line}"
    );
    // The closed connections said nothing: no `Request timed out` or error lines for them.
    assert!(
        !server.log().iter().any(|l| l.contains("timed out")),
        "{:?}",
        server.log()
    );
}

/// The server at its limit with kept-alive connections quiet for `quiet` after one request
/// each: a new client gets in at once, the oldest of them closed to make room.
fn kept_alive_connections_make_room_oldest_first(quiet: Duration) {
    let dir = site();
    let server = at_limit(dir.path(), LIMIT, &[]);
    let mut idle = connect(server.addr, LIMIT);
    for conn in &mut idle {
        get_kept_alive(conn);
    }
    std::thread::sleep(quiet);
    let took = probe(server.addr);
    assert!(took < Duration::from_secs(2), "the probe waited {took:?}");
    assert_oldest_first(&which_closed(&mut idle));
}

#[test]
fn at_the_limit_idle_kept_alive_connections_make_room_oldest_first() {
    kept_alive_connections_make_room_oldest_first(Duration::ZERO);
}

/// Kept-alive connections that rested (quiet one to two seconds: hyper's connection given back,
/// `src/server/rest.rs`) are as reusable as before.
#[test]
fn at_the_limit_rested_connections_make_room_oldest_first() {
    kept_alive_connections_make_room_oldest_first(Duration::from_millis(2600));
}

#[test]
fn at_the_limit_busy_connections_are_never_cut_and_a_new_one_waits_for_one_to_finish() {
    let dir = site();
    // Each request keeps its connection busy for 3 s.
    write_script(
        dir.path(),
        "cgi-bin/slow.sh",
        "#!/bin/sh\nsleep 3\nprintf 'Content-Type: text/plain\\r\\nContent-Length: 5\\r\\n\\r\\ndone\\n'\n",
    );
    let scripts = LIMIT.to_string();
    let server = at_limit(dir.path(), LIMIT, &["--cgi", "--cgi-max", &scripts]);
    let mut busy = connect(server.addr, LIMIT);
    for conn in &mut busy {
        conn.write_all(b"GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
    }
    // Every request has reached its script before the next connection comes.
    let deadline = Instant::now() + WAIT;
    while children_of(server.pid()).len() < LIMIT {
        assert!(Instant::now() < deadline, "the scripts did not all start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut waiting = TcpStream::connect(server.addr).expect("the kernel queues it");
    waiting
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    waiting
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    let early = waiting.read(&mut byte);
    assert!(
        matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the new connection must wait while every connection is busy, got {early:?}"
    );
    server.wait_for_log("every connection is busy, new connections wait");
    // Every busy request gets its whole answer.
    for conn in &mut busy {
        let got = read_through(conn, b"done\n");
        assert!(got.starts_with(b"HTTP/1.1 200 OK"));
    }
    // Then, idle, they make room for the one waiting.
    waiting.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut got = Vec::new();
    waiting.read_to_end(&mut got).expect("served");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("hello\n"), "{text}");
}

/// `serveur` under `prlimit --nofile=SOFT:HARD` (util-linux), serving `dir`.
fn under_prlimit(dir: &std::path::Path, soft_hard: &str) -> Serveur {
    let bin = serveur_command().get_program().to_owned();
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile={soft_hard}"))
        .arg(bin)
        .arg("-d")
        .arg(dir)
        .args(["-b", "127.0.0.1", "0"]);
    Serveur::spawn(command)
}

/// The soft and hard "Max open files" of a process.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files");
    let mut figures = line["Max open files".len()..].split_whitespace();
    let soft = figures.next().expect("soft").to_owned();
    (soft, figures.next().expect("hard").to_owned())
}

#[test]
fn the_default_limit_is_half_the_open_file_limit_and_is_said_when_low() {
    let dir = site();
    let server = under_prlimit(dir.path(), "256:256");
    let line = server.wait_for_log("connection limit 96, from the limit of 256 open files");
    assert!(line.contains("(ulimit -n)"), "{line}");
    // And it is the limit: the 97th connection makes room.
    let _silent = connect(server.addr, 96);
    probe(server.addr);
    server.wait_for_log("connection limit (96) reached; closing ");
}

#[test]
fn the_binary_raises_its_open_file_limit_to_the_hard_one() {
    let dir = site();
    let server = under_prlimit(dir.path(), "256:4096");
    let (soft, hard) = open_file_limits(server.pid());
    assert_eq!((soft.as_str(), hard.as_str()), ("4096", "4096"));
    // (4096 - 64) / 2 = 2016 connections: not low, so nothing is said.
    probe(server.addr);
    assert!(
        !server.log().iter().any(|l| l.contains("open files")),
        "{:?}",
        server.log()
    );
}

/// An HTTP/2 frame: length, type, flags, stream, payload (RFC 9113 §4.1).
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("small").to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The (type, flags, stream) of each whole frame in `bytes`, the server's side of a connection.
fn h2_frames(bytes: &[u8]) -> Vec<(u8, u8, u32)> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        if rest.len() < 9 + len {
            break;
        }
        let stream = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]) & 0x7fff_ffff;
        frames.push((rest[3], rest[4], stream));
        rest = &rest[9 + len..];
    }
    frames
}

const GOAWAY: u8 = 7;
const END_STREAM: u8 = 1;

#[test]
fn at_the_limit_an_idle_h2c_connection_gets_a_goaway_and_makes_room() {
    let dir = site();
    let server = at_limit(dir.path(), 1, &[]);
    let mut h2 = TcpStream::connect(server.addr).expect("connect");
    // GET /a.txt on stream 1 (HPACK: :method GET, :scheme http, :path and :authority literal).
    let block = [b"\x82\x86\x04\x06/a.txt\x01\x01x".as_slice()].concat();
    let hello = [
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".as_slice(),
        &h2_frame(4, 0, 0, b""),
        &h2_frame(1, END_STREAM | 4, 1, &block),
    ]
    .concat();
    h2.write_all(&hello).expect("write");
    h2.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let answered = |got: &[u8]| {
        h2_frames(got)
            .iter()
            .any(|&(kind, flags, stream)| stream == 1 && kind <= 1 && flags & END_STREAM != 0)
    };
    while !answered(&got) {
        let n = h2.read(&mut buf).expect("the answer");
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
    let took = probe(server.addr);
    assert!(took < Duration::from_secs(2), "the probe waited {took:?}");
    h2.read_to_end(&mut got).expect("closed by the server");
    let frames = h2_frames(&got);
    assert!(
        frames.iter().any(|&(kind, _, _)| kind == GOAWAY),
        "no GOAWAY before the close: {frames:?}"
    );
}

#[test]
fn at_the_limit_https_connections_that_sent_nothing_make_room() {
    let dir = site();
    let pki = tempfile::tempdir().expect("tempdir");
    let (cert, key) = make_cert(pki.path(), "ec", "ec");
    let tls = [
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ];
    let server = at_limit(dir.path(), LIMIT, &tls);
    let mut silent = connect(server.addr, LIMIT);
    let connector = tls_client(&cert, &[b"http/1.1"], &[&rustls::version::TLS13]);
    let start = Instant::now();
    let fetched = fetch_tls(server.addr, &connector, "/a.txt");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(fetched.reply.status, 200);
    assert_oldest_first(&which_closed(&mut silent));
}
