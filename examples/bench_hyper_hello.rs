//! Benchmark baseline: hyper's own hello world (`http1` connection + `service_fn`), with no
//! serveur code, answering the same bytes as `bench_hello`. `bench/hello.sh` compares them.
//!
//! ```text
//! cargo build --release --example bench_hyper_hello && target/release/examples/bench_hyper_hello 8000
//! ```

mod common;

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn hello(
    _req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(b"Hello, world!\n")));
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    // serveur names itself as CPython's server does; the baseline sends the same header so
    // that both answer the same bytes (as TechEmpower's rules ask of every entrant).
    headers.insert(
        hyper::header::SERVER,
        hyper::header::HeaderValue::from_static(concat!("serveur/", env!("CARGO_PKG_VERSION"))),
    );
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", common::port()?)).await?;
    common::announce(listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        // serveur sets TCP_NODELAY too: the comparison measures the API, not Nagle.
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let io = TokioIo::new(stream);
            let _ = http1::Builder::new()
                .serve_connection(io, service_fn(hello))
                .await;
        });
    }
}
