//! Idle HTTP/1 connections rest (`src/server/rest.rs`): quiet for one to two seconds, they give
//! back hyper's connection and buffers and wait for their next request holding none. A rested
//! connection must answer its next requests exactly as before, over plain TCP and TLS, and the
//! header timeout and the graceful stop must treat it as before; the memory it frees must show
//! in the server's RSS.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::tls::{client as tls_client, make_cert};
use crate::support::{
    connect_with_small_receive_buffer, head_end, read_responses, rss_kib, write_script, RawReply,
    Serveur, WAIT,
};

const GET: &[u8] = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";

/// Long enough for a connection quiet since it started to have rested: the sweep asks it
/// between one and two seconds after its last request.
const PAST_REST: Duration = Duration::from_millis(2600);

/// A served directory with `a.txt` ("hello\n") and `cgi-bin/echo.sh`, which answers a request's
/// body with its length and the body itself.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "hello\n").expect("write");
    write_script(
        dir.path(),
        "cgi-bin/echo.sh",
        "#!/bin/sh\nbody=$(head -c \"$CONTENT_LENGTH\")\n\
         printf 'Content-Type: text/plain\\r\\nContent-Length: %d\\r\\n\\r\\n%s' \"${#body}\" \"$body\"\n",
    );
    dir
}

/// Reads `count` responses off `conn` and checks each is `a.txt`'s 200.
fn assert_hellos(conn: &mut impl Read, count: usize) {
    for reply in read_responses(conn, count) {
        assert_hello(&reply);
    }
}

fn assert_hello(reply: &RawReply) {
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK", "{reply:?}");
    assert_eq!(reply.body, b"hello\n", "{reply:?}");
}

/// One connection's life across rests: a GET, a GET after a rest, a head sent in two parts
/// after a rest, a pipelined pair after a rest, a POST with a body after a rest.
fn across_rests(conn: &mut (impl Read + Write)) {
    conn.write_all(GET).expect("write");
    assert_hellos(conn, 1);
    std::thread::sleep(PAST_REST);
    conn.write_all(GET).expect("write");
    assert_hellos(conn, 1);

    std::thread::sleep(PAST_REST);
    conn.write_all(b"GET /a.txt HTTP/1.1\r\nHo").expect("write");
    std::thread::sleep(Duration::from_millis(300));
    conn.write_all(b"st: x\r\n\r\n").expect("write");
    assert_hellos(conn, 1);

    std::thread::sleep(PAST_REST);
    conn.write_all(&[GET, GET].concat()).expect("write");
    assert_hellos(conn, 2);

    std::thread::sleep(PAST_REST);
    conn.write_all(b"POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello")
        .expect("write");
    std::thread::sleep(Duration::from_millis(300));
    conn.write_all(b" world").expect("write");
    let reply = &read_responses(conn, 1)[0];
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK", "{reply:?}");
    assert_eq!(reply.body, b"hello world", "{reply:?}");

    // And a last GET, after a rest that followed a request with a body.
    std::thread::sleep(PAST_REST);
    conn.write_all(GET).expect("write");
    assert_hellos(conn, 1);
}

#[test]
fn a_kept_alive_connection_answers_every_kind_of_request_after_resting() {
    let dir = site();
    let server = Serveur::start(dir.path(), &["--cgi"]);
    let mut conn = TcpStream::connect(server.addr).expect("connect");
    conn.set_read_timeout(Some(WAIT)).expect("timeout");
    across_rests(&mut conn);
    // One access line each, no more (the log is written by its own thread: waited for).
    wait_for_lines(&server, "\" 200 ", 7);
    std::thread::sleep(Duration::from_millis(200));
    let log = server.log();
    assert_eq!(
        log.iter().filter(|l| l.contains("\" 200 ")).count(),
        7,
        "{log:#?}"
    );
}

