//! The application's `FCGI_STDERR` cut into lines for the log: records need not end at line
//! ends, and a line may span several.

use crate::gateway::log::{ScriptLog, MAX_STDERR_LINE};

/// `FCGI_STDERR` content not yet logged: the start of a line.
#[derive(Default)]
pub(super) struct StderrLines {
    partial: Vec<u8>,
}

impl StderrLines {
    pub(super) fn push(&mut self, mut bytes: &[u8], log: &ScriptLog) {
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

    pub(super) fn flush(&mut self, log: &ScriptLog) {
        if !self.partial.is_empty() {
            log.stderr(&self.partial);
            self.partial.clear();
        }
    }
}
