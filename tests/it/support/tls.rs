//! TLS and HTTP/2 test helpers: certificate fixtures made with the `openssl` tool (required:
//! a missing tool fails the test), a rustls client, and hyper's HTTP/1.1 and HTTP/2 clients
//! over TLS or plain TCP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use super::{build_request, read_reply, Reply, WAIT};

/// Runs `openssl ARGS` in `dir`; panics (failing the test) when openssl is missing or fails.
pub(crate) fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the openssl command is required for the TLS tests");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Makes `NAME.key` (unencrypted PKCS#8) and `NAME.crt` (self-signed for localhost and
/// 127.0.0.1, valid a day) in `dir` with openssl; `algorithm` is `rsa:2048` or `ec`.
pub(crate) fn make_cert(dir: &Path, name: &str, algorithm: &str) -> (PathBuf, PathBuf) {
    let key = format!("{name}.key");
    let cert = format!("{name}.crt");
    let mut genpkey = vec!["genpkey", "-out", &key];
    if algorithm == "ec" {
        genpkey.extend(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    } else {
        genpkey.extend(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
    }
    openssl(dir, &genpkey);
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-key",
            &key,
            "-out",
            &cert,
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            // A server certificate, not a CA (webpki refuses a CA as end entity).
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ],
    );
    (dir.join(cert), dir.join(key))
}

/// A rustls client trusting the certificate in `ca`, offering `alpn`, speaking only
/// `versions`.
pub(crate) fn client(
    ca: &Path,
    alpn: &[&[u8]],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("read ca") {
        roots.add(cert.expect("ca pem")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// What one TLS fetch saw.
pub(crate) struct TlsReply {
    /// The response.
    pub reply: Reply,
    /// The ALPN protocol agreed, if any.
    pub alpn: Option<Vec<u8>>,
    /// The TLS version agreed.
    pub version: rustls::ProtocolVersion,
    /// The HTTP version of the response.
    pub http: http::Version,
}

/// `GET path` over a new TLS connection made with `connector` (HTTP/2 when ALPN agrees on
/// `h2`, else HTTP/1.1).
pub(crate) fn fetch_tls(
    addr: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
    path: &str,
) -> TlsReply {
    send_tls(
        addr,
        connector,
        build_request("GET", path, &[], Bytes::new()),
    )
}

/// Sends `request` (its URI a path, its authority `localhost`) over a new TLS connection made
/// with `connector`: HTTP/2 when ALPN agrees on `h2`, else HTTP/1.1.
pub(crate) fn send_tls(
    addr: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
    request: http::Request<Full<Bytes>>,
) -> TlsReply {
    let connector = connector.clone();
    runtime().block_on(async move {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from("localhost").expect("name");
        let tls = tokio::time::timeout(WAIT, connector.connect(name, tcp))
            .await
            .expect("handshake in time")
            .expect("handshake");
        let (_, session) = tls.get_ref();
        let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
        let version = session.protocol_version().expect("version");
        let h2 = alpn.as_deref() == Some(b"h2");
        let (reply, http) = send_on(tls, h2, "https", request).await;
        TlsReply {
            reply,
            alpn,
            version,
            http,
        }
    })
}

/// Sends `request` (its URI a path, its authority `localhost`) over HTTP/2 with prior
/// knowledge (h2c) on a new plain connection.
pub(crate) fn send_h2c(
    addr: SocketAddr,
    request: http::Request<Full<Bytes>>,
) -> (Reply, http::Version) {
    runtime().block_on(async move {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        send_on(tcp, true, "http", request).await
    })
}

/// Sends `request` over `io` with HTTP/2 (`h2`) or HTTP/1.1. Its URI is a path: HTTP/2 gets
/// the absolute form `SCHEME://localhost/PATH` (the `:authority`), HTTP/1.1 a `Host` header.
async fn send_on<IO>(
    io: IO,
    h2: bool,
    scheme: &str,
    request: http::Request<Full<Bytes>>,
) -> (Reply, http::Version)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut parts, body) = request.into_parts();
    let response = if h2 {
        parts.uri = format!("{scheme}://localhost{}", parts.uri)
            .parse()
            .expect("absolute uri");
        let (mut sender, _) = h2_handshake(io).await;
        sender
            .send_request(http::Request::from_parts(parts, body))
            .await
    } else {
        let io = TokioIo::new(io);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .expect("h1 handshake");
        tokio::spawn(conn);
        parts
            .headers
            .insert("host", "localhost".parse().expect("host"));
        sender
            .send_request(http::Request::from_parts(parts, body))
            .await
    };
    let response = response.expect("response");
    let version = response.version();
    (read_reply(response).await, version)
}

/// Opens an HTTP/2 connection over `io` (prior knowledge, or `h2` agreed by ALPN) and spawns
/// its task, which is returned too: aborting it closes the connection.
pub(crate) async fn h2_handshake<IO>(
    io: IO,
) -> (
    hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .expect("h2 handshake");
    (sender, tokio::spawn(conn))
}

/// A multi-threaded runtime for the client side of a test.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The foundation's static-file answers, checked through `send` (any transport): a file with
/// its type, length and validators; HEAD with GET's headers and no body; If-Modified-Since
/// → 304; Python's 404 page; the slash redirect keeping the query; a listing; and 404 for
/// paths that would leave the root (a symlink out of it, `..` in any spelling).
/// The site must be [`site`]'s.
pub(crate) fn assert_static_answers(send: impl Fn(http::Request<Full<Bytes>>) -> Reply) {
    let fetch = |method: &str, path: &str, headers: &[(&str, &str)]| {
        send(build_request(method, path, headers, Bytes::new()))
    };
    let file = fetch("GET", "/a.txt", &[]);
    assert_eq!((file.status, file.text().as_str()), (200, "hello\n"));
    assert_eq!(file.header("content-type"), "text/plain");
    assert_eq!(file.header("content-length"), "6");
    let modified = file.header("last-modified");
    assert!(modified.ends_with(" GMT"), "{modified:?}");

    let head = fetch("HEAD", "/a.txt", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "HEAD sent a body: {:?}", head.body);
    for name in ["content-type", "content-length", "last-modified", "etag"] {
        assert_eq!(head.header(name), file.header(name), "HEAD's {name}");
    }

    let unchanged = fetch("GET", "/a.txt", &[("if-modified-since", modified)]);
    assert_eq!(unchanged.status, 304);
    assert!(unchanged.body.is_empty());

    let missing = fetch("GET", "/nope", &[]);
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("<p>Message: File not found.</p>"));
    let redirect = fetch("GET", "/sub?x=1", &[]);
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), "/sub/?x=1");
    let listing = fetch("GET", "/sub/", &[]);
    assert!(listing.text().contains("<a href=\"b.html\">b.html</a>"));

    let climbing = format!("{}etc/passwd", "%2e%2e/".repeat(16));
    for path in ["/outside/", &format!("/{climbing}")] {
        let escaping = fetch("GET", path, &[]);
        assert_eq!(escaping.status, 404, "{path}");
        assert!(escaping.text().contains("<p>Message: File not found.</p>"));
    }
}

