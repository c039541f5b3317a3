//! # serveur
//!
//! A fast, safe drop-in for `python -m http.server`, and a small library to write handlers
//! the way `BaseHTTPRequestHandler` lets Python programs write `do_GET`.
//!
//! ```text
//! server/  (listen, hyper h1/h2, limits, timeouts, access log, graceful stop)
//!    │  knows handlers only through the trait
//!    ▼
//! Handler: async, &self, Request → Response (failures are responses)
//!    ▲ implemented by
//!    ├── StaticFiles (GET/HEAD on a directory: lookup → decide → render)
//!    └── Cgi         (RFC 3875 gateway: a script per request; see gateway/)
//! ```
//!
//! A handler in ten lines:
//!
//! ```no_run
//! use serveur::{Handler, Request, Response, Server, response};
//!
//! struct Hello;
//!
//! impl Handler for Hello {
//!     async fn handle(&self, _req: Request) -> Response {
//!         response::html("<h1>Bonjour</h1>")
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     Server::bind("127.0.0.1:8000".parse().unwrap())?.serve(Hello).await
//! }
//! ```

pub mod body;
mod cgi;
pub mod fastcgi;
pub mod gateway;
mod handler;
pub mod response;
pub mod safe_path;
mod server;
pub mod static_files;
mod status_text;

pub use body::{Body, RequestBody};
pub use cgi::{Cgi, PASSED_ENV};
pub use fastcgi::FastCgi;
pub use handler::{
    BoxResponseFuture, DynHandler, Handler, Mount, Request, Response, SharedHandler,
};
pub use http;
pub use server::{stop_signal, AccessLog, ConnectionInfo, Protocol, Server, StopSignal};
pub use static_files::StaticFiles;
