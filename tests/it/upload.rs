//! Uploads (`--upload`): PUT, form posts, DELETE and MKCOL from real clients (curl over
//! HTTP/1.1, h2c and TLS, Python's urllib, raw sockets), and each thing that must never
//! happen: a partial file seen, a file replaced by a concurrent upload, a write out of the
//! tree or into code a gateway runs, a name that is not one, memory growing with the body.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    attribute_after, get, raw, raw_to_script, request, request_with_body, rss_kib, run_to_exit,
    send_until, write_file, write_script, RawReply, Serveur, WAIT,
};

/// The entries of `dir` whose names start with the temporary prefix of uploads.
fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".serveur-upload-"))
        .collect()
}

/// Runs curl with `args` to its end; fails the test when curl is missing or fails.
fn curl(args: &[&str]) -> String {
    let mut command = Command::new("curl");
    command.args(["-sS", "--max-time", "20"]).args(args);
    let exit = run_to_exit(command);
    assert_eq!(exit.code, 0, "curl {args:?}: {}", exit.stderr);
    exit.stdout
}

/// `curl -o /dev/null -w %{http_code} ARGS`: the status of the answer.
fn curl_status(args: &[&str]) -> String {
    let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    all.extend_from_slice(args);
    curl(&all)
}

/// A PUT of `body` to `path` on a raw connection, answered raw.
fn raw_put(addr: SocketAddr, path: &str, headers: &str, body: &[u8]) -> RawReply {
    let mut request = format!(
        "PUT {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    RawReply::parse(&raw(addr, &request))
}

fn url(server: &Serveur, path: &str) -> String {
    format!("http://{}{path}", server.addr)
}

#[test]
fn curl_put_creates_then_conflicts_and_logs_both() {
    let site = tempfile::tempdir().expect("tempdir");
    fs::create_dir(site.path().join("docs")).expect("mkdir");
    let local = tempfile::NamedTempFile::new().expect("temp");
    fs::write(local.path(), b"first version\n").expect("write");
    let server = Serveur::start(site.path(), &["--upload"]);
    let local = local.path().to_str().expect("utf-8");

    let head = curl(&["-i", "-T", local, &url(&server, "/docs/report.txt")]);
    // curl asks `Expect: 100-continue`: the 100 comes once the upload is accepted.
    let head = head
        .strip_prefix("HTTP/1.1 100 Continue\r\n\r\n")
        .unwrap_or(&head);
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    assert!(head.contains("location: /docs/report.txt\r\n"), "{head}");
    let stored = site.path().join("docs/report.txt");
    assert_eq!(fs::read(&stored).expect("stored"), b"first version\n");
    // Mode 0644 less the umask: never executable.
    let mode = fs::metadata(&stored).expect("stat").permissions().mode();
    assert_eq!(mode & 0o111, 0, "{mode:o}");
    assert_eq!(mode & 0o600, 0o600, "{mode:o}");
    server.wait_for_log("upload stored /docs/report.txt (14 bytes)");

    // A name that exists is kept.
    fs::write(local, b"second\n").expect("write");
    assert_eq!(
        curl_status(&["-T", local, &url(&server, "/docs/report.txt")]),
        "409"
    );
    assert_eq!(fs::read(&stored).expect("stored"), b"first version\n");
    server.wait_for_log("code 409, message File exists");
    // And served as any file.
    assert_eq!(
        get(server.addr, "/docs/report.txt").text(),
        "first version\n"
    );
}

#[test]
fn overwrite_replaces_with_204_and_preconditions_guard_it() {
    let site = tempfile::tempdir().expect("tempdir");
    write_file(site.path(), "notes.txt", "v1");
    let server = Serveur::start(site.path(), &["--upload", "--upload-overwrite"]);
    let etag = get(server.addr, "/notes.txt").header("etag").to_owned();
    assert!(!etag.is_empty());

    let put = |headers: &[(&str, &str)], body: &'static str| {
        request_with_body(server.addr, "PUT", "/notes.txt", headers, body).status
    };
    assert_eq!(put(&[("if-none-match", "*")], "never"), 412);
    assert_eq!(put(&[("if-match", "\"0-0-0.0\"")], "stale"), 412);
    assert_eq!(
        fs::read_to_string(site.path().join("notes.txt")).expect("read"),
        "v1"
    );
    assert_eq!(put(&[("if-match", &etag)], "v2"), 204);
    assert_eq!(
        fs::read_to_string(site.path().join("notes.txt")).expect("read"),
        "v2"
    );
    // The tag named the version just replaced: a second editor holding it is refused.
    assert_eq!(put(&[("if-match", &etag)], "v3"), 412);
    assert_eq!(put(&[], "v4"), 204);
    assert_eq!(
        fs::read_to_string(site.path().join("notes.txt")).expect("read"),
        "v4"
    );
    // If-Match on a file that does not exist fails; If-None-Match: * creates.
    let new = |headers: &[(&str, &str)]| {
        request_with_body(server.addr, "PUT", "/new.txt", headers, "n").status
    };
    assert_eq!(new(&[("if-match", "*")]), 412);
    assert_eq!(new(&[("if-none-match", "*")]), 201);
}

