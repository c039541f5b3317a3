//! A script's life under `--cgi`: killed with its whole process group at the timeout or when
//! the client leaves (before the header block too: more in `client_left.rs`), never left a
//! zombie; many at once, waiting for a turn past `--cgi-max`; run for HEAD; streamed
//! close-delimited under `-p HTTP/1.0`; its output to a slow client and a large upload to it
//! never held in the server's memory.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::support::tls::h2_handshake;
use crate::support::{
    children_of, get, get_until, raw_to_script, request, serve_script, wait_for_file,
    wait_process_dead, wait_process_gone, write_script, Serveur, WAIT,
};

#[test]
fn a_script_past_its_timeout_is_killed_with_its_children_and_gets_504() {
    let (dir, server) = serve_script("cgi-bin/slow.sh", "#!/bin/sh\nsleep 60 &\necho $! > \"$DOCUMENT_ROOT/child\"\necho $$ > \"$DOCUMENT_ROOT/pid\"\nwait\n", &["--cgi", "--cgi-timeout", "1"]);
    let reply = get(server.addr, "/cgi-bin/slow.sh");
    assert_eq!(reply.status, 504);
    assert!(reply.text().contains("<p>Error code: 504</p>"));
    server.wait_for_log("CGI script /cgi-bin/slow.sh timed out after 1s; killed");
    let pid: u32 = wait_for_file(&dir.path().join("pid")).parse().expect("pid");
    let child: u32 = wait_for_file(&dir.path().join("child"))
        .parse()
        .expect("pid");
    wait_process_gone(pid);
    wait_process_dead(child);
}

#[test]
fn a_client_that_leaves_gets_its_script_killed() {
    let (dir, server) = serve_script("cgi-bin/ticks.sh", "#!/bin/sh\necho $$ > \"$DOCUMENT_ROOT/pid\"\nprintf 'Content-Type: text/plain\\n\\n'\nwhile :; do echo tick; sleep 0.05; done\n", &["--cgi"]);
    let stream = get_until(server.addr, "/cgi-bin/ticks.sh", |seen| {
        seen.matches("tick").count() >= 2
    });
    let pid: u32 = wait_for_file(&dir.path().join("pid")).parse().expect("pid");
    assert!(children_of(server.pid()).contains(&pid));
    drop(stream);
    wait_process_gone(pid);
    server.wait_for_log("CGI script /cgi-bin/ticks.sh killed: the client went away");
}

/// Writes its pid and its child's, then sleeps in that child: it never gets to its header block.
const SILENT_SCRIPT: &str = "#!/bin/sh\nsleep 30 &\necho $! > \"$DOCUMENT_ROOT/child\"\necho $$ > \"$DOCUMENT_ROOT/pid\"\nwait\nprintf 'Content-Type: text/plain\\n\\nlate\\n'\n";

/// The pids [`SILENT_SCRIPT`] wrote: its own and its child's.
fn silent_pids(dir: &std::path::Path) -> (u32, u32) {
    let pid = wait_for_file(&dir.join("pid")).parse().expect("pid");
    let child = wait_for_file(&dir.join("child")).parse().expect("pid");
    (pid, child)
}

#[test]
fn over_http_2_a_client_gone_before_the_header_block_gets_its_script_killed_at_once() {
    let (dir, server) = serve_script("cgi-bin/silent.sh", SILENT_SCRIPT, &["--cgi"]);
    let (addr, root) = (server.addr, dir.path().to_path_buf());
    let (pid, child) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let (mut sender, conn) = h2_handshake(stream).await;
            let request = http::Request::get(format!("http://{addr}/cgi-bin/silent.sh"))
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .expect("request");
            let response = tokio::spawn(sender.send_request(request));
            let pids = tokio::task::spawn_blocking(move || silent_pids(&root))
                .await
                .expect("pids");
            // The client closes the connection, the stream still waiting for its answer.
            response.abort();
            conn.abort();
            pids
        });
    // Well before the 60 s default timeout: within `WAIT`.
    wait_process_gone(pid);
    wait_process_dead(child);
    server.wait_for_log("CGI script /cgi-bin/silent.sh killed: the client went away");
}

#[test]
fn a_hundred_concurrent_requests_all_get_their_own_answer() {
    let (_dir, server) = serve_script(
        "cgi-bin/n.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n%s' \"$QUERY_STRING\"\n",
        &["--cgi"],
    );
    let addr = server.addr;
    let threads: Vec<_> = (0..100)
        .map(|i| std::thread::spawn(move || (i, get(addr, &format!("/cgi-bin/n.sh?n={i}")))))
        .collect();
    for thread in threads {
        let (i, reply) = thread.join().expect("thread");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.text(), format!("n={i}"));
    }
    // Every script was reaped: no zombie is left behind.
    let deadline = std::time::Instant::now() + WAIT;
    while !children_of(server.pid()).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "children left: {:?}",
            children_of(server.pid())
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn past_cgi_max_requests_wait_for_a_turn_instead_of_failing() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two copies running at once would find the lock taken.
    write_script(
        dir.path(),
        "cgi-bin/alone.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nif mkdir \"$DOCUMENT_ROOT/lock\"; then sleep 0.2; rmdir \"$DOCUMENT_ROOT/lock\"; echo alone; else echo overlap; fi\n",
    );
    let server = Serveur::start(dir.path(), &["--cgi", "--cgi-max", "1"]);
    let addr = server.addr;
    let threads: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || get(addr, "/cgi-bin/alone.sh")))
        .collect();
    for thread in threads {
        let reply = thread.join().expect("thread");
        assert_eq!((reply.status, reply.text().as_str()), (200, "alone\n"));
    }
}

