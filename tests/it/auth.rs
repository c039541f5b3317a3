//! Access control (`--auth`, `--auth-file`, issue 17) with real clients: curl `-u`, Python
//! `requests` with `HTTPBasicAuth`, raw sockets for the spellings and headers a client library
//! would tidy up, htpasswd files made by Apache's own `htpasswd`, a CGI script and a PHP page
//! that print `REMOTE_USER`.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::fastcgi_apps::{json, php_site};
use crate::support::{
    run_to_exit, serveur_command, write_file, write_script, RawReply, Serveur, WAIT,
};

/// A site with `pub/a.txt`, `private/s.txt` (holding "secret") and `pub/link`, a symlink in
/// the open folder to the private one.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("site");
    write_file(dir.path(), "pub/a.txt", "open\n");
    write_file(dir.path(), "private/s.txt", "secret\n");
    std::os::unix::fs::symlink("../private", dir.path().join("pub/link")).expect("symlink");
    dir
}

/// `serveur --hash-password` fed `password` on stdin (not a terminal).
fn hash_password(password: &str) -> String {
    let mut child = serveur_command()
        .arg("--hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("serveur --hash-password");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{password}\n").as_bytes())
        .expect("write");
    drop(stdin);
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success());
    let hash = String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    hash
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// One request from the local address `source` (any 127.0.0.0/8 address: the throttle
/// counts per address), `Connection: close`, the whole answer.
fn raw_from(source: IpAddr, addr: SocketAddr, request: &[u8]) -> RawReply {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::new(source, 0).into())
        .expect("bind source");
    socket.connect(&addr.into()).expect("connect");
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(request).expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    RawReply::parse(&answer)
}

/// The status code alone (the reason phrase carries CPython's message).
trait Code {
    fn code(&self) -> &str;
}

impl Code for RawReply {
    fn code(&self) -> &str {
        self.status().get(..3).unwrap_or("")
    }
}

fn get_with(addr: SocketAddr, path: &str, authorization: Option<&str>) -> RawReply {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(value) = authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    request.push_str("\r\n");
    raw_from([127, 0, 0, 1].into(), addr, request.as_bytes())
}

fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "-w", " %{http_code}"])
        .args(args)
        .output()
        .expect("curl must be installed to run this test");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn curl_and_requests_log_in_and_the_log_names_the_user() {
    let site = site();
    let hash = hash_password("wonderland");
    let rule = format!("alice:{hash}@/private:rw");
    let server = Serveur::start(site.path(), &["--auth", "@/pub", "--auth", &rule]);
    let url = format!("http://{}/private/s.txt", server.addr);
    assert_eq!(curl(&["-u", "alice:wonderland", &url]), "secret\n 200");
    server.wait_for_log("127.0.0.1 - alice [");
    let script = format!(
        "import requests\nfrom requests.auth import HTTPBasicAuth\n\
         r = requests.get({url:?}, auth=HTTPBasicAuth('alice', 'wonderland'))\n\
         print(r.status_code, r.text.strip())\n\
         r = requests.get({url:?}, auth=HTTPBasicAuth('alice', 'wrong'))\n\
         print(r.status_code, r.headers['WWW-Authenticate'])\n"
    );
    let output = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "200 secret\n401 Basic realm=\"serveur\", charset=\"UTF-8\"\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // curl's line and requests' line; the log is written a few milliseconds after the answer.
    let alice = |l: &String| l.contains(" - alice [") && l.ends_with("/s.txt HTTP/1.1\" 200 7");
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    while server.log().iter().filter(|l| alice(l)).count() < 2 {
        assert!(std::time::Instant::now() < deadline, "{:#?}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn missing_wrong_and_unprivileged_accounts() {
    let site = site();
    let server = Serveur::start(
        site.path(),
        &[
            "--auth",
            "@/pub",
            "--auth",
            "alice:pw@/private",
            "--auth",
            "bob:pw@/pub:ro",
        ],
    );
    let missing = get_with(server.addr, "/private/s.txt", None);
    assert_eq!(missing.code(), "401");
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Basic realm=\"serveur\", charset=\"UTF-8\"")
    );
    assert_eq!(
        get_with(server.addr, "/private/s.txt", Some(&basic("alice", "no"))).code(),
        "401"
    );
    assert_eq!(
        get_with(server.addr, "/private/s.txt", Some(&basic("bob", "pw"))).code(),
        "403"
    );
    assert_eq!(get_with(server.addr, "/pub/a.txt", None).code(), "200");
    // Write needs rw: bob has ro, anonymous has ro.
    let put = format!(
        "PUT /pub/new HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {}\r\nContent-Length: 0\r\n\r\n",
        basic("bob", "pw")
    );
    assert_eq!(
        raw_from([127, 0, 0, 1].into(), server.addr, put.as_bytes()).code(),
        "403"
    );
    let anonymous_post =
        b"POST /pub/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        raw_from([127, 0, 0, 1].into(), server.addr, anonymous_post).code(),
        "401"
    );
}

