//! `--metrics-path`: the Prometheus page, answered at exactly one path, to GET and HEAD, in
//! front of every handler but access control (so `--auth` rules judge its path as any other);
//! any other request goes on untouched. Composed only under `--metrics-path`, as are the
//! [`Labelled`](serveur::metrics::Labelled) layers that tell which handler answered.

use std::ffi::OsStr;
use std::future::Future;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use futures_util::future::Either;
use http::Method;
use serveur::metrics::Metrics;
use serveur::{response, Handler, Request, Response};

/// Answers GET and HEAD of `path` with the metrics; hands every other request to `next`.
pub(crate) struct MetricsPage<H> {
    pub path: String,
    pub metrics: Arc<Metrics>,
    pub next: H,
}

impl<H: Handler> Handler for MetricsPage<H> {
    // Not an `async fn`: a request that is not for the page goes on without being moved into
    // a future of this handler's own.
    fn handle(&self, req: Request) -> impl Future<Output = Response> + Send {
        let asked = req.uri().path() == self.path
            && (req.method() == Method::GET || req.method() == Method::HEAD);
        if !asked {
            return Either::Left(self.next.handle(req));
        }
        // hyper sends no body to HEAD, keeping the length of the one it would have sent.
        let page = response::bytes(Metrics::CONTENT_TYPE, self.metrics.render());
        Either::Right(std::future::ready(page))
    }
}

/// `--metrics-path`'s value, checked: an absolute path as a request line spells it, matched
/// exactly (no query), that names nothing in the served `directory` — the page must not hide a
/// file, nor a file the page.
pub(crate) fn checked_path(path: &str, directory: &Path) -> Result<String, String> {
    let spelled = path.starts_with('/')
        && !path.contains(['?', '#'])
        && path.parse::<http::uri::PathAndQuery>().is_ok();
    if !spelled {
        return Err(format!(
            "argument --metrics-path: '{path}' is not an absolute URL path such as /metrics"
        ));
    }
    // As the static files would find it: decoded, `..` resolved, below the directory.
    let url = serveur::safe_path::UrlPath::parse(path);
    let mut on_disk = directory.to_path_buf();
    for segment in url.segments() {
        on_disk.push(OsStr::from_bytes(segment));
    }
    if on_disk.symlink_metadata().is_ok() {
        return Err(format!(
            "argument --metrics-path: {path} exists in the served directory ({}); choose a \
             path no file takes",
            on_disk.display()
        ));
    }
    Ok(path.to_owned())
}
