//! [`Upload`]: writes into a served tree, off unless asked for. `PUT` stores a body under a
//! name, `POST` of `multipart/form-data` to a directory stores every file of a form
//! ([`multipart`]), `DELETE` removes and `MKCOL` makes a directory when allowed; every other
//! request goes to a fallback handler (the static files). Names are read strictly
//! ([`names`]), directories opened without following links out of the tree and files
//! written atomically ([`store`]). Everything is decided (limits, names, conflicts,
//! preconditions) before the body is read, so that a refused `Expect: 100-continue` request
//! gets its answer without the client sending the body: hyper sends the `100` only when the
//! body is first polled.

mod multipart;
pub(crate) mod names;
mod reply;
mod store;

use std::fs::Metadata;
use std::io;
use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt;
use headers::{ETag, Header, IfMatch, IfNoneMatch};
use http::header::{IF_MATCH, IF_NONE_MATCH};
use http::{HeaderMap, Method, StatusCode};
use http_body::Body as _;
use http_body_util::BodyExt;

use crate::access_log::Client;
use crate::body::Body;
use crate::handler::{Handler, Request, Response, SharedHandler};
use crate::request::RequestExt;
use crate::response::{error_with, redirect};
use crate::safe_path::{collapse_leading_slashes, Root, UrlPath};
use crate::static_files::etag;
use crate::status_text::python_status_text;
use names::Target;
use store::{Commit, CommitError, Dir, TempFile};

/// A rule saying that a path would be run as code rather than served (a CGI directory, a
/// FastCGI extension): writing there is refused.
type CodeRule = Arc<dyn Fn(&UrlPath) -> bool + Send + Sync>;

/// Accepts uploads into a directory tree, atomically and within a size limit, and hands every
/// other request to a fallback handler.
///
/// - `PUT /dir/name` stores the body: `201 Created` with `Location`, or `204` when it replaced
///   a file. `If-None-Match: *` never replaces (`412`), `If-Match: ETAG` replaces only that
///   version of the file (the `ETag` downloads carry).
/// - `POST /dir/` with a `multipart/form-data` body stores each file of the form; a taken
///   name becomes `name (1).ext`. The answer lists what was stored, as JSON for
///   `Accept: application/json`, text otherwise; a browser's plain form gets `303` back to
///   the listing.
/// - `DELETE` (a file or an empty directory) and `MKCOL` (a directory) when allowed.
///
/// A body is written to a temporary file in the target's directory, synced, then renamed: no
/// partial file is ever visible, and without [`overwrite`](Upload::overwrite) a file is never
/// replaced, even by a concurrent upload (`409`). Names with `/`, `\`, control characters,
/// `.` or `..`, or over 255 bytes get `400`; a directory reached through a symlink out of the
/// tree gets `403`. Files are created with mode `0644` (less the umask), never executable.
///
/// The static files behind should be told with [`StaticFiles::uploads`](crate::StaticFiles::uploads),
/// so that they never serve or list an upload in progress and their listings offer a form:
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use serveur::{by_method, response, Mount, Request, Response, StaticFiles, Upload};
///
/// async fn status(_req: Request) -> Response {
///     response::text("up\n")
/// }
///
/// // Uploads below /incoming, up to 100 MiB each; the rest of the tree is read-only.
/// let files = Upload::new("site")?
///     .directories(["/incoming"])
///     .max_body(100 << 20)
///     .fallback(StaticFiles::new("site")?.uploads(true));
/// let app = Mount::new(files).at("/status", by_method().get(status));
/// serveur::Server::bind("127.0.0.1:8000".parse().unwrap())?.serve(app).await
/// # }
/// ```
#[derive(Clone)]
pub struct Upload {
    root: Root,
    dirs: Vec<UrlPath>,
    overwrite: bool,
    max_body: u64,
    delete: bool,
    mkdir: bool,
    runs_code: Option<CodeRule>,
    fallback: SharedHandler,
}

