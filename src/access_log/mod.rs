//! The access log: one line per request, in CPython's shape by default (`127.0.0.1 - -
//! [21/Nov/2026 11:54:02] "GET / HTTP/1.1" 200 1234`, preceded by `code 404, message File not
//! found` for errors), or Apache/nginx's combined format, or JSON ([`LogFormat`], `format.rs`),
//! to stderr or a file that logrotate may move (`output.rs`). Lines are sent over a channel to
//! one writer thread that buffers them and flushes when it runs out of work, so a request never
//! waits on the terminal or the disk and lines never interleave. Woken by a line, the writer
//! waits [`BATCH_WINDOW`] before writing, so that a busy server wakes it a few hundred times a
//! second rather than once per request.

mod format;
mod output;

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime};

use http::HeaderValue;

pub(crate) use format::push_decimal;
use format::Lines;
pub use format::LogFormat;
use output::Output;

/// Where log lines go: a writer thread fed by a channel, or nowhere.
///
/// ```
/// let log = serveur::AccessLog::to_writer(std::io::sink());
/// assert!(log.is_on());
/// assert!(!serveur::AccessLog::off().is_on());
/// ```
#[derive(Clone, Debug, Default)]
pub struct AccessLog {
    tx: Option<mpsc::Sender<Record>>,
    format: LogFormat,
}

/// Who a log line is about: a client's IP address, or a client of a Unix-domain socket, which
/// has none (the proxy in front; `-b unix:PATH`), written `unix:` as nginx writes its
/// `$remote_addr` for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Client {
    Ip(IpAddr),
    Unix,
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Client::Ip(ip) => ip.fmt(f),
            Client::Unix => f.write_str("unix:"),
        }
    }
}

/// A request's access line in a [detailed](LogFormat::is_detailed) format: what CPython's
/// line says, and what log tools want besides.
pub(crate) struct Served {
    pub client: Client,
    /// The authenticated user, if any.
    pub user: Option<Arc<str>>,
    /// `"GET / HTTP/1.1`, as made for CPython's line (`server/connection.rs`); `"` alone when
    /// the request line was never kept (CPython's 414).
    pub request_line: String,
    pub status: u16,
    /// The body's bytes actually sent.
    pub bytes: u64,
    /// From the request's arrival to the body's end.
    pub duration: Duration,
    pub referer: Option<HeaderValue>,
    pub user_agent: Option<HeaderValue>,
    pub tls: bool,
}

enum Record {
    /// A line in CPython's shape, or a line that is not a request's access line.
    Line {
        time: SystemTime,
        client: Option<Client>,
        /// The authenticated user, for the identity field (`-` when none).
        user: Option<Arc<str>>,
        message: String,
    },
    /// A request's access line in a detailed format.
    Served {
        time: SystemTime,
        served: Box<Served>,
    },
    Flush(mpsc::Sender<()>),
    /// Open the log file again (SIGHUP, after logrotate moved it).
    Reopen,
}

impl AccessLog {
    /// Log to standard error, as CPython does.
    pub fn stderr() -> Self {
        Self::stderr_as(LogFormat::Python)
    }

    /// Log to standard error in `format`.
    pub fn stderr_as(format: LogFormat) -> Self {
        Self::start(Output::writer(io::stderr()), format)
    }

    /// Log to the file at `path` in `format`, appending (a new file is made `0640`), and open
    /// it again at each [`reopen`](Self::reopen). In the combined format only access lines go
    /// there; the others (errors, a script's stderr) go to stderr, as nginx's error log.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let log = serveur::AccessLog::to_file(&dir.path().join("access.log"),
    ///     serveur::LogFormat::Combined).unwrap();
    /// log.message(None, "hello");
    /// log.flush();
    /// ```
    pub fn to_file(path: &Path, format: LogFormat) -> io::Result<Self> {
        let output = Output::file(path, format == LogFormat::Combined)?;
        Ok(Self::start(output, format))
    }

    /// No access log (`-q`).
    pub fn off() -> Self {
        AccessLog::default()
    }

