//! The programs in `examples/` run as a user runs them: each is built by cargo (a no-op when
//! `cargo test` already built the examples), started on port 0, and asked real requests.
//!
//! Why cargo is called from the test: integration tests only get the paths of `[[bin]]`
//! targets (`CARGO_BIN_EXE_*`), not of examples, and `cargo test --test it` does not build
//! examples at all. Cargo releases its build lock before running tests, so asking it to build
//! is safe, and it returns each executable's path in its JSON messages.

use crate::support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::support::{get, raw_text, request, Reply, Serveur};
use bytes::Bytes;

const EXAMPLES: [&str; 4] = ["hello", "files", "form", "mount"];

/// The executables of the tutorial examples, built with the profile the tests were built with.
fn executables() -> &'static HashMap<String, PathBuf> {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args([
                "build",
                "--message-format=json-render-diagnostics",
                "--manifest-path",
            ])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
        for name in EXAMPLES {
            cargo.args(["--example", name]);
        }
        if !cfg!(debug_assertions) {
            cargo.arg("--release");
        }
        let output = cargo.output().expect("run cargo build");
        assert!(output.status.success(), "cargo build --example failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["target"]["kind"][0] == "example")
            .filter_map(|message| {
                let name = message["target"]["name"].as_str()?.to_owned();
                Some((name, PathBuf::from(message["executable"].as_str()?)))
            })
            .collect()
    })
}

/// Starts example `name` with `args` after the port (0).
fn start(name: &str, args: &[&std::ffi::OsStr]) -> Serveur {
    let mut command = Command::new(&executables()[name]);
    command.arg("0").args(args);
    Serveur::spawn(command)
}

fn post(server: &Serveur, path: &str, content_type: &str, body: impl Into<Bytes>) -> Reply {
    support::post(server.addr, path, content_type, body)
}

#[test]
fn hello_answers_bonjour_and_501_with_allow_for_other_methods() {
    let server = start("hello", &[]);
    let reply = get(server.addr, "/any/path");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "<h1>Bonjour</h1>");
    assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
    server.wait_for_log("\"GET /any/path HTTP/1.1\" 200 16");

    let head = raw_text(server.addr, b"HEAD / HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert!(head.contains("content-length: 16\r\n"), "{head}");
    assert!(
        head.ends_with("\r\n\r\n"),
        "a HEAD answer has no body: {head}"
    );

    let reply = request(server.addr, "DELETE", "/", &[]);
    assert_eq!(reply.status, 501);
    assert_eq!(reply.header("allow"), "GET, HEAD");
    assert!(reply
        .text()
        .contains("<p>Message: Unsupported method ('DELETE').</p>"));
    server.wait_for_log("code 501, message Unsupported method ('DELETE')");
}

#[test]
fn files_serves_with_guessed_types_and_404s_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("page.html"), "<p>page</p>").expect("write");
    std::fs::write(dir.path().join("style.css"), "p {}").expect("write");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::write(dir.path().join("sub/data.json"), "[]").expect("write");
    let server = start("files", &[dir.path().as_os_str()]);

    for (path, body, content_type) in [
        ("/page.html", "<p>page</p>", "text/html"),
        ("/style.css", "p {}", "text/css"),
        ("/sub/data.json", "[]", "application/json"),
    ] {
        let reply = get(server.addr, path);
        assert_eq!(
            (reply.status, reply.text()),
            (200, body.to_owned()),
            "{path}"
        );
        assert_eq!(reply.header("content-type"), content_type, "{path}");
    }
    let reply = get(server.addr, "/missing.txt");
    assert_eq!(reply.status, 404);
    assert!(reply
        .text()
        .contains("<p>Message: File Not Found: /missing.txt.</p>"));
    assert_eq!(
        get(server.addr, "/sub").status,
        404,
        "a directory is no file"
    );
    let escape = raw_text(server.addr, b"GET /../../../../etc/passwd HTTP/1.0\r\n\r\n");
    assert!(escape.starts_with("HTTP/1.0 404 "), "{escape}");
}

#[test]
fn form_shows_the_form_and_greets_the_name_typed() {
    let server = start("form", &[]);
    let page = get(server.addr, "/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains(r#"<form method="post">"#));
    assert!(page.text().contains(r#"<input name="name""#));

    let form = "application/x-www-form-urlencoded";
    let reply = post(&server, "/", form, "name=Ada+Lovelace");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "<h1>Bonjour, Ada Lovelace!</h1>");

    let reply = post(
        &server,
        "/",
        form,
        "name=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    );
    assert_eq!(
        reply.text(),
        "<h1>Bonjour, &lt;script&gt;alert(1)&lt;/script&gt;!</h1>"
    );

    let multipart =
        "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nGrace\r\n--XyZ--\r\n";
    let reply = post(&server, "/", "multipart/form-data; boundary=XyZ", multipart);
    assert_eq!(reply.text(), "<h1>Bonjour, Grace!</h1>");

    let reply = post(&server, "/", form, vec![b'a'; 65 * 1024]);
    assert_eq!(reply.status, 413);
    assert!(reply.text().contains("<p>Message: Content Too Large.</p>"));
    server.wait_for_log("\"POST / HTTP/1.1\" 413");
}

#[test]
fn mount_serves_files_and_a_json_api_under_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("index.html"), "<h1>Notes</h1>").expect("write");
    let server = start("mount", &[dir.path().as_os_str()]);

    let site = get(server.addr, "/");
    assert_eq!((site.status, site.text().as_str()), (200, "<h1>Notes</h1>"));
    let empty = get(server.addr, "/api/notes");
    assert_eq!(empty.header("content-type"), "application/json");
    assert_eq!(empty.text(), r#"{"notes":[]}"#);

    let json = "application/json";
    let created = post(&server, "/api/notes", json, r#"{"text": "buy bread"}"#);
    assert_eq!(created.status, 201);
    assert_eq!(created.text(), r#"{"text":"buy bread"}"#);
    post(&server, "/api/notes", json, r#"{"text": "ça marche"}"#);
    let listed = get(server.addr, "/api/notes");
    assert_eq!(listed.text(), r#"{"notes":["buy bread","ça marche"]}"#);

    let bad = post(&server, "/api/notes", json, "not json");
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("<p>Message: Bad note.</p>"));
    let delete = request(server.addr, "DELETE", "/api/notes", &[]);
    assert_eq!(delete.status, 501);
    assert_eq!(delete.header("allow"), "GET, HEAD, POST");
    assert_eq!(
        get(server.addr, "/api/other").status,
        404,
        "files answer the rest"
    );
}
