//! [`by_method`]: the `do_GET` feel of Python's `BaseHTTPRequestHandler`. A user registers one
//! async function per HTTP method it answers; HEAD falls back to the GET hook without its body,
//! and any other method gets CPython's `501 Unsupported method ('X')`, plus an `Allow` header
//! naming the methods that are answered (RFC 9110 §10.2.1 allows it on any response).
//!
//! Why hooks registered on a builder rather than a trait with default `get`/`post`/… methods:
//! Python finds `do_X` with `hasattr`, but Rust cannot tell which default trait methods a type
//! overrode, so a trait could not build the `Allow` header nor know whether HEAD may fall back to
//! GET. A builder knows exactly which methods have a hook, and a hook is a plain `async fn`.
//!
//! The hooks are kept as a chain of types, one link per hook ([`Hooked`]), rather than as boxed
//! closures in a list: a request reaches its hook through plain calls and its future is part of
//! the handler's own, with no allocation. Boxing cost ~490 instructions of a hello-world request
//! (callgrind), an eighth of the library's overhead over bare hyper then.

use std::future::Future;

use futures_util::future::Either;
use futures_util::FutureExt;
use http::header::{HeaderValue, ALLOW, CONTENT_LENGTH};
use http::{Method, StatusCode};
use http_body::Body as _;

use super::{Handler, Request, Response};
use crate::body::Body;
use crate::response::unsupported_method;

/// A handler that answers each HTTP method with the hook registered for it.
///
/// Build one with [`by_method`]; it is a [`Handler`], so it can be served or mounted. Its type
/// parameter is the chain of hooks added so far: name it `ByMethod<impl Hooks>`, or wrap the
/// handler in a [`SharedHandler`](crate::SharedHandler) to store it without naming it.
pub struct ByMethod<H = NoHooks> {
    hooks: H,
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
    ByMethod { hooks: NoHooks }
}

/// One builder method per common HTTP method, each a shortcut for [`ByMethod::method`].
macro_rules! shortcuts {
    ($($(#[doc = $doc:literal])* $name:ident => $method:ident;)*) => {$(
        $(#[doc = $doc])*
        pub fn $name<F: Hook>(self, hook: F) -> ByMethod<Hooked<F, H>> {
            self.method(Method::$method, hook)
        }
    )*};
}

impl<H: Hooks> ByMethod<H> {
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
    pub fn method<F: Hook>(self, method: Method, hook: F) -> ByMethod<Hooked<F, H>> {
        // The newest link is asked first, so it shadows an earlier hook for the same method.
        ByMethod {
            hooks: Hooked {
                method,
                hook,
                earlier: self.hooks,
            },
        }
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

    /// The `Allow` value: the methods with a hook in the order they were first added, with
    /// HEAD after GET when it falls back to it.
    fn allow(&self) -> HeaderValue {
        let mut names: Vec<&str> = Vec::new();
        self.hooks.methods(&mut names);
        if let Some(get) = names.iter().position(|name| *name == Method::GET.as_str()) {
            if !self.hooks.has(&Method::HEAD) {
                names.insert(get + 1, Method::HEAD.as_str());
            }
        }
        // Method names are tokens (RFC 9110 §9.1), always valid in a header value.
        HeaderValue::from_str(&names.join(", ")).unwrap_or(HeaderValue::from_static(""))
    }
}

impl<H: Hooks> std::fmt::Debug for ByMethod<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByMethod")
            .field("allow", &self.allow())
            .finish()
    }
}

impl<H: Hooks> Handler for ByMethod<H> {
    // Not an `async fn`: the hook is called here and its future returned inside this one, so
    // the request is not first moved into a future of ByMethod's own (each move of a request
    // or a future is a `memcpy` of some hundreds of bytes; callgrind).
    fn handle(&self, req: Request) -> impl Future<Output = Response> + Send {
        let method = req.method().clone();
        let refused = match self.hooks.route(&method, req) {
            Ok(answer) => return Either::Left(answer),
            Err(req) if method == Method::HEAD => match self.hooks.route(&Method::GET, req) {
                Ok(answer) => return Either::Right(Either::Left(answer.map(without_body))),
                Err(req) => req,
            },
            Err(req) => req,
        };
        let mut response = unsupported_method(refused.method());
        response.headers_mut().insert(ALLOW, self.allow());
        Either::Right(Either::Right(std::future::ready(response)))
    }
}

/// GET's answer as the answer to HEAD (RFC 9110 §9.3.2): the same header fields, no content.
/// The length the body had is kept as `Content-Length`, which hyper would otherwise have
/// written from the body itself.
fn without_body(answer: Response) -> Response {
    let (mut parts, body) = answer.into_parts();
    let status = parts.status;
    let may_have_length = !status.is_informational()
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED;
    if let Some(len) = body.size_hint().exact().filter(|_| may_have_length) {
        parts
            .headers
            .entry(CONTENT_LENGTH)
            .or_insert_with(|| HeaderValue::from(len));
    }
    Response::from_parts(parts, Body::empty())
}

/// An async function or closure that answers a request: what [`ByMethod`] calls for a method.
///
/// Implemented for every `Fn(Request) -> impl Future<Output = Response>` that can be shared
/// between connections.
pub trait Hook: Send + Sync + 'static {
    /// The future the hook returns.
    type Future: Future<Output = Response> + Send + 'static;

    /// Calls the hook.
    fn call(&self, req: Request) -> Self::Future;
}

