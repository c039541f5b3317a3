//! [`FastCgi`]: serveur as the web-server side of a long-running FastCGI application (php-fpm,
//! a flup program, …), as nginx's `fastcgi_pass` or Caddy's `php_fastcgi` are. Requests that
//! name a script of the application go to it, everything else to a fallback handler (usually
//! [`StaticFiles`](crate::StaticFiles)). The pipeline: route ([`Pattern`]) and split the path
//! into `SCRIPT_NAME` and `PATH_INFO` (`gateway::locate`) → meta-variables as `FCGI_PARAMS`
//! and the body as `FCGI_STDIN` over a pooled connection (`client`, `pool`, `record`) → the
//! header block read with the CGI rules and the rest streamed, by the gateway's driver
//! (`gateway::respond`), which reads `FCGI_STDOUT` as `client`'s `Output`.

mod capacity;
mod client;
mod pool;
// The wire format is internal, but the cargo-fuzz target in fuzz/ (a crate of its own) drives
// its decoders directly. The `fuzzing` feature, which only fuzz/Cargo.toml turns on, makes it
// public for that crate, so that the library's documented API never includes it.
#[cfg(feature = "fuzzing")]
pub mod record;
// Its items are `pub` for that build; in every other build they are crate-private in effect.
#[cfg(not(feature = "fuzzing"))]
#[allow(unreachable_pub)]
mod record;
mod stderr;

use std::fs::Metadata;
use std::io;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::gateway::log::GatewayKind;
use crate::gateway::script_path::url_name;
use crate::gateway::{locate, respond, Gateway, Located, NotFound, Run, ScriptPath, Settings};
use crate::handler::{Handler, Request, Response, SharedHandler};
use crate::metrics::{self, Metrics};
use crate::request::departure::Departure;
use crate::safe_path::UrlPath;
use client::{OnLeaving, Output, Stdin};

pub use pool::Address;
use pool::Pool;

/// The static index files, which win over the application's when a directory has both, as
/// CPython's directory listing rules would serve them.
const STATIC_INDEX: &[&str] = &["index.html", "index.htm"];

/// The most connections to an application when none is given: an upper bound on what is
/// learned of its capacity.
const DEFAULT_CONNECTIONS: usize = 32;

/// Which requests go to the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// `*.php`: files of the tree with this extension (with its dot) are the application's
    /// scripts, and `index.php` is a directory index.
    Extension(String),
    /// `/app`: every path below this prefix belongs to the application, which has no files in
    /// the tree; `SCRIPT_NAME` is the prefix and `PATH_INFO` the rest.
    Prefix(String),
}

impl FromStr for Pattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Pattern, String> {
        if let Some(ext) = text.strip_prefix("*.") {
            if !ext.is_empty() && !ext.contains(['/', '*']) {
                return Ok(Pattern::Extension(format!(".{ext}")));
            }
        } else if text.starts_with('/') {
            return Ok(Pattern::Prefix(text.to_owned()));
        }
        Err(format!("'{text}' is neither *.EXT nor /PREFIX"))
    }
}

/// Sends the requests that match a [`Pattern`] to a FastCGI application, and every other
/// request to a fallback handler.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use serveur::{FastCgi, StaticFiles};
/// let php = FastCgi::new(
///     "site",
///     "*.php".parse().unwrap(),
///     "unix:/run/php/php-fpm.sock".parse().unwrap(),
/// )?
/// .fallback(StaticFiles::new("site")?);
/// serveur::Server::bind("127.0.0.1:8000".parse().unwrap())?.serve(php).await
/// # }
/// ```
#[derive(Clone)]
pub struct FastCgi {
    settings: Settings,
    /// The root's metadata: what a prefix application's `ScriptPath` carries, having no file.
    root_metadata: Metadata,
    pattern: Pattern,
    index: Vec<String>,
    prefix: UrlPath,
    pool: Arc<Pool>,
    /// The application's address, as the log names it.
    application: Arc<str>,
    fallback: SharedHandler,
}

impl FastCgi {
    /// Sends the requests for `pattern` below `dir` to the application at `address`, through a
    /// pool of up to 32 connections, fewer if the application serves fewer at once (it says so
    /// in `FCGI_GET_VALUES`, or its accept queue shows it: see README, FastCGI), each read or
    /// write waiting 60 seconds at most, with request bodies up to 1 GiB; other requests get
    /// `404` until a [`fallback`](FastCgi::fallback) is set.
    pub fn new(dir: impl AsRef<Path>, pattern: Pattern, address: Address) -> io::Result<FastCgi> {
        let settings = Settings::new(dir)?;
        let root_metadata = std::fs::metadata(settings.root.dir())?;
        let (index, prefix) = match &pattern {
            Pattern::Extension(ext) => {
                let mut index: Vec<String> = STATIC_INDEX.iter().map(|s| s.to_string()).collect();
                index.push(format!("index{ext}"));
                (index, UrlPath::parse("/"))
            }
            Pattern::Prefix(prefix) => (Vec::new(), UrlPath::parse(prefix)),
        };
        Ok(FastCgi {
            settings,
            root_metadata,
            pattern,
            index,
            prefix,
            application: address.to_string().into(),
            pool: Pool::new(address, DEFAULT_CONNECTIONS, true),
            fallback: SharedHandler::new(NotFound),
        })
    }

