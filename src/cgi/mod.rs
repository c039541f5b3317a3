//! [`Cgi`]: the CGI/1.1 gateway (RFC 3875). Requests below the CGI directories run a script,
//! everything else goes to a fallback handler (usually [`StaticFiles`](crate::StaticFiles)). The
//! pipeline: find the script ([`gateway::locate`](crate::gateway::locate)) and refuse what
//! CPython refuses, with its messages → the gateway's driver
//! ([`gateway::respond`](crate::gateway::respond)), to which CGI brings how a script starts (a
//! turn and a process: [`start`], [`spawn`]) and how its output is read ([`running`]).

mod running;
mod spawn;
mod start;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use tokio::sync::Semaphore;

use crate::gateway::{locate, matching_dir, respond, Located, NotFound, ScriptPath, Settings};
use crate::handler::{Handler, Request, Response, SharedHandler};
use crate::location::add_slash;
use crate::metrics::Metrics;
use crate::py_repr::py_repr;
use crate::response::{error_with, redirect};
use crate::safe_path::{collapse_leading_slashes, UrlPath};
use crate::status_text::python_status_text;

/// The index files a directory URL runs, in order, when the directory is below a CGI
/// directory. The static ones come first, as for CPython's static directories; with
/// `--cgi-dir /` a non-executable one is then served as a file.
const INDEX_NAMES: &[&str] = &[
    "index.html",
    "index.htm",
    "index.py",
    "index.cgi",
    "index.pl",
    "index.sh",
];

/// Runs CGI scripts (RFC 3875) below some directories of a tree, and hands every other request
/// to a fallback handler.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use serveur::{Cgi, StaticFiles};
/// let cgi = Cgi::new("site")?.fallback(StaticFiles::new("site")?);
/// serveur::Server::bind("127.0.0.1:8000".parse().unwrap())?.serve(cgi).await
/// # }
/// ```
#[derive(Clone)]
pub struct Cgi {
    settings: Settings,
    dirs: Vec<UrlPath>,
    fallback: SharedHandler,
    env: Arc<Vec<(OsString, OsString)>>,
    slots: Arc<Semaphore>,
}

