//! The `serveur` binary (and CPython's `http.server`, the reference) as a test starts it: on
//! 127.0.0.1 port 0 (or a Unix socket), its startup line read for the port, its log collected,
//! killed when the test lets go of it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::fixture::write_script;
use super::process::{running_as_root, spawn_piped};
use super::WAIT;

/// A running `serveur` process, killed when dropped.
pub(crate) struct Serveur {
    child: Child,
    /// The address it listens on; `0.0.0.0:0` on a Unix socket.
    pub addr: SocketAddr,
    /// The Unix socket it listens on (`-b unix:PATH`), as its startup line says.
    pub unix: Option<PathBuf>,
    /// The startup line it printed.
    pub startup_line: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serveur {
    /// Starts `serveur -b 127.0.0.1 ARGS... 0` serving `dir`.
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Serveur {
        Self::start_with(dir, "127.0.0.1", args)
    }

    /// Starts `serveur -b BIND ARGS... 0` serving `dir`.
    pub(crate) fn start_with(dir: &Path, bind: &str, args: &[&str]) -> Serveur {
        let mut command = Command::new(env!("CARGO_BIN_EXE_serveur"));
        command
            .arg("-d")
            .arg(dir)
            .args(["-b", bind])
            .args(args)
            .arg("0");
        Self::spawn(command)
    }

    /// Starts `serveur -b unix:SOCKET ARGS...` serving `dir`.
    pub(crate) fn start_unix(dir: &Path, socket: &Path, args: &[&str]) -> Serveur {
        let mut command = serveur_command();
        command
            .arg("-d")
            .arg(dir)
            .arg("-b")
            .arg(format!("unix:{}", socket.display()))
            .args(args);
        Self::spawn(command)
    }

    /// [`start`](Self::start), but as the unprivileged user `nobody` when the tests run as
    /// root, so that file permissions bite (setpriv, from util-linux, drops the privileges);
    /// the tree must then be readable by others ([`open_to_others`](super::open_to_others)).
    pub(crate) fn start_unprivileged(dir: &Path, args: &[&str]) -> Serveur {
        if !running_as_root() {
            return Self::start(dir, args);
        }
        let mut setpriv = Command::new("setpriv");
        setpriv.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        Self::start_under(setpriv, dir, args)
    }

    /// [`start`](Self::start) with the process allowed one core (`taskset`, from util-linux;
    /// missing, the test fails): the binary then runs one worker thread, so every connection
    /// shares it, as on a server busier than it has cores.
    pub(crate) fn start_on_one_core(dir: &Path, args: &[&str]) -> Serveur {
        // The first core this test may run on (a container may not offer core 0).
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let cores = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .expect("Cpus_allowed_list");
        let core: String = cores
            .trim()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let mut taskset = Command::new("taskset");
        taskset.args(["-c", &core]);
        Self::start_under(taskset, dir, args)
    }

    /// The binary serving `dir` on 127.0.0.1 port 0 with `args`, run by `wrapper` (a command
    /// that runs the rest of its arguments: `setpriv`, `taskset`).
    fn start_under(mut wrapper: Command, dir: &Path, args: &[&str]) -> Serveur {
        wrapper
            .arg(env!("CARGO_BIN_EXE_serveur"))
            .arg("-d")
            .arg(dir)
            .args(["-b", "127.0.0.1"])
            .args(args)
            .arg("0");
        Self::spawn(wrapper)
    }

    /// Starts the binary with exactly `command`'s arguments (which must make it listen).
    pub(crate) fn spawn(mut command: Command) -> Serveur {
        let mut child = spawn_piped(&mut command);
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut startup_line = String::new();
        stdout
            .read_line(&mut startup_line)
            .expect("read startup line");
        let startup_line = startup_line.trim_end().to_owned();
        let host = startup_line
            .strip_prefix("Serving HTTP on ")
            .or_else(|| startup_line.strip_prefix("Serving HTTPS on "))
            .and_then(|rest| rest.split(' ').next())
            .expect("host in startup line");
        let (addr, unix) = match host.strip_prefix("unix:") {
            Some(path) => (SocketAddr::from(([0, 0, 0, 0], 0)), Some(path.into())),
            None => {
                let ip = if host == "0.0.0.0" { "127.0.0.1" } else { host };
                let port = startup_port(&startup_line);
                (SocketAddr::new(ip.parse().expect("ip"), port), None)
            }
        };
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
            unix,
            startup_line,
            log,
        }
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every line the server has written to stderr so far (and stdout lines after the first,
    /// prefixed `stdout: `).
    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits until a log line containing `needle` appears, and returns it.
    pub(crate) fn wait_for_log(&self, needle: &str) -> String {
        wait_for_line(needle, || self.log())
    }

    /// Sends a signal (e.g. `"INT"`, `"TERM"`) to the process.
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Fails the test unless the startup line says plain HTTP on 127.0.0.1.
    pub(crate) fn assert_serving_on_loopback(&self) {
        assert!(
            self.startup_line
                .starts_with("Serving HTTP on 127.0.0.1 port "),
            "{}",
            self.startup_line
        );
    }

    /// Waits for the process to exit and returns its exit code.
    pub(crate) fn wait_exit(&mut self) -> i32 {
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
pub(crate) fn wait_for_line(needle: &str, lines: impl Fn() -> Vec<String>) -> String {
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

/// A `Command` running the `serveur` binary with no arguments yet, for [`Serveur::spawn`] and
/// [`run_to_exit`].
pub(crate) fn serveur_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_serveur"))
}

/// The port a startup line (`Serving HTTP on HOST port PORT (...) ...`) announces.
pub(crate) fn startup_port(line: &str) -> u16 {
    line.split(" port ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in startup line {line:?}"))
}

/// CPython 3.13's interpreter under pyenv; fails the test loudly when it is missing.
pub(crate) fn python313() -> std::path::PathBuf {
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
pub(crate) fn start_python(dir: &Path) -> Serveur {
    let mut command = Command::new(python313());
    command
        .args(["-u", "-m", "http.server", "-b", "127.0.0.1", "-d"])
        .arg(dir)
        .arg("0");
    let server = Serveur::spawn(command);
    server.assert_serving_on_loopback();
    server
}

/// A temporary tree holding one executable script at `relative`, served with `args`.
pub(crate) fn serve_script(
    relative: &str,
    source: &str,
    args: &[&str],
) -> (tempfile::TempDir, Serveur) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(dir.path(), relative, source);
    let server = Serveur::start(dir.path(), args);
    (dir, server)
}
