//! Headers on request: `--cache-control`, `--cors` (with preflight), `OPTIONS` → 204 with
//! `Allow` (CPython answers 501), and the flags' validation.

use crate::support::{request, Serveur};

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "hello\n").expect("write");
    dir
}

#[test]
fn cache_control_goes_on_200_206_and_304_not_on_errors() {
    let dir = fixture();
    let server = Serveur::start(dir.path(), &["--cache-control", "public, max-age=60"]);
    let full = request(server.addr, "GET", "/a.txt", &[]);
    assert_eq!(full.header("cache-control"), "public, max-age=60");
    let part = request(server.addr, "GET", "/a.txt", &[("range", "bytes=0-1")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.header("cache-control"), "public, max-age=60");
    let etag = full.header("etag");
    let cached = request(server.addr, "GET", "/a.txt", &[("if-none-match", etag)]);
    assert_eq!(cached.status, 304);
    assert_eq!(cached.header("cache-control"), "public, max-age=60");
    let listing = request(server.addr, "GET", "/", &[]);
    assert_eq!(listing.header("cache-control"), "public, max-age=60");
    let missing = request(server.addr, "GET", "/nope", &[]);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("cache-control"), "");
    // Without the flag, no Cache-Control at all (as Python).
    let plain = Serveur::start(dir.path(), &[]);
    let reply = request(plain.addr, "GET", "/a.txt", &[]);
    assert_eq!(reply.header("cache-control"), "");
}

#[test]
fn cors_marks_every_answer_and_grants_preflights() {
    let dir = fixture();
    let server = Serveur::start(dir.path(), &["--cors"]);
    for path in ["/a.txt", "/", "/nope"] {
        let reply = request(
            server.addr,
            "GET",
            path,
            &[("origin", "https://example.org")],
        );
        assert_eq!(reply.header("access-control-allow-origin"), "*", "{path}");
        assert!(reply
            .header("access-control-expose-headers")
            .contains("ETag"));
    }
    let preflight = request(
        server.addr,
        "OPTIONS",
        "/a.txt",
        &[
            ("origin", "https://example.org"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "range"),
        ],
    );
    assert_eq!(preflight.status, 204);
    assert!(preflight.body.is_empty());
    assert_eq!(preflight.header("access-control-allow-origin"), "*");
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        "GET, HEAD, OPTIONS"
    );
    assert!(preflight
        .header("access-control-allow-headers")
        .contains("Range"));
    assert_eq!(preflight.header("access-control-max-age"), "86400");
    server.wait_for_log("\"OPTIONS /a.txt HTTP/1.1\" 204");
}

#[test]
fn options_without_cors_is_204_with_allow_where_python_says_501() {
    let dir = fixture();
    let server = Serveur::start(dir.path(), &[]);
    for path in ["/a.txt", "/", "/missing"] {
        let reply = request(
            server.addr,
            "OPTIONS",
            path,
            &[
                ("origin", "https://example.org"),
                ("access-control-request-method", "GET"),
            ],
        );
        assert_eq!(reply.status, 204, "{path}");
        assert_eq!(reply.header("allow"), "GET, HEAD, OPTIONS");
        assert_eq!(reply.header("access-control-allow-origin"), "");
        assert_eq!(reply.header("access-control-allow-methods"), "");
        assert_eq!(reply.header("content-length"), "");
    }
    // Other methods keep Python's 501.
    let reply = request(server.addr, "DELETE", "/a.txt", &[]);
    assert_eq!(reply.status, 501);
}

#[test]
fn extra_headers_go_on_partial_content_too() {
    let dir = fixture();
    let server = Serveur::start(dir.path(), &["-H", "X-Test: yes"]);
    let part = request(server.addr, "GET", "/a.txt", &[("range", "bytes=0-1")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.header("x-test"), "yes");
}

#[test]
fn invalid_cache_control_value_is_refused_at_startup() {
    let dir = fixture();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_serveur"))
        .arg("-d")
        .arg(dir.path())
        .args(["--cache-control", "bad\nvalue", "0"])
        .output()
        .expect("run serveur");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("argument --cache-control: invalid value"),
        "{stderr}"
    );
}