#[test]
fn curl_form_upload_stores_every_file_and_numbers_taken_names() {
    let site = tempfile::tempdir().expect("tempdir");
    fs::create_dir(site.path().join("inbox")).expect("mkdir");
    write_file(site.path(), "inbox/a.pdf", "old");
    let files = tempfile::tempdir().expect("tempdir");
    write_file(files.path(), "a.pdf", "%PDF new");
    write_file(files.path(), "b.png", "PNG bytes");
    let server = Serveur::start(site.path(), &["--upload"]);
    let a = format!("file=@{}", files.path().join("a.pdf").display());
    let b = format!("file=@{}", files.path().join("b.png").display());

    let text = curl(&["-F", &a, "-F", &b, &url(&server, "/inbox/")]);
    assert_eq!(
        text,
        "/inbox/a%20%281%29.pdf (8 bytes) (name taken: renamed)\n/inbox/b.png (9 bytes)\n"
    );
    let inbox = site.path().join("inbox");
    assert_eq!(fs::read_to_string(inbox.join("a.pdf")).expect("old"), "old");
    assert_eq!(
        fs::read_to_string(inbox.join("a (1).pdf")).expect("new"),
        "%PDF new"
    );
    assert_eq!(
        fs::read_to_string(inbox.join("b.png")).expect("b"),
        "PNG bytes"
    );

    let json = curl(&[
        "-H",
        "Accept: application/json",
        "-F",
        &a,
        &url(&server, "/inbox/"),
    ]);
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(value["stored"][0]["name"], "a (2).pdf");
    assert_eq!(value["stored"][0]["href"], "/inbox/a%20%282%29.pdf");
    assert_eq!(value["stored"][0]["size"], 8);
    assert_eq!(value["stored"][0]["renamed"], true);

    // A browser's plain form post goes back to the listing, which shows the new file.
    let head = curl(&[
        "-i",
        "-H",
        "Accept: text/html",
        "-F",
        &b,
        &url(&server, "/inbox/"),
    ]);
    assert!(head.starts_with("HTTP/1.1 303 See Other\r\n"), "{head}");
    assert!(head.contains("\r\nlocation: /inbox/\r\n"), "{head}");
    assert!(get(server.addr, "/inbox/")
        .text()
        .contains("<a href=\"b%20%281%29.png\">b (1).png</a>"));
}

#[test]
fn python_urllib_puts_a_file() {
    let site = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(site.path(), &["--upload"]);
    let script = format!(
        "import urllib.request\n\
         r = urllib.request.Request('{}', data=b'from python', method='PUT')\n\
         with urllib.request.urlopen(r) as answer:\n\
         \x20   print(answer.status, answer.headers['Location'])\n",
        url(&server, "/py%20file.txt")
    );
    let mut command = Command::new("python3");
    command.args(["-c", &script]);
    let exit = run_to_exit(command);
    assert_eq!(exit.code, 0, "{}", exit.stderr);
    assert_eq!(exit.stdout.trim(), "201 /py%20file.txt");
    assert_eq!(
        fs::read(site.path().join("py file.txt")).expect("stored"),
        b"from python"
    );
}