#[test]
fn hostile_spellings_never_reach_the_private_folder() {
    let site = site();
    let server = Serveur::start(
        site.path(),
        &["--auth", "@/pub", "--auth", "alice:pw@/private"],
    );
    for path in [
        "/private/s.txt",
        "/pub/../private/s.txt",
        "/pub/%2e%2e/private/s.txt",
        "/pub/%2E%2E/private/s.txt",
        "/pub%2f..%2fprivate/s.txt",
        "/pub/..%2Fprivate/s.txt",
        "//private/s.txt",
        "/./private/s.txt",
        "/pub/./../private/s.txt",
        "/%70rivate/s.txt",
        "/Private/s.txt",
        "/PRIVATE/s.txt",
        "/pub/link/s.txt",
        "/pub/link/",
        "/pub/link",
        "/pub//link/s.txt",
        "/pub/%6cink/s.txt",
        "/private/s.txt%00",
        "/private/s.txt?/pub/",
        "/private/s.txt#/pub/",
    ] {
        let reply = get_with(server.addr, path, None);
        assert_eq!(reply.code(), "401", "{path}");
        assert!(
            !String::from_utf8_lossy(&reply.body).contains("secret"),
            "{path}"
        );
    }
    // The open folder's listing does not show the link into the closed one, except to alice.
    let listing = get_with(server.addr, "/pub/", None);
    let page = String::from_utf8_lossy(&listing.body);
    assert!(page.contains("a.txt") && !page.contains("link"), "{page}");
    let alice = get_with(server.addr, "/pub/", Some(&basic("alice", "pw")));
    assert!(String::from_utf8_lossy(&alice.body).contains("link/"));
    assert_eq!(
        get_with(server.addr, "/pub/link/s.txt", Some(&basic("alice", "pw"))).code(),
        "200"
    );
    // Her copy's tag never revalidates the anonymous page, which differs.
    let tag = alice.header("etag").expect("a listing's ETag").to_owned();
    assert_ne!(listing.header("etag"), Some(tag.as_str()));
    let request = format!(
        "GET /pub/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nIf-None-Match: {tag}\r\n\r\n"
    );
    let again = raw_from([127, 0, 0, 1].into(), server.addr, request.as_bytes());
    assert_eq!(
        again.code(),
        "200",
        "another viewer's tag gets the page, not a 304"
    );
}

#[test]
fn malformed_authorization_headers_are_refused_and_the_server_goes_on() {
    let site = site();
    let server = Serveur::start(site.path(), &["--auth", "alice:pw@/"]);
    let not_utf8 = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(b"\xff\xfe:\xff")
    );
    let huge = format!("Basic {}", "QUFB".repeat(2000));
    for (n, value) in [
        "Basic !!!notbase64",
        "Basic YWxpY2U=",
        not_utf8.as_str(),
        huge.as_str(),
        "Basic",
        "Basic ",
        "basic YWxpY2U6cHc=x",
    ]
    .iter()
    .enumerate()
    {
        // Each from its own address, so that the throttle does not slow the next.
        let source: IpAddr = [127, 0, 1, n as u8 + 1].into();
        let request = format!("GET /pub/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {value}\r\n\r\n");
        let reply = raw_from(source, server.addr, request.as_bytes());
        assert_eq!(reply.code(), "401", "{value:.40}");
    }
    // A scheme that is not ours counts as no credentials (401 here, where nothing is open).
    assert_eq!(
        get_with(server.addr, "/pub/a.txt", Some("Bearer abc")).code(),
        "401"
    );
    assert_eq!(
        get_with(server.addr, "/pub/a.txt", Some(&basic("alice", "pw"))).code(),
        "200"
    );
}

