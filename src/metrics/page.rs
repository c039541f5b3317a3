//! The metrics page as a handler: [`Page`] answers GET and HEAD of exactly one path with
//! [`Metrics::render`], labelled [`Handled::Metrics`], and hands every other request on.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::Either;
use http::Method;

use super::{note, Handled, Metrics};
use crate::handler::{Handler, Request, Response};
use crate::response;

/// Answers GET and HEAD of `path` (compared as the request spells it, the query aside) with
/// the metrics in Prometheus's text format; every other request goes to `next`.
///
/// ```
/// use std::sync::Arc;
/// use serveur::metrics::{Metrics, Page};
/// # fn f() -> std::io::Result<()> {
/// let metrics = Arc::new(Metrics::new());
/// let files = serveur::StaticFiles::new(".")?.metrics(Arc::clone(&metrics));
/// let site = Page::new("/metrics", Arc::clone(&metrics), files);
/// let server = serveur::Server::bind("127.0.0.1:0".parse().unwrap())?.metrics(metrics);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Page<H> {
    path: String,
    metrics: Arc<Metrics>,
    next: H,
}

impl<H: Handler> Page<H> {
    /// The page of `metrics` at `path`, in front of `next`.
    pub fn new(path: impl Into<String>, metrics: Arc<Metrics>, next: H) -> Self {
        Page {
            path: path.into(),
            metrics,
            next,
        }
    }
}

impl<H: Handler> Handler for Page<H> {
    // Not an `async fn`: a request that is not for the page goes on without being moved into
    // a future of this handler's own.
    fn handle(&self, req: Request) -> impl Future<Output = Response> + Send {
        let asked = req.uri().path() == self.path
            && (req.method() == Method::GET || req.method() == Method::HEAD);
        if !asked {
            return Either::Left(self.next.handle(req));
        }
        let metrics = Arc::clone(&self.metrics);
        Either::Right(async move {
            note(Handled::Metrics);
            // hyper sends no body to HEAD, keeping the length of the one it would have sent.
            response::bytes(Metrics::CONTENT_TYPE, metrics.render())
        })
    }
}