/// Sends `count` requests for `path` at once as streams of one HTTP/2 connection over `io`
/// and returns the replies.
pub(crate) async fn many_streams<IO>(io: IO, count: usize, path: &str) -> Vec<Reply>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, _) = h2_handshake(io).await;
    let requests = (0..count).map(|_| {
        let mut sender = sender.clone();
        let request = http::Request::get(format!("https://localhost{path}"))
            .body(Full::new(Bytes::new()))
            .expect("request");
        tokio::spawn(async move {
            read_reply(sender.send_request(request).await.expect("response")).await
        })
    });
    let handles: Vec<_> = requests.collect();
    let mut replies = Vec::with_capacity(count);
    for handle in handles {
        replies.push(handle.await.expect("stream task"));
    }
    replies
}

/// A small site: `a.txt` = `hello\n`, `sub/b.html`, and `outside`, a symlink to `..` (the
/// directory holding the site, outside the root).
pub(crate) fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "hello\n").expect("write");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::write(dir.path().join("sub/b.html"), "<p>b</p>").expect("write");
    std::os::unix::fs::symlink("..", dir.path().join("outside")).expect("symlink");
    dir
}

/// Writes `out`, the key in `key` encrypted as PKCS#8 (PBES2, OpenSSL's default) with
/// `password`, in `dir`.
pub(crate) fn encrypt_key(dir: &Path, key: &str, out: &str, password: &str) {
    let pass = format!("pass:{password}");
    openssl(
        dir,
        &[
            "pkcs8", "-topk8", "-in", key, "-out", out, "-passout", &pass,
        ],
    );
}
