//! One running script, from spawn to reaping: its stdout read (first the header block, then the
//! body as a stream), its stderr copied to the log line by line, its deadline, and its end. A
//! `Running` that is dropped before the script finished (the client went away, the deadline
//! passed, the output was unusable) kills the script's whole process group, except that under
//! `--ignore-client-abort` a script whose client left runs on to its end, its output read and
//! dropped; either way a task reaps the script, so no zombie is ever left, and logs how it
//! ended.

use std::net::IpAddr;
use std::process::ExitStatus;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};

use super::spawn::ProcessGroup;
use crate::access_log::AccessLog;

/// How much of the body is read at a time: a pipe holds 64 KiB on Linux.
const READ_CHUNK: usize = 64 * 1024;

/// How much is read at a time while looking for the header block: most scripts' whole output
/// fits, and a small buffer is what stays allocated while a small answer waits to be sent.
const HEAD_CHUNK: usize = 8 * 1024;

/// The longest stderr line logged whole; longer ones are logged in pieces.
const MAX_STDERR_LINE: u64 = 8 * 1024;

/// Log lines about one script, each naming it.
#[derive(Clone)]
pub struct ScriptLog {
    /// The server's log (off in handlers run outside a server).
    pub log: AccessLog,
    /// The client the script runs for.
    pub client: Option<IpAddr>,
    /// `SCRIPT_NAME`, as text.
    pub name: String,
}

impl ScriptLog {
    /// Logs `CGI script NAME WHAT`.
    pub fn say(&self, what: &str) {
        self.log
            .message(self.client, format!("CGI script {} {what}", self.name));
    }
}

/// How reading the header block failed.
pub enum HeadError {
    /// The deadline passed first.
    TimedOut,
    /// stdout ended first; the script's exit status, if it exited in time.
    Ended(Option<ExitStatus>),
    /// Reading the pipe failed.
    Read(std::io::Error),
}

/// What becomes of a script whose client leaves before it has finished.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Its process group is killed.
    Kill,
    /// It runs on to its end or its deadline (`--ignore-client-abort`).
    RunOn,
}

/// A script started by [`spawn`](super::spawn::spawn), until it is reaped.
pub struct Running {
    child: Option<Child>,
    group: ProcessGroup,
    stdout: Option<ChildStdout>,
    feeder: Option<JoinHandle<()>>,
    permit: Option<OwnedSemaphorePermit>,
    /// When the script is killed if it has not finished.
    pub deadline: Instant,
    /// Where to say what happens to it.
    pub log: ScriptLog,
    /// Body bytes read with the header block, not yet handed out.
    pending: Option<Bytes>,
    /// What is left of the body's `Content-Length`, when the script gave one.
    remaining: Option<u64>,
    /// Whether the script finished writing: stdout reached its end, or the whole
    /// `Content-Length` was read (the connection takes no more).
    ended: bool,
    /// Whether the reason it is being killed was already logged.
    explained: bool,
    /// What happens to it if its client leaves.
    ends: Ending,
}