#[test]
fn uploads_work_over_h2c_and_tls() {
    let site = tempfile::tempdir().expect("tempdir");
    let files = tempfile::tempdir().expect("tempdir");
    write_file(files.path(), "up.txt", "over h2");
    let local = files.path().join("up.txt");
    let local = local.to_str().expect("utf-8");
    let form = format!("f=@{local}");
    let server = Serveur::start(site.path(), &["--upload"]);
    let h2c = [
        "--http2-prior-knowledge",
        "-w",
        "%{http_version} %{http_code}",
    ];
    let out = curl(&[&h2c[..], &["-T", local, &url(&server, "/h2c.txt")]].concat());
    assert_eq!(out, "2 201");
    let out = curl(&["--http2-prior-knowledge", "-F", &form, &url(&server, "/")]);
    assert_eq!(out, "/up.txt (7 bytes)\n");

    let tls = Serveur::start(site.path(), &["--upload", "--tls-self-signed"]);
    let base = format!("https://localhost:{}", tls.port());
    let resolve = format!("localhost:{}:127.0.0.1", tls.port());
    let tls_args = [
        "-k",
        "--resolve",
        &resolve,
        "-w",
        "%{http_version} %{http_code}",
    ];
    let out = curl(&[&tls_args[..], &["-T", local, &format!("{base}/tls.txt")]].concat());
    assert_eq!(out, "2 201");
    let out = curl(&[
        "-k",
        "--http1.1",
        "--resolve",
        &resolve,
        "-F",
        &form,
        &format!("{base}/"),
    ]);
    assert_eq!(out, "/up%20%281%29.txt (7 bytes) (name taken: renamed)\n");
    for name in ["h2c.txt", "up.txt", "tls.txt", "up (1).txt"] {
        assert_eq!(
            fs::read(site.path().join(name)).expect("stored"),
            b"over h2",
            "{name}"
        );
    }
}

#[test]
fn a_refused_put_answers_before_the_body_is_sent() {
    // Expect: 100-continue (RFC 9110 §10.1.1): a refusal is final, and no 100 comes first.
    let site = tempfile::tempdir().expect("tempdir");
    write_file(site.path(), "taken.txt", "kept");
    let server = Serveur::start(site.path(), &["--upload", "--upload-max", "1K"]);
    for (path, length, status) in [
        ("/big.bin", 4096, "413"),
        ("/taken.txt", 10, "409"),
        ("/missing/x", 10, "409"),
        ("/bad%00name", 10, "400"),
    ] {
        let head = format!(
            "PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\
             Expect: 100-continue\r\n\r\n"
        );
        let (_stream, seen) = send_until(server.addr, head.as_bytes(), |s| s.contains("\r\n\r\n"));
        let seen = String::from_utf8_lossy(&seen);
        assert!(
            seen.starts_with(&format!("HTTP/1.1 {status} ")),
            "{path}: {seen}"
        );
    }
    // An accepted one gets its 100, then stores the body.
    let head =
        "PUT /ok.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";
    let (mut stream, seen) = send_until(server.addr, head.as_bytes(), |s| s.contains("\r\n\r\n"));
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 100 Continue"));
    stream.write_all(b"ok").expect("body");
    let mut rest = [0u8; 512];
    let n = stream.read(&mut rest).expect("read");
    assert!(String::from_utf8_lossy(&rest[..n]).contains("201 Created"));
    assert_eq!(fs::read(site.path().join("ok.txt")).expect("stored"), b"ok");
    assert!(temp_files(site.path()).is_empty());
}

#[test]
fn a_chunked_body_over_the_limit_is_stopped_and_removed() {
    let site = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(site.path(), &["--upload", "--upload-max", "100K"]);
    let chunk = vec![b'x'; 64 * 1024];
    let mut request =
        b"PUT /big.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let reply = RawReply::parse(&raw(server.addr, &request));
    assert_eq!(reply.status(), "413 Upload larger than the limit");
    assert!(!site.path().join("big.bin").exists());
    assert!(temp_files(site.path()).is_empty());
    // Announced too large: refused before anything is written.
    let reply = raw_put(server.addr, "/big2.bin", "", &vec![0; 200 * 1024]);
    assert_eq!(reply.status(), "413 Upload larger than the limit");
    assert!(!site.path().join("big2.bin").exists());
}

