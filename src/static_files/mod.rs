//! [`StaticFiles`]: GET and HEAD on a directory tree, as CPython's `SimpleHTTPRequestHandler`
//! answers them, plus what it never learned: validators, ranges, compression, caching and
//! CORS. The pipeline is decide ([`lookup`], all the I/O, ending in an [`Outcome`]) then render
//! (one function per outcome, below), so every answer is made in one place.

mod archive;
mod assets;
mod compress;
pub(crate) mod conditional;
pub(crate) mod encoding;
pub(crate) mod etag;
mod identity;
mod listing;
mod listing_cache;
mod listing_json;
pub(crate) mod lookup;
mod mime;
mod multipart;
pub(crate) mod negotiate;
mod policy;
mod precompressed;
pub(crate) mod range;
mod small_files;
mod ui;

use std::io;
use std::path::Path;
use std::sync::Arc;

use http::header::{
    self, HeaderName, HeaderValue, ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, LAST_MODIFIED, VARY,
};
use http::{HeaderMap, Method, StatusCode};

use crate::body::Body;
use crate::handler::{Handler, Request, Response};
use crate::metrics::{self, Handled, Metrics};
use crate::request::{Access, ConnectionInfo, RequestExt};
use crate::response::{error, error_with, redirect, unsupported_method, SERVER_NAME};
use crate::safe_path::{collapse_leading_slashes, Root, UrlPath};
use encoding::Coding;
use lookup::{ListingBody, Outcome, Representation, Validators};
use range::ByteRange;
use small_files::Content;

pub(crate) use listing::PYTHON_QUOTE;

/// Serves the files below a directory, with Python's index files, listings, redirects and
/// error pages.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let files = serveur::StaticFiles::new("public")?
///     .follow_symlinks(false)
///     .cache_control(serveur::http::HeaderValue::from_static("no-cache"))
///     .cors(true);
/// serveur::Server::bind("127.0.0.1:8000".parse().unwrap())?.serve(files).await
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct StaticFiles {
    root: Root,
    default_content_type: HeaderValue,
    extra_headers: Vec<(HeaderName, HeaderValue)>,
    index_files: Vec<String>,
    compress: bool,
    policy: policy::Policy,
    small_files: small_files::SmallFiles,
    listings: listing_cache::Listings,
    uploads: bool,
    /// Where the `Upload` handler in front accepts writes: listings there get its form.
    upload_dirs: Vec<UrlPath>,
    listing_json: bool,
    archive: bool,
    ui: bool,
    deletes: bool,
}

impl StaticFiles {
    /// Serves `dir`, which must be an existing directory.
    pub fn new(dir: impl AsRef<Path>) -> io::Result<Self> {
        Ok(StaticFiles {
            root: Root::new(dir, false)?,
            default_content_type: HeaderValue::from_static("application/octet-stream"),
            extra_headers: Vec::new(),
            index_files: vec!["index.html".into(), "index.htm".into()],
            compress: true,
            policy: policy::Policy::default(),
            small_files: small_files::SmallFiles::default(),
            listings: listing_cache::Listings::default(),
            uploads: false,
            upload_dirs: vec![UrlPath::parse("/")],
            listing_json: false,
            archive: false,
            ui: false,
            deletes: false,
        })
    }

    /// Also serve symlinks whose target is outside the directory (off by default).
    pub fn follow_symlinks(self, follow: bool) -> Self {
        StaticFiles {
            root: self.root.with_follow_symlinks(follow),
            ..self
        }
    }

    /// Never serves anything below `dir` (a directory on disk below the served one), by any
    /// path, symlinks included: the CGI directories, whose scripts' sources must stay private.
    pub fn hide(self, dir: impl AsRef<Path>) -> Self {
        StaticFiles {
            root: self.root.hide(dir),
            ..self
        }
    }

