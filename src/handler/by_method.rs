//! [`by_method`]: the `do_GET` feel of Python's `BaseHTTPRequestHandler`. A user registers one
//! async function per HTTP method it answers; HEAD falls back to the GET hook without its body,
//! and any other method gets CPython's `501 Unsupported method ('X')`, plus an `Allow` header
//! naming the methods that are answered (RFC 9110 §10.2.1 allows it on any response).
//!
//! Why hooks registered on a builder rather than a trait with default `get`/`post`/… methods:
//! Python finds `do_X` with `hasattr`, but Rust cannot tell which default trait methods a type
//! overrode, so a trait could not build the `Allow` header nor know whether HEAD may fall back to
//! GET. A builder knows exactly which methods have a hook, and a hook is a plain `async fn`.

use std::future::Future;

use http::header::{HeaderValue, ALLOW};
use http::Method;

use super::{BoxResponseFuture, Handler, Request, Response};
use crate::body::Body;
use crate::static_files::unsupported_method;

/// A stored hook: one boxed future per request, so hooks of different types share a list.
type Hook = Box<dyn Fn(Request) -> BoxResponseFuture<'static> + Send + Sync>;

/// A handler that answers each HTTP method with the hook registered for it.
///
/// Build one with [`by_method`]; it is a [`Handler`], so it can be served or mounted.
pub struct ByMethod {
    hooks: Vec<(Method, Hook)>,
}

/// Starts a [`ByMethod`] handler with no hooks (every method answers 501 until hooks are added).
///
/// ```
/// use serveur::{by_method, response, Handler, Request, Response};
/// use serveur::http::{Method, StatusCode};
///
/// async fn do_get(_req: Request) -> Response {
///     response::html("<h1>Bonjour</h1>")
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let hello = by_method().get(do_get);
///
/// let ask = |method: Method| {
///     let req = serveur::http::Request::builder().method(method).uri("/");
///     hello.handle(req.body(serveur::RequestBody::empty()).unwrap())
/// };
/// assert_eq!(ask(Method::GET).await.status(), StatusCode::OK);
/// let head = ask(Method::HEAD).await;
/// assert_eq!(head.headers()["content-length"], "16");
/// let post = ask(Method::POST).await;
/// assert_eq!(post.status(), StatusCode::NOT_IMPLEMENTED);
/// assert_eq!(post.headers()["allow"], "GET, HEAD");
/// # }
/// ```
pub fn by_method() -> ByMethod {
    ByMethod { hooks: Vec::new() }
}

/// One builder method per common HTTP method, each a shortcut for [`ByMethod::method`].
macro_rules! shortcuts {
    ($($(#[doc = $doc:literal])* $name:ident => $method:ident;)*) => {$(
        $(#[doc = $doc])*
        pub fn $name<F, Fut>(self, hook: F) -> Self
        where
            F: Fn(Request) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = Response> + Send + 'static,
        {
            self.method(Method::$method, hook)
        }
    )*};
}

impl ByMethod {
    /// Answers `method` with `hook`, replacing an earlier hook for the same method. Use it for
    /// methods without a shortcut below, e.g. WebDAV's `PROPFIND`:
    ///
    /// ```
    /// # use serveur::{by_method, response, Request, Response};
    /// async fn propfind(_req: Request) -> Response {
    ///     response::text("properties")
    /// }
    /// let dav = by_method().method(serveur::http::Method::from_bytes(b"PROPFIND")?, propfind);
    /// # Ok::<(), serveur::http::method::InvalidMethod>(())
    /// ```
    pub fn method<F, Fut>(mut self, method: Method, hook: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let hook: Hook = Box::new(move |req| Box::pin(hook(req)));
        match self.hooks.iter_mut().find(|(known, _)| *known == method) {
            Some((_, slot)) => *slot = hook,
            None => self.hooks.push((method, hook)),
        }
        self
    }

    shortcuts! {
        /// Answers GET with `hook` (Python's `do_GET`), and HEAD too unless [`head`](Self::head)
        /// is given: the hook then sees the HEAD request and its body is dropped.
        get => GET;
        /// Answers HEAD with `hook` (Python's `do_HEAD`) instead of the GET hook.
        head => HEAD;
        /// Answers POST with `hook` (Python's `do_POST`).
        post => POST;
        /// Answers PUT with `hook` (Python's `do_PUT`).
        put => PUT;
        /// Answers DELETE with `hook` (Python's `do_DELETE`).
        delete => DELETE;
        /// Answers OPTIONS with `hook` (Python's `do_OPTIONS`).
        options => OPTIONS;
        /// Answers PATCH with `hook` (Python's `do_PATCH`).
        patch => PATCH;
    }

    fn hook(&self, method: &Method) -> Option<&Hook> {
        self.hooks
            .iter()
            .find(|(known, _)| known == method)
            .map(|(_, hook)| hook)
    }

    /// The `Allow` value: the methods with a hook in the order they were added, with HEAD after
    /// GET when it falls back to it.
    fn allow(&self) -> HeaderValue {
        let mut names: Vec<&str> = Vec::with_capacity(self.hooks.len() + 1);
        for (method, _) in &self.hooks {
            names.push(method.as_str());
            if *method == Method::GET && self.hook(&Method::HEAD).is_none() {
                names.push(Method::HEAD.as_str());
            }
        }
        // Method names are tokens (RFC 9110 §9.1), always valid in a header value.
        HeaderValue::from_str(&names.join(", ")).unwrap_or(HeaderValue::from_static(""))
    }
}

impl std::fmt::Debug for ByMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByMethod")
            .field("allow", &self.allow())
            .finish()
    }
}

impl Handler for ByMethod {
    async fn handle(&self, req: Request) -> Response {
        if let Some(hook) = self.hook(req.method()) {
            return hook(req).await;
        }
        if req.method() == Method::HEAD {
            if let Some(get) = self.hook(&Method::GET) {
                // RFC 9110 §9.3.2: the same header fields as GET, no content.
                let (parts, _) = get(req).await.into_parts();
                return Response::from_parts(parts, Body::empty());
            }
        }
        let mut response = unsupported_method(req.method());
        response.headers_mut().insert(ALLOW, self.allow());
        response
    }
}
