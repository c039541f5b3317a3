//! Starting a script (RFC 3875 §7.2 for Unix): executed directly, no shell in between (its
//! `#!` line picks the interpreter), in its own directory, with the meta-variables and a short
//! list of the server's own variables as its whole environment, in a process group of its own so
//! that everything it starts can be killed with it. std's `Command` takes the `posix_spawn` path
//! for exactly these settings, the cheapest way to start a process.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::process::Stdio;

use percent_encoding::percent_decode;
use rustix::process::{kill_process_group, Pid, Signal};
use tokio::process::{Child, Command};

use crate::gateway::{MetaVars, ScriptPath};

/// `PATH` for scripts when the server has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The server's own variables passed to scripts, read once at start-up.
pub(super) fn server_env(extra: &[String]) -> Vec<(OsString, OsString)> {
    let mut names: Vec<&str> = super::Cgi::PASSED_ENV.to_vec();
    names.extend(extra.iter().map(String::as_str));
    let mut env: Vec<(OsString, OsString)> = names
        .iter()
        .filter_map(|name| std::env::var_os(name).map(|value| ((*name).into(), value)))
        .collect();
    if !env.iter().any(|(name, _)| name == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    env
}

/// Starts `script` with `vars` (which win over `server_env`), the arguments of §4.4 drawn from
/// `query`, and `stdin`; stdout and stderr are pipes.
pub(super) fn spawn(
    script: &ScriptPath,
    vars: &MetaVars,
    server_env: &[(OsString, OsString)],
    query: &str,
    stdin: Stdio,
) -> std::io::Result<Child> {
    let mut command = Command::new(&script.file);
    command
        .args(search_words(query))
        .env_clear()
        .envs(server_env.iter().map(|(n, v)| (n, v)))
        .envs(
            vars.iter()
                .map(|(n, v)| (OsStr::from_bytes(n), OsStr::from_bytes(v))),
        )
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = script.file.parent() {
        command.current_dir(dir);
    }
    command.spawn()
}

/// §4.4: a query without an unencoded `=` is a list of `+`-separated search words, each passed
/// decoded as one argument (CPython passes them as one argument with spaces; the RFC, Apache and
/// lighttpd as several).
fn search_words(query: &str) -> Vec<OsString> {
    if query.is_empty() || query.contains('=') {
        return Vec::new();
    }
    query
        .split('+')
        .map(|word| OsStr::from_bytes(&percent_decode(word.as_bytes()).collect::<Vec<u8>>()).into())
        .collect()
}

/// Kills a script's whole process group (the script and everything it started) when dropped,
/// unless [`disarm`](ProcessGroup::disarm)ed because the script finished on its own.
pub(super) struct ProcessGroup {
    leader: Option<Pid>,
}

impl ProcessGroup {
    /// The group led by `child` (started with [`spawn`]).
    pub(super) fn of(child: &Child) -> ProcessGroup {
        ProcessGroup {
            leader: child.id().and_then(|id| Pid::from_raw(id as i32)),
        }
    }

    /// No group: for moving a group out of a struct that is being dropped.
    pub(super) fn none() -> ProcessGroup {
        ProcessGroup { leader: None }
    }

    /// Kills the group now.
    pub(super) fn kill(&mut self) {
        if let Some(leader) = self.leader.take() {
            // ESRCH (all gone already) is the only expected failure, and harmless.
            let _ = kill_process_group(leader, Signal::KILL);
        }
    }

    /// Leaves the group alone from now on.
    pub(super) fn disarm(&mut self) {
        self.leader = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::search_words;

    #[test]
    fn a_query_without_equals_becomes_decoded_arguments() {
        assert_eq!(search_words("a+b%20c"), ["a", "b c"]);
        assert!(search_words("a=1").is_empty());
        assert!(search_words("").is_empty());
    }
}
