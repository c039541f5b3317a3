//! Shared by the integration tests: start the real `serveur` binary on 127.0.0.1 port 0, read
//! its startup line for the port, collect its log, and talk to it over real sockets (raw bytes
//! for malformed input, hyper's client for well-formed requests).

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

pub mod library;
pub mod tls;

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running `serveur` process, killed when dropped.
pub struct Serveur {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The startup line it printed.
    pub startup_line: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serveur {
    /// Starts `serveur -b 127.0.0.1 ARGS... 0` serving `dir`.
    pub fn start(dir: &Path, args: &[&str]) -> Serveur {
        Self::start_with(dir, "127.0.0.1", args)
    }

    /// Starts `serveur -b BIND ARGS... 0` serving `dir`.
    pub fn start_with(dir: &Path, bind: &str, args: &[&str]) -> Serveur {
        let mut command = Command::new(env!("CARGO_BIN_EXE_serveur"));
        command
            .arg("-d")
            .arg(dir)
            .args(["-b", bind])
            .args(args)
            .arg("0");
        Self::spawn(command)
    }

    /// Starts the binary with exactly `command`'s arguments (which must make it listen).
    pub fn spawn(mut command: Command) -> Serveur {
        let mut child = spawn_piped(&mut command);
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut startup_line = String::new();
        stdout
            .read_line(&mut startup_line)
            .expect("read startup line");
        let startup_line = startup_line.trim_end().to_owned();
        let port = startup_port(&startup_line);
        let host = startup_line
            .strip_prefix("Serving HTTP on ")
            .or_else(|| startup_line.strip_prefix("Serving HTTPS on "))
            .and_then(|rest| rest.split(' ').next())
            .expect("host in startup line");
        let ip = if host == "0.0.0.0" { "127.0.0.1" } else { host };
        let addr = SocketAddr::new(ip.parse().expect("ip"), port);
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log lock").push(line);
            }
        });
        // Keep stdout drained so later prints (the Ctrl+C message) never block the server.
        let out_sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                out_sink
                    .lock()
                    .expect("log lock")
                    .push(format!("stdout: {line}"));
            }
        });
        Serveur {
            child,
            addr,
            startup_line,
            log,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every line the server has written to stderr so far (and stdout lines after the first,
    /// prefixed `stdout: `).
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits until a log line containing `needle` appears, and returns it.
    pub fn wait_for_log(&self, needle: &str) -> String {
        wait_for_line(needle, || self.log())
    }

    /// Sends a signal (e.g. `"INT"`, `"TERM"`) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "serveur did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Serveur {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until one of the `lines` (read again and again) contains `needle`, and returns it;
/// fails the test after [`WAIT`], showing them.
pub fn wait_for_line(needle: &str, lines: impl Fn() -> Vec<String>) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(line) = lines().into_iter().find(|l| l.contains(needle)) {
            return line;
        }
        assert!(
            Instant::now() < deadline,
            "no line containing {needle:?} in {:#?}",
            lines()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `request` as raw bytes, half-closes, and returns everything the server answers
/// until it closes the connection.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    send_raw(addr, request, true)
}

/// [`raw`] without the half-close, for a request that runs a script: a client that half-closes
/// before the script's answer has left, and gets none (README, CGI). The request must end the
/// connection itself (`Connection: close`, HTTP/1.0).
pub fn raw_to_script(addr: SocketAddr, request: &[u8]) -> String {
    String::from_utf8_lossy(&send_raw(addr, request, false)).into_owned()
}

fn send_raw(addr: SocketAddr, request: &[u8], half_close: bool) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(request).expect("write request");
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// `GET path` on a new connection, read until the answer so far (as text) is `enough`; the
/// connection is handed back open, for the test to drop as a client that goes away midway.
pub fn get_until(addr: SocketAddr, path: &str, enough: impl Fn(&str) -> bool) -> TcpStream {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    send_until(addr, request.as_bytes(), enough).0
}

/// Sends `request` raw on a new connection and reads until the answer so far (as text) is
/// `enough`: the connection, still open, and what was read.
pub fn send_until(
    addr: SocketAddr,
    request: &[u8],
    enough: impl Fn(&str) -> bool,
) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(request).expect("write request");
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !enough(&String::from_utf8_lossy(&seen)) {
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    (stream, seen)
}

/// [`raw`], as text (lossy).
pub fn raw_text(addr: SocketAddr, request: &[u8]) -> String {
    String::from_utf8_lossy(&raw(addr, request)).into_owned()
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// A header as text, `""` when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or(""))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request over a new HTTP/1.1 connection with hyper's client and reads the reply.
pub fn send(addr: SocketAddr, request: http::Request<Full<Bytes>>) -> Reply {
    let mut replies = send_on_one_connection(addr, vec![request]);
    replies.pop().expect("one reply")
}

/// Reads a response whole (its body within [`WAIT`]), whatever the protocol it came over.
pub async fn read_reply(response: http::Response<hyper::body::Incoming>) -> Reply {
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(WAIT, body.collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

/// `GET path` with no extra headers.
pub fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, &[])
}

/// `GET` each of `paths`, all at once (a thread each), and the replies in the same order.
pub fn get_concurrently(addr: SocketAddr, paths: &[String]) -> Vec<Reply> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .iter()
            .map(|path| scope.spawn(move || get(addr, path)))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("request thread"))
            .collect()
    })
}

