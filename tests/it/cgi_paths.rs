//! Which requests run a script under `--cgi`, and what the others get: CPython's refusals with
//! its messages, `--cgi-dir` (including `/`), and no spelling of a path, symlinks included,
//! that serves a script's source.

use std::os::unix::fs::symlink;

use crate::support::{
    ask, body_text, get, post, raw_text, raw_to_script, serve_script, write_script, Serveur,
};

/// A script whose source holds a marker its output never does.
const SECRET: &str =
    "#!/bin/sh\n# SECRET-SOURCE\nprintf 'Content-Type: text/plain\\n\\nRAN %s' \"$PATH_INFO\"\n";

#[test]
fn cpython_refusals_keep_their_codes_and_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("cgi-bin/sub")).expect("mkdir");
    std::fs::write(dir.path().join("cgi-bin/plain.sh"), "#!/bin/sh\n").expect("write");
    std::fs::write(dir.path().join("page.txt"), "text").expect("write");
    let server = Serveur::start(dir.path(), &["--cgi"]);
    let cases = [
        ("/cgi-bin/nope", "404 No such CGI script ('/cgi-bin/nope')"),
        (
            "/cgi-bin/nope/more",
            "404 No such CGI script ('/cgi-bin/nope')",
        ),
        ("/htbin/nope", "404 No such CGI script ('/htbin/nope')"),
        (
            "/cgi-bin/",
            "403 CGI script is not a plain file ('/cgi-bin/')",
        ),
        (
            "/cgi-bin/sub",
            "403 CGI script is not a plain file ('/cgi-bin/sub')",
        ),
        (
            "/cgi-bin/sub/",
            "403 CGI script is not a plain file ('/cgi-bin/sub/')",
        ),
        (
            "/cgi-bin/plain.sh",
            "403 CGI script is not executable ('/cgi-bin/plain.sh')",
        ),
        (
            "/cgi-bin/it's",
            "404 No such CGI script (\"/cgi-bin/it's\")",
        ),
    ];
    for (path, status_line) in cases {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        let answer = raw_text(server.addr, request.as_bytes());
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status_line}\r\n")),
            "{path}: {answer}"
        );
        let message = status_line.split_once(' ').expect("code").1;
        assert!(
            answer.contains(&format!("<p>Message: {}.</p>", html_escape(message))),
            "{answer}"
        );
        server.wait_for_log(&format!("code {}, message {message}", &status_line[..3]));
    }
    let reply = post(server.addr, "/page.txt", "text/plain", "x");
    assert_eq!(reply.status, 501);
    assert!(reply
        .text()
        .contains("<p>Message: Can only POST to CGI scripts.</p>"));
    server.wait_for_log("code 501, message Can only POST to CGI scripts");
    let reply = get(server.addr, "/cgi-bin?x=1");
    assert_eq!(
        (reply.status, reply.header("location")),
        (301, "/cgi-bin/?x=1")
    );
}

fn html_escape(text: &str) -> String {
    // CPython escapes the message with `html.escape(quote=False)`.
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[test]
fn an_executable_outside_the_cgi_directories_is_served_as_a_file() {
    let (_dir, server) = serve_script("scripts/tool.sh", SECRET, &["--cgi"]);
    let reply = get(server.addr, "/scripts/tool.sh");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), SECRET);
}