impl Upload {
    /// Accepts `PUT` and form uploads anywhere below `dir`, up to 1 GiB each, never replacing
    /// a file; `DELETE` and `MKCOL` are off, other requests get `404` until a
    /// [`fallback`](Upload::fallback) is set. Temporary files a stopped server left in `dir`
    /// are removed now.
    pub fn new(dir: impl AsRef<Path>) -> io::Result<Upload> {
        let root = Root::new(dir, false)?;
        store::remove_stale(root.dir());
        Ok(Upload {
            root,
            dirs: vec![UrlPath::parse("/")],
            overwrite: false,
            max_body: 1 << 30,
            delete: false,
            mkdir: false,
            runs_code: None,
            fallback: SharedHandler::new(crate::gateway::NotFound),
        })
    }

    /// Accepts writes only in these directories (URL paths, `/incoming`) and below them.
    pub fn directories<S: AsRef<str>>(self, dirs: impl IntoIterator<Item = S>) -> Self {
        let dirs = dirs
            .into_iter()
            .map(|d| UrlPath::parse(d.as_ref()))
            .collect();
        Upload { dirs, ..self }
    }

    /// Whether an upload may replace an existing file (atomically); otherwise `PUT` gets `409`
    /// and a form upload takes the name `name (1).ext`.
    pub fn overwrite(self, overwrite: bool) -> Self {
        Upload { overwrite, ..self }
    }

    /// The largest body accepted, in bytes: `413` before anything is written when the
    /// `Content-Length` says more, and the upload stopped and removed when a body without one
    /// goes past it.
    pub fn max_body(self, bytes: u64) -> Self {
        Upload {
            max_body: bytes,
            ..self
        }
    }

    /// Whether `DELETE` removes files and empty directories.
    pub fn allow_delete(self, delete: bool) -> Self {
        Upload { delete, ..self }
    }

    /// Whether `MKCOL` (or a form's `mkdir` field) makes directories.
    pub fn allow_mkdir(self, mkdir: bool) -> Self {
        Upload { mkdir, ..self }
    }

    /// Refuses (`403`) every write to a path for which `rule` is true: what a CGI or FastCGI
    /// gateway would run, since an upload there is code execution in one request. The rule
    /// sees both the path as requested and the real path (through symlinks), so no alias of a
    /// script directory slips past it.
    pub fn refuse_code(self, rule: impl Fn(&UrlPath) -> bool + Send + Sync + 'static) -> Self {
        Upload {
            runs_code: Some(Arc::new(rule)),
            ..self
        }
    }

    /// The handler for every request this one does not take.
    pub fn fallback(self, handler: impl Handler) -> Self {
        Upload {
            fallback: SharedHandler::new(handler),
            ..self
        }
    }

    /// Whether `url` is an upload directory or below one.
    fn covers(&self, url: &UrlPath) -> bool {
        self.dirs.iter().any(|dir| url.is_within(dir))
    }

