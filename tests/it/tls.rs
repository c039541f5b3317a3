//! HTTPS: real handshakes with rustls, curl and openssl over TLS 1.2 and 1.3; RSA and EC keys
//! as PKCS#8, PKCS#1, SEC1 and encrypted PKCS#8; the static-file answers over TLS; plain HTTP
//! and stalled handshakes on the TLS port; and `ConnectionInfo::tls` as handlers see it.

use crate::support;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::tls::{
    assert_static_answers, client, encrypt_key, fetch_tls, make_cert, openssl, send_tls, site,
};
use crate::support::{library, raw, Serveur};
use rustls::version::{TLS12, TLS13};

/// A site served over HTTPS with a fresh `NAME.crt`/`NAME.key` pair made with `algorithm`
/// (`ec` gives `ec.*`, `rsa:2048` gives `rsa.*`); returns the site and certificate folders.
fn https_with_key(algorithm: &str) -> (tempfile::TempDir, tempfile::TempDir, Serveur) {
    https_with_key_and(algorithm, &[])
}

/// [`https_with_key`], with `extra` flags.
fn https_with_key_and(
    algorithm: &str,
    extra: &[&str],
) -> (tempfile::TempDir, tempfile::TempDir, Serveur) {
    let site = site();
    let pki = tempfile::tempdir().expect("tempdir");
    let name = if algorithm == "ec" { "ec" } else { "rsa" };
    let (cert, key) = make_cert(pki.path(), name, algorithm);
    let mut args = vec!["--tls-key", key.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    let server = https(site.path(), &cert, &args);
    (site, pki, server)
}

fn https(site: &Path, cert: &Path, extra: &[&str]) -> Serveur {
    let mut args = vec!["--tls-cert", cert.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    Serveur::start(site, &args)
}

#[test]
fn startup_line_says_https_and_rustls_gets_files_over_tls_1_3_and_1_2() {
    let site = site();
    let pki = tempfile::tempdir().expect("tempdir");
    let (cert, _key) = make_cert(pki.path(), "rsa", "rsa:2048");
    // The key is in its own file: PEM cert and key concatenated, as Python allows.
    let both = pki.path().join("both.pem");
    let mut pem = std::fs::read(&cert).expect("cert");
    pem.extend(std::fs::read(pki.path().join("rsa.key")).expect("key"));
    std::fs::write(&both, pem).expect("write");
    let server = https(site.path(), &both, &[]);
    assert_eq!(
        server.startup_line,
        format!(
            "Serving HTTPS on 127.0.0.1 port {0} (https://127.0.0.1:{0}/) ...",
            server.port()
        )
    );
    for version in [&TLS13, &TLS12] {
        let got = fetch_tls(
            server.addr,
            &client(&cert, &[b"http/1.1"], &[version]),
            "/a.txt",
        );
        assert_eq!(got.version, version.version);
        assert_eq!(got.alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert_eq!(got.http, http::Version::HTTP_11);
        assert_eq!(got.reply.status, 200);
        assert_eq!(got.reply.text(), "hello\n");
    }
    server.wait_for_log("\"GET /a.txt HTTP/1.1\" 200 6");
}

#[test]
fn static_answers_are_the_same_over_tls_http1_and_h2() {
    let (_site, pki, server) = https_with_key("ec");
    let cert = pki.path().join("ec.crt");
    for alpn in [&b"http/1.1"[..], b"h2"] {
        let connector = client(&cert, &[alpn], &[&TLS13]);
        assert_eq!(
            fetch_tls(server.addr, &connector, "/").alpn.as_deref(),
            Some(alpn)
        );
        assert_static_answers(|request| send_tls(server.addr, &connector, request).reply);
    }
    // One access-log shape for both versions.
    server.wait_for_log("\"GET /a.txt HTTP/1.1\" 200 6");
    server.wait_for_log("\"GET /a.txt HTTP/2.0\" 200 6");
    server.wait_for_log("\"GET /sub?x=1 HTTP/2.0\" 301 0");
    server.wait_for_log("\"HEAD /a.txt HTTP/1.1\" 200 0");
    server.wait_for_log("\"GET /a.txt HTTP/2.0\" 304 0");
}

#[test]
fn curl_http2_and_openssl_s_client_complete_real_handshakes() {
    let (_site, pki, server) = https_with_key("rsa:2048");
    let cert = pki.path().join("rsa.crt");
    let url = format!("https://localhost:{}/a.txt", server.port());
    let resolve = format!("localhost:{}:127.0.0.1", server.port());
    let output = Command::new("curl")
        .args(["-sS", "--http2", "--cacert", cert.to_str().expect("utf-8")])
        .args(["--resolve", &resolve, "-w", "\n%{http_version}", &url])
        .output()
        .expect("the curl command is required for the TLS tests");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(text, "hello\n\n2");

    let connect = format!("127.0.0.1:{}", server.port());
    for (flag, version) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let out = s_client(&[&connect, flag, "-alpn", "h2,http/1.1"]);
        assert!(out.contains(&format!("New, {version}, Cipher is")), "{out}");
        assert!(out.contains("ALPN protocol: h2"), "{out}");
    }
}

/// `openssl s_client -connect ARGS…` with a closed stdin; its stdout.
fn s_client(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut all = vec!["s_client", "-connect"];
    all.extend_from_slice(args);
    String::from_utf8_lossy(&openssl(dir.path(), &all)).into_owned()
}

#[test]
fn traditional_keys_load_pkcs1_rsa_and_sec1_ec_with_or_without_curve_parameters() {
    let site = site();
    let pki = tempfile::tempdir().expect("tempdir");
    let dir = pki.path();
    let (rsa_cert, _) = make_cert(dir, "rsa", "rsa:2048");
    let (ec_cert, _) = make_cert(dir, "ec", "ec");
    let pkcs1 = openssl(dir, &["pkey", "-in", "rsa.key", "-traditional"]);
    let sec1 = openssl(dir, &["pkey", "-in", "ec.key", "-traditional"]);
    // `openssl ecparam -genkey` writes an `EC PARAMETERS` block before the key.
    let mut with_curve = openssl(dir, &["ecparam", "-name", "prime256v1"]);
    with_curve.extend_from_slice(&sec1);
    for (cert, file, pem, header) in [
        (
            &rsa_cert,
            "pkcs1.key",
            pkcs1,
            "-----BEGIN RSA PRIVATE KEY-----",
        ),
        (
            &ec_cert,
            "sec1.key",
            sec1.clone(),
            "-----BEGIN EC PRIVATE KEY-----",
        ),
        (
            &ec_cert,
            "ecparam.key",
            with_curve,
            "-----BEGIN EC PARAMETERS-----",
        ),
    ] {
        assert!(
            pem.starts_with(header.as_bytes()),
            "{file} starts with {header}"
        );
        let key = dir.join(file);
        std::fs::write(&key, pem).expect("write");
        let server = https(
            site.path(),
            cert,
            &["--tls-key", key.to_str().expect("utf-8")],
        );
        for version in [&TLS13, &TLS12] {
            let got = fetch_tls(server.addr, &client(cert, &[], &[version]), "/a.txt");
            assert_eq!(got.reply.text(), "hello\n", "{file} over {version:?}");
        }
    }
}

#[test]
fn an_encrypted_pkcs8_key_loads_with_its_password_file() {
    let site = site();
    let pki = tempfile::tempdir().expect("tempdir");
    let dir = pki.path();
    let (cert, _) = make_cert(dir, "rsa", "rsa:2048");
    encrypt_key(dir, "rsa.key", "enc.key", "s3cret");
    // Python strips the password file's text.
    std::fs::write(dir.join("pass.txt"), "s3cret\n").expect("write");
    let enc = dir.join("enc.key");
    let server = https(
        site.path(),
        &cert,
        &[
            "--tls-key",
            enc.to_str().expect("utf-8"),
            "--tls-password-file",
            dir.join("pass.txt").to_str().expect("utf-8"),
        ],
    );
    let got = fetch_tls(server.addr, &client(&cert, &[], &[&TLS12]), "/a.txt");
    assert_eq!(got.reply.text(), "hello\n");
}

#[test]
fn plain_http_on_the_tls_port_is_logged_and_closed() {
    let site = site();
    let server = Serveur::start(site.path(), &["--tls-self-signed"]);
    let started = Instant::now();
    let answer = raw(server.addr, b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(answer.is_empty(), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    server.wait_for_log("plain HTTP sent to the HTTPS port; connection closed");
}

#[test]
fn a_client_that_never_finishes_the_handshake_is_dropped_after_the_timeout() {
    let site = site();
    let server = Serveur::start(
        site.path(),
        &["--tls-self-signed", "--handshake-timeout", "1"],
    );
    let mut stalled = std::net::TcpStream::connect(server.addr).expect("connect");
    // A handshake record header, then nothing.
    stalled.write_all(&[0x16, 0x03, 0x01]).expect("write");
    server.wait_for_log("TLS handshake timed out after 1s");
}

/// Answers `tls=true` or `tls=false` from the request's [`serveur::ConnectionInfo`].
struct TellsTls;

impl serveur::Handler for TellsTls {
    async fn handle(&self, req: serveur::Request) -> serveur::Response {
        use serveur::RequestExt;
        let tls = req.connection().map(|info| info.tls);
        serveur::response::text(format!("tls={tls:?}"))
    }
}

#[test]
fn handlers_see_connection_info_tls_true_only_under_tls() {
    let pki = tempfile::tempdir().expect("tempdir");
    let (cert, key) = make_cert(pki.path(), "ec", "ec");
    let config = serveur::TlsConfig::from_pem_files(&cert, Some(&key), None).expect("config");
    let tls = library::serve(library::bind().tls(config), TellsTls);
    let got = fetch_tls(tls.addr, &client(&cert, &[b"h2"], &[&TLS13]), "/");
    assert_eq!(got.reply.text(), "tls=Some(true)");
    let plain = library::serve(library::bind(), TellsTls);
    assert_eq!(support::get(plain.addr, "/").text(), "tls=Some(false)");
}

#[test]
fn a_malformed_request_over_tls_gets_pythons_error_page() {
    let (_site, pki, server) = https_with_key("ec");
    let cert = pki.path().join("ec.crt");
    let connector = client(&cert, &[b"http/1.1"], &[&TLS13]);
    let answer = support::tls::runtime().block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut tls = connector.connect(name, tcp).await.expect("handshake");
        tls.write_all(b"GET / HTTP/2.0\r\n\r\n")
            .await
            .expect("write");
        let mut answer = Vec::new();
        let _ = tls.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    });
    assert!(
        answer.starts_with("HTTP/1.1 505 Invalid HTTP version (2.0)\r\n"),
        "{answer}"
    );
    assert!(answer.contains("<p>Error code: 505</p>"));
    server.wait_for_log("\"GET / HTTP/2.0\" 505 ");
}

#[test]
fn tls_1_1_and_1_0_are_refused() {
    let (_site, _pki, server) = https_with_key("ec");
    let connect = format!("127.0.0.1:{}", server.port());
    for flag in ["-tls1_1", "-tls1"] {
        // Security level 0 lets the openssl client offer the old versions at all.
        let status = Command::new("openssl")
            .args(["s_client", "-connect", &connect, flag])
            .args(["-cipher", "DEFAULT@SECLEVEL=0"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the openssl command is required for the TLS tests");
        assert!(!status.success(), "openssl {flag} got through");
    }
    server.wait_for_log("TLS handshake failed: peer is incompatible");
}

#[test]
fn a_client_silent_after_the_handshake_is_closed_at_the_header_timeout() {
    let (_site, pki, server) = https_with_key_and("ec", &["--header-timeout", "1"]);
    let connector = client(&pki.path().join("ec.crt"), &[b"h2", b"http/1.1"], &[&TLS13]);
    let took = support::tls::runtime().block_on(async move {
        use tokio::io::AsyncReadExt;
        let tcp = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut tls = connector.connect(name, tcp).await.expect("handshake");
        let start = Instant::now();
        let mut sink = Vec::new();
        // Over h2 the server's SETTINGS frame comes first; then the close.
        let _ = tokio::time::timeout(support::WAIT, tls.read_to_end(&mut sink))
            .await
            .expect("closed by the server within the wait");
        start.elapsed()
    });
    assert!(took < Duration::from_secs(5), "closed too late: {took:?}");
    // A client that never started a request is closed quietly (see src/server/deadline.rs).
    let log = server.log();
    assert!(!log.iter().any(|l| l.contains("timed out")), "{log:#?}");
}
