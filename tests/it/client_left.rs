//! A script whose client leaves before it has answered stops (issue 14): over HTTP/1 a client
//! that closes its connection or half-closes it (both send the same FIN), over TLS and a Unix
//! socket too, and over HTTP/2 a stream reset or a closed connection. A CGI script's whole process group is
//! killed and its `--cgi-max` turn given back; a FastCGI request is aborted (a real application
//! sees `FCGI_ABORT_REQUEST`; php-fpm's script stops at its next output) and its connection
//! freed. The connection ends without a response, and one log line says the client went away.
//! Under `--ignore-client-abort` the script runs on to its end, and a half-closed client gets
//! its whole answer.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::fastcgi_apps::{php_site, responder, site_with, write, Site};
use crate::support::tls::{client, h2_handshake, make_cert, runtime};
use crate::support::{get, wait_for_file, write_script, Serveur, WAIT};

/// Writes its pid (its process group's id: each script leads its own group) to the file its
/// query names, then waits on a child in its group that sleeps for 30 s: it never answers in
/// time.
const HANGS: &str = "#!/bin/sh\nsleep 30 &\necho $$ > \"$DOCUMENT_ROOT/$QUERY_STRING\"\nwait\nprintf 'Content-Type: text/plain\\n\\nlate\\n'\n";

/// Answers at once.
const QUICK: &str = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nquick\\n'\n";

/// How soon everything must be over once the client has left (the scripts would wait forever;
/// 5 s leaves room for a machine running the whole suite on two cores).
const PROMPTLY: Duration = Duration::from_secs(5);

/// Whether any process of group `pgid` is still running (zombies, which are only waiting to be
/// reaped by whoever adopted them, do not count).
fn group_running(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // `pid (comm) state ppid pgrp ...`: the command may hold spaces, so split after it.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            return false;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
    })
}