/// A `PUT /doc.txt` cut after 300,000 of its 1,000,000 bytes, once the upload's temporary
/// file exists in `dir`: the connection, still open.
fn half_sent_put(server: &Serveur, dir: &Path) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .write_all(b"PUT /doc.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        .expect("head");
    stream
        .write_all(&[b'n'; 300_000])
        .expect("part of the body");
    let deadline = Instant::now() + WAIT;
    while temp_files(dir).is_empty() {
        assert!(Instant::now() < deadline, "no temporary file appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    stream
}

#[test]
fn a_client_leaving_mid_body_leaves_the_target_unchanged_and_no_temp_file() {
    let site = tempfile::tempdir().expect("tempdir");
    write_file(site.path(), "doc.txt", "the old content");
    let server = Serveur::start(site.path(), &["--upload", "--upload-overwrite"]);
    // The temporary file exists while the body arrives...
    let stream = half_sent_put(&server, site.path());
    // ... and is never listed nor served.
    let temp = temp_files(site.path()).remove(0);
    assert!(!get(server.addr, "/").text().contains(&temp));
    assert_eq!(get(server.addr, &format!("/{temp}")).status, 404);
    drop(stream);
    server.wait_for_log("Upload cut short");
    assert!(temp_files(site.path()).is_empty());
    assert_eq!(
        fs::read_to_string(site.path().join("doc.txt")).expect("read"),
        "the old content"
    );
}

#[test]
fn two_concurrent_puts_of_one_name_give_one_201_one_409_and_one_whole_body() {
    let site = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(site.path(), &["--upload"]);
    let bodies = [vec![b'a'; 200_000], vec![b'b'; 200_000]];
    // Both pass every check and write their temporary files before either finishes.
    let mut streams: Vec<TcpStream> = bodies
        .iter()
        .map(|body| {
            let mut stream = TcpStream::connect(server.addr).expect("connect");
            stream.set_read_timeout(Some(WAIT)).expect("timeout");
            let head = format!(
                "PUT /same.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).expect("head");
            stream.write_all(&body[..100_000]).expect("half");
            stream
        })
        .collect();
    let deadline = Instant::now() + WAIT;
    while temp_files(site.path()).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "both uploads should be in progress"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut statuses = Vec::new();
    for (stream, body) in streams.iter_mut().zip(&bodies) {
        stream.write_all(&body[100_000..]).expect("rest");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("answer");
        statuses.push(RawReply::parse(&answer).status().to_owned());
    }
    statuses.sort();
    assert_eq!(statuses, ["201 Created", "409 File exists"]);
    let stored = fs::read(site.path().join("same.bin")).expect("stored");
    assert!(stored == bodies[0], "the first body, whole");
    assert!(temp_files(site.path()).is_empty());
}

#[test]
fn names_that_are_not_names_are_refused_with_400() {
    let site = tempfile::tempdir().expect("tempdir");
    fs::create_dir(site.path().join("d")).expect("mkdir");
    let server = Serveur::start(site.path(), &["--upload"]);
    let long = format!("/d/{}", "n".repeat(256));
    for path in [
        "/d/..%2f..%2fescape",
        "/d/%2e%2e",
        "/d/a%5cb",
        "/d/a%00b",
        "/d/line%0abreak",
        "/d/tab%09",
        "/d/.serveur-upload-1-1.part",
        // the built-in files' names: a file stored there would be shadowed, never served
        "/d/.serveur-ui.css",
        "/d/.serveur-ui.js",
        "/d/.serveur-anything",
        "/d/../escape",
        long.as_str(),
    ] {
        let reply = raw_put(server.addr, path, "", b"x");
        assert!(
            reply.status().starts_with("400 Invalid name"),
            "{path}: {}",
            reply.status()
        );
    }
    assert_eq!(
        fs::read_dir(site.path().join("d")).expect("read").count(),
        0
    );
    assert!(!site.path().join("escape").exists());
    assert!(!site
        .path()
        .parent()
        .expect("parent")
        .join("escape")
        .exists());
    let ok = format!("/d/{}", "n".repeat(255));
    assert_eq!(raw_put(server.addr, &ok, "", b"x").status(), "201 Created");
}

#[test]
fn no_write_follows_a_link_out_of_the_tree_even_with_follow_symlinks() {
    let outside = tempfile::tempdir().expect("tempdir");
    let site = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(outside.path(), site.path().join("out")).expect("symlink");
    fs::create_dir(site.path().join("in")).expect("mkdir");
    std::os::unix::fs::symlink(site.path().join("in"), site.path().join("alias")).expect("link");
    let server = Serveur::start(site.path(), &["--upload", "--follow-symlinks"]);
    // Reads follow the link (the flag says so), writes do not.
    write_file(outside.path(), "seen.txt", "outside");
    assert_eq!(get(server.addr, "/out/seen.txt").status, 200);
    assert_eq!(
        raw_put(server.addr, "/out/x.txt", "", b"x").status(),
        "403 Upload refused: outside the tree"
    );
    assert_eq!(fs::read_dir(outside.path()).expect("read").count(), 1);
    // A link that stays inside the tree is a directory like any other.
    assert_eq!(
        raw_put(server.addr, "/alias/y.txt", "", b"y").status(),
        "201 Created"
    );
    assert_eq!(
        fs::read(site.path().join("in/y.txt")).expect("stored"),
        b"y"
    );
}

#[test]
fn no_upload_becomes_code_a_gateway_would_run() {
    let site = tempfile::tempdir().expect("tempdir");
    write_script(
        site.path(),
        "cgi-bin/hello.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhi'\n",
    );
    std::os::unix::fs::symlink(site.path().join("cgi-bin"), site.path().join("scripts"))
        .expect("symlink");
    // The FastCGI application need not run: nothing is sent to it.
    let server = Serveur::start(
        site.path(),
        &["--upload", "--cgi", "--fastcgi", "*.php=127.0.0.1:9"],
    );
    for path in [
        "/cgi-bin/new.sh",
        "/cgi-bin/hello.sh",
        "/scripts/x.sh",
        "/shell.php",
        "/SHELL.PHP",
        "/htbin/x",
    ] {
        let reply = raw_put(server.addr, path, "", b"#!/bin/sh\necho owned\n");
        assert_eq!(
            reply.status(),
            "403 Upload refused: the path runs as code",
            "{path}"
        );
    }
    server.wait_for_log("code 403, message Upload refused: the path runs as code");
    assert!(!site.path().join("cgi-bin/new.sh").exists());
    assert!(!site.path().join("shell.php").exists());
    // The scripts still run, and a POST to one is the script's.
    let reply = raw_to_script(
        server.addr,
        b"POST /cgi-bin/hello.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert!(
        reply.starts_with("HTTP/1.1 200 OK") && reply.contains("\r\n\r\n2\r\nhi\r\n"),
        "{reply}"
    );
    // Elsewhere an upload is a plain file.
    assert_eq!(
        raw_put(server.addr, "/notes.txt", "", b"x").status(),
        "201 Created"
    );
}

#[test]
fn stale_temporary_files_are_removed_at_start_up() {
    let site = tempfile::tempdir().expect("tempdir");
    write_file(site.path(), ".serveur-upload-1-1.part", "crashed");
    write_file(site.path(), "sub/.serveur-upload-2-7.part", "crashed too");
    write_file(site.path(), "sub/kept.txt", "kept");
    let _server = Serveur::start(site.path(), &["--upload"]);
    assert!(temp_files(site.path()).is_empty());
    assert!(temp_files(&site.path().join("sub")).is_empty());
    assert!(site.path().join("sub/kept.txt").exists());
}

#[test]
fn a_full_disk_is_507_and_leaves_nothing() {
    // A 1 MiB tmpfs mounted for the test (CI runs as root); the test fails if it cannot.
    let site = tempfile::tempdir().expect("tempdir");
    let small = site.path().join("small");
    fs::create_dir(&small).expect("mkdir");
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&small)
        .status()
        .expect("run mount");
    assert!(
        status.success(),
        "mounting a tmpfs failed: the test needs root"
    );
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&small);
    let server = Serveur::start(site.path(), &["--upload"]);
    let reply = raw_put(server.addr, "/small/big.bin", "", &vec![7; 3 << 20]);
    assert!(
        reply.status().starts_with("507 No space left"),
        "{}",
        reply.status()
    );
    assert_eq!(
        fs::read_dir(&small).expect("read").count(),
        0,
        "nothing left behind"
    );
    // Space is back: a small upload fits.
    assert_eq!(
        raw_put(server.addr, "/small/ok.txt", "", b"ok").status(),
        "201 Created"
    );
}

#[test]
fn delete_and_mkcol_only_when_allowed() {
    let site = tempfile::tempdir().expect("tempdir");
    write_file(site.path(), "f.txt", "f");
    let plain = Serveur::start(site.path(), &["--upload"]);
    assert_eq!(request(plain.addr, "DELETE", "/f.txt", &[]).status, 501);
    assert_eq!(request(plain.addr, "MKCOL", "/d", &[]).status, 501);
    drop(plain);

    let server = Serveur::start(site.path(), &["--allow-all"]);
    assert_eq!(request(server.addr, "MKCOL", "/d", &[]).status, 201);
    assert!(site.path().join("d").is_dir());
    assert_eq!(request(server.addr, "MKCOL", "/d", &[]).status, 405);
    assert_eq!(request(server.addr, "MKCOL", "/no/d", &[]).status, 409);
    assert_eq!(
        request_with_body(server.addr, "PUT", "/d/x", &[], "x").status,
        201
    );
    assert_eq!(request(server.addr, "DELETE", "/d", &[]).status, 409);
    assert_eq!(request(server.addr, "DELETE", "/d/x", &[]).status, 204);
    assert_eq!(request(server.addr, "DELETE", "/d", &[]).status, 204);
    assert_eq!(request(server.addr, "DELETE", "/d", &[]).status, 404);
    assert!(!site.path().join("d").exists());
    // The form's mkdir field.
    let out = curl(&["-F", "mkdir=made", &url(&server, "/")]);
    assert_eq!(out, "/made (directory)\n");
    assert!(site.path().join("made").is_dir());
}

#[test]
fn upload_dirs_limit_where_writes_go() {
    let site = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(site.path().join("incoming/deeper")).expect("mkdir");
    let server = Serveur::start(site.path(), &["--upload-dir", "/incoming", "--upload"]);
    assert_eq!(
        raw_put(server.addr, "/incoming/deeper/a", "", b"a").status(),
        "201 Created"
    );
    // Outside, the static files answer as without --upload.
    assert_eq!(
        raw_put(server.addr, "/a", "", b"a").status(),
        "501 Unsupported method ('PUT')"
    );
    assert!(!site.path().join("a").exists());
}

#[test]
fn the_form_and_delete_buttons_show_only_where_writes_are_accepted() {
    let site = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(site.path().join("incoming/deeper")).expect("mkdir");
    fs::create_dir_all(site.path().join("inc")).expect("mkdir");
    fs::write(site.path().join("incoming/a.txt"), "a").expect("write");
    let flags = ["--upload-dir", "/incoming", "--upload", "--allow-delete"];
    let plain = Serveur::start(site.path(), &flags);
    let rich = Serveur::start(site.path(), &[&flags[..], &["--ui"]].concat());
    // Outside the upload directory (`/inc` is not below `/incoming`) a write is refused: no
    // form invites one, no button offers a delete.
    for path in ["/", "/inc/"] {
        let page = get(plain.addr, path).text();
        assert!(
            page.contains("<ul>") && !page.contains("serveur-upload"),
            "{page}"
        );
        let page = get(rich.addr, path).text();
        assert!(page.contains("id=\"listing\""), "{page}");
        assert!(
            !page.contains("serveur-upload") && !page.contains("data-delete"),
            "{page}"
        );
    }
    for path in ["/incoming/", "/incoming/deeper/"] {
        let page = get(plain.addr, path).text();
        assert!(
            page.contains("<form id=\"serveur-upload\""),
            "{path}: {page}"
        );
        let page = get(rich.addr, path).text();
        assert!(
            page.contains("<form id=\"serveur-upload\""),
            "{path}: {page}"
        );
        assert!(page.contains("data-delete=\"\""), "{path}: {page}");
    }
}

#[test]
fn memory_stays_flat_for_a_large_upload_over_http1_and_h2c() {
    const SIZE: u64 = 384 << 20;
    let site = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(site.path(), &["--upload"]);
    let before = rss_kib(server.pid());
    let mut peak = before;
    for (path, protocol) in [
        ("/h1.bin", "--http1.1"),
        ("/h2.bin", "--http2-prior-knowledge"),
    ] {
        // Streamed from a pipe, chunked: nothing announces the size, the server cannot plan.
        let mut source = Command::new("head")
            .args(["-c", &SIZE.to_string(), "/dev/zero"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("head");
        let mut client = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "120",
                protocol,
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-T",
                "-",
            ])
            .arg(url(&server, path))
            .stdin(source.stdout.take().expect("pipe"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("curl");
        let deadline = Instant::now() + Duration::from_secs(150);
        while client.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "upload took too long");
            peak = peak.max(rss_kib(server.pid()));
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut code = String::new();
        client
            .stdout
            .take()
            .expect("out")
            .read_to_string(&mut code)
            .expect("read");
        assert_eq!(code, "201", "{protocol}");
        let _ = source.wait();
        assert_eq!(
            fs::metadata(site.path().join(&path[1..]))
                .expect("stored")
                .len(),
            SIZE
        );
    }
    let growth = peak.saturating_sub(before);
    assert!(
        growth < 64 * 1024,
        "RSS grew by {growth} KiB for {SIZE} bytes"
    );
}

#[test]
fn the_listing_offers_a_form_only_with_upload() {
    let site = tempfile::tempdir().expect("tempdir");
    write_file(site.path(), "a.txt", "a");
    let plain = Serveur::start(site.path(), &[]);
    let page = get(plain.addr, "/").text();
    assert!(page.ends_with("</ul>\n<hr>\n</body>\n</html>\n"), "{page}");
    assert_eq!(get(plain.addr, "/.serveur-upload-form.js").status, 404);
    drop(plain);

    let csp = "Content-Security-Policy: script-src 'self'";
    let server = Serveur::start(site.path(), &["--upload", "-H", csp]);
    let listing = get(server.addr, "/");
    let page = listing.text();
    assert_eq!(
        listing.header("content-security-policy"),
        "script-src 'self'"
    );
    assert!(
        page.contains(
            "<form id=\"serveur-upload\" method=\"post\" enctype=\"multipart/form-data\">"
        ),
        "{page}"
    );
    assert!(page.contains("<input type=\"file\" name=\"file\" multiple>"));
    // No inline script or handler: the policy above allows the page's script.
    let src = attribute_after(&page, "<script", "src");
    assert!(src.starts_with(".serveur-upload-form.js?v="), "{page}");
    assert!(page.contains(&format!("<script src=\"{src}\" defer></script>")));
    assert!(!page.contains("onclick") && !page.contains("<script>"));
    let script = get(server.addr, &format!("/{src}"));
    assert_eq!(
        script.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type"),
        "text/javascript; charset=utf-8"
    );
    assert!(script.text().contains("XMLHttpRequest"));
    // The page before the form is Python's list, unchanged.
    assert!(page.contains("<li><a href=\"a.txt\">a.txt</a></li>\n</ul>\n<hr>\n<form"));
}

/// Chunk `index` of upload number `n`: a pattern of `n`'s own, stamped with its upload and
/// chunk numbers, so a byte from another upload or another place cannot go unseen.
fn pattern_chunk(n: usize, index: usize, base: &[u8]) -> Vec<u8> {
    let mut chunk = base.to_vec();
    chunk[..8].copy_from_slice(&(n as u32).to_le_bytes().repeat(2));
    chunk[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    chunk
}

/// The 1 MiB pattern of upload `n`.
fn pattern_base(n: usize) -> Vec<u8> {
    (0..1 << 20)
        .map(|i: usize| ((i / 4096 + n * 7919 + i) % 251) as u8)
        .collect()
}

#[test]
fn the_upload_script_loads_where_only_the_folder_is_public() {
    // `/` is private, `/pub` anyone's: the form's script is linked relative to the listing, so
    // an anonymous visitor of /pub/ loads it (an absolute /.serveur-upload-form.js was a 401).
    let site = tempfile::tempdir().expect("tempdir");
    write_file(site.path(), "pub/a.txt", "a");
    let server = Serveur::start(
        site.path(),
        &["--upload", "--auth", "@/pub:rw", "--auth", "alice:pw@/:rw"],
    );
    let listing = get(server.addr, "/pub/");
    assert_eq!(listing.status, 200);
    let src = attribute_after(&listing.text(), "<script", "src");
    assert_eq!(
        get(server.addr, &format!("/pub/{src}")).status,
        200,
        "{src}"
    );
    assert_eq!(get(server.addr, &format!("/{src}")).status, 401);
}

#[test]
fn fifty_concurrent_uploads_of_100_mib_finish_intact() {
    const UPLOADS: usize = 50;
    const CHUNKS: usize = 100;
    const SIZE: usize = CHUNKS << 20;
    let site = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(site.path(), &["--upload", "-q"]);
    let addr = server.addr;
    std::thread::scope(|scope| {
        let uploads: Vec<_> = (0..UPLOADS)
            .map(|n| {
                scope.spawn(move || {
                    let mut stream = TcpStream::connect(addr).expect("connect");
                    stream
                        .set_read_timeout(Some(Duration::from_secs(120)))
                        .expect("timeout");
                    let head = format!(
                        "PUT /u{n}.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                         Content-Length: {SIZE}\r\n\r\n"
                    );
                    stream.write_all(head.as_bytes()).expect("head");
                    let base = pattern_base(n);
                    for index in 0..CHUNKS {
                        let chunk = pattern_chunk(n, index, &base);
                        stream.write_all(&chunk).expect("body");
                    }
                    let mut answer = Vec::new();
                    stream.read_to_end(&mut answer).expect("answer");
                    RawReply::parse(&answer).status_line
                })
            })
            .collect();
        for (n, upload) in uploads.into_iter().enumerate() {
            let status = upload.join().expect("upload thread");
            assert_eq!(status, "HTTP/1.1 201 Created", "upload {n}");
        }
    });
    for n in 0..UPLOADS {
        let mut file = fs::File::open(site.path().join(format!("u{n}.bin"))).expect("stored");
        assert_eq!(
            file.metadata().expect("meta").len(),
            SIZE as u64,
            "upload {n}"
        );
        let base = pattern_base(n);
        let mut read = vec![0u8; 1 << 20];
        for index in 0..CHUNKS {
            file.read_exact(&mut read).expect("read");
            assert!(
                read == pattern_chunk(n, index, &base),
                "upload {n}, MiB {index}"
            );
        }
    }
    assert!(temp_files(site.path()).is_empty());
}

#[test]
fn over_http2_a_refused_upload_is_answered_before_its_body_is_sent() {
    use futures_util::stream;
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    let site = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(site.path(), &["--upload", "--upload-max", "1K"]);
    let status = crate::support::tls::runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        let (mut sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tcp),
        )
        .await
        .expect("h2 handshake");
        tokio::spawn(conn);
        // A body that never comes: only an answer made before it can arrive.
        let never = stream::pending::<Result<Frame<bytes::Bytes>, std::convert::Infallible>>();
        let request = http::Request::put(format!("http://{}/big.bin", server.addr))
            .header("content-length", "4096")
            .header("expect", "100-continue")
            .body(StreamBody::new(never))
            .expect("request");
        let response = tokio::time::timeout(WAIT, sender.send_request(request))
            .await
            .expect("an answer without the body")
            .expect("response");
        response.status().as_u16()
    });
    assert_eq!(status, 413);
    assert!(temp_files(site.path()).is_empty());
}

#[test]
fn a_server_stopped_mid_upload_leaves_the_target_unchanged_and_no_temp_file() {
    let site = tempfile::tempdir().expect("tempdir");
    write_file(site.path(), "doc.txt", "the old content");
    let mut server = Serveur::start(
        site.path(),
        &["--upload", "--upload-overwrite", "--shutdown-grace", "1"],
    );
    let _stream = half_sent_put(&server, site.path());
    server.signal("TERM");
    assert_eq!(server.wait_exit(), 0);
    assert!(
        temp_files(site.path()).is_empty(),
        "the temporary file is gone"
    );
    assert_eq!(
        fs::read_to_string(site.path().join("doc.txt")).expect("read"),
        "the old content"
    );
}