/// Waits until `count` log lines contain `needle`; fails the test after [`WAIT`].
fn wait_for_lines(server: &Serveur, needle: &str, count: usize) {
    let deadline = Instant::now() + WAIT;
    while server.log().iter().filter(|l| l.contains(needle)).count() < count {
        assert!(Instant::now() < deadline, "{:#?}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TLS connection over `tcp` to a server whose certificate is `cert`, ALPN `http/1.1`.
fn tls_over(
    tcp: TcpStream,
    cert: &std::path::Path,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    tcp.set_read_timeout(Some(WAIT)).expect("timeout");
    let config = tls_client(cert, &[b"http/1.1"], &[&rustls::version::TLS13])
        .config()
        .clone();
    let name = "localhost".try_into().expect("server name");
    let tls = rustls::ClientConnection::new(Arc::clone(&config), name).expect("tls");
    rustls::StreamOwned::new(tls, tcp)
}

/// `serveur --cgi` over TLS serving `dir`, and its certificate.
fn tls_server(dir: &std::path::Path) -> (Serveur, std::path::PathBuf) {
    let (cert, key) = make_cert(dir, "server", "EC");
    let (c, k) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));
    let server = Serveur::start(dir, &["--cgi", "--tls-cert", c, "--tls-key", k]);
    (server, cert)
}

#[test]
fn over_tls_a_kept_alive_connection_answers_every_kind_of_request_after_resting() {
    let dir = site();
    let (server, cert) = tls_server(dir.path());
    let tcp = TcpStream::connect(server.addr).expect("connect");
    across_rests(&mut tls_over(tcp, &cert));
}

/// A response whose end TLS still holds (the client reads nothing for longer than the rest
/// delay) is sent whole before the connection rests, and the connection goes on.
#[test]
fn over_tls_a_response_still_being_sent_arrives_whole_and_its_connection_goes_on() {
    const BIG: usize = 4 << 20;
    let dir = site();
    std::fs::write(dir.path().join("big.bin"), vec![b'x'; BIG]).expect("write");
    let (server, cert) = tls_server(dir.path());
    let tcp = connect_with_small_receive_buffer(server.addr);
    let mut conn = tls_over(tcp, &cert);
    conn.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut first = [0u8; 1024];
    let n = conn.read(&mut first).expect("the head");
    assert!(first[..n].starts_with(b"HTTP/1.1 200 OK"));
    std::thread::sleep(PAST_REST + Duration::from_secs(1));
    let head = head_end(&first[..n]).expect("the head in the first read");
    let mut body = n - head;
    let mut buf = vec![0u8; 1 << 16];
    while body < BIG {
        let n = conn.read(&mut buf).expect("the rest of the body");
        assert!(n > 0, "closed after {body} bytes of the body");
        body += n;
    }
    assert_eq!(body, BIG);
    std::thread::sleep(PAST_REST);
    conn.write_all(GET).expect("write");
    assert_hellos(&mut conn, 1);
}

/// Requests that come at any moment of a rest, many times over: on 60 connections at once,
/// each request comes after a pause of its own, spread across the 1-2 s when the sweep asks
/// the connection to rest and the rest itself (5 ms apart, over 4 rounds: 240 pauses from
/// 0.9 s to 2.1 s). Every one is answered, nothing is lost or doubled.
#[test]
fn requests_arriving_while_their_connection_goes_to_rest_are_all_answered() {
    const CONNECTIONS: u64 = 60;
    const ROUNDS: u64 = 4;
    let dir = site();
    let server = Serveur::start(dir.path(), &[]);
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut conn = TcpStream::connect(addr).expect("connect");
                conn.set_read_timeout(Some(WAIT)).expect("timeout");
                conn.write_all(GET).expect("write");
                assert_hellos(&mut conn, 1);
                for round in 0..ROUNDS {
                    let pause = 900 + (round * CONNECTIONS + i) * 5;
                    std::thread::sleep(Duration::from_millis(pause));
                    conn.write_all(GET).expect("write");
                    assert_hellos(&mut conn, 1);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("every request answered");
    }
    wait_for_lines(&server, "\" 200 6", (CONNECTIONS * (ROUNDS + 1)) as usize);
}

/// The malformed-request guard starts afresh at a rest (`Guard::rest`): a bad head after one
/// still gets Python's page naming it, as on a new connection.
#[test]
fn a_malformed_request_after_a_rest_gets_pythons_page_with_its_request_line() {
    let dir = site();
    let server = Serveur::start(dir.path(), &[]);
    let mut conn = TcpStream::connect(server.addr).expect("connect");
    conn.set_read_timeout(Some(WAIT)).expect("timeout");
    conn.write_all(GET).expect("write");
    assert_hellos(&mut conn, 1);
    std::thread::sleep(PAST_REST);
    conn.write_all(b"GET / HTTP/1.x\r\n\r\n").expect("write");
    let mut got = Vec::new();
    conn.read_to_end(&mut got).expect("answered and closed");
    let reply = RawReply::parse(&got);
    assert_eq!(
        reply.status_line,
        "HTTP/1.1 400 Bad request version ('HTTP/1.x')"
    );
    server.wait_for_log("\"GET / HTTP/1.x\" 400 ");
}

#[test]
fn the_header_timeout_still_closes_a_rested_connection_quietly() {
    let dir = site();
    let server = Serveur::start(dir.path(), &["--header-timeout", "4"]);
    let mut conn = TcpStream::connect(server.addr).expect("connect");
    conn.write_all(GET).expect("write");
    assert_hellos(&mut conn, 1);
    let start = Instant::now();
    conn.set_read_timeout(Some(WAIT + WAIT)).expect("timeout");
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest)
        .expect("closed by the server, not timed out");
    let took = start.elapsed();
    assert!(rest.is_empty(), "{rest:?}");
    // Rested after 1-2 s, closed after one to two header timeouts.
    assert!(
        took >= Duration::from_millis(3900),
        "closed too early: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "closed too late: {took:?}");
    assert!(
        !server.log().iter().any(|l| l.contains("timed out")),
        "{:#?}",
        server.log()
    );
}

#[test]
fn the_graceful_stop_closes_a_rested_connection_at_once() {
    let dir = site();
    let mut server = Serveur::start(dir.path(), &["--shutdown-grace", "30"]);
    let mut conn = TcpStream::connect(server.addr).expect("connect");
    conn.write_all(GET).expect("write");
    assert_hellos(&mut conn, 1);
    std::thread::sleep(PAST_REST);
    let start = Instant::now();
    server.signal("TERM");
    conn.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).expect("closed by the server");
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(server.wait_exit(), 0);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "the stop waited {took:?}");
}