#[test]
fn head_runs_the_script_and_sends_only_its_headers() {
    let (dir, server) = serve_script("cgi-bin/page.py", "#!/usr/bin/env python3\nimport os\nopen(os.environ['DOCUMENT_ROOT'] + '/ran', 'w').write(os.environ['REQUEST_METHOD'] + '\\n')\nprint('Content-Type: text/html')\nprint()\nprint('<p>' * 100000)\n", &["--cgi"]);
    let reply = request(server.addr, "HEAD", "/cgi-bin/page.py", &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "text/html");
    assert!(reply.body.is_empty());
    assert_eq!(wait_for_file(&dir.path().join("ran")), "HEAD");
    // The script wrote 300 kB nobody reads: it must still end, not hang on a full pipe.
    server.wait_for_log("\"HEAD /cgi-bin/page.py HTTP/1.1\" 200 0");
    assert!(
        !server.log().iter().any(|l| l.contains("killed")),
        "{:#?}",
        server.log()
    );
}

#[test]
fn under_http_1_0_the_body_is_close_delimited() {
    let (_dir, server) = serve_script(
        "cgi-bin/hi.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello\\n'\n",
        &["--cgi", "-p", "HTTP/1.0"],
    );
    let answer = raw_to_script(
        server.addr,
        b"GET /cgi-bin/hi.sh HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.0 200 OK\r\n"), "{answer}");
    assert!(!answer.contains("transfer-encoding"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nhello\n"), "{answer}");
}

#[test]
fn a_script_silent_past_its_timeout_mid_body_is_cut_off_and_killed() {
    let (dir, server) = serve_script("cgi-bin/stalls.sh", "#!/bin/sh\necho $$ > \"$DOCUMENT_ROOT/pid\"\nprintf 'Content-Type: text/plain\\n\\nstarted\\n'\nsleep 60\n", &["--cgi", "--cgi-timeout", "1"]);
    let answer = raw_to_script(
        server.addr,
        b"GET /cgi-bin/stalls.sh HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("started\n"), "{answer}");
    // The chunked body never got its last chunk: the client can tell it was cut.
    assert!(!answer.ends_with("0\r\n\r\n"), "{answer}");
    server.wait_for_log("CGI script /cgi-bin/stalls.sh timed out while writing its body; killed");
    let pid: u32 = wait_for_file(&dir.path().join("pid")).parse().expect("pid");
    wait_process_gone(pid);
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let (_dir, server) = serve_script(
        "cgi-bin/cat.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\ncat\n",
        &["--cgi"],
    );
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
        .write_all(
            b"POST /cgi-bin/cat.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\
Expect: 100-continue\r\nConnection: close\r\n\r\n",
        )
        .expect("write head");
    // The script prints its header before reading stdin, so the 200 may follow at once.
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).expect("read 100");
    let first = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        first.starts_with("HTTP/1.1 100 Continue\r\n\r\n"),
        "{first}"
    );
    stream.write_all(b"hello").expect("write body");
    let mut rest = String::new();
    stream.read_to_string(&mut rest).expect("read answer");
    let answer = first + &rest;
    assert!(
        answer.contains("200 OK") && answer.contains("\r\nhello\r\n"),
        "{answer}"
    );
}

/// A memory figure of process `pid` in KiB, from `/proc/PID/status`: `VmRSS` (resident now)
/// or `VmHWM` (the most it has ever been).
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[test]
fn a_script_writing_to_a_client_that_does_not_read_is_held_back_not_buffered() {
    let (dir, server) = serve_script(
        "cgi-bin/flood.sh",
        "#!/bin/sh\necho $$ > \"$DOCUMENT_ROOT/pid\"\nprintf 'Content-Type: application/octet-stream\\n\\n'\nexec dd if=/dev/zero bs=1M count=1024 2>/dev/null\n",
        &["--cgi"],
    );
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .write_all(b"GET /cgi-bin/flood.sh HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let pid: u32 = wait_for_file(&dir.path().join("pid")).parse().expect("pid");
    // The client reads nothing: the script must end up blocked on its full pipe.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        if wchan.contains("pipe_write") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the script never blocked: {wchan}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Blocked once is not held back: a server that read on regardless would unblock it and
    // take hundreds of MiB within a fraction of a second (dd writes GiB/s to a pipe that is
    // read). Only waiting shows that the script stays blocked; 300 ms is ample at that rate.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    assert!(wchan.contains("pipe_write"), "the script went on: {wchan}");
    let rss = memory_kib(server.pid(), "VmRSS");
    assert!(rss < 64 * 1024, "the server holds {rss} KiB");
    drop(stream);
    wait_process_gone(pid);
}

#[test]
fn a_512_mib_upload_streams_to_the_script_without_growing_the_servers_memory() {
    const SIZE: u64 = 512 << 20;
    let (_dir, server) = serve_script(
        "cgi-bin/count.sh",
        "#!/bin/sh\nn=$(wc -c)\nprintf 'Content-Type: text/plain\\n\\n%s\\n' \"$n\"\n",
        &["--cgi"],
    );
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let head = format!(
        "POST /cgi-bin/count.sh HTTP/1.1\r\nHost: x\r\nContent-Length: {SIZE}\r\n\
Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("write head");
    // One MiB written again and again: the test holds no more of the body than that.
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..SIZE >> 20 {
        stream.write_all(&chunk).expect("write body");
    }
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read answer");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains(&format!("\r\n{SIZE}\n\r\n")), "{answer}");
    let peak = memory_kib(server.pid(), "VmHWM");
    assert!(peak < 64 * 1024, "the server's memory peaked at {peak} KiB");
}
