//! The foundation's CGI and issue 6's downloads repeated over the other transports: a real
//! CGI script over HTTP/1.1-over-TLS, HTTP/2 over TLS (ALPN) and h2c, seeing `HTTPS` and
//! `SERVER_PORT` as it should and streaming its output and the request body byte for byte;
//! ranges, multipart/byteranges, content codings and validators over HTTP/2.

use std::path::Path;

use crate::support::tls::{client, make_cert, send_h2c, send_tls};
use crate::support::{
    build_request, decode, parse_byteranges, sample_bytes, sample_text, write_script, Reply,
    Serveur,
};
use bytes::Bytes;
use http_body_util::Full;
use rustls::version::TLS13;

/// Prints what it knows of the transport, then 50,000 numbered lines (about 290 kB: many
/// reads of its pipe and many DATA frames).
const TRANSPORT_SCRIPT: &str = "#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
echo \"HTTPS=${HTTPS-unset}\"
echo \"SERVER_PORT=$SERVER_PORT\"
echo \"SERVER_PROTOCOL=$SERVER_PROTOCOL\"
seq 1 50000
";

/// Sends its standard input back.
const ECHO_SCRIPT: &str = "#!/bin/sh
printf 'Content-Type: application/octet-stream\\n\\n'
exec cat
";

/// What [`TRANSPORT_SCRIPT`] prints when its `HTTPS` is `https`.
fn transport_output(https: &str, port: u16, protocol: &str) -> String {
    let mut text = format!("HTTPS={https}\nSERVER_PORT={port}\nSERVER_PROTOCOL={protocol}\n");
    for n in 1..=50_000 {
        text.push_str(&format!("{n}\n"));
    }
    text
}

/// A tree holding both scripts under `cgi-bin/`.
fn cgi_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(dir.path(), "cgi-bin/transport.sh", TRANSPORT_SCRIPT);
    write_script(dir.path(), "cgi-bin/echo.sh", ECHO_SCRIPT);
    dir
}

/// `serveur ARGS` on `site` over TLS with a fresh EC certificate (in `pki`); returns the
/// server and the certificate to trust.
fn https(site: &Path, pki: &Path, args: &[&str]) -> (Serveur, std::path::PathBuf) {
    let (cert, key) = make_cert(pki, "ec", "ec");
    let mut all = vec![
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ];
    all.extend_from_slice(args);
    (Serveur::start(site, &all), cert)
}

fn get(path: &str, headers: &[(&str, &str)]) -> http::Request<Full<Bytes>> {
    build_request("GET", path, headers, Bytes::new())
}

#[test]
fn a_cgi_script_over_tls_sees_https_on_and_streams_back_over_http1_and_h2() {
    let site = cgi_site();
    let pki = tempfile::tempdir().expect("tempdir");
    let (server, cert) = https(site.path(), pki.path(), &["--cgi"]);
    let upload = sample_bytes(1 << 20);
    for (alpn, version, protocol) in [
        (&b"http/1.1"[..], http::Version::HTTP_11, "HTTP/1.1"),
        (b"h2", http::Version::HTTP_2, "HTTP/2.0"),
    ] {
        let connector = client(&cert, &[alpn], &[&TLS13]);
        let got = send_tls(server.addr, &connector, get("/cgi-bin/transport.sh", &[]));
        assert_eq!(got.http, version);
        assert_eq!(got.reply.status, 200);
        assert_eq!(got.reply.header("content-type"), "text/plain");
        assert!(
            got.reply.text() == transport_output("on", server.port(), protocol),
            "{protocol}: the script's output came back altered ({} bytes)",
            got.reply.body.len()
        );
        let echoed = send_tls(
            server.addr,
            &connector,
            build_request("POST", "/cgi-bin/echo.sh", &[], upload.clone()),
        );
        assert_eq!(echoed.http, version);
        assert_eq!(echoed.reply.status, 200);
        assert!(
            echoed.reply.body == upload,
            "{protocol}: the 1 MiB upload came back altered"
        );
        // The access line counts the bytes sent, as for a file.
        let sent = got.reply.body.len();
        server.wait_for_log(&format!(
            "\"GET /cgi-bin/transport.sh {protocol}\" 200 {sent}"
        ));
        server.wait_for_log(&format!("\"POST /cgi-bin/echo.sh {protocol}\" 200 1048576"));
    }
}

