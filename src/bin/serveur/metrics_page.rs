//! `--metrics-path`: the Prometheus page and the labels its request counts need. The page is
//! answered at exactly one path, to GET and HEAD, in front of every handler but access control
//! (so `--auth` rules judge its path as any other); any other request goes on untouched.
//!
//! Which handler answered a request is a [`Handled`] response extension that each layer of
//! the composition adds when the layers below it added none ([`Labelled`]). The wrappers are
//! composed only under `--metrics-path`: without it no request pays for the extension map.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use http::Method;
use serveur::metrics::{Handled, Metrics};
use serveur::{response, Handler, Request, Response};

/// Answers GET and HEAD of `path` with the metrics; hands every other request to `next`.
pub(crate) struct MetricsPage<H> {
    pub path: String,
    pub metrics: Arc<Metrics>,
    pub next: H,
}

impl<H: Handler> Handler for MetricsPage<H> {
    async fn handle(&self, req: Request) -> Response {
        let asked = req.uri().path() == self.path
            && (req.method() == Method::GET || req.method() == Method::HEAD);
        if !asked {
            return self.next.handle(req).await;
        }
        // hyper sends no body to HEAD, keeping the length of the one it would have sent.
        let mut page = response::bytes(Metrics::CONTENT_TYPE, self.metrics.render());
        page.extensions_mut().insert(Handled::Metrics);
        page
    }
}

/// `inner`, whose answers are labelled `handled` unless a handler it called labelled them:
/// a fallback's answers keep the fallback's label.
pub(crate) struct Labelled<H> {
    pub inner: H,
    pub handled: Handled,
}

impl<H: Handler> Handler for Labelled<H> {
    async fn handle(&self, req: Request) -> Response {
        let mut response = self.inner.handle(req).await;
        if response.extensions().get::<Handled>().is_none() {
            response.extensions_mut().insert(self.handled);
        }
        response
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
