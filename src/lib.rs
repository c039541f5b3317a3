//! # serveur
//!
//! A fast, safe drop-in for `python -m http.server`, and a small library to write handlers
//! the way `BaseHTTPRequestHandler` lets Python programs write `do_GET`. The `serveur` binary
//! is built from nothing but this library's public API.
//!
//! ```text
//! Server  (listen, TLS, hyper h1/h2, limits, timeouts, access log, graceful stop)
//!    │  knows handlers only through the trait
//!    ▼
//! Handler: async, &self, Request → Response (failures are responses)
//!    ▲ implemented by
//!    ├── StaticFiles   (GET/HEAD on a directory: lookup → decide → render)
//!    ├── FastCgi       (matching paths to a pooled FastCGI application, the rest to a fallback)
//!    ├── Cgi           (RFC 3875 gateway: a script per request, the rest to a fallback)
//!    ├── Upload        (PUT, form uploads, DELETE, MKCOL: atomic writes, the rest to a fallback)
//!    ├── Mount         (first matching path prefix wins, else a fallback handler)
//!    └── by_method()   (one async hook per HTTP method, 501 for the rest: the do_GET feel)
//! ```
//!
//! A server in ten lines, as the Python tutorial writes it:
//!
//! ```no_run
//! use serveur::{by_method, response, Request, Response, Server};
//!
//! async fn do_get(_req: Request) -> Response {
//!     response::html("<h1>Bonjour</h1>")
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let server = Server::bind(([127, 0, 0, 1], 8000).into())?;
//!     server.serve(by_method().get(do_get)).await // until Ctrl+C
//! }
//! ```
//!
//! The pieces:
//!
//! - [`Server`] binds, speaks HTTP/1.0, HTTP/1.1 or HTTP/2, writes CPython's access log and
//!   stops gracefully; [`Server::serve`] takes any [`Handler`].
//! - [`Handler`] is the one trait. [`by_method`] makes one from per-method hooks,
//!   [`StaticFiles`] serves a directory as `python -m http.server` does, and [`Mount`] routes
//!   by path prefix, so "an API under `/api`, files for the rest" is three lines. [`Cgi`] and
//!   [`FastCgi`] hand the requests they take to scripts or to a FastCGI application (php-fpm)
//!   and the others to a fallback handler. [`Upload`] writes files into a tree (atomically,
//!   within a size limit, never as code a gateway would run) and hands the rest on.
//! - [`response`] builds answers: CPython's error page ([`response::error`]), redirects,
//!   HTML, text, JSON, bytes and streamed bodies. [`RequestExt`] reads requests: the decoded
//!   path, query pairs, a size-limited body, form fields, the peer's address.
//! - [`Request`] and [`Response`] are the [`http`] crate's types (re-exported) with serveur's
//!   [`RequestBody`] and [`Body`]; hyper stays an implementation detail.
//!
//! The `examples/` directory holds the tutorials' programs: `hello`, `files` (the course's
//! `MyHandler`), `form` and `mount`.

// The public surface: the items re-exported below, plus six modules whose names a user
// writes: `handler` (the traits and the types behind `by_method`'s chain of hooks: `Hook`,
// `Hooked`, `Hooks`, `NoHooks`, and `DynHandler`/`BoxResponseFuture` for type-erased
// handlers), `auth` (access control: `Auth`, `Rules`, `hash_password`), `response` (the answer
// builders), `fastcgi` (the `--fastcgi` pattern and address types), `metrics` (`Metrics`,
// `Handled`: the numbers `--metrics-path` serves) and `safe_path` (the
// URL-to-file resolution a hand-written file handler needs, as `examples/files.rs` shows).
// Everything else is an implementation detail: `pub(crate)` inside the crate, `pub` only for
// what is exported (`unreachable_pub` in Cargo.toml keeps it so).
mod access_log;
pub mod auth;
mod body;
mod cgi;
pub mod fastcgi;
// Entry points for the cargo-fuzz targets in fuzz/, only with the `fuzzing` feature (which only
// fuzz/Cargo.toml turns on), so the documented API never includes them.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod gateway;
pub mod handler;
mod location;
pub mod metrics;
mod py_repr;
mod request;
pub mod response;
pub mod safe_path;
mod server;
mod static_files;
mod status_text;
mod upload;

pub use access_log::{AccessLog, LogFormat};
pub use body::Body;
pub use bytes;
pub use cgi::Cgi;
pub use fastcgi::FastCgi;
pub use handler::{by_method, ByMethod, Handler, Mount, Request, Response, SharedHandler};
pub use http;
pub use request::{ConnectionInfo, Form, FormField, RequestBody, RequestExt};
pub use server::{stop_signal, BindOptions, MinRate, Protocol, Server, StopSignal};
pub use static_files::StaticFiles;
pub use upload::Upload;

pub use server::{TlsConfig, TlsError};