/// `METHOD path` with the given headers and no body.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    request_with_body(addr, method, path, headers, Bytes::new())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A `Command` running the `serveur` binary with no arguments yet, for [`Serveur::spawn`] and
/// [`run_to_exit`].
pub fn serveur_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_serveur"))
}

/// Starts `command` with stdin closed and stdout and stderr piped to the test.
pub fn spawn_piped(command: &mut Command) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"))
}

/// How a process that was expected to stop on its own ended.
#[derive(Debug)]
pub struct Exit {
    /// The exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

/// Runs `command` to its end; fails the test if it is still running after [`WAIT`] (a server
/// that started serving when it should have refused its arguments).
pub fn run_to_exit(mut command: Command) -> Exit {
    let mut child = spawn_piped(&mut command);
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process still running after {WAIT:?}: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Exit {
        code: status.code().unwrap_or(-1),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Writes `request` on a new connection without half-closing it, then reads until the server
/// closes the connection or stays silent for `idle`. Returns the bytes read and whether the
/// server closed the connection.
pub fn raw_keep_open(addr: SocketAddr, request: &[u8], idle: Duration) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(idle)).expect("timeout");
    stream.write_all(request).expect("write request");
    let mut answer = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (answer, true),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (answer, true),
            Err(_) => return (answer, false),
        }
    }
}

/// Sends `requests` one after the other on ONE HTTP/1.1 connection with hyper's client; fails
/// the test if the server closes the connection before the last reply.
pub fn send_on_one_connection(
    addr: SocketAddr,
    requests: Vec<http::Request<Full<Bytes>>>,
) -> Vec<Reply> {
    runtime().block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        let mut replies = Vec::new();
        for (i, request) in requests.into_iter().enumerate() {
            tokio::time::timeout(WAIT, sender.ready())
                .await
                .expect("connection ready in time")
                .unwrap_or_else(|e| panic!("connection closed before request {i}: {e}"));
            let response = tokio::time::timeout(WAIT, sender.send_request(request))
                .await
                .expect("response in time")
                .unwrap_or_else(|e| panic!("request {i} on the kept-alive connection: {e}"));
            replies.push(read_reply(response).await);
        }
        replies
    })
}

/// A raw HTTP/1.x response split into its status line, header lines and body (everything after
/// the blank line). Only for reading what the server wrote byte for byte.
#[derive(Debug)]
pub struct RawReply {
    /// The status line, e.g. `HTTP/1.1 404 File not found`.
    pub status_line: String,
    /// The header lines as `(name, value)`, in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The bytes after the head.
    pub body: Vec<u8>,
}

