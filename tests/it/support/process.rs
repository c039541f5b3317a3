//! Processes a test starts or watches: running a command to its end, and following the
//! server's children (CGI scripts) through `/proc` until they are gone.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::WAIT;

/// Starts `command` with stdin closed and stdout and stderr piped to the test.
pub(crate) fn spawn_piped(command: &mut Command) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {command:?}: {e}"))
}

/// How a process that was expected to stop on its own ended.
#[derive(Debug)]
pub(crate) struct Exit {
    /// The exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

/// Runs `command` to its end; fails the test if it is still running after [`WAIT`] (a server
/// that started serving when it should have refused its arguments).
pub(crate) fn run_to_exit(command: Command) -> Exit {
    run_to_exit_within(command, WAIT)
}

/// [`run_to_exit`] for a command allowed `limit` (a browser scenario: its own waits are each
/// bounded, and a start on a loaded machine may take longer than one [`WAIT`]).
pub(crate) fn run_to_exit_within(mut command: Command, limit: Duration) -> Exit {
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
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process still running after {limit:?}: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Exit {
        code: status.code().unwrap_or(-1),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Whether the tests run as root, for whom file permissions do not stop reading.
pub(crate) fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = tempfile::tempfile().expect("temp file");
    probe.metadata().expect("metadata").uid() == 0
}

/// Whether process `pid` still exists (a zombie counts as existing: it was never reaped).
pub(crate) fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits until process `pid` is gone (killed and reaped), failing the test after [`WAIT`].
pub(crate) fn wait_process_gone(pid: u32) {
    let deadline = Instant::now() + WAIT;
    while process_exists(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still there");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `path` exists and holds a line, and returns its trimmed text.
pub(crate) fn wait_for_file(path: &Path) -> String {
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
pub(crate) fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: `1234 (sleep) S ...`.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits until process `pid` is no longer running, failing the test after [`WAIT`].
pub(crate) fn wait_process_dead(pid: u32) {
    let deadline = Instant::now() + WAIT;
    while process_alive(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The child processes of `pid` (zombies included), from `/proc/PID/task/*/children`.
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
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

/// A process's resident memory, in KiB (`VmRSS` in `/proc/PID/status`).
pub(crate) fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// The bytes a process has read so far through `read` and its kin (`rchar` in
/// `/proc/PID/io`): files and sockets alike, page cache or not.
pub(crate) fn read_bytes(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("/proc/PID/io");
    io.lines()
        .find_map(|line| line.strip_prefix("rchar: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("rchar in /proc/PID/io")
}

/// Runs the Python script at `script` (relative to the crate's root) with `input` on its
/// stdin, to its end; fails the test when python3 is missing or the script does not succeed
/// (`needs` says what it imports, for the failure's message).
pub(crate) fn python_with_input(script: &str, input: &[u8], needs: &str) -> Vec<u8> {
    use std::io::Write;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let mut child = Command::new("python3")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 must be installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write to the script");
    let output = child.wait_with_output().expect("the script's output");
    assert!(
        output.status.success(),
        "{script} (needs {needs}): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