    /// The content type of files whose extension is unknown (`--content-type`).
    pub fn default_content_type(self, content_type: HeaderValue) -> Self {
        StaticFiles {
            default_content_type: content_type,
            // The heads the cache keeps hold the type: a clone given another default must
            // not share them.
            small_files: self.small_files.emptied(),
            ..self
        }
    }

    /// A header added to every `200` and `206` response (`-H`), unless the response already
    /// has one of that name or the connection layer owns it (`Server`, `Date`, `Connection`,
    /// `Transfer-Encoding`, ...): the server's own headers are never overridden.
    pub fn extra_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.extra_headers.push((name, value));
        self
    }

    /// Whether responses may be compressed (on by default; `--no-compress` turns it off):
    /// precompressed siblings and on-the-fly zstd, br or gzip for compressible types.
    pub fn compress(self, compress: bool) -> Self {
        StaticFiles { compress, ..self }
    }

    /// A `Cache-Control` value for every `200`, `206` and `304` answer (`--cache-control`).
    pub fn cache_control(mut self, value: HeaderValue) -> Self {
        self.policy.cache_control = Some(value);
        self
    }

    /// Allow cross-origin reads from any origin (`--cors`): `Access-Control-Allow-Origin: *`
    /// on every answer and CORS preflight `OPTIONS` requests granted.
    pub fn cors(mut self, cors: bool) -> Self {
        self.policy.cors = cors;
        self
    }

    /// Whether an [`Upload`](crate::Upload) handler in front writes into this tree: its
    /// temporary files (uploads in progress, named `.serveur-upload-…`)
    /// are then never served nor listed, and each listing ends with an upload form (plain
    /// HTML, plus a script at `/.serveur-upload-form.js` for drag and drop and progress
    /// bars). Off by default, so the listing stays CPython's byte for byte.
    pub fn uploads(self, uploads: bool) -> Self {
        StaticFiles {
            uploads,
            listings: self.listings.hiding_uploads(uploads),
            ..self
        }
    }

    /// Whether a directory's listing is also offered as JSON (`--listing-json`), to a request
    /// with `?format=json` or `Accept: application/json`: `[{"name", "type", "mtime", "size"}]`
    /// as nginx's `autoindex_format json`. Off by default: the query is then ignored, as
    /// CPython ignores it.
    pub fn listing_json(self, listing_json: bool) -> Self {
        StaticFiles {
            listing_json,
            ..self
        }
    }

    /// Whether a directory may be downloaded whole (`--archive`): `?download=zip` or
    /// `?download=tar.gz` streams its tree, made while it is sent, with only what the request
    /// may read. Off by default: the query is then ignored, as CPython ignores it.
    pub fn archive(self, archive: bool) -> Self {
        StaticFiles { archive, ..self }
    }

    /// Whether directory listings are the rich page (`--ui`) rather than CPython's: breadcrumbs,
    /// a table of names, sizes and times sortable by links (`?sort=name|size|time&order=asc|desc`),
    /// a filter box, the directory's `README.md` rendered below, and a
    /// `Content-Security-Policy` allowing only its own style sheet and script (served at
    /// `/.serveur-ui.css` and `/.serveur-ui.js`). Off by default: the listing stays CPython's.
    pub fn ui(self, ui: bool) -> Self {
        StaticFiles { ui, ..self }
    }

    /// Counts the small files, compressed outputs and listings it finds in memory, and those it
    /// reads or makes again, in `metrics`; labels its answers [`Handled::Static`] for the server's
    /// count of requests ([`Labelled`](crate::metrics::Labelled) needs no layer around it).
    pub fn metrics(self, metrics: Arc<Metrics>) -> Self {
        StaticFiles {
            small_files: self.small_files.counted_in(Arc::clone(&metrics)),
            listings: self.listings.counted_in(metrics),
            ..self
        }
    }

    /// Where the [`Upload`](crate::Upload) handler in front accepts writes
    /// ([`Upload::directories`](crate::Upload::directories); `/` by default): only the
    /// listings there and below have the upload form and the delete buttons, as writes
    /// elsewhere are refused.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let site = std::env::temp_dir();
    /// let files = serveur::StaticFiles::new(&site)?
    ///     .uploads(true)
    ///     .upload_directories(["/incoming"]);
    /// let upload = serveur::Upload::new(&site)?
    ///     .directories(["/incoming"])
    ///     .fallback(files);
    /// # let _ = upload;
    /// # Ok(())
    /// # }
    /// ```
    pub fn upload_directories<S: AsRef<str>>(self, dirs: impl IntoIterator<Item = S>) -> Self {
        let upload_dirs = dirs
            .into_iter()
            .map(|d| UrlPath::parse(d.as_ref()))
            .collect();
        StaticFiles {
            upload_dirs,
            ..self
        }
    }

    /// Whether the listing of `url` offers uploads: uploads are on and accepted there.
    pub(crate) fn takes_uploads_at(&self, url: &UrlPath) -> bool {
        self.uploads && self.upload_dirs.iter().any(|dir| url.is_within(dir))
    }

    /// Whether an [`Upload`](crate::Upload) handler in front accepts `DELETE`
    /// ([`Upload::allow_delete`](crate::Upload::allow_delete)): the rich page then has a
    /// delete button on each row (its script asks for confirmation, then sends `DELETE`).
    pub fn deletes(self, deletes: bool) -> Self {
        StaticFiles { deletes, ..self }
    }

    /// The directory served.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The response for `outcome`; `connection` is where a response streamed after this
    /// returns (an archive) writes its failures.
    fn render(
        &self,
        outcome: Outcome,
        head: bool,
        connection: Option<&ConnectionInfo>,
    ) -> Response {
        match outcome {
            Outcome::Full(rep) => {
                let length = match &rep.content {
                    // An earlier answer's kept output: its length is known, for HEAD too.
                    Content::Encoded(output) => Some(output.len() as u64),
                    _ => rep.coding.rangeable().then_some(rep.len),
                };
                let headers = match rep.head.as_deref() {
                    // A kept file's whole: its headers made once, copied. With the `Server`
                    // field the connection layer would add: a copied map has no room left,
                    // and growing it for that one field cost ~500 instructions (callgrind).
                    Some(kept) if vary(&rep.validators).is_none() => kept
                        .whole
                        .get_or_init(|| {
                            let mut headers = whole_headers(&rep, length);
                            headers.insert(header::SERVER, HeaderValue::from_static(SERVER_NAME));
                            headers
                        })
                        .clone(),
                    _ => whole_headers(&rep, length),
                };
                let mut response = http::Response::new(Body::empty());
                *response.headers_mut() = headers;
                if !head {
                    *response.body_mut() = match rep.coding {
                        Coding::OnTheFly(e) => compress::content(rep.content, e, rep.keeper),
                        _ => rep.content.body(0, rep.len),
                    };
                }
                self.add_extra_headers(response)
            }
            Outcome::Partial(rep, part) => self.partial(rep, part, head),
            Outcome::MultiPart(rep, parts) => self.multipart(rep, &parts, head),
            Outcome::NotModified(validators) => {
                let mut response = http::Response::new(Body::empty());
                *response.status_mut() = StatusCode::NOT_MODIFIED;
                // RFC 9110 §15.4.5: the ETag and Vary a 200 would have carried.
                let headers = response.headers_mut();
                if let Some(vary) = vary(&validators) {
                    headers.insert(VARY, vary);
                }
                headers.insert(ETAG, validators.etag);
                response
            }
            Outcome::PreconditionFailed => error(StatusCode::PRECONDITION_FAILED),
            Outcome::RangeNotSatisfiable(len) => {
                let mut response = error(StatusCode::RANGE_NOT_SATISFIABLE);
                if let Ok(value) = HeaderValue::try_from(format!("bytes */{len}")) {
                    response.headers_mut().insert(CONTENT_RANGE, value);
                }
                response
            }
            Outcome::NotAcceptable => error(StatusCode::NOT_ACCEPTABLE),
            Outcome::Listing {
                body,
                content_type,
                coding,
                validators,
                rich,
            } => {
                // A kept compressed output's length is known, for HEAD too.
                let len = match &body {
                    ListingBody::Page(bytes) | ListingBody::Encoded(bytes) => Some(bytes.len()),
                    ListingBody::Compress(..) => None,
                };
                let body = match (head, body) {
                    (true, _) => Body::empty(),
                    (false, ListingBody::Compress(page, e, slot)) => compress::bytes(page, e, slot),
                    (false, ListingBody::Page(bytes) | ListingBody::Encoded(bytes)) => {
                        Body::full(bytes)
                    }
                };
                let mut response = content_response(body);
                let headers = response.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                if let Some(len) = len {
                    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
                }
                let last_modified = http_date(validators.modified);
                validator_headers(headers, &validators, coding, last_modified);
                if rich {
                    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(ui::CSP));
                }
                self.add_extra_headers(response)
            }
            Outcome::Archive(folder) => {
                self.add_extra_headers(archive::respond(self, folder, head, connection))
            }
            Outcome::ListingDenied => not_found("No permission to list directory"),
            Outcome::AddSlash(location) => redirect(StatusCode::MOVED_PERMANENTLY, &location),
            Outcome::NotFound => not_found("File not found"),
        }
    }

    /// `206` with one range and its `Content-Range`.
    fn partial(&self, rep: Representation, part: ByteRange, head: bool) -> Response {
        let mut response = content_response(Body::empty());
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let headers = response.headers_mut();
        headers.insert(CONTENT_RANGE, part.content_range(rep.len));
        content_headers(headers, &rep, Some(part.len()));
        if !head {
            *response.body_mut() = rep.content.body(part.start, part.len());
        }
        self.add_extra_headers(response)
    }

    /// `206` with several ranges as `multipart/byteranges`, streamed from the file.
    fn multipart(&self, rep: Representation, parts: &[ByteRange], head: bool) -> Response {
        let (body, content_type, length) =
            multipart::body(rep.content, parts, rep.len, &rep.content_type);
        let mut response = content_response(if head { Body::empty() } else { body });
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, content_type);
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        let last_modified = http_date(rep.validators.modified);
        validator_headers(headers, &rep.validators, rep.coding, last_modified);
        headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        self.add_extra_headers(response)
    }

    fn add_extra_headers(&self, mut response: Response) -> Response {
        if self.extra_headers.is_empty() {
            return response;
        }
        let headers = response.headers_mut();
        let server_set: Vec<HeaderName> = headers.keys().cloned().collect();
        for (name, value) in &self.extra_headers {
            if !server_set.contains(name) && !CONNECTION_OWNED.contains(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        response
    }
}

/// Headers the connection layer writes after the handler has answered (`Server`, `Date`) or
/// that frame the message and the connection (RFC 9110 §7.6.1, RFC 9112 §6-§9): an extra header
/// of one of these names would override the server's own or corrupt the framing.
const CONNECTION_OWNED: [HeaderName; 9] = [
    header::SERVER,
    header::DATE,
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::CONTENT_LENGTH,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    HeaderName::from_static("keep-alive"),
];

/// Headers a content response may carry: type, length, range, last-modified, etag,
/// accept-ranges, encoding, vary, and the server's own.
const CONTENT_HEADERS: usize = 10;

/// An empty `200` with room for [`CONTENT_HEADERS`] headers, so that adding them never grows
/// the map (http's `HeaderMap` starts with room for 6 and rehashes past it).
fn content_response(body: Body) -> Response {
    let mut response = http::Response::new(body);
    *response.headers_mut() = HeaderMap::with_capacity(CONTENT_HEADERS);
    response
}

/// The headers of a `200` of `rep`, `length` bytes long if known.
fn whole_headers(rep: &Representation, length: Option<u64>) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(CONTENT_HEADERS);
    content_headers(&mut headers, rep, length);
    headers
}