/// The buffers rested connections free are given back to the system: 1,000 kept-alive
/// connections, rested, grow the server's RSS by well under the ~13 KiB each held before
/// (measured ~2.4 KiB; the bound leaves room for the allocator's whims).
#[test]
fn rested_connections_give_their_buffers_back_to_the_system() {
    const N: usize = 1000;
    const BOUND_KIB: u64 = 6;
    raise_open_file_limit(N as u64 + 100);
    let dir = site();
    let server = Serveur::start(dir.path(), &[]);
    // The first connections' one-off allocations (the runtime's, the log's) are not theirs.
    for _ in 0..50 {
        let mut warm = TcpStream::connect(server.addr).expect("connect");
        warm.write_all(GET).expect("write");
        assert_hellos(&mut warm, 1);
    }
    std::thread::sleep(PAST_REST);
    let before = rss_kib(server.pid());
    let conns: Vec<TcpStream> = (0..N)
        .map(|_| {
            let mut conn = TcpStream::connect(server.addr).expect("connect");
            conn.set_read_timeout(Some(WAIT)).expect("timeout");
            conn.write_all(GET).expect("write");
            assert_hellos(&mut conn, 1);
            conn
        })
        .collect();
    // Rested after 1-2 s, the memory given back at the sweep after: by 4 s.
    std::thread::sleep(Duration::from_secs(4));
    let grown = rss_kib(server.pid()).saturating_sub(before);
    assert!(
        grown < BOUND_KIB * N as u64,
        "RSS grew {grown} KiB for {N} rested connections"
    );
    // Still all there, and answering.
    for mut conn in conns {
        conn.write_all(GET).expect("write");
        assert_hellos(&mut conn, 1);
    }
}

/// Raises this process's soft limit on open files to at least `want` (within the hard limit),
/// or fails the test.
fn raise_open_file_limit(want: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    assert!(
        hard >= want,
        "the hard open-file limit {hard} is under {want}"
    );
    if limit.current.is_some_and(|soft| soft < want) {
        limit.current = Some(want);
        setrlimit(Resource::Nofile, limit).expect("setrlimit");
    }
}

/// The context switches the process `pid` has made so far, all threads summed: a thread woken
/// from its wait counts one more.
fn wakes(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the server's threads")
        .map(|task| {
            let status = std::fs::read_to_string(task.expect("a thread").path().join("status"))
                .unwrap_or_default();
            status
                .lines()
                .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                .map_or(0, |n| n.trim().parse::<u64>().expect("a count"))
        })
        .sum()
}

#[test]
fn a_server_with_no_connection_is_not_woken_by_the_sweep() {
    // The sweep once ticked every second for the whole life of the server, connections or not:
    // a server left alone for months woke each second. With none open it now waits.
    let site = site();
    let server = Serveur::start(site.path(), &[]);
    std::thread::sleep(Duration::from_millis(500));
    let before = wakes(server.pid());
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(wakes(server.pid()), before, "the idle server woke");
    // A connection starts the sweep again: it still rests and answers.
    let mut conn = TcpStream::connect(server.addr).expect("connect");
    conn.write_all(GET).expect("write");
    assert_hellos(&mut conn, 1);
    std::thread::sleep(PAST_REST);
    assert!(wakes(server.pid()) > before);
    conn.write_all(GET).expect("write");
    assert_hellos(&mut conn, 1);
}