impl Running {
    /// Takes charge of `child`: its stderr starts going to the log now.
    pub fn new(
        mut child: Child,
        feeder: Option<JoinHandle<()>>,
        permit: OwnedSemaphorePermit,
        deadline: Instant,
        log: ScriptLog,
        ends: Ending,
    ) -> Running {
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(copy_stderr(stderr, log.clone()));
        }
        Running {
            group: ProcessGroup::of(&child),
            stdout: child.stdout.take(),
            child: Some(child),
            feeder,
            permit: Some(permit),
            deadline,
            log,
            pending: None,
            remaining: None,
            ended: false,
            explained: false,
            ends,
        }
    }

    /// Reads stdout into `buf` until `parse` finds a complete header block in it, and returns
    /// what `parse` made of it.
    pub async fn read_head<T, E>(
        &mut self,
        buf: &mut BytesMut,
        parse: impl Fn(&[u8]) -> Result<Option<T>, E>,
    ) -> Result<Result<T, E>, HeadError> {
        loop {
            match parse(buf) {
                Ok(Some(head)) => return Ok(Ok(head)),
                Ok(None) => {}
                Err(e) => return Ok(Err(e)),
            }
            buf.reserve(HEAD_CHUNK);
            let Some(stdout) = self.stdout.as_mut() else {
                return Err(HeadError::Ended(None));
            };
            match timeout_at(self.deadline, stdout.read_buf(buf)).await {
                Err(_) => return Err(HeadError::TimedOut),
                Ok(Err(e)) => return Err(HeadError::Read(e)),
                Ok(Ok(0)) => {
                    self.ended = true;
                    return Err(HeadError::Ended(self.wait().await));
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Sets what follows the header block: `first`, the body bytes already read, and the
    /// body's length if the script said it.
    pub fn body_follows(&mut self, first: Bytes, length: Option<u64>) {
        self.remaining = length;
        self.count(first.len());
        self.pending = (!first.is_empty()).then_some(first);
    }

    fn count(&mut self, read: usize) {
        if let Some(remaining) = &mut self.remaining {
            *remaining = remaining.saturating_sub(read as u64);
            if *remaining == 0 {
                self.ended = true;
            }
        }
    }

    /// Reads the next piece of the body: `None` at its end, and after an error (a `TimedOut`
    /// one at the deadline).
    pub async fn read_more(&mut self) -> Option<std::io::Result<Bytes>> {
        if let Some(first) = self.pending.take() {
            return Some(Ok(first));
        }
        if self.remaining == Some(0) {
            return None;
        }
        let stdout = self.stdout.as_mut()?;
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let read = match timeout_at(self.deadline, stdout.read_buf(&mut buf)).await {
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
            Ok(read) => read,
        };
        match read {
            Ok(0) => {
                self.ended = true;
                self.stdout = None;
                None
            }
            Ok(read) => {
                self.count(read);
                Some(Ok(buf.freeze()))
            }
            Err(e) => {
                self.stdout = None;
                Some(Err(e))
            }
        }
    }

    /// Logs `CGI script NAME WHAT`, as the reason the script is about to be killed.
    pub fn kill_because(&mut self, what: &str) {
        self.log.say(what);
        self.explained = true;
    }

    /// Waits (until the deadline) for the script to exit.
    async fn wait(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let status = timeout_at(self.deadline, child.wait()).await.ok()?.ok()?;
        // The leader is reaped: its process group id may be reused, so never signal it again.
        self.group.disarm();
        self.child = None;
        Some(status)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Left to run on, a script whose client left still has its output read (to its end),
        // so that it never blocks on a full pipe; its stdin goes on being fed.
        let runs_on = !self.ended && !self.explained && self.ends == Ending::RunOn;
        let mut output = None;
        if runs_on {
            self.log.say("goes on: the client went away");
            output = self.stdout.take();
        } else {
            if let Some(feeder) = self.feeder.take() {
                feeder.abort();
            }
            if !self.ended {
                if !self.explained {
                    self.log.say("killed: the client went away");
                }
                self.group.kill();
            }
        }
        let Some(mut child) = self.child.take() else {
            return;
        };
        let mut group = std::mem::replace(&mut self.group, ProcessGroup::none());
        let (deadline, log, permit) = (self.deadline, self.log.clone(), self.permit.take());
        let killed = !self.ended && !runs_on;
        // Outside a runtime, `kill_on_drop` and tokio's orphan reaping are the fallback.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let finished = timeout_at(deadline, async {
                    if let Some(mut output) = output {
                        let _ = tokio::io::copy(&mut output, &mut tokio::io::sink()).await;
                    }
                    child.wait().await
                });
                let status = match finished.await {
                    Ok(status) => status,
                    Err(_) => {
                        log.say("still running at its deadline; killed");
                        group.kill();
                        child.wait().await
                    }
                };
                group.disarm();
                if let Ok(status) = status {
                    if !killed && !status.success() {
                        log.say(&describe(status));
                    }
                }
                drop(permit);
            });
        }
    }
}

/// `exit code N` or `killed by signal N`, as the log says it.
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "ended".to_owned(),
    }
}

/// Copies the script's stderr to the log, one line per line written.
async fn copy_stderr(stderr: impl AsyncRead + Unpin, log: ScriptLog) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_STDERR_LINE)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                log.log.message(
                    log.client,
                    format!("{}: {}", log.name, text.trim_end_matches(['\n', '\r'])),
                );
            }
        }
    }
}