impl RawReply {
    /// Splits `bytes` at the first blank line; fails the test when there is none.
    pub fn parse(bytes: &[u8]) -> RawReply {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(bytes)));
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("").to_owned();
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap_or((line, ""));
                (name.to_owned(), value.trim().to_owned())
            })
            .collect();
        RawReply {
            status_line,
            headers,
            body: bytes[end + 4..].to_vec(),
        }
    }

    /// The status line without its protocol version, e.g. `404 File not found`.
    pub fn status(&self) -> &str {
        self.status_line
            .split_once(' ')
            .map_or("", |(_, rest)| rest)
    }

    /// The first header called `name` (any case), `None` when absent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `METHOD path HTTP/1.1` with `Connection: close`, sent raw, answered raw.
pub fn raw_request(addr: SocketAddr, method: &str, path: &str) -> RawReply {
    let request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    // No half-close: the path may run a script, and a client that half-closes before a
    // script answers has left. `Connection: close` ends the exchange.
    RawReply::parse(&send_raw(addr, request.as_bytes(), false))
}

/// Whether the tests run as root, for whom file permissions do not stop reading.
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = tempfile::tempfile().expect("temp file");
    probe.metadata().expect("metadata").uid() == 0
}

/// The port a startup line (`Serving HTTP on HOST port PORT (...) ...`) announces.
pub fn startup_port(line: &str) -> u16 {
    line.split(" port ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in startup line {line:?}"))
}

/// Writes `content` to `root/rel`, creating the directories on the way.
pub fn write_file(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create directories");
    std::fs::write(path, content).expect("write file");
}
/// CPython 3.13's interpreter under pyenv; fails the test loudly when it is missing.
pub fn python313() -> std::path::PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let python = Path::new(&home).join(".pyenv/versions/3.13.0/bin/python3");
    assert!(
        python.is_file(),
        "CPython 3.13 is needed for these tests and is missing at {} \
         (install it with `pyenv install 3.13.0`)",
        python.display()
    );
    python
}

/// `python3.13 -m http.server` on `dir`, port 0, its stdout unbuffered so the startup line
/// arrives at once.
pub fn start_python(dir: &Path) -> Serveur {
    let mut command = Command::new(python313());
    command
        .args(["-u", "-m", "http.server", "-b", "127.0.0.1", "-d"])
        .arg(dir)
        .arg("0");
    let server = Serveur::spawn(command);
    assert!(
        server
            .startup_line
            .starts_with("Serving HTTP on 127.0.0.1 port "),
        "{}",
        server.startup_line
    );
    server
}

/// `METHOD path` with the given headers and body (sent with its `Content-Length`).
pub fn request_with_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let mut req = build_request(method, path, headers, body);
    req.headers_mut()
        .insert(http::header::HOST, addr.to_string().parse().expect("host"));
    send(addr, req)
}

/// `METHOD path` with the given headers and body, to send with any client (no `Host`: each
/// transport adds its own authority).
pub fn build_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> http::Request<Full<Bytes>> {
    let mut req = http::Request::new(Full::new(body.into()));
    *req.method_mut() = method.parse().expect("method");
    *req.uri_mut() = path.parse().expect("path");
    let map = req.headers_mut();
    for (name, value) in headers {
        let name: http::HeaderName = name.parse().expect("header name");
        map.append(name, value.parse().expect("header value"));
    }
    req
}

/// `len` bytes of deterministic, compressible text (words and newlines), for downloads tests.
pub fn sample_text(len: usize) -> Vec<u8> {
    let words = [
        "serveur ", "range ", "etag ", "gzip ", "brotli ", "zstd\n", "vary ",
    ];
    let mut text = Vec::with_capacity(len + 8);
    let mut seed: u32 = 7;
    while text.len() < len {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        text.extend_from_slice(words[(seed >> 16) as usize % words.len()].as_bytes());
    }
    text.truncate(len);
    text
}