/// Waits until none of `groups` has a running process, failing past `limit` after `since`.
fn wait_groups_gone(groups: &[u32], since: Instant, limit: Duration) {
    while groups.iter().any(|&g| group_running(g)) {
        assert!(
            since.elapsed() < limit,
            "still running after {:?}: {:?}",
            since.elapsed(),
            groups
                .iter()
                .filter(|&&g| group_running(g))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A connection that has sent `GET path` (HTTP/1.1, kept alive) and not read anything.
fn ask(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("write request");
    stream
}

/// Everything the server sends until it closes the connection.
fn read_to_close(mut stream: TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    stream.read_to_end(&mut got).expect("read until closed");
    got
}

/// A tree with [`HANGS`] and [`QUICK`] as CGI scripts, served with `--cgi` and `args`.
fn cgi_site(args: &[&str]) -> (tempfile::TempDir, Serveur) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(dir.path(), "cgi-bin/hangs.sh", HANGS);
    write_script(dir.path(), "cgi-bin/quick.sh", QUICK);
    let mut all = vec!["--cgi"];
    all.extend_from_slice(args);
    let server = Serveur::start(dir.path(), &all);
    (dir, server)
}

/// The process group of the [`HANGS`] script that wrote `name`.
fn group(dir: &Path, name: &str) -> u32 {
    wait_for_file(&dir.join(name)).parse().expect("pgid")
}

#[test]
fn three_hung_scripts_whose_clients_close_or_half_close_are_killed_and_free_their_turns() {
    let (dir, server) = cgi_site(&["--cgi-max", "3"]);
    let clients: Vec<TcpStream> = (1..=3)
        .map(|n| ask(server.addr, &format!("/cgi-bin/hangs.sh?{n}")))
        .collect();
    let groups: Vec<u32> = (1..=3).map(|n| group(dir.path(), &n.to_string())).collect();
    // Every turn is taken: a fourth script waits.
    let mut clients = clients.into_iter();
    let left = Instant::now();
    drop(clients.next());
    drop(clients.next());
    let half_closed = clients.next().expect("third client");
    half_closed.shutdown(Shutdown::Write).expect("half-close");
    wait_groups_gone(&groups, left, PROMPTLY);
    // No response at all, not even an error page: the connection is closed.
    assert_eq!(read_to_close(half_closed), b"");
    // The turns came back with the scripts reaped: a fourth request runs at once.
    let asked = Instant::now();
    let reply = get(server.addr, "/cgi-bin/quick.sh");
    assert_eq!((reply.status, reply.text().as_str()), (200, "quick\n"));
    assert!(asked.elapsed() < PROMPTLY, "{:?}", asked.elapsed());
    server.wait_for_log("\"GET /cgi-bin/quick.sh HTTP/1.1\" 200");
    let log = server.log();
    let said = |needle: &str| log.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(
        said("CGI script /cgi-bin/hangs.sh killed: the client went away"),
        3,
        "{log:#?}"
    );
    // No access line for requests that got no response.
    assert_eq!(said("\"GET /cgi-bin/hangs.sh"), 0, "{log:#?}");
}

#[test]
fn a_client_gone_while_waiting_for_a_turn_never_runs_its_script() {
    let (dir, server) = cgi_site(&["--cgi-max", "1"]);
    let first = ask(server.addr, "/cgi-bin/hangs.sh?first");
    let first_group = group(dir.path(), "first");
    let waiting = ask(server.addr, "/cgi-bin/hangs.sh?second");
    // Let the second request reach its wait for the only turn before it leaves.
    std::thread::sleep(Duration::from_millis(200));
    drop(waiting);
    server.wait_for_log("CGI script /cgi-bin/hangs.sh not started: the client went away");
    let left = Instant::now();
    drop(first);
    wait_groups_gone(&[first_group], left, PROMPTLY);
    assert_eq!(get(server.addr, "/cgi-bin/quick.sh").text(), "quick\n");
    assert!(!dir.path().join("second").exists(), "the second script ran");
}

#[test]
fn pipelined_bytes_are_not_a_departure() {
    let (dir, server) = cgi_site(&["--cgi-timeout", "1"]);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
        .write_all(
            b"GET /cgi-bin/hangs.sh?p HTTP/1.1\r\nHost: x\r\n\r\n\
GET /cgi-bin/quick.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .expect("write");
    group(dir.path(), "p");
    // The script is still waited for, to its timeout; then the pipelined request is answered.
    let got = String::from_utf8_lossy(&read_to_close(stream)).into_owned();
    assert!(got.starts_with("HTTP/1.1 504 "), "{got}");
    // The second answer, whole (chunked: the script gave no length).
    assert!(got.contains("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(got.ends_with("\r\n\r\n6\r\nquick\n\r\n0\r\n\r\n"), "{got}");
    server.wait_for_log("CGI script /cgi-bin/hangs.sh timed out after 1s; killed");
    assert!(!server.log().iter().any(|l| l.contains("went away")));
}

#[test]
fn on_a_unix_socket_a_client_that_closes_gets_its_script_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(dir.path(), "cgi-bin/hangs.sh", HANGS);
    let socket = dir.path().join("serveur.sock");
    let server = Serveur::start_unix(dir.path(), &socket, &["--cgi"]);
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
    write!(
        stream,
        "GET /cgi-bin/hangs.sh?unix HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .expect("write");
    let pgid = group(dir.path(), "unix");
    drop(stream);
    wait_groups_gone(&[pgid], Instant::now(), PROMPTLY);
    let line = server.wait_for_log("CGI script /cgi-bin/hangs.sh killed: the client went away");
    assert!(line.starts_with("unix: - - ["), "{line}");
}

#[test]
fn over_tls_a_client_that_closes_gets_its_script_killed() {
    let pki = tempfile::tempdir().expect("pki");
    let (cert, key) = make_cert(pki.path(), "ec", "ec");
    let (cert_path, key_path) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));
    let (dir, server) = cgi_site(&["--tls-cert", cert_path, "--tls-key", key_path]);
    let connector = client(&cert, &[b"http/1.1"], rustls::ALL_VERSIONS);
    let addr = server.addr;
    let root = dir.path().to_path_buf();
    let (pgid, left) = runtime().block_on(async move {
        use tokio::io::AsyncWriteExt;
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut tls = connector.connect(name, tcp).await.expect("handshake");
        tls.write_all(b"GET /cgi-bin/hangs.sh?tls HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        tls.flush().await.expect("flush");
        let pgid = tokio::task::spawn_blocking(move || group(&root, "tls"))
            .await
            .expect("pgid");
        // close_notify, then the FIN.
        let _ = tls.shutdown().await;
        drop(tls);
        (pgid, Instant::now())
    });
    wait_groups_gone(&[pgid], left, PROMPTLY);
    server.wait_for_log("CGI script /cgi-bin/hangs.sh killed: the client went away");
}

#[test]
fn over_http_2_a_reset_stream_gets_its_script_killed_and_the_connection_serves_on() {
    let (dir, server) = cgi_site(&[]);
    let (addr, root) = (server.addr, dir.path().to_path_buf());
    let (pgid, left, after) = runtime().block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut sender, conn) = h2_handshake(stream).await;
        let request = |path: &str| {
            http::Request::get(format!("http://{addr}{path}"))
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .expect("request")
        };
        let pending = tokio::spawn(sender.send_request(request("/cgi-bin/hangs.sh?h2")));
        let pgid = tokio::task::spawn_blocking(move || group(&root, "h2"))
            .await
            .expect("pgid");
        // Dropping the response future resets the stream (RST_STREAM, CANCEL); the
        // connection stays open.
        pending.abort();
        let left = Instant::now();
        sender.ready().await.expect("connection still usable");
        let response = sender
            .send_request(request("/cgi-bin/quick.sh"))
            .await
            .expect("second request");
        let after = crate::support::read_reply(response).await;
        conn.abort();
        (pgid, left, after)
    });
    wait_groups_gone(&[pgid], left, PROMPTLY);
    assert_eq!((after.status, after.text().as_str()), (200, "quick\n"));
    server.wait_for_log("CGI script /cgi-bin/hangs.sh killed: the client went away");
}

#[test]
fn with_ignore_client_abort_a_script_runs_on_and_a_half_closed_client_gets_its_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Answers after a second, then notes that it finished.
    write_script(
        dir.path(),
        "cgi-bin/slow.sh",
        "#!/bin/sh\necho $$ > \"$DOCUMENT_ROOT/$QUERY_STRING\"\nsleep 1\nprintf 'Content-Type: text/plain\\n\\ndone\\n'\necho yes > \"$DOCUMENT_ROOT/$QUERY_STRING.finished\"\n",
    );
    let server = Serveur::start(dir.path(), &["--cgi", "--ignore-client-abort"]);
    let closing = ask(server.addr, "/cgi-bin/slow.sh?closes");
    group(dir.path(), "closes");
    drop(closing);
    let half_closed = ask(server.addr, "/cgi-bin/slow.sh?half");
    half_closed.shutdown(Shutdown::Write).expect("half-close");
    let got = String::from_utf8_lossy(&read_to_close(half_closed)).into_owned();
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    // Whole: its last chunk came.
    assert!(got.ends_with("\r\n\r\n5\r\ndone\n\r\n0\r\n\r\n"), "{got}");
    // The script whose client closed ran to its end as well.
    assert_eq!(wait_for_file(&dir.path().join("closes.finished")), "yes");
    assert!(
        !server.log().iter().any(|l| l.contains("killed")),
        "{:#?}",
        server.log()
    );
}

