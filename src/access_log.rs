//! The access log, in CPython's shape: `127.0.0.1 - - [21/Nov/2026 11:54:02] "GET / HTTP/1.1"
//! 200 1234`, preceded by `code 404, message File not found` for errors. Lines are sent over a
//! channel to one writer thread that buffers them and flushes when it runs out of work, so a
//! request never waits on the terminal and lines never interleave. Woken by a line, the writer
//! waits [`BATCH_WINDOW`] before writing, so that a busy server wakes it a few hundred times a
//! second rather than once per request.

use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::sync::{mpsc, Arc};
use std::time::SystemTime;

use chrono::{DateTime, Local};

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
}

enum Record {
    Line {
        time: SystemTime,
        client: Option<IpAddr>,
        /// The authenticated user, for the identity field (`-` when none).
        user: Option<Arc<str>>,
        message: String,
    },
    Flush(mpsc::Sender<()>),
}

impl AccessLog {
    /// Log to standard error, as CPython does.
    pub fn stderr() -> Self {
        Self::to_writer(io::stderr())
    }

    /// No access log (`-q`).
    pub fn off() -> Self {
        AccessLog { tx: None }
    }

    /// Log to any writer (a file, a buffer in a test); it is written from a thread of its own.
    pub fn to_writer(writer: impl Write + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("serveur-log".into())
            .spawn(move || write_lines(rx, writer));
        match spawned {
            Ok(_) => AccessLog { tx: Some(tx) },
            // Without a thread there is nowhere to write from: logging is off, serving is not.
            Err(_) => AccessLog { tx: None },
        }
    }

    /// Whether lines are written anywhere.
    pub fn is_on(&self) -> bool {
        self.tx.is_some()
    }

    /// Writes `message` as one log line, `client - - [date] message`, with control characters
    /// escaped as `\xNN` (CPython's fix for log injection). `None` for the client writes `-`.
    pub fn message(&self, client: Option<IpAddr>, message: impl Into<String>) {
        self.message_by(client, None, message.into());
    }

    /// [`message`](Self::message) for a request of an authenticated `user`, written in the
    /// Common Log Format's identity field: `client - user [date] message`.
    pub(crate) fn message_by(
        &self,
        client: Option<IpAddr>,
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

fn write_lines(rx: mpsc::Receiver<Record>, writer: impl Write) {
    let mut out = BufWriter::with_capacity(64 * 1024, writer);
    let mut clock = DateCache::default();
    let mut clients = ClientCache::default();
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
                } => {
                    let user = user.as_deref().map_or("-".into(), escape_control);
                    // Piece by piece rather than `writeln!`: core::fmt was most of the line's cost.
                    for part in [
                        clients.format(client).as_bytes(),
                        b" - ",
                        user.as_bytes(),
                        b" [",
                        clock.format(time).as_bytes(),
                        b"] ",
                        escape_control(&message).as_bytes(),
                        b"\n",
                    ] {
                        let _ = out.write_all(part);
                    }
                }
                Record::Flush(done) => {
                    let _ = out.flush();
                    let _ = done.send(());
                }
            }
            match rx.try_recv() {
                Ok(next) => record = next,
                Err(_) => break,
            }
        }
        let _ = out.flush();
    }
}

/// `DD/Mon/YYYY HH:MM:SS` in local time, as CPython's `log_date_time_string`; formatted once a
/// second.
#[derive(Default)]
struct DateCache {
    second: i64,
    text: String,
}

impl DateCache {
    fn format(&mut self, time: SystemTime) -> &str {
        // The second is found without the time-zone conversion, which cost ~350 instructions
        // a line; a time before 1970 is converted every time.
        let second = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(i64::MIN, |d| d.as_secs() as i64);
        if second != self.second || self.text.is_empty() || second == i64::MIN {
            let local: DateTime<Local> = time.into();
            self.second = second;
            self.text = local.format("%d/%b/%Y %H:%M:%S").to_string();
        }
        &self.text
    }
}

/// `n` in decimal, as `{}` writes it.
pub(crate) fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits, always UTF-8; pushed as one str rather than char by char.
    if let Ok(text) = std::str::from_utf8(&digits[at..]) {
        out.push_str(text);
    }
}

/// The client address as text (`-` for none), formatted again only when it changes: a client
/// mostly sends its requests in a row.
#[derive(Default)]
struct ClientCache {
    client: Option<IpAddr>,
    text: String,
}

impl ClientCache {
    fn format(&mut self, client: Option<IpAddr>) -> &str {
        if client != self.client || self.text.is_empty() {
            self.client = client;
            self.text = client.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
        }
        &self.text
    }
}

/// CPython's `_control_char_table`: C0 and C1 controls and DEL as `\xNN`, backslash doubled.
fn escape_control(message: &str) -> std::borrow::Cow<'_, str> {
    let needs = |c: char| c == '\\' || c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c);
    // Looked for byte by byte first: a C1 control is 0xC2 0x80..=0x9F in UTF-8, so a line
    // without any of these bytes needs nothing (decoding chars was 430 instructions a line).
    // A fold without an early exit, which the compiler vectorizes: `any` went byte by byte,
    // ~400 instructions a line (callgrind).
    let suspect = message.as_bytes().iter().fold(false, |found, &b| {
        found | (b < b' ') | (b == 0x7f) | (b == b'\\') | (b == 0xc2)
    });
    if !suspect || !message.chars().any(needs) {
        return message.into();
    }
    let mut out = String::with_capacity(message.len() + 8);
    for c in message.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if needs(c) {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// A log that unit tests can read.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
impl Lines {
    /// Everything `log` (writing to these lines) has logged so far.
    pub(crate) fn logged_by(&self, log: &AccessLog) -> String {
        log.flush();
        String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
    }
}

#[cfg(test)]
impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::escape_control;

    #[test]
    fn decimals_are_written_as_display_writes_them() {
        for n in [0, 7, 10, 404, 1024, u64::MAX] {
            let mut out = String::new();
            super::push_decimal(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn control_characters_and_backslash_are_escaped() {
        assert_eq!(escape_control("a\nb\x1b[31m\\"), "a\\x0ab\\x1b[31m\\\\");
        assert_eq!(escape_control("plain"), "plain");
        assert_eq!(escape_control("\u{85}"), "\\x85");
    }
}
