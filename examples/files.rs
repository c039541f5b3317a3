//! The course's `MyHandler`: GET serves the files of a directory with a MIME type guessed from
//! the name, and answers 404 for anything else. Written as a user of the library would.
//!
//! ```text
//! cargo run --example files -- 8000 public/    # port, then the directory (default: .)
//! ```
//!
//! The Python it replaces (from the slides; note that it lets `/../` escape the directory,
//! which `Root::resolve` refuses):
//!
//! ```python
//! class MyHandler(BaseHTTPRequestHandler):
//!     def do_GET(self):
//!         try:
//!             f = open(curdir + sep + self.path, "rb")
//!             self.send_response(200)
//!             self.send_header("Content-type", mimetypes.guess_type(self.path)[0])
//!             self.end_headers()
//!             self.wfile.write(f.read())
//!             f.close()
//!         except IOError:
//!             self.send_error(404, "File Not Found: %s" % self.path)
//! ```

mod common;

use std::fs::File;
use std::sync::Arc;

use serveur::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serveur::http::StatusCode;
use serveur::safe_path::{Root, UrlPath};
use serveur::{by_method, response, Body, Request, Response, Server};

async fn do_get(root: Arc<Root>, req: Request) -> Response {
    // `Root::resolve` refuses `..` and symlinks that leave the directory.
    let opened = match root.resolve(&UrlPath::parse(req.uri().path())) {
        Some(found) if found.metadata.is_file() => File::open(&found.path).ok().zip(Some(found)),
        _ => None,
    };
    let Some((file, found)) = opened else {
        let message = format!("File Not Found: {}", req.uri().path());
        return response::error_with(
            StatusCode::NOT_FOUND,
            &message,
            "Nothing matches the given URI",
        );
    };
    let mime = mime_guess::from_path(&found.path).first_raw();
    let len = found.metadata.len();
    serveur::http::Response::builder()
        .header(CONTENT_TYPE, mime.unwrap_or("application/octet-stream"))
        .header(CONTENT_LENGTH, len)
        .body(Body::file(file, len))
        .unwrap_or_else(|_| response::error(StatusCode::INTERNAL_SERVER_ERROR))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let root = Arc::new(Root::new(common::directory(), false)?);
    let server = Server::bind(([127, 0, 0, 1], common::port()?).into())?;
    common::announce(server.local_addr()?);
    server
        .serve(by_method().get(move |req| do_get(Arc::clone(&root), req)))
        .await
}