impl Cgi {
    /// The server's variables every script gets, when the server has them: what a program
    /// needs to find programs and speak the user's language. Anything else (tokens, passwords
    /// in the server's environment) reaches scripts only through
    /// [`pass_env`](Cgi::pass_env) (`--cgi-pass-env`).
    ///
    /// ```
    /// assert!(serveur::Cgi::PASSED_ENV.contains(&"PATH"));
    /// ```
    pub const PASSED_ENV: &'static [&'static str] =
        &["PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"];

    /// Runs the scripts below `/cgi-bin` and `/htbin` of `dir` (CPython's defaults), 60
    /// seconds at most each, 32 at a time, with request bodies up to 1 GiB; other requests get
    /// `404` until a [`fallback`](Cgi::fallback) is set.
    pub fn new(dir: impl AsRef<Path>) -> io::Result<Cgi> {
        Ok(Cgi {
            settings: Settings::new(dir)?,
            dirs: vec![UrlPath::parse("/cgi-bin"), UrlPath::parse("/htbin")],
            fallback: SharedHandler::new(NotFound),
            env: Arc::new(spawn::server_env(&[])),
            slots: Arc::new(Semaphore::new(32)),
        })
    }

    /// The CGI directories, as URL paths (`/cgi-bin`), instead of the defaults. `/` makes any
    /// executable file of the tree a script; its other files go to the fallback.
    pub fn directories<S: AsRef<str>>(self, dirs: impl IntoIterator<Item = S>) -> Self {
        let dirs = dirs
            .into_iter()
            .map(|d| UrlPath::parse(d.as_ref()))
            .collect();
        Cgi { dirs, ..self }
    }

    /// Also runs scripts reached through symlinks whose target is outside the tree.
    pub fn follow_symlinks(mut self, follow: bool) -> Self {
        self.settings.root = self.settings.root.with_follow_symlinks(follow);
        self
    }

    /// The handler for requests outside the CGI directories.
    pub fn fallback(self, handler: impl Handler) -> Self {
        Cgi {
            fallback: SharedHandler::new(handler),
            ..self
        }
    }

    /// Also passes these variables of the server's environment to scripts, besides
    /// [`Cgi::PASSED_ENV`].
    pub fn pass_env(self, names: &[String]) -> Self {
        Cgi {
            env: Arc::new(spawn::server_env(names)),
            ..self
        }
    }

    /// How long a script may run before its process group is killed (`504` if it had not
    /// answered yet).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// Counts its scripts in flight and its failures (a `502` or `504` of its own) in
    /// `metrics`.
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.settings.metrics = Some(metrics);
        self
    }

    /// The longest request body given to a script; longer ones get `413`.
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.settings.max_body = bytes;
        self
    }

    /// How many scripts run at once; more requests wait for a turn.
    pub fn max_running(self, scripts: usize) -> Self {
        Cgi {
            slots: Arc::new(Semaphore::new(scripts.max(1))),
            ..self
        }
    }

    /// Whether a script runs on to its end (or its timeout) when its client leaves, its output
    /// read and dropped, rather than being killed with its process group (the default: a
    /// client gone is one whose HTTP/1 connection's end is closed, half-closed included, or
    /// whose HTTP/2 stream is reset; see README, CGI). As nginx's `proxy_ignore_client_abort`,
    /// for the rare script that must finish.
    pub fn ignore_client_abort(mut self, ignore: bool) -> Self {
        self.settings.ignore_client_abort = ignore;
        self
    }

    /// The CGI directories on disk, except the root itself: a fallback serving files should
    /// hide them (see [`StaticFiles::hide`](crate::StaticFiles::hide)), so that no spelling of
    /// a path, symlinks included, serves a script's source.
    pub fn script_dirs(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .filter(|dir| !dir.segments().is_empty())
            .map(|dir| {
                let mut path = self.settings.root.dir().to_path_buf();
                for segment in dir.segments() {
                    path.push(
                        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(segment),
                    );
                }
                path
            })
            .collect()
    }

    /// Answers `req`.
    async fn serve(&self, req: Request) -> Response {
        let path = collapse_leading_slashes(req.uri().path());
        let url = UrlPath::parse(path);
        let Some(dir) = matching_dir(&self.dirs, &url) else {
            return self.elsewhere(req).await;
        };
        let tree_wide = dir.segments().is_empty();
        match locate(&self.settings.root, dir, &url, INDEX_NAMES) {
            Located::Script(script) if runnable(&script) => respond(self, req, *script).await,
            _ if tree_wide => self.elsewhere(req).await,
            Located::Script(script) if script.is_index => {
                let name = &script.script_name;
                let dir_end = name.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
                refuse(
                    StatusCode::FORBIDDEN,
                    "CGI script is not a plain file",
                    &name[..dir_end],
                )
            }
            Located::Script(script) if !script.metadata.is_file() => refuse(
                StatusCode::FORBIDDEN,
                "CGI script is not a plain file",
                &script.script_name,
            ),
            Located::Script(script) => refuse(
                StatusCode::FORBIDDEN,
                "CGI script is not executable",
                &script.script_name,
            ),
            Located::Missing(name) => refuse(StatusCode::NOT_FOUND, "No such CGI script", &name),
            Located::Directory(name) => refuse(
                StatusCode::FORBIDDEN,
                "CGI script is not a plain file",
                &name,
            ),
            Located::AddSlash => redirect(
                StatusCode::MOVED_PERMANENTLY,
                &add_slash(path, req.uri().query()),
            ),
        }
    }

    /// A request that runs no script: CPython answers POST itself, the rest is the fallback's.
    async fn elsewhere(&self, req: Request) -> Response {
        if req.method() == Method::POST {
            let (_, explain) = python_status_text(501);
            return error_with(
                StatusCode::NOT_IMPLEMENTED,
                "Can only POST to CGI scripts",
                explain,
            );
        }
        self.fallback.handle(req).await
    }
}

impl Handler for Cgi {
    async fn handle(&self, req: Request) -> Response {
        self.serve(req).await
    }
}

/// A regular file with an execute bit: what `execve` will run. (CPython asks `access(X_OK)`,
/// which for root, as serveur often runs in containers, means the same.)
fn runnable(script: &ScriptPath) -> bool {
    use std::os::unix::fs::PermissionsExt;
    script.metadata.is_file() && script.metadata.permissions().mode() & 0o111 != 0
}

/// CPython's refusal: `MESSAGE ('/cgi-bin/x')`, the name quoted as Python's `%r` quotes it.
fn refuse(code: StatusCode, message: &str, name: &[u8]) -> Response {
    let message = format!("{message} ({})", py_repr(&String::from_utf8_lossy(name)));
    error_with(code, &message, python_status_text(code.as_u16()).1)
}
