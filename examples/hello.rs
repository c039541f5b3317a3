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

use serveur::{by_method, response, Request, Response, Server};

async fn do_get(_req: Request) -> Response {
    response::html("<h1>Bonjour</h1>")
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(std::io::Error::other)?,
        None => 8000,
    };
    let server = Server::bind(([127, 0, 0, 1], port).into())?;
    let addr = server.local_addr()?;
    println!(
        "Serving HTTP on {} port {} (http://{addr}/) ...",
        addr.ip(),
        addr.port()
    );
    server.serve(by_method().get(do_get)).await
}
