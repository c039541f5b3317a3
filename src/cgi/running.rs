//! One running script, from spawn to reaping: its stdout read for the driver (first the header
//! block, then the body; [`Script`]), its stderr copied to the log line by line, its deadline,
//! and its end. A
//! `Running` that is dropped before the script finished (the client went away, the deadline
//! passed, the output was unusable) kills the script's whole process group, except that under
//! `--ignore-client-abort` a script whose client left runs on to its end, its output read and
//! dropped; either way a task reaps the script, so no zombie is ever left, and logs how it
//! ended.

use std::process::ExitStatus;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};

use super::spawn::ProcessGroup;
use crate::gateway::log::{ScriptLog, MAX_STDERR_LINE};
use crate::gateway::{Failed, Script, Stop};

/// How much of the body is read at a time: a pipe holds 64 KiB on Linux.
const READ_CHUNK: usize = 64 * 1024;

/// How much is read at a time while looking for the header block: most scripts' whole output
/// fits, and a small buffer is what stays allocated while a small answer waits to be sent.
const HEAD_CHUNK: usize = 8 * 1024;

/// What becomes of a script whose client leaves before it has finished.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Its process group is killed.
    Kill,
    /// It runs on to its end or its deadline (`--ignore-client-abort`).
    RunOn,
}

/// A script started by [`spawn`](super::spawn::spawn), until it is reaped.
pub(crate) struct Running {
    child: Option<Child>,
    group: ProcessGroup,
    stdout: Option<ChildStdout>,
    feeder: Option<JoinHandle<()>>,
    permit: Option<OwnedSemaphorePermit>,
    /// How long it may run.
    timeout: Duration,
    /// When it is killed if it has not finished.
    deadline: Instant,
    /// Where to say what happens to it.
    log: ScriptLog,
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
    /// Takes charge of `child`, which may run for `timeout`: its stderr starts going to the log
    /// now.
    pub(crate) fn new(
        mut child: Child,
        feeder: Option<JoinHandle<()>>,
        permit: OwnedSemaphorePermit,
        timeout: Duration,
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
            timeout,
            deadline: Instant::now() + timeout,
            log,
            remaining: None,
            ended: false,
            explained: false,
            ends,
        }
    }

    fn count(&mut self, read: usize) {
        if let Some(remaining) = &mut self.remaining {
            *remaining = remaining.saturating_sub(read as u64);
            if *remaining == 0 {
                self.ended = true;
            }
        }
    }

    /// Reads stdout into `buf`, until the deadline (then a `TimedOut` error); 0 at its end.
    async fn read(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        let Some(stdout) = self.stdout.as_mut() else {
            return Ok(0);
        };
        match timeout_at(self.deadline, stdout.read_buf(buf)).await {
            Ok(read) => read,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    /// Reading stdout failed with `e`: the script is killed, and the answer is `504` at the
    /// deadline (`late` says when that was), else `502`.
    fn failed(&mut self, e: &std::io::Error, late: &str) -> Failed {
        self.stdout = None;
        if e.kind() == std::io::ErrorKind::TimedOut {
            self.give_up(&format!("timed out {late}"));
            return Failed(StatusCode::GATEWAY_TIMEOUT);
        }
        self.give_up(&format!("output could not be read ({e})"));
        Failed(StatusCode::BAD_GATEWAY)
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

impl Script for Running {
    fn log(&self) -> &ScriptLog {
        &self.log
    }

    async fn read_head(&mut self, buf: &mut BytesMut) -> Result<(), Stop> {
        buf.reserve(HEAD_CHUNK);
        match self.read(buf).await {
            Ok(0) => {
                self.ended = true;
                self.stdout = None;
                let how = self.wait().await;
                Err(Stop::Ended(Some(
                    how.map_or_else(|| "did not exit".to_owned(), describe),
                )))
            }
            Ok(_) => Ok(()),
            Err(e) => {
                let late = format!("after {}s", self.timeout.as_secs_f64());
                Err(Stop::Failed(self.failed(&e, &late)))
            }
        }
    }

    fn body_follows(&mut self, read: usize, length: Option<u64>) {
        self.remaining = length;
        self.count(read);
    }

    async fn read_body(&mut self) -> Option<Result<Bytes, Failed>> {
        if self.remaining == Some(0) {
            return None;
        }
        self.stdout.as_ref()?;
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        match self.read(&mut buf).await {
            Ok(0) => {
                self.ended = true;
                self.stdout = None;
                None
            }
            Ok(read) => {
                self.count(read);
                Some(Ok(buf.freeze()))
            }
            Err(e) => Some(Err(self.failed(&e, "while writing its body"))),
        }
    }

    /// Logs `CGI script NAME WHY; killed`: the script is killed when dropped.
    fn give_up(&mut self, why: &str) {
        self.log.say(&format!("{why}; killed"));
        self.explained = true;
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
fn describe(status: ExitStatus) -> String {
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
            .take(MAX_STDERR_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => log.stderr(&line),
        }
    }
}
