//! The tutorial's first server: every GET answers `<h1>Bonjour</h1>`.
//!
//! ```text
//! cargo run --example hello -- 8000     # then open http://127.0.0.1:8000/
//! ```
//!
//! The Python it replaces:
//!
//! ```python
//! class Hello(BaseHTTPRequestHandler):
//!     def do_GET(self):
//!         self.send_response(200)
//!         self.send_header("Content-type", "text/html")
//!         self.end_headers()
//!         self.wfile.write(b"<h1>Bonjour</h1>")
//!
//! HTTPServer(("127.0.0.1", 8000), Hello).serve_forever()
//! ```

mod common;

use serveur::{by_method, response, Request, Response, Server};

async fn do_get(_req: Request) -> Response {
    response::html("<h1>Bonjour</h1>")
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = Server::bind(([127, 0, 0, 1], common::port()?).into())?;
    common::announce(server.local_addr()?);
    server.serve(by_method().get(do_get)).await
}
