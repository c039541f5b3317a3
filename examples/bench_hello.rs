//! Benchmark server: a hello-world handler through serveur's public API, to be compared with
//! `bench_hyper_hello` (bare hyper) by `bench/hello.sh`. Access log off, one thread: the
//! benchmark pins the server to one core.
//!
//! ```text
//! cargo build --release --example bench_hello && target/release/examples/bench_hello 8000
//! ```

mod common;

use serveur::{by_method, response, AccessLog, Request, Response, Server};

async fn do_get(_req: Request) -> Response {
    response::text("Hello, world!\n")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let server =
        Server::bind(([127, 0, 0, 1], common::port()?).into())?.access_log(AccessLog::off());
    common::announce(server.local_addr()?);
    server.serve(by_method().get(do_get)).await
}
