//! [`StaticFiles`]: GET and HEAD on a directory tree, as CPython's `SimpleHTTPRequestHandler`
//! answers them. The pipeline is decide ([`lookup`], all the I/O) then render (one function per
//! outcome, below), so every answer is made in one place.

mod conditional;
mod listing;
pub mod lookup;
mod mime;

use std::io;
use std::path::Path;

use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LAST_MODIFIED};
use http::{Method, StatusCode};

use crate::body::Body;
use crate::handler::{Handler, Request, Response};
use crate::response::{error_with, redirect};
use crate::safe_path::Root;
use lookup::Outcome;

/// Serves the files below a directory, with Python's index files, listings, redirects and
/// error pages.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let files = serveur::StaticFiles::new("public")?.follow_symlinks(false);
/// serveur::Server::bind("127.0.0.1:8000".parse().unwrap())?.serve(files).await
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct StaticFiles {
    root: Root,
    default_content_type: HeaderValue,
    extra_headers: Vec<(HeaderName, HeaderValue)>,
    index_files: Vec<String>,
}

impl StaticFiles {
    /// Serves `dir`, which must be an existing directory.
    pub fn new(dir: impl AsRef<Path>) -> io::Result<Self> {
        Ok(StaticFiles {
            root: Root::new(dir, false)?,
            default_content_type: HeaderValue::from_static("application/octet-stream"),
            extra_headers: Vec::new(),
            index_files: vec!["index.html".into(), "index.htm".into()],
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
            ..self
        }
    }

    /// A header added to every `200` response (`-H`), unless the response already has one of
    /// that name: the server's own headers are never overridden.
    pub fn extra_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.extra_headers.push((name, value));
        self
    }

    /// The directory served.
    pub fn root(&self) -> &Root {
        &self.root
    }

    fn render(&self, outcome: Outcome, req: &Request, path: &str) -> Response {
        let head = req.method() == Method::HEAD;
        match outcome {
            Outcome::File {
                file,
                path,
                len,
                modified,
            } => {
                let content_type = mime::guess(&path)
                    .map(HeaderValue::from_static)
                    .unwrap_or_else(|| self.default_content_type.clone());
                let body = if head {
                    Body::empty()
                } else {
                    Body::file(file, len)
                };
                let mut response = http::Response::new(body);
                let headers = response.headers_mut();
                headers.insert(CONTENT_TYPE, content_type);
                headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
                headers.insert(LAST_MODIFIED, http_date(modified));
                self.add_extra_headers(response)
            }
            Outcome::NotModified => {
                let mut response = http::Response::new(Body::empty());
                *response.status_mut() = StatusCode::NOT_MODIFIED;
                response
            }
            Outcome::Listing { dir } => {
                let display = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
                match listing::render(&dir, &display) {
                    Ok(page) => {
                        let len = page.len();
                        let body = if head {
                            Body::empty()
                        } else {
                            Body::full(page)
                        };
                        let mut response = http::Response::new(body);
                        let headers = response.headers_mut();
                        headers.insert(
                            CONTENT_TYPE,
                            HeaderValue::from_static("text/html; charset=utf-8"),
                        );
                        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
                        self.add_extra_headers(response)
                    }
                    Err(_) => not_found("No permission to list directory"),
                }
            }
            Outcome::AddSlash(location) => redirect(StatusCode::MOVED_PERMANENTLY, &location),
            Outcome::NotFound => not_found("File not found"),
        }
    }

    fn add_extra_headers(&self, mut response: Response) -> Response {
        if self.extra_headers.is_empty() {
            return response;
        }
        let headers = response.headers_mut();
        let server_set: Vec<HeaderName> = headers.keys().cloned().collect();
        for (name, value) in &self.extra_headers {
            if !server_set.contains(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        response
    }
}

fn not_found(message: &str) -> Response {
    error_with(
        StatusCode::NOT_FOUND,
        message,
        "Nothing matches the given URI",
    )
}

fn http_date(time: std::time::SystemTime) -> HeaderValue {
    HeaderValue::from_str(&httpdate::fmt_http_date(time))
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}

impl Handler for StaticFiles {
    async fn handle(&self, req: Request) -> Response {
        let method = req.method();
        if method != Method::GET && method != Method::HEAD {
            return unsupported_method(method);
        }
        let path = lookup::collapse_leading_slashes(req.uri().path());
        let outcome = lookup::decide(
            &self.root,
            &self.index_files,
            path,
            req.uri().query(),
            req.headers(),
        );
        self.render(outcome, &req, path)
    }
}

/// CPython's `501 Unsupported method ('X')`.
pub fn unsupported_method(method: &Method) -> Response {
    let (_, explain) = crate::status_text::python_status_text(501);
    let message = format!("Unsupported method ('{}')", method.as_str());
    error_with(StatusCode::NOT_IMPLEMENTED, &message, explain)
}
