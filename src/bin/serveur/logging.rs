//! The access log the command line asks for: off (`-q`), on stderr or in `--log-file`, in
//! `--log-format`'s shape; and SIGHUP, which opens the log file again so that logrotate can
//! move it away (`postrotate`). With a log file, SIGHUP never stops the server: a service
//! manager's reload (`systemctl reload`, `kill -HUP`) must not take the site down. Without one,
//! SIGHUP keeps its default action and stops it, as it stops Python's (a terminal closed under
//! `serveur` takes it along).

use serveur::AccessLog;
use tokio::signal::unix::{signal, SignalKind};

use super::cli::Config;

/// The log `config` describes, with SIGHUP reopening a log file; an error if the file cannot
/// be opened.
/// Called inside the runtime, which SIGHUP's listener runs on.
pub(crate) fn access_log(config: &Config) -> Result<AccessLog, String> {
    let (log, path) = match &config.log_file {
        _ if config.quiet => return Ok(AccessLog::off()),
        None => return Ok(AccessLog::stderr_as(config.log_format)),
        Some(path) => (AccessLog::to_file(path, config.log_format), path),
    };
    let log = log.map_err(|e| format!("cannot open the log file {}: {e}", path.display()))?;
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