#[test]
fn no_spelling_of_a_scripts_path_serves_its_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(dir.path(), "cgi-bin/s.sh", SECRET);
    symlink("cgi-bin", dir.path().join("linked")).expect("symlink dir");
    symlink("cgi-bin/s.sh", dir.path().join("copy.sh")).expect("symlink file");
    std::fs::create_dir(dir.path().join("deep")).expect("mkdir");
    symlink("../cgi-bin", dir.path().join("deep/up")).expect("symlink up");
    for args in [&["--cgi"][..], &["--cgi", "--follow-symlinks"][..]] {
        let server = Serveur::start(dir.path(), args);
        let runs = [
            "/cgi-bin/s.sh",
            "/%63gi-bin/s.sh",
            "/cgi-bin/%73.sh",
            "//cgi-bin/s.sh",
            "///cgi-bin//s.sh",
            "/./cgi-bin/./s.sh",
            "/x/../cgi-bin/s.sh",
            "/%2e/cgi-bin/%2e/s.sh",
            "/x/%2e%2e/cgi-bin/s.sh",
            "/cgi-bin%2fs.sh",
            "/%2fcgi-bin%2fs.sh",
            "/cgi-bin/s.sh?q",
        ];
        for path in runs {
            let reply = get(server.addr, path);
            assert_eq!(
                (reply.status, reply.text().as_str()),
                (200, "RAN "),
                "{args:?} {path}"
            );
        }
        let refused = [
            "/linked/s.sh",
            "/linked/",
            "/copy.sh",
            "/deep/up/s.sh",
            "/deep/up/",
            "/CGI-BIN/s.sh",
        ];
        for path in refused {
            let reply = get(server.addr, path);
            assert!(!reply.text().contains("SECRET-SOURCE"), "{args:?} {path}");
            assert!(
                !reply.text().contains("s.sh"),
                "{args:?} {path} lists the scripts"
            );
            assert!(reply.status >= 400, "{args:?} {path}: {}", reply.status);
        }
        let answer = raw_to_script(
            server.addr,
            b"GET /linked/../cgi-bin/s.sh/more HTTP/1.0\r\n\r\n",
        );
        assert!(answer.ends_with("RAN /more"), "{answer}");
    }
}

#[test]
fn cgi_dir_replaces_the_default_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(dir.path(), "app/s.sh", SECRET);
    write_script(dir.path(), "cgi-bin/s.sh", SECRET);
    let server = Serveur::start(dir.path(), &["--cgi", "--cgi-dir", "/app"]);
    assert_eq!(get(server.addr, "/app/s.sh/x").text(), "RAN /x");
    assert!(!get(server.addr, "/app/../app/s.sh")
        .text()
        .contains("SECRET"));
    assert_eq!(get(server.addr, "/cgi-bin/s.sh").text(), SECRET);
}

#[test]
fn cgi_dir_root_runs_every_executable_and_serves_the_other_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(
        dir.path(),
        "index.py",
        "#!/usr/bin/env python3\nprint('Content-Type: text/plain\\n\\nindex ran')\n",
    );
    write_script(dir.path(), "tools/s.sh", SECRET);
    write_script(dir.path(), "sub/index.sh", SECRET);
    std::fs::write(dir.path().join("notes.txt"), "just notes").expect("write");
    std::fs::create_dir(dir.path().join("plain")).expect("mkdir");
    std::fs::write(dir.path().join("plain/readme.txt"), "r").expect("write");
    let server = Serveur::start(dir.path(), &["--cgi", "--cgi-dir", "/"]);
    assert_eq!(get(server.addr, "/").text(), "index ran\n");
    assert_eq!(get(server.addr, "/index.py").text(), "index ran\n");
    assert_eq!(get(server.addr, "/tools/s.sh/p").text(), "RAN /p");
    assert_eq!(get(server.addr, "/sub/").text(), "RAN ");
    assert_eq!(get(server.addr, "/sub").status, 301);
    assert_eq!(get(server.addr, "/notes.txt").text(), "just notes");
    assert!(get(server.addr, "/plain/").text().contains("readme.txt"));
    assert_eq!(get(server.addr, "/missing").status, 404);
    assert_eq!(
        post(server.addr, "/notes.txt", "text/plain", "x").status,
        501
    );
    assert_eq!(
        post(server.addr, "/tools/s.sh", "text/plain", "x").text(),
        "RAN "
    );
}

#[tokio::test]
async fn cgi_in_process_runs_its_directories_and_hands_the_rest_to_the_fallback() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(
        dir.path(),
        "run/hi.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhi %s' \"$QUERY_STRING\"\n",
    );
    let cgi = serveur::Cgi::new(dir.path())
        .expect("cgi")
        .directories(["/run"]);
    let ran = ask(&cgi, "GET", "/run/hi.sh?a=b").await;
    assert_eq!(ran.status(), 200);
    assert_eq!(body_text(ran).await, "hi a=b");
    // The default fallback: 404 for a GET, 501 for a method it does not know.
    assert_eq!(ask(&cgi, "GET", "/cgi-bin/hi.sh").await.status(), 404);
    assert_eq!(ask(&cgi, "POST", "/elsewhere").await.status(), 501);
    assert_eq!(
        cgi.script_dirs(),
        [std::fs::canonicalize(dir.path())
            .expect("canonical")
            .join("run")]
    );
}
