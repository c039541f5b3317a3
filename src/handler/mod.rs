//! The one abstraction the server knows: a [`Handler`] takes a [`Request`] and always returns a
//! [`Response`]. Failures are responses too (a Python-style error page), so the connection layer
//! never has to decide what a reply looks like.

use std::future::Future;
use std::sync::Arc;

mod by_method;
mod mount;

pub use by_method::{by_method, ByMethod, Hook, Hooked, Hooks, NoHooks};
pub use mount::Mount;

pub use crate::request::Request;
pub use crate::response::{BoxResponseFuture, Response};

/// Something that answers requests.
///
/// Implementations are shared between connections (`&self`, `Send + Sync`) and never fail:
/// an error is a [`Response`], usually one made by [`error`](crate::response::error).
///
/// ```
/// use serveur::{Handler, Request, Response, response};
///
/// struct Hello;
///
/// impl Handler for Hello {
///     async fn handle(&self, _req: Request) -> Response {
///         response::html("<h1>Bonjour</h1>")
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, req: Request) -> impl Future<Output = Response> + Send;
}

/// The object-safe form of [`Handler`], implemented for every handler, so that handlers of
/// different types can be composed (see [`SharedHandler`]).
pub trait DynHandler: Send + Sync + 'static {
    /// Answers one request through a boxed future.
    fn handle_boxed(&self, req: Request) -> BoxResponseFuture<'_>;
}

impl<H: Handler> DynHandler for H {
    fn handle_boxed(&self, req: Request) -> BoxResponseFuture<'_> {
        Box::pin(self.handle(req))
    }
}

/// A handler of any type behind one pointer, cheap to clone.
#[derive(Clone)]
pub struct SharedHandler(Arc<dyn DynHandler>);

impl SharedHandler {
    /// Wraps `handler`.
    pub fn new(handler: impl Handler) -> Self {
        SharedHandler(Arc::new(handler))
    }
}

impl std::fmt::Debug for SharedHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedHandler")
    }
}

impl Handler for SharedHandler {
    fn handle(&self, req: Request) -> impl Future<Output = Response> + Send {
        self.0.handle_boxed(req)
    }
}