    /// Counts its scripts in flight and its failures (a `502` or `504` of its own) in
    /// `metrics`.
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.settings.metrics = Some(metrics);
        self
    }

    /// At most `max` connections to the application at once (at least one), as many as that
    /// whatever the application says or shows of its capacity; more requests wait for one to be
    /// free.
    pub fn max_connections(self, max: usize) -> Self {
        let pool = Pool::new(self.pool.address().clone(), max, false);
        FastCgi { pool, ..self }
    }

    /// How long each step may wait on the application (a connection, a write, a read) before
    /// the request fails with `504`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// The longest request body passed on; longer ones get `413`.
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.settings.max_body = bytes;
        self
    }

    /// Whether a request whose client leaves runs on to its end at the application, its output
    /// read and dropped, rather than being aborted (`FCGI_ABORT_REQUEST`, the default; a client
    /// gone is one whose HTTP/1 connection's end is closed, half-closed included, or whose
    /// HTTP/2 stream is reset; see README, CGI). As nginx's `fastcgi_ignore_client_abort`.
    pub fn ignore_client_abort(mut self, ignore: bool) -> Self {
        self.settings.ignore_client_abort = ignore;
        self
    }

    /// Also runs scripts reached through symlinks whose target is outside the tree.
    pub fn follow_symlinks(mut self, follow: bool) -> Self {
        self.settings.root = self.settings.root.with_follow_symlinks(follow);
        self
    }

    /// The handler for the requests the application does not take.
    pub fn fallback(self, handler: impl Handler) -> Self {
        FastCgi {
            fallback: SharedHandler::new(handler),
            ..self
        }
    }

    /// The script `url` names, if it is the application's.
    fn script(&self, url: &UrlPath) -> Option<ScriptPath> {
        match &self.pattern {
            Pattern::Extension(ext) => {
                let ext = ext.as_bytes();
                // Most requests name no script and no directory: no file-system walk for them.
                if !url.has_trailing_slash() && !url.segments().iter().any(|s| s.ends_with(ext)) {
                    return None;
                }
                let index: Vec<&str> = self.index.iter().map(String::as_str).collect();
                match locate(&self.settings.root, &self.prefix, url, &index) {
                    Located::Script(script)
                        if script.script_name.ends_with(ext) && script.metadata.is_file() =>
                    {
                        Some(*script)
                    }
                    _ => None,
                }
            }
            Pattern::Prefix(_) => {
                let depth = self.prefix.segments().len();
                if !url.segments().starts_with(self.prefix.segments()) {
                    return None;
                }
                let path_info = url_name(&url.segments()[depth..], url.has_trailing_slash());
                let mut file = self.settings.root.dir().to_path_buf();
                for segment in self.prefix.segments() {
                    file.push(
                        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(segment),
                    );
                }
                Some(ScriptPath {
                    script_name: url_name(self.prefix.segments(), false),
                    path_info,
                    file,
                    metadata: self.root_metadata.clone(),
                    is_index: false,
                })
            }
        }
    }

    /// Answers `req`.
    async fn serve(&self, req: Request) -> Response {
        let url = UrlPath::of_request(req.uri().path());
        match self.script(&url) {
            Some(script) => respond(self, req, script).await,
            None => self.fallback.handle(req).await,
        }
    }
}

impl Handler for FastCgi {
    async fn handle(&self, req: Request) -> Response {
        self.serve(req).await
    }
}

impl Gateway for FastCgi {
    type Script = Output;
    const METERED: metrics::Gateway = metrics::Gateway::FastCgi;

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn log_kind(&self) -> GatewayKind {
        GatewayKind::FastCgi(Arc::clone(&self.application))
    }

    /// Sends the request on a connection of the pool, in a task of its own. A client that
    /// leaves while it waits for a connection drops its output, which the task sees.
    async fn start(
        &self,
        run: Run<'_>,
        _departure: &mut Departure<'_>,
    ) -> Result<Output, Response> {
        let on_leaving = if self.settings.ignore_client_abort {
            OnLeaving::Finish
        } else {
            OnLeaving::Abort
        };
        Ok(client::start(
            Arc::clone(&self.pool),
            run.vars.iter(),
            Stdin::from(run.input),
            self.settings.timeout,
            on_leaving,
            run.log,
        ))
    }
}

#[cfg(test)]
mod tests;
