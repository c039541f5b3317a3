//! The access log the command line asks for: off (`-q`), on stderr or in `--log-file`, in
//! `--log-format`'s shape; and SIGHUP, which opens the log file again so that logrotate can
//! move it away (`postrotate`). SIGHUP never stops the server, with or without a log file:
//! a service manager's reload (`systemctl reload`, `kill -HUP`) must not take the site down.

use serveur::AccessLog;
use tokio::signal::unix::{signal, SignalKind};

use super::cli::Config;

/// The log `config` describes, with SIGHUP handled; an error if the file cannot be opened.
/// Called inside the runtime, which SIGHUP's listener runs on.
pub(crate) fn access_log(config: &Config) -> Result<AccessLog, String> {
    let log = if config.quiet {
        AccessLog::off()
    } else if let Some(path) = &config.log_file {
        AccessLog::to_file(path, config.log_format)
            .map_err(|e| format!("cannot open the log file {}: {e}", path.display()))?
    } else {
        AccessLog::stderr_as(config.log_format)
    };
    let mut hangups =
        signal(SignalKind::hangup()).map_err(|e| format!("cannot handle SIGHUP: {e}"))?;
    let reopened = log.clone();
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            reopened.reopen();
        }
    });
    Ok(log)
}