    /// Refuses a write to `url` that a gateway would run.
    fn check_code(&self, url: &UrlPath) -> Result<(), Refusal> {
        match &self.runs_code {
            Some(rule) if rule(url) => Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "Upload refused: the path runs as code",
            )),
            _ => Ok(()),
        }
    }

    /// The directory `parent` opened for a write of `name`, with both the requested and the
    /// real path checked against the code rule.
    fn open_for(&self, parent: &UrlPath, name: &[u8]) -> Result<Dir, Refusal> {
        self.check_code(&child(parent, name))?;
        let dir = Dir::open(&self.root, parent)?;
        self.check_code(&child(&dir.real, name))?;
        Ok(dir)
    }

    async fn serve(&self, req: Request) -> Response {
        let method = req.method();
        let takes = match *method {
            Method::PUT | Method::POST => true,
            Method::DELETE => self.delete,
            _ => self.mkdir && method.as_str() == "MKCOL",
        };
        let path = collapse_leading_slashes(req.uri().path());
        if !takes || !self.covers(&UrlPath::parse(path)) {
            return self.fallback.handle(req).await;
        }
        let target = match Target::parse(path) {
            Ok(target) => target,
            Err(why) => {
                return Refusal::new(StatusCode::BAD_REQUEST, &format!("Invalid name: {why}"))
                    .response()
            }
        };
        if method == Method::POST {
            return match multipart::boundary(req.headers()) {
                Some(boundary) if self.check_code(&target.url()).is_ok() => {
                    multipart::post(self, req, &target, boundary).await
                }
                // Not a form upload (or into a script directory): the fallback's to answer,
                // as a POST to a CGI script is.
                _ => self.fallback.handle(req).await,
            };
        }
        let Some((parent, name)) = target.split_last().filter(|(p, _)| self.covers(p)) else {
            return Refusal::new(
                StatusCode::FORBIDDEN,
                "Upload refused: not below an upload directory",
            )
            .response();
        };
        let result = match method.as_str() {
            "PUT" => self.put(req, &target, &parent, name).await,
            "DELETE" => self.delete(&parent, name),
            _ => self.make_dir(req.body().size_hint().lower(), &parent, name),
        };
        result.unwrap_or_else(|refusal| refusal.response())
    }

    /// `PUT`: everything decided first, then the body read into a temporary file and renamed.
    async fn put(
        &self,
        req: Request,
        target: &Target,
        parent: &UrlPath,
        name: &[u8],
    ) -> Result<Response, Refusal> {
        if target.trailing_slash {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "Invalid name: no file name",
            ));
        }
        let length = req.body().size_hint().lower();
        if length > self.max_body {
            return Err(too_large());
        }
        let dir = self.open_for(parent, name)?;
        let existing = dir.entry(name);
        if existing.as_ref().is_some_and(Metadata::is_dir) {
            return Err(Refusal::new(
                StatusCode::CONFLICT,
                "A directory has that name",
            ));
        }
        preconditions(req.headers(), existing.as_ref())?;
        // `If-None-Match: *` asks never to replace, whatever the server allows.
        let keep = !self.overwrite || req.headers().get(IF_NONE_MATCH).is_some_and(|v| v == "*");
        if existing.is_some() && !self.overwrite {
            return Err(Refusal::new(StatusCode::CONFLICT, "File exists"));
        }
        let log = Logger::of(&req);
        let mut temp = TempFile::create(&dir).map_err(Refusal::io)?;
        let body = req.into_body().into_data_stream().map(|chunk| {
            chunk.map_err(|e| {
                Refusal::new(StatusCode::BAD_REQUEST, &format!("Upload cut short: {e}"))
            })
        });
        let size = temp.receive(body, self.max_body).await?;
        let how = if keep {
            Commit::NoReplace
        } else {
            Commit::Replace
        };
        match temp.commit([name.to_vec()], how).await {
            Ok(_) => {}
            Err(CommitError::Exists) if self.overwrite => {
                return Err(Refusal::new(StatusCode::PRECONDITION_FAILED, "File exists"))
            }
            Err(CommitError::Exists) => {
                return Err(Refusal::new(StatusCode::CONFLICT, "File exists"))
            }
            Err(CommitError::Io(e)) => return Err(Refusal::io(e)),
        }
        log.stored(target.segments.iter(), size);
        if existing.is_some() {
            let mut response = http::Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            return Ok(response);
        }
        // `redirect` builds exactly what a 201 needs: the status and a `Location` kept on the
        // site (RFC 9110 §15.3.2), with no body.
        Ok(redirect(StatusCode::CREATED, &path_of(target)))
    }

    /// `DELETE` of a file or an empty directory: `204`.
    fn delete(&self, parent: &UrlPath, name: &[u8]) -> Result<Response, Refusal> {
        let dir = self.open_for(parent, name)?;
        dir.remove(name).map_err(|e| match e.raw_os_error() {
            Some(code) if code == rustix::io::Errno::NOTEMPTY.raw_os_error() => {
                Refusal::new(StatusCode::CONFLICT, "Directory not empty")
            }
            _ => Refusal::io(e),
        })?;
        let mut response = http::Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        Ok(response)
    }

    /// `MKCOL`: `201`; `405` when the name exists (RFC 4918 §9.3.1), `415` with a body.
    fn make_dir(&self, body: u64, parent: &UrlPath, name: &[u8]) -> Result<Response, Refusal> {
        if body > 0 {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "MKCOL takes no body",
            ));
        }
        let dir = self.open_for(parent, name)?;
        dir.make_dir(name).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => {
                Refusal::new(StatusCode::METHOD_NOT_ALLOWED, "The name exists")
            }
            _ => Refusal::io(e),
        })?;
        let mut response = http::Response::new(Body::empty());
        *response.status_mut() = StatusCode::CREATED;
        Ok(response)
    }
}

impl Handler for Upload {
    async fn handle(&self, req: Request) -> Response {
        self.serve(req).await
    }
}

