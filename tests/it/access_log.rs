//! The access log on stderr, in CPython's line shape with the real byte count, the extra
//! `code N, message M` line before errors, control characters escaped, whole lines under
//! parallel requests and CGI scripts' stderr, and `-q` to turn it off.

use crate::support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::{Arc, Barrier};

use crate::support::{get, raw, request, serveur_command, Serveur};
use chrono::{Local, NaiveDateTime};

fn site() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("a.txt"), "hello\n").expect("write");
    std::fs::create_dir(tmp.path().join("sub")).expect("mkdir");
    tmp
}

/// Splits `127.0.0.1 - - [21/Nov/2026 11:54:02] message` into client, date and message.
fn parse_line(line: &str) -> (&str, NaiveDateTime, &str) {
    let (client, rest) = line.split_once(" - - [").expect("client - - [");
    let (date, message) = rest.split_once("] ").expect("] ");
    let date = NaiveDateTime::parse_from_str(date, "%d/%b/%Y %H:%M:%S")
        .unwrap_or_else(|e| panic!("date {date:?}: {e}"));
    (client, date, message)
}

#[test]
fn access_line_has_pythons_shape_local_time_and_the_real_byte_count() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &[]);
    let before = Local::now().naive_local();
    get(server.addr, "/a.txt");
    let line = server.wait_for_log("\"GET /a.txt HTTP/1.1\"");
    let after = Local::now().naive_local();
    let (client, date, message) = parse_line(&line);
    assert_eq!(client, "127.0.0.1");
    assert_eq!(message, "\"GET /a.txt HTTP/1.1\" 200 6");
    let second = chrono::Duration::seconds(1);
    assert!(
        date >= before - second && date <= after,
        "{date} not local now"
    );
    // English month abbreviation, two-digit day: `21/Nov/2026 11:54:02`.
    let stamp = line.split(['[', ']']).nth(1).expect("date");
    assert_eq!(stamp.len(), "21/Nov/2026 11:54:02".len(), "{stamp}");
}

#[test]
fn byte_count_is_what_was_sent_for_every_kind_of_answer() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &[]);
    let listing = get(server.addr, "/");
    let not_found = get(server.addr, "/nope");
    request(server.addr, "HEAD", "/a.txt", &[]);
    get(server.addr, "/sub?x=1");
    get(server.addr, "/a.txt?q=%20");
    server.wait_for_log(&format!("\"GET / HTTP/1.1\" 200 {}", listing.body.len()));
    server.wait_for_log(&format!(
        "\"GET /nope HTTP/1.1\" 404 {}",
        not_found.body.len()
    ));
    server.wait_for_log("\"HEAD /a.txt HTTP/1.1\" 200 0");
    server.wait_for_log("\"GET /sub?x=1 HTTP/1.1\" 301 0");
    server.wait_for_log("\"GET /a.txt?q=%20 HTTP/1.1\" 200 6");
}

#[test]
fn errors_log_pythons_code_and_message_line_first() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &[]);
    get(server.addr, "/missing");
    request(server.addr, "POST", "/", &[]);
    server.wait_for_log("\"POST / HTTP/1.1\" 501");
    let log = server.log();
    for (error, access) in [
        (
            "code 404, message File not found",
            "\"GET /missing HTTP/1.1\" 404 ",
        ),
        (
            "code 501, message Unsupported method ('POST')",
            "\"POST / HTTP/1.1\" 501 ",
        ),
    ] {
        let at = log
            .iter()
            .position(|l| l.ends_with(error))
            .unwrap_or_else(|| panic!("no {error:?} in {log:#?}"));
        let (client, _, _) = parse_line(&log[at]);
        assert_eq!(client, "127.0.0.1");
        assert!(log[at + 1].contains(access), "{log:#?}");
    }
    // A success has no such line.
    get(server.addr, "/a.txt");
    server.wait_for_log("\"GET /a.txt HTTP/1.1\" 200 6");
    assert_eq!(
        server.log().iter().filter(|l| l.contains("code ")).count(),
        2
    );
}

#[test]
fn control_characters_from_the_client_are_escaped() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &[]);
    // U+0085 (NEL, a C1 control) and U+009B (CSI) arrive raw in the request target; a
    // backslash is doubled so that an escaped sequence cannot be forged.
    raw(
        server.addr,
        "GET /x\u{85}y\u{9b}31m\\z HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".as_bytes(),
    );
    let line = server.wait_for_log("\"GET /x");
    assert!(
        line.ends_with("\"GET /x\\x85y\\x9b31m\\\\z HTTP/1.1\" 404 460"),
        "{line}"
    );
    assert!(!line.contains('\u{85}') && !line.contains('\u{9b}'));
}