#[test]
fn a_cgi_script_over_h2c_sees_no_https_and_streams_back() {
    let site = cgi_site();
    let server = Serveur::start(site.path(), &["--cgi"]);
    let (reply, version) = send_h2c(server.addr, get("/cgi-bin/transport.sh", &[]));
    assert_eq!(version, http::Version::HTTP_2);
    assert_eq!(reply.status, 200);
    assert!(
        reply.text() == transport_output("unset", server.port(), "HTTP/2.0"),
        "the script's output came back altered ({} bytes)",
        reply.body.len()
    );
    let upload = sample_bytes(1 << 20);
    let (echoed, _) = send_h2c(
        server.addr,
        build_request("POST", "/cgi-bin/echo.sh", &[], upload.clone()),
    );
    assert_eq!(echoed.status, 200);
    assert!(echoed.body == upload, "the 1 MiB upload came back altered");
    server.wait_for_log("\"POST /cgi-bin/echo.sh HTTP/2.0\" 200 1048576");
}

/// `app.js`: 200 kB of compressible text.
fn download_site() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = sample_text(200_000);
    std::fs::write(dir.path().join("app.js"), &text).expect("write");
    (dir, text)
}

/// Checks ranges, codings and validators on `app.js` (= `text`) through `send`.
fn assert_download_answers(text: &[u8], send: impl Fn(http::Request<Full<Bytes>>) -> Reply) {
    let whole = send(get("/app.js", &[]));
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), "bytes");
    assert!(whole.body == text);
    let etag = whole.header("etag").to_owned();
    assert!(etag.starts_with('"'), "{etag:?}");

    let part = send(get("/app.js", &[("range", "bytes=1000-1999")]));
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), "bytes 1000-1999/200000");
    assert!(part.body[..] == text[1000..2000]);

    let tail = send(get("/app.js", &[("range", "bytes=-500")]));
    assert_eq!(tail.status, 206);
    assert!(tail.body[..] == text[text.len() - 500..]);

    let parts = send(get("/app.js", &[("range", "bytes=0-9,100000-100009")]));
    assert_eq!(parts.status, 206);
    let expected = [(0, 9), (100_000, 100_009)];
    let got = parse_byteranges(&parts);
    assert_eq!(got.len(), expected.len());
    for ((content_type, content_range, bytes), (start, end)) in got.iter().zip(expected) {
        assert_eq!(content_type, "text/javascript");
        assert_eq!(content_range, &format!("bytes {start}-{end}/200000"));
        assert!(bytes[..] == text[start..=end]);
    }

    let unsatisfiable = send(get("/app.js", &[("range", "bytes=300000-")]));
    assert_eq!(unsatisfiable.status, 416);
    assert_eq!(unsatisfiable.header("content-range"), "bytes */200000");

    for coding in ["gzip", "br", "zstd"] {
        let encoded = send(get("/app.js", &[("accept-encoding", coding)]));
        assert_eq!(encoded.status, 200);
        assert_eq!(encoded.header("content-encoding"), coding);
        assert_eq!(encoded.header("vary"), "Accept-Encoding");
        assert_ne!(encoded.header("etag"), etag, "one ETag per coding");
        assert!(decode(coding, &encoded.body) == text, "{coding} body");
    }

    let unchanged = send(get("/app.js", &[("if-none-match", &etag)]));
    assert_eq!(unchanged.status, 304);
    assert!(unchanged.body.is_empty());
    let stale = send(get("/app.js", &[("if-match", "\"other\"")]));
    assert_eq!(stale.status, 412);
    let resumed = send(get(
        "/app.js",
        &[("range", "bytes=199990-"), ("if-range", &etag)],
    ));
    assert_eq!(resumed.status, 206);
    assert!(resumed.body[..] == text[199_990..]);
}

#[test]
fn ranges_codings_and_validators_work_over_h2c() {
    let (site, text) = download_site();
    let server = Serveur::start(site.path(), &[]);
    assert_download_answers(&text, |request| {
        let (reply, version) = send_h2c(server.addr, request);
        assert_eq!(version, http::Version::HTTP_2);
        reply
    });
    server.wait_for_log("\"GET /app.js HTTP/2.0\" 206 1000");
}

#[test]
fn ranges_codings_and_validators_work_over_h2_on_tls() {
    let (site, text) = download_site();
    let pki = tempfile::tempdir().expect("tempdir");
    let (server, cert) = https(site.path(), pki.path(), &[]);
    let connector = client(&cert, &[b"h2"], &[&TLS13]);
    assert_download_answers(&text, |request| {
        let got = send_tls(server.addr, &connector, request);
        assert_eq!(got.http, http::Version::HTTP_2);
        got.reply
    });
    server.wait_for_log("\"GET /app.js HTTP/2.0\" 206 1000");
}