impl<F, Fut> Hook for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    type Future = Fut;

    fn call(&self, req: Request) -> Fut {
        self(req)
    }
}

/// The hooks of a [`ByMethod`], as a chain of types ([`Hooked`] links ending in [`NoHooks`]).
/// Only this module implements it.
pub trait Hooks: sealed::Sealed + Send + Sync + 'static {
    /// The future of whichever hook answers.
    type Future: Future<Output = Response> + Send;

    /// Calls the hook for `method`, or gives `req` back when there is none.
    // The request moves back by value, as it moved in: boxing it would cost the allocation
    // this chain exists to avoid.
    #[allow(clippy::result_large_err)]
    fn route(&self, method: &Method, req: Request) -> Result<Self::Future, Request>;

    /// Whether a hook answers `method`.
    fn has(&self, method: &Method) -> bool;

    /// Appends the methods answered, in the order they were first added.
    fn methods<'a>(&'a self, names: &mut Vec<&'a str>);
}

/// The end of the chain: no hook.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

/// One link of the chain: `hook` answers `method`; other methods are asked of `earlier`.
#[derive(Debug)]
pub struct Hooked<F, H> {
    method: Method,
    hook: F,
    earlier: H,
}

impl Hooks for NoHooks {
    type Future = std::future::Pending<Response>;

    fn route(&self, _: &Method, req: Request) -> Result<Self::Future, Request> {
        Err(req)
    }

    fn has(&self, _: &Method) -> bool {
        false
    }

    fn methods<'a>(&'a self, _: &mut Vec<&'a str>) {}
}

impl<F: Hook, H: Hooks> Hooks for Hooked<F, H> {
    type Future = Either<F::Future, H::Future>;

    fn route(&self, method: &Method, req: Request) -> Result<Self::Future, Request> {
        if *method == self.method {
            return Ok(Either::Left(self.hook.call(req)));
        }
        self.earlier.route(method, req).map(Either::Right)
    }

    fn has(&self, method: &Method) -> bool {
        *method == self.method || self.earlier.has(method)
    }

    fn methods<'a>(&'a self, names: &mut Vec<&'a str>) {
        self.earlier.methods(names);
        if !names.contains(&self.method.as_str()) {
            names.push(self.method.as_str());
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::NoHooks {}
    impl<F, H> Sealed for super::Hooked<F, H> {}
}