/// `len` bytes of deterministic noise (incompressible), for downloads tests.
pub fn sample_bytes(len: usize) -> Vec<u8> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// Sets the modification time of `path` to `secs` seconds before now.
pub fn age(path: &Path, secs: u64) {
    let when = std::time::SystemTime::now() - Duration::from_secs(secs);
    std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open to set mtime")
        .set_modified(when)
        .expect("set mtime");
}

/// Writes an executable script (mode 755) at `dir/relative`, creating its directories.
pub fn write_script(dir: &Path, relative: &str, source: &str) {
    use std::os::unix::fs::PermissionsExt;
    write_file(dir, relative, source);
    std::fs::set_permissions(dir.join(relative), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
}

/// `POST path` with a `Content-Type` and a body held in memory.
pub fn post(addr: SocketAddr, path: &str, content_type: &str, body: impl Into<Bytes>) -> Reply {
    request_with_body(addr, "POST", path, &[("content-type", content_type)], body)
}

/// Whether process `pid` still exists (a zombie counts as existing: it was never reaped).
pub fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits until process `pid` is gone (killed and reaped), failing the test after [`WAIT`].
pub fn wait_process_gone(pid: u32) {
    let deadline = Instant::now() + WAIT;
    while process_exists(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still there");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `path` exists and holds a line, and returns its trimmed text.
pub fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if text.ends_with('\n') {
                return text.trim().to_owned();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` is running (neither gone nor a zombie waiting for its parent).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: `1234 (sleep) S ...`.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits until process `pid` is no longer running, failing the test after [`WAIT`].
pub fn wait_process_dead(pid: u32) {
    let deadline = Instant::now() + WAIT;
    while process_alive(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A temporary tree holding one executable script at `relative`, served with `args`.
pub fn serve_script(relative: &str, source: &str, args: &[&str]) -> (tempfile::TempDir, Serveur) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(dir.path(), relative, source);
    let server = Serveur::start(dir.path(), args);
    (dir, server)
}

/// The child processes of `pid` (zombies included), from `/proc/PID/task/*/children`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// `body` decoded from the content coding `coding` (`gzip`, `br` or `zstd`) with the reference
/// decoders (flate2, brotli, zstd), never serveur's own code.
pub fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("gunzip");
        }
        "br" => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .expect("unbrotli");
        }
        "zstd" => out = zstd::stream::decode_all(body).expect("unzstd"),
        other => panic!("unexpected coding {other:?}"),
    }
    out
}

/// The parts of a `multipart/byteranges` reply read back with multer, each as its
/// `(Content-Type, Content-Range, bytes)`; fails the test when the reply is not one.
pub fn parse_byteranges(reply: &Reply) -> Vec<(String, String, Bytes)> {
    let content_type = reply.header("content-type");
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("not multipart/byteranges: {content_type}"))
        .to_owned();
    let body = reply.body.clone();
    runtime().block_on(async move {
        let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut parts = Vec::new();
        while let Some(field) = multipart.next_field().await.expect("well-formed part") {
            let header = |name: &str| {
                field.headers()[name]
                    .to_str()
                    .expect("text header")
                    .to_owned()
            };
            let (content_type, range) = (header("content-type"), header("content-range"));
            parts.push((
                content_type,
                range,
                field.bytes().await.expect("part bytes"),
            ));
        }
        parts
    })
}

/// Calls `handler` in process with `METHOD uri`, no headers and no body.
pub async fn ask(handler: &impl serveur::Handler, method: &str, uri: &str) -> serveur::Response {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(serveur::RequestBody::empty())
        .expect("request");
    handler.handle(req).await
}

/// The body of a response made in process, read whole, as UTF-8 text.
pub async fn body_text(response: serveur::Response) -> String {
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(body.to_vec()).expect("utf-8")
}