#[test]
fn htpasswd_files_from_apache_and_hash_password_hashes_are_accepted() {
    let site = site();
    let file = site.path().join("users");
    for (flag, user) in [("-B", "bcrypt"), ("-5", "sha512"), ("-2", "sha256")] {
        let mut htpasswd = Command::new("htpasswd");
        htpasswd.args(["-b", flag]);
        if !file.exists() {
            htpasswd.arg("-c");
        }
        let status = htpasswd
            .arg(&file)
            .args([user, "pw-of-user"])
            .status()
            .expect("htpasswd (apache2-utils) must be installed to run this test");
        assert!(status.success());
    }
    let hash = hash_password("pw-of-argon");
    let argon = format!("argon:{hash}@/pub:ro");
    let server = Serveur::start(
        site.path(),
        &[
            "--auth-file",
            file.to_str().expect("path"),
            "--auth",
            &argon,
            "--auth",
            "sha256@/pub:ro",
        ],
    );
    let url = format!("http://{}/private/s.txt", server.addr);
    assert_eq!(curl(&["-u", "bcrypt:pw-of-user", &url]), "secret\n 200");
    assert_eq!(curl(&["-u", "sha512:pw-of-user", &url]), "secret\n 200");
    assert!(curl(&["-o", "/dev/null", "-u", "sha512:wrong", &url]).ends_with("401"));
    // Narrowed by a rule naming it: reads /pub only.
    assert!(curl(&["-o", "/dev/null", "-u", "sha256:pw-of-user", &url]).ends_with("403"));
    let open = format!("http://{}/pub/a.txt", server.addr);
    assert_eq!(curl(&["-u", "sha256:pw-of-user", &open]), "open\n 200");
    assert_eq!(curl(&["-u", "argon:pw-of-argon", &open]), "open\n 200");
}

#[test]
fn weak_htpasswd_formats_and_clear_passwords_on_the_network_are_refused() {
    let site = site();
    for (flag, said) in [("-m", "MD5-apr1"), ("-s", "SHA-1")] {
        let file = site.path().join(format!("weak{flag}"));
        let status = Command::new("htpasswd")
            .args(["-c", "-b", flag])
            .arg(&file)
            .args(["old", "pw"])
            .status()
            .expect("htpasswd (apache2-utils) must be installed to run this test");
        assert!(status.success());
        let mut command = serveur_command();
        command
            .args(["-b", "127.0.0.1", "--auth-file"])
            .arg(&file)
            .arg("0");
        let exit = run_to_exit(command);
        assert_eq!(exit.code, 2, "{}", exit.stderr);
        assert!(
            exit.stderr.contains(said) && exit.stderr.contains("htpasswd -B"),
            "{}",
            exit.stderr
        );
        assert!(exit.stderr.contains("--hash-password"), "{}", exit.stderr);
    }
    let mut command = serveur_command();
    command.args(["-b", "0.0.0.0", "--auth", "a:pw@/", "0"]);
    let exit = run_to_exit(command);
    assert_eq!(exit.code, 2);
    assert!(
        exit.stderr.contains("--auth-insecure-ok"),
        "{}",
        exit.stderr
    );
    // Allowed when asked, with warnings for the clear password and its plain text.
    let server = Serveur::start_with(
        site.path(),
        "0.0.0.0",
        &["--auth", "a:pw@/", "--auth-insecure-ok"],
    );
    server.wait_for_log("in plain text");
    server.wait_for_log("cross the network in clear");
}

/// The time of one wrong login as `user` from `source`.
fn login_time(addr: SocketAddr, user: &str, source: IpAddr, n: usize) -> Duration {
    let request = format!(
        "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {}\r\n\r\n",
        basic(user, &format!("guess{n}"))
    );
    let start = Instant::now();
    assert_eq!(raw_from(source, addr, request.as_bytes()).code(), "401");
    start.elapsed()
}