/// `parent/name` as a path.
fn child(parent: &UrlPath, name: &[u8]) -> UrlPath {
    let mut segments = parent.segments().to_vec();
    segments.push(name.to_vec());
    UrlPath::from_segments(segments)
}

/// The URL path of `target`, percent-encoded as the listing links it.
fn path_of(target: &Target) -> String {
    let mut path = String::new();
    for segment in &target.segments {
        path.push('/');
        path.extend(percent_encoding::percent_encode(
            segment,
            crate::static_files::PYTHON_QUOTE,
        ));
    }
    path
}

/// RFC 9110 §13.1.1 and §13.1.2 for a `PUT`: `If-Match` passes only when the file exists with
/// a matching tag (a header that cannot be parsed matches nothing), `If-None-Match` only when
/// it does not match (so `*` only when there is no file).
fn preconditions(headers: &HeaderMap, existing: Option<&Metadata>) -> Result<(), Refusal> {
    let current = existing
        .filter(|meta| meta.is_file())
        .and_then(|meta| ETag::decode(&mut std::iter::once(&etag::of_file(meta))).ok());
    let failed = || Refusal::new(StatusCode::PRECONDITION_FAILED, "Precondition failed");
    if let Some(value) = headers.get(IF_MATCH) {
        let passes = IfMatch::decode(&mut std::iter::once(value))
            .ok()
            .zip(current.as_ref())
            .is_some_and(|(condition, tag)| condition.precondition_passes(tag));
        if !passes {
            return Err(failed());
        }
    }
    if let Some(value) = headers.get(IF_NONE_MATCH) {
        let condition = IfNoneMatch::decode(&mut std::iter::once(value)).map_err(|_| failed())?;
        let passes = match (&current, existing) {
            (Some(tag), _) => condition.precondition_passes(tag),
            // Something that is not a plain file still counts as "a current representation".
            (None, Some(_)) => condition != IfNoneMatch::any(),
            (None, None) => true,
        };
        if !passes {
            return Err(failed());
        }
    }
    Ok(())
}

fn too_large() -> Refusal {
    Refusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Upload larger than the limit",
    )
}

/// Why a write was refused: its status and the message of CPython's error page, which the
/// access log also writes (`code 403, message Upload refused: ...`).
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: &str) -> Refusal {
        Refusal {
            status,
            message: message.to_owned(),
        }
    }

    /// A failed file-system call: a full disk or quota is `507 Insufficient Storage` (RFC 4918
    /// §11.5), a file too large for the file system `413`, a refusal of the file system `403`.
    fn io(e: io::Error) -> Refusal {
        use rustix::io::Errno;
        if e.kind() == io::ErrorKind::NotFound {
            return Refusal::new(StatusCode::NOT_FOUND, "File not found");
        }
        let code = e.raw_os_error().map(Errno::from_raw_os_error);
        let (status, what) = match code {
            Some(Errno::NOSPC | Errno::DQUOT) => {
                (StatusCode::INSUFFICIENT_STORAGE, "No space left")
            }
            Some(Errno::FBIG) => (StatusCode::PAYLOAD_TOO_LARGE, "File too large"),
            Some(Errno::ACCESS | Errno::PERM | Errno::ROFS) => {
                (StatusCode::FORBIDDEN, "Upload refused by the file system")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "Upload failed"),
        };
        Refusal::new(status, &format!("{what}: {e}"))
    }

    fn response(&self) -> Response {
        error_with(
            self.status,
            &self.message,
            python_status_text(self.status.as_u16()).1,
        )
    }
}

/// Writes the access log's line for each stored file (its path and size).
struct Logger(Option<(crate::AccessLog, Client)>);

impl Logger {
    fn of(req: &Request) -> Logger {
        Logger(req.connection().map(|c| (c.log.clone(), c.client())))
    }

    fn stored<'a>(&self, segments: impl Iterator<Item = &'a Vec<u8>>, size: u64) {
        if let Some((log, client)) = &self.0 {
            let mut path = String::new();
            for segment in segments {
                path.push('/');
                path.push_str(&String::from_utf8_lossy(segment));
            }
            log.message_about(
                Some(*client),
                format!("upload stored {path} ({size} bytes)"),
            );
        }
    }
}