/// The headers describing a file representation: type, length (unknown when compressed on
/// the fly), coding, validators, and `Accept-Ranges` when its bytes can be sliced. A kept
/// file's [`Head`](small_files::Head) gives the values it holds.
fn content_headers(headers: &mut HeaderMap, rep: &Representation, length: Option<u64>) {
    let head = rep.head.as_deref();
    headers.insert(CONTENT_TYPE, rep.content_type.clone());
    if let Some(length) = length {
        let value = match head {
            Some(head) if length == rep.len => head.content_length.clone(),
            _ => HeaderValue::from(length),
        };
        headers.insert(CONTENT_LENGTH, value);
    }
    let last_modified = match head {
        Some(head) => head.last_modified.clone(),
        None => http_date(rep.validators.modified),
    };
    validator_headers(headers, &rep.validators, rep.coding, last_modified);
    if rep.coding.rangeable() {
        headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
}

/// `Last-Modified` (`validators.modified` as `last_modified` says it), `ETag`,
/// `Content-Encoding` and `Vary`.
fn validator_headers(
    headers: &mut HeaderMap,
    validators: &Validators,
    coding: Coding,
    last_modified: HeaderValue,
) {
    headers.insert(LAST_MODIFIED, last_modified);
    headers.insert(ETAG, validators.etag.clone());
    if let Some(encoding) = coding.encoding() {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding.token()));
    }
    if let Some(vary) = vary(validators) {
        headers.insert(VARY, vary);
    }
}