#[test]
fn a_client_that_leaves_early_is_logged_with_the_bytes_actually_sent() {
    let tmp = site();
    let big = std::fs::File::create(tmp.path().join("big.bin")).expect("create");
    big.set_len(64 * 1024 * 1024).expect("set_len");
    let server = Serveur::start(tmp.path(), &[]);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("write");
    let mut first = [0u8; 1024];
    stream.read_exact(&mut first).expect("read a little");
    drop(stream);
    let line = server.wait_for_log("\"GET /big.bin HTTP/1.1\" 200 ");
    let sent: u64 = line
        .rsplit(' ')
        .next()
        .expect("count")
        .parse()
        .expect("number");
    assert!(sent < 64 * 1024 * 1024, "{line}");
}

/// Starts the binary with `args`, lets `requests` talk to it, stops it with SIGTERM and returns
/// all it wrote to stderr, read to the end (so nothing is still in flight).
fn stderr_of_a_whole_run(
    dir: &std::path::Path,
    args: &[&str],
    requests: impl FnOnce(SocketAddr),
) -> String {
    let mut command = serveur_command();
    command
        .arg("-d")
        .arg(dir)
        .args(["-b", "127.0.0.1"])
        .args(args)
        .arg("0");
    let mut child = support::spawn_piped(&mut command);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut startup = String::new();
    stdout.read_line(&mut startup).expect("startup line");
    let addr = SocketAddr::from(([127, 0, 0, 1], support::startup_port(&startup)));
    requests(addr);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    child.wait().expect("wait");
    stderr
}

#[test]
fn quiet_turns_the_access_log_off() {
    let tmp = site();
    let requests = |addr| {
        for path in ["/a.txt", "/nope", "/"] {
            get(addr, path);
        }
    };
    let loud = stderr_of_a_whole_run(tmp.path(), &[], requests);
    assert_eq!(loud.lines().count(), 4, "control run: {loud}");
    for flag in ["-q", "--quiet"] {
        let quiet = stderr_of_a_whole_run(tmp.path(), &[flag], requests);
        assert_eq!(quiet, "", "{flag}");
    }
}

/// What the script of [`noisy_script`] writes on each of its stderr lines, after `noise N: `.
const NOISE: &str = "the quick brown fox jumps over the lazy dog, again and again and again";

/// How many lines that script writes to stderr.
const NOISE_LINES: usize = 6;

/// A CGI script that answers `start\nend\n` and, in between, writes [`NOISE_LINES`] lines to
/// stderr with one `write` each.
fn noisy_script() -> String {
    format!(
        "#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
echo start
for n in $(seq {NOISE_LINES}); do
    echo \"noise $n: {NOISE}\" >&2
done
echo end
"
    )
}

#[test]
fn log_lines_from_parallel_requests_and_script_stderr_never_interleave() {
    const CLIENTS: usize = 48;
    let tmp = site();
    support::write_script(tmp.path(), "cgi-bin/noisy.sh", &noisy_script());
    let stderr = stderr_of_a_whole_run(tmp.path(), &["--cgi"], |addr| {
        // All clients start at once, so that their log lines are written at the same time.
        let start = Arc::new(Barrier::new(CLIENTS));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let path = ["/a.txt", "/nope", "/cgi-bin/noisy.sh"][i % 3];
                let start = Arc::clone(&start);
                std::thread::spawn(move || {
                    start.wait();
                    get(addr, path)
                })
            })
            .collect();
        for client in clients {
            client.join().expect("client thread");
        }
    });

    // Each line parses whole and is one of the lines expected, each as often as expected: a
    // line cut by another, or two run together, would be missing from the counts.
    let mut seen = BTreeMap::<String, usize>::new();
    for line in stderr.lines() {
        let (client, _, message) = parse_line(line);
        assert_eq!(client, "127.0.0.1", "{line:?}");
        *seen.entry(message.to_owned()).or_default() += 1;
    }
    let each = CLIENTS / 3;
    let mut expected = BTreeMap::from([
        ("\"GET /a.txt HTTP/1.1\" 200 6".to_owned(), each),
        ("code 404, message File not found".to_owned(), each),
        ("\"GET /nope HTTP/1.1\" 404 460".to_owned(), each),
        ("\"GET /cgi-bin/noisy.sh HTTP/1.1\" 200 10".to_owned(), each),
    ]);
    for n in 1..=NOISE_LINES {
        expected.insert(format!("/cgi-bin/noisy.sh: noise {n}: {NOISE}"), each);
    }
    assert_eq!(seen, expected, "the whole log:\n{stderr}");
}