    /// Log to any writer (a file, a buffer in a test), in CPython's shape; it is written from a
    /// thread of its own.
    pub fn to_writer(writer: impl Write + Send + 'static) -> Self {
        Self::start(Output::writer(writer), LogFormat::Python)
    }

    fn start(output: Output, format: LogFormat) -> Self {
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("serveur-log".into())
            .spawn(move || write_lines(rx, output, format));
        match spawned {
            Ok(_) => AccessLog {
                tx: Some(tx),
                format,
            },
            // Without a thread there is nowhere to write from: logging is off, serving is not.
            Err(_) => AccessLog::off(),
        }
    }

    /// Whether lines are written anywhere.
    pub fn is_on(&self) -> bool {
        self.tx.is_some()
    }

    /// The shape of its lines.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// Writes `message` as one log line, `client - - [date] message`, with control characters
    /// escaped as `\xNN` (CPython's fix for log injection); a JSON object in the JSON format.
    /// `None` for the client writes `-`.
    pub fn message(&self, client: Option<IpAddr>, message: impl Into<String>) {
        self.message_by(client.map(Client::Ip), None, message.into());
    }

    /// [`message`](Self::message) about a client that may be a Unix-domain socket's.
    pub(crate) fn message_about(&self, client: Option<Client>, message: impl Into<String>) {
        self.message_by(client, None, message.into());
    }

    /// [`message`](Self::message) for a request of an authenticated `user`, written in the
    /// Common Log Format's identity field: `client - user [date] message`.
    pub(crate) fn message_by(
        &self,
        client: Option<Client>,
        user: Option<Arc<str>>,
        message: String,
    ) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Record::Line {
                time: SystemTime::now(),
                client,
                user,
                message,
            });
        }
    }

    /// Writes a request's access line in a detailed format.
    pub(crate) fn served(&self, served: Served) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Record::Served {
                time: SystemTime::now(),
                served: Box::new(served),
            });
        }
    }

    /// Opens the log file again, for logrotate (`postrotate`: SIGHUP): lines sent before go to
    /// the file that was at the path, lines sent after to the file there now. Nothing for a log
    /// that is not written to a file.
    pub fn reopen(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Record::Reopen);
        }
    }

    /// Waits until every line sent so far is written and flushed.
    pub fn flush(&self) {
        if let Some(tx) = &self.tx {
            let (done_tx, done_rx) = mpsc::channel();
            if tx.send(Record::Flush(done_tx)).is_ok() {
                let _ = done_rx.recv();
            }
        }
    }
}

/// How long the writer lets lines gather once woken: a line is written at most this late.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(5);

fn write_lines(rx: mpsc::Receiver<Record>, mut output: Output, format: LogFormat) {
    let mut lines = Lines::new(format);
    while let Ok(mut record) = rx.recv() {
        // Waking this thread per line (a futex wake, two context switches and a write(2) per
        // request) nearly doubled the server's CPU per request on one core (1 KiB keep-alive:
        // 14-16 us -> 26-29 us, user + sys). A line sent while this thread sleeps wakes nobody.
        std::thread::sleep(BATCH_WINDOW);
        loop {
            match record {
                Record::Line {
                    time,
                    client,
                    user,
                    message,
                } => lines.message(
                    &mut output.others(),
                    time,
                    client,
                    user.as_deref(),
                    &message,
                ),
                Record::Served { time, served } => lines.served(output.access(), time, &served),
                Record::Flush(done) => {
                    output.flush();
                    let _ = done.send(());
                }
                Record::Reopen => output.reopen(),
            }
            match rx.try_recv() {
                Ok(next) => record = next,
                Err(_) => break,
            }
        }
        output.flush();
    }
}

/// A log that unit tests can read.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct ReadableLog(Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
impl ReadableLog {
    /// Everything `log` (writing to this) has logged so far.
    pub(crate) fn logged_by(&self, log: &AccessLog) -> String {
        log.flush();
        String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
    }
}

#[cfg(test)]
impl Write for ReadableLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
