//! What a FastCGI request says in the server's log: one line per event, each naming the
//! application and the script, and the application's `FCGI_STDERR` cut into lines (records need
//! not end at line ends).

use std::net::IpAddr;
use std::sync::Arc;

use super::pool::Pool;
use crate::server::AccessLog;

/// The longest stderr line logged whole; longer ones are logged in pieces.
const MAX_STDERR_LINE: usize = 8 * 1024;

/// Log lines about one request: `FastCGI ADDRESS SCRIPT_NAME: what`.
#[derive(Clone)]
pub struct RequestLog {
    /// The server's log.
    pub log: AccessLog,
    /// The client the request is for.
    pub client: Option<IpAddr>,
    /// The application (its address names it).
    pub application: Arc<Pool>,
    /// The script's `SCRIPT_NAME`. The line is made only when there is something to say (a
    /// `format!` per request was 2,000 instructions of a FastCGI request, callgrind).
    pub script: Vec<u8>,
}

impl RequestLog {
    /// Logs one line about the request.
    pub fn say(&self, what: &str) {
        let line = format!(
            "FastCGI {} {}: {what}",
            self.application.address(),
            String::from_utf8_lossy(&self.script)
        );
        self.log.message(self.client, line);
    }
}

/// `FCGI_STDERR` cut into lines for the log; records need not end at line ends.
#[derive(Default)]
pub(super) struct StderrLines {
    partial: Vec<u8>,
}

impl StderrLines {
    pub(super) fn push(&mut self, mut bytes: &[u8], log: &RequestLog) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&bytes[..end]);
            self.flush(log);
            bytes = &bytes[end + 1..];
        }
        self.partial.extend_from_slice(bytes);
        while self.partial.len() > MAX_STDERR_LINE {
            let rest = self.partial.split_off(MAX_STDERR_LINE);
            self.flush(log);
            self.partial = rest;
        }
    }

    pub(super) fn flush(&mut self, log: &RequestLog) {
        if !self.partial.is_empty() {
            let line = String::from_utf8_lossy(&self.partial);
            log.say(line.trim_end_matches('\r'));
            self.partial.clear();
        }
    }
}
