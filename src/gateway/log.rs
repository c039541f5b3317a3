//! What a request to a script says in the server's log, CGI and FastCGI alike: one line per
//! event, each naming the gateway and the script (`CGI script /cgi-bin/x.sh killed: …`,
//! `FastCGI unix:/run/php.sock /x.php: aborted: …`), and the script's stderr, a line of the log
//! per line it writes.

use std::sync::Arc;

use crate::access_log::{AccessLog, Client};

/// The longest stderr line logged whole; longer ones are logged in pieces.
pub(crate) const MAX_STDERR_LINE: usize = 8 * 1024;

/// Which gateway runs the script: the lines' first words.
#[derive(Clone)]
pub(crate) enum GatewayKind {
    /// `CGI script NAME what`.
    Cgi,
    /// `FastCGI ADDRESS NAME: what`, the application named by its address.
    FastCgi(Arc<str>),
}

/// Log lines about one script's run for one request.
#[derive(Clone)]
pub(crate) struct ScriptLog {
    /// The server's log (off in handlers run outside a server).
    log: AccessLog,
    /// The client the script runs for.
    client: Option<Client>,
    kind: GatewayKind,
    /// The script's `SCRIPT_NAME`. The line is made only when there is something to say (a
    /// `format!` per request was 2,000 instructions of a FastCGI request, callgrind).
    script: Vec<u8>,
}

impl ScriptLog {
    /// Lines to `log` about `script` (its `SCRIPT_NAME`), run by the gateway `kind` for
    /// `client`.
    pub(crate) fn new(
        log: AccessLog,
        client: Option<Client>,
        kind: GatewayKind,
        script: &[u8],
    ) -> Self {
        ScriptLog {
            log,
            client,
            kind,
            script: script.to_vec(),
        }
    }

    /// Logs one line about the script.
    pub(crate) fn say(&self, what: &str) {
        let name = String::from_utf8_lossy(&self.script);
        let line = match &self.kind {
            GatewayKind::Cgi => format!("CGI script {name} {what}"),
            GatewayKind::FastCgi(application) => format!("FastCGI {application} {name}: {what}"),
        };
        self.log.message_about(self.client, line);
    }

    /// Logs that the script was never run, and why: a CGI script is `not started`, a FastCGI
    /// request `not sent`.
    pub(crate) fn not_run(&self, why: &str) {
        let verb = match self.kind {
            GatewayKind::Cgi => "not started",
            GatewayKind::FastCgi(_) => "not sent",
        };
        self.say(&format!("{verb}: {why}"));
    }

    /// Logs why a local redirect (RFC 3875 §6.2.2) could not be followed.
    pub(crate) fn redirect_failed(&self, why: &str) {
        match self.kind {
            GatewayKind::Cgi => self.log.message_about(self.client, format!("CGI {why}")),
            GatewayKind::FastCgi(_) => self.say(why),
        }
    }

    /// Logs one line the script wrote on its stderr (its line end trimmed): `NAME: line` for
    /// a CGI script, the usual `FastCGI ADDRESS NAME: ` before it for a FastCGI application.
    pub(crate) fn stderr(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\n', '\r']);
        match self.kind {
            GatewayKind::Cgi => {
                let name = String::from_utf8_lossy(&self.script);
                self.log
                    .message_about(self.client, format!("{name}: {text}"));
            }
            GatewayKind::FastCgi(_) => self.say(text),
        }
    }
}