#[test]
fn ignore_client_abort_needs_a_gateway() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = crate::support::serveur_command();
    command
        .arg("-d")
        .arg(dir.path())
        .arg("--ignore-client-abort");
    let exit = crate::support::run_to_exit(command);
    assert_eq!(exit.code, 2, "{exit:?}");
    assert!(
        exit.stderr
            .contains("argument --ignore-client-abort: only meaningful with --cgi or --fastcgi"),
        "{exit:?}"
    );
}

/// Waits for `aborted` until it is set or 30 s have passed, writing nothing before.
const WAITS_FOR_ABORT: &str = r#"
def app(params, stdin, aborted):
    if params["PATH_INFO"] == "/quick":
        yield b"Content-Type: text/plain\r\n\r\nquick"
        return
    print("started " + params["QUERY_STRING"], flush=True)
    if aborted.wait(30):
        return
    yield b"Content-Type: text/plain\r\n\r\nlate"
"#;

/// [`WAITS_FOR_ABORT`] under responder.py at `/app`, with `--fastcgi-connections CONNECTIONS`.
fn waiting_app(connections: &str) -> Site {
    site_with(
        "/app",
        |run| responder(run, WAITS_FOR_ABORT),
        &["--fastcgi-connections", connections],
    )
}

#[test]
fn three_fastcgi_requests_whose_clients_leave_are_aborted_and_free_their_connections() {
    let python = waiting_app("3");
    let (server, app) = (&python.server, &python.app);
    let clients: Vec<TcpStream> = (1..=3)
        .map(|n| ask(server.addr, &format!("/app/hang?{n}")))
        .collect();
    for n in 1..=3 {
        app.wait_for_output(&format!("started {n}"));
    }
    let mut clients = clients.into_iter();
    let left = Instant::now();
    drop(clients.next());
    drop(clients.next());
    let half_closed = clients.next().expect("third client");
    half_closed.shutdown(Shutdown::Write).expect("half-close");
    let deadline = left + PROMPTLY;
    while app.output().iter().filter(|l| *l == "aborted").count() < 3 {
        assert!(Instant::now() < deadline, "{:#?}", app.output());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(read_to_close(half_closed), b"");
    // The three connections are free again: a fourth request is answered at once.
    let asked = Instant::now();
    assert_eq!(get(server.addr, "/app/quick").text(), "quick");
    assert!(asked.elapsed() < PROMPTLY, "{:?}", asked.elapsed());
    // The log is written in order by one thread, a few milliseconds late: once the fourth
    // request's line is there, so are the three before it.
    server.wait_for_log("\"GET /app/quick HTTP/1.1\" 200");
    let log = server.log();
    let aborted = log
        .iter()
        .filter(|l| l.contains("/app: aborted: the client went away"))
        .count();
    assert_eq!(aborted, 3, "{log:#?}");
}

#[test]
fn a_php_script_whose_client_left_is_aborted_and_stops_at_its_next_output() {
    let php = php_site(1, &[]);
    let site = php.site.path();
    write(
        site,
        "slow.php",
        "<?php file_put_contents(__DIR__ . '/started', \"yes\\n\"); sleep(2); echo 'late'; flush(); file_put_contents(__DIR__ . '/finished', \"yes\\n\");",
    );
    write(site, "quick.php", "<?php echo 'quick';");
    let client = ask(php.server.addr, "/slow.php");
    wait_for_file(&site.join("started"));
    let left = Instant::now();
    drop(client);
    let line = php
        .server
        .wait_for_log("/slow.php: aborted: the client went away");
    assert!(left.elapsed() < PROMPTLY, "{:?}: {line}", left.elapsed());
    // php-fpm's only worker is free once PHP, writing after its sleep to a connection serveur
    // closed, has stopped the script.
    assert_eq!(get(php.server.addr, "/quick.php").text(), "quick");
    assert!(!site.join("finished").exists(), "the script ran to its end");
}

#[test]
fn a_fastcgi_request_whose_client_left_while_waiting_for_a_connection_is_never_sent() {
    let python = waiting_app("1");
    let (server, app) = (&python.server, &python.app);
    let first = ask(server.addr, "/app/hang?first");
    app.wait_for_output("started first");
    let waiting = ask(server.addr, "/app/hang?second");
    // Let the second request reach its wait for the only connection before it leaves.
    std::thread::sleep(Duration::from_millis(200));
    drop(waiting);
    server.wait_for_log("/app: not sent: the client went away");
    drop(first);
    server.wait_for_log("/app: aborted: the client went away");
    assert_eq!(get(server.addr, "/app/quick").text(), "quick");
    assert!(
        !app.output().iter().any(|l| l == "started second"),
        "{:#?}",
        app.output()
    );
}