/// The `Vary` a representation's answers carry, if any.
fn vary(validators: &Validators) -> Option<HeaderValue> {
    match (validators.vary, validators.vary_accept) {
        (false, false) => None,
        (true, false) => Some(HeaderValue::from_static("Accept-Encoding")),
        (false, true) => Some(HeaderValue::from_static("Accept")),
        (true, true) => Some(HeaderValue::from_static("Accept, Accept-Encoding")),
    }
}

fn not_found(message: &str) -> Response {
    error_with(
        StatusCode::NOT_FOUND,
        message,
        "Nothing matches the given URI",
    )
}

/// `Last-Modified` for `time`. The last value is kept per thread, keyed by its second, as hyper
/// keeps its `Date`: files served in a row mostly share an mtime second (a deployed tree, a
/// hot file), and `httpdate` formatting cost ~1,000 instructions of a small-file request.
fn http_date(time: std::time::SystemTime) -> HeaderValue {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(u64, HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    let Ok(second) = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
    else {
        return format_http_date(time);
    };
    LAST.with_borrow_mut(|last| match last {
        Some((cached, value)) if *cached == second => value.clone(),
        _ => {
            let value = format_http_date(time);
            *last = Some((second, value.clone()));
            value
        }
    })
}

fn format_http_date(time: std::time::SystemTime) -> HeaderValue {
    // From the String itself: one allocation, no copy.
    HeaderValue::try_from(httpdate::fmt_http_date(time))
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}

impl Handler for StaticFiles {
    async fn handle(&self, req: Request) -> Response {
        // Its own label, rather than a `Labelled` layer around a future this large (moving it
        // cost ~400 instructions a request, callgrind). Noted first: the answer is made in this
        // same poll, waiting on nothing.
        if self.small_files.metered() {
            metrics::note(Handled::Static);
        }
        let method = req.method();
        if method == Method::OPTIONS {
            return self.policy.options(&req);
        }
        if method != Method::GET && method != Method::HEAD {
            return self.policy.decorate(unsupported_method(method));
        }
        let path = collapse_leading_slashes(req.uri().path());
        // Behind access control, a listing shows only what the request may read.
        let access = req.extensions().get::<Access>();
        let head = method == Method::HEAD;
        if let Some(asset) = assets::respond(self, path, req.uri().query(), req.headers(), head) {
            return self.policy.decorate(asset);
        }
        let outcome = lookup::decide(self, path, req.uri().query(), req.headers(), access);
        let response = self.render(outcome, head, req.connection());
        self.policy.decorate(response)
    }
}
