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
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serveur");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut startup_line = String::new();
        stdout
            .read_line(&mut startup_line)
            .expect("read startup line");
        let startup_line = startup_line.trim_end().to_owned();
        let port: u16 = startup_line
            .split(" port ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in startup line {startup_line:?}"));
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
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(line) = self.log().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no log line containing {needle:?} in {:#?}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
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

/// Sends `request` as raw bytes, half-closes, and returns everything the server answers
/// until it closes the connection.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(request).expect("write request");
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
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
    runtime().block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        let response = tokio::time::timeout(WAIT, sender.send_request(request))
            .await
            .expect("response in time")
            .expect("response");
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
    })
}

/// `GET path` with no extra headers.
pub fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, &[])
}

/// `METHOD path` with the given headers and no body.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    send(
        addr,
        builder.body(Full::new(Bytes::new())).expect("request"),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Writes an executable script (mode 755) at `dir/relative`, creating its directories.
pub fn write_script(dir: &Path, relative: &str, source: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create script directory");
    }
    std::fs::write(&path, source).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// `POST path` with a `Content-Type` and a body held in memory.
pub fn post(addr: SocketAddr, path: &str, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let request = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .expect("request");
    send(addr, request)
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