#[test]
fn a_known_and_an_unknown_user_take_comparable_time() {
    let site = site();
    let hash = hash_password("right");
    let server = Serveur::start(site.path(), &["--auth", &format!("alice:{hash}@/")]);
    // Interleaved, each guess from its own address (no throttling), medians of 9: a busy
    // machine slows both alike.
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for n in 0..9 {
        known.push(login_time(
            server.addr,
            "alice",
            [127, 0, 2, 1 + n].into(),
            n.into(),
        ));
        unknown.push(login_time(
            server.addr,
            "mallory",
            [127, 0, 2, 20 + n].into(),
            n.into(),
        ));
    }
    known.sort();
    unknown.sort();
    let (known, unknown) = (known[4], unknown[4]);
    // argon2 takes milliseconds; without the dummy hash an unknown user is answered in
    // microseconds (a ratio near 0.001). Generous bounds: the machine is shared.
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(
        (0.33..3.0).contains(&ratio),
        "known {known:?}, unknown {unknown:?}"
    );
}

#[test]
fn repeated_failures_from_one_address_are_slowed_and_logged() {
    let site = site();
    let server = Serveur::start(site.path(), &["--auth", "alice:pw@/"]);
    let source: IpAddr = [127, 0, 3, 1].into();
    let wrong = format!(
        "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {}\r\n\r\n",
        basic("alice", "nope")
    );
    let mut last = Duration::ZERO;
    for _ in 0..7 {
        let start = Instant::now();
        assert_eq!(
            raw_from(source, server.addr, wrong.as_bytes()).code(),
            "401"
        );
        last = start.elapsed();
    }
    assert!(
        last >= Duration::from_millis(450),
        "the 7th failure took {last:?}"
    );
    server.wait_for_log("failed logins from this address in a minute");
    // Another address is not slowed.
    let start = Instant::now();
    assert_eq!(
        raw_from([127, 0, 3, 2].into(), server.addr, wrong.as_bytes()).code(),
        "401"
    );
    assert!(start.elapsed() < Duration::from_millis(200));
}

#[test]
fn a_cgi_script_and_a_php_page_see_the_user_and_never_the_credentials() {
    let site = site();
    write_script(
        site.path(),
        "cgi-bin/who.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho \"$AUTH_TYPE $REMOTE_USER [$HTTP_AUTHORIZATION]\"\n",
    );
    let server = Serveur::start(site.path(), &["--cgi", "--auth", "alice:pw@/"]);
    let url = format!("http://{}/cgi-bin/who.sh", server.addr);
    assert_eq!(curl(&["-u", "alice:pw", &url]), "Basic alice []\n 200");

    let php = php_site(1, &["--auth", "alice:pw@/"]);
    let url = format!("http://{}/vars.php", php.server.addr);
    let output = curl(&["-u", "alice:pw", &url]);
    let vars = json(output.trim_end_matches(" 200"));
    assert_eq!(vars["REMOTE_USER"], "alice");
    assert_eq!(vars["AUTH_TYPE"], "Basic");
    assert!(vars.get("HTTP_AUTHORIZATION").is_none(), "{vars}");
}

#[test]
fn a_cors_preflight_to_a_private_path_is_answered_without_credentials() {
    let site = site();
    let server = Serveur::start(
        site.path(),
        &["--cors", "--auth", "@/pub", "--auth", "alice:pw@/private"],
    );
    let preflight = "OPTIONS /private/s.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                     Origin: http://app.example\r\nAccess-Control-Request-Method: GET\r\n\
                     Access-Control-Request-Headers: authorization\r\n\r\n";
    let reply = raw_from([127, 0, 0, 1].into(), server.addr, preflight.as_bytes());
    assert_eq!(reply.code(), "204", "{reply:?}");
    assert!(
        reply.header("access-control-allow-origin").is_some(),
        "{reply:?}"
    );
    assert!(reply.body.is_empty());
    // The request that follows is judged as usual.
    assert_eq!(get_with(server.addr, "/private/s.txt", None).code(), "401");
    // A plain OPTIONS (no preflight) still needs the right to read.
    let options = "OPTIONS /private/s.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let reply = raw_from([127, 0, 0, 1].into(), server.addr, options.as_bytes());
    assert_eq!(reply.code(), "401");
}
