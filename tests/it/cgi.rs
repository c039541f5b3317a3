//! `--cgi` end to end with real sh, python3 and perl scripts and a compiled program: what a
//! script receives (meta-variables, arguments, its working directory, the request body byte for
//! byte) and how its answer becomes the response (Status, Location, nph-, failures).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use crate::support::tls::h2_handshake;
use crate::support::{
    get, post, raw_text, raw_to_script, request, send_until, serve_script, write_script, RawReply,
    Serveur,
};

/// Prints its environment as `NAME=value` lines, its arguments, then its stdin.
const ENV_SCRIPT: &str = "#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
env
echo \"ARGS=$#:$1:$2\"
";

/// [`ENV_SCRIPT`] in python3.
const ENV_PY: &str = r#"#!/usr/bin/env python3
import os, sys
sys.stdout.write("Content-Type: text/plain\n\n")
for name, value in os.environ.items():
    sys.stdout.write("%s=%s\n" % (name, value))
args = sys.argv[1:] + ["", ""]
sys.stdout.write("ARGS=%d:%s:%s\n" % (len(sys.argv) - 1, args[0], args[1]))
"#;

/// [`ENV_SCRIPT`] in Perl.
const ENV_PL: &str = r#"#!/usr/bin/perl
print "Content-Type: text/plain\n\n";
print "$_=$ENV{$_}\n" for sort keys %ENV;
printf "ARGS=%d:%s:%s\n", scalar @ARGV, $ARGV[0] // "", $ARGV[1] // "";
"#;

fn env_of(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A server on `dir` with `--cgi` and `args`, whose own environment holds a secret.
fn start_with_secret(dir: &Path, args: &[&str]) -> Serveur {
    let mut command = Command::new(env!("CARGO_BIN_EXE_serveur"));
    command
        .env("SERVEUR_TEST_SECRET", "hunter2")
        .arg("-d")
        .arg(dir)
        .args(["-b", "127.0.0.1", "--cgi"])
        .args(args)
        .arg("0");
    Serveur::spawn(command)
}

#[test]
fn get_with_query_and_path_info_sets_every_meta_variable_for_sh_python3_and_perl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scripts = [
        ("env.sh", ENV_SCRIPT),
        ("env.py", ENV_PY),
        ("env.pl", ENV_PL),
    ];
    for (name, source) in scripts {
        write_script(dir.path(), &format!("cgi-bin/{name}"), source);
    }
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    let server = start_with_secret(dir.path(), &[]);
    for (name, _) in scripts {
        assert_meta_variables(&server, &root, name);
    }
}

/// Asks `/cgi-bin/NAME/extra/p%20ath?a=1&b=%20` (one of the `ENV_*` scripts) of `server`,
/// serving `root`, and checks every meta-variable the script printed.
fn assert_meta_variables(server: &Serveur, root: &Path, name: &str) {
    let script_name = format!("/cgi-bin/{name}");
    let uri = format!("{script_name}/extra/p%20ath?a=1&b=%20");
    let reply = request(
        server.addr,
        "GET",
        &uri,
        &[
            ("authorization", "Basic YWxpY2U6czNjcjN0"),
            ("x-custom", "one"),
            ("accept", "text/html"),
            ("accept", "text/plain"),
            ("cookie", "a=1"),
            ("content-type", "text/plain"),
        ],
    );
    assert_eq!(reply.status, 200, "{name}");
    let env = env_of(&reply.text());
    let port = server.port().to_string();
    let root = root.to_str().expect("utf-8 root");
    let expected = [
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        (
            "SERVER_SOFTWARE",
            concat!("serveur/", env!("CARGO_PKG_VERSION")),
        ),
        ("SERVER_NAME", "127.0.0.1"),
        ("SERVER_PORT", port.as_str()),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", script_name.as_str()),
        ("PATH_INFO", "/extra/p ath"),
        ("QUERY_STRING", "a=1&b=%20"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("REQUEST_URI", uri.as_str()),
        ("AUTH_TYPE", "Basic"),
        ("REMOTE_USER", "alice"),
        ("HTTP_X_CUSTOM", "one"),
        ("HTTP_ACCEPT", "text/html, text/plain"),
        ("HTTP_COOKIE", "a=1"),
        // RFC 3875 §4.1.3: set from the header even without a body.
        ("CONTENT_TYPE", "text/plain"),
        ("ARGS", "0::"),
    ];
    for (var, value) in expected {
        assert_eq!(
            env.get(var).map(String::as_str),
            Some(value),
            "{name}: {var}"
        );
    }
    assert_eq!(env["DOCUMENT_ROOT"], root, "{name}");
    assert_eq!(
        env["SCRIPT_FILENAME"],
        format!("{root}{script_name}"),
        "{name}"
    );
    assert_eq!(
        env["PATH_TRANSLATED"],
        format!("{root}/extra/p ath"),
        "{name}"
    );
    assert_eq!(env["HTTP_HOST"], server.addr.to_string(), "{name}");
    assert!(env["REMOTE_PORT"].parse::<u16>().is_ok(), "{name}");
    for absent in [
        "CONTENT_LENGTH",
        "HTTP_CONTENT_TYPE",
        "HTTPS",
        "HTTP_AUTHORIZATION",
    ] {
        assert!(!env.contains_key(absent), "{name}: {absent} is set");
    }
}

#[test]
fn httpoxy_underscored_headers_and_the_servers_secrets_never_reach_a_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(dir.path(), "cgi-bin/env.sh", ENV_SCRIPT);
    let server = start_with_secret(dir.path(), &[]);
    let reply = request(
        server.addr,
        "GET",
        "/cgi-bin/env.sh",
        &[
            ("proxy", "http://evil.example:3128"),
            ("x_forwarded_for", "6.6.6.6"),
            ("x-forwarded-for", "1.2.3.4"),
        ],
    );
    let env = env_of(&reply.text());
    assert!(!env.contains_key("HTTP_PROXY"));
    assert_eq!(env["HTTP_X_FORWARDED_FOR"], "1.2.3.4");
    assert!(!env.contains_key("SERVEUR_TEST_SECRET"));
    assert!(env.contains_key("PATH"));

    let passing = start_with_secret(dir.path(), &["--cgi-pass-env", "SERVEUR_TEST_SECRET"]);
    let env = env_of(&get(passing.addr, "/cgi-bin/env.sh").text());
    assert_eq!(env["SERVEUR_TEST_SECRET"], "hunter2");
}

#[test]
fn a_query_without_equals_becomes_the_scripts_arguments() {
    let (_dir, server) = serve_script("cgi-bin/env.sh", ENV_SCRIPT, &["--cgi"]);
    let env = env_of(&get(server.addr, "/cgi-bin/env.sh?one+two%20words").text());
    assert_eq!(env["ARGS"], "2:one:two words");
}

#[test]
fn a_compiled_program_is_a_script_and_gets_the_search_words_as_arguments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let program = dir.path().join("cgi-bin/printf");
    std::fs::create_dir(dir.path().join("cgi-bin")).expect("mkdir");
    std::fs::copy("/usr/bin/printf", &program)
        .unwrap_or_else(|e| panic!("this test needs coreutils' /usr/bin/printf: {e}"));
    let head = std::fs::read(&program).expect("read the copy");
    assert!(
        head.starts_with(b"\x7fELF"),
        "/usr/bin/printf is not an ELF program"
    );
    let server = Serveur::start(dir.path(), &["--cgi"]);
    // §4.4: no `=`, so `+` separates the arguments, each decoded: printf's format is
    // `Content-Type: text/plain\n\n%s,%s` (its `\n` escapes make the header block), then
    // `one` and `two words`.
    let reply = get(
        server.addr,
        "/cgi-bin/printf?Content-Type:%20text/plain%5Cn%5Cn%25s,%25s+one+two%20words",
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "text/plain");
    assert_eq!(reply.text(), "one,two words");
}

#[test]
fn a_script_runs_in_its_own_directory() {
    let (dir, server) = serve_script(
        "cgi-bin/deep/where.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\npwd -P\n",
        &["--cgi"],
    );
    // Neither the server's directory, the root, nor anything PATH_INFO names.
    let reply = get(server.addr, "/cgi-bin/deep/where.sh/elsewhere");
    let own = std::fs::canonicalize(dir.path().join("cgi-bin/deep")).expect("canonical");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), format!("{}\n", own.display()));
}

/// Echoes its stdin back after printing what it was told about it (python3).
const ECHO_PY: &str = r#"#!/usr/bin/env python3
import os, sys
data = sys.stdin.buffer.read()
sys.stdout.write("Content-Type: application/octet-stream\r\n")
sys.stdout.write("X-Length: %s\r\nX-Type: %s\r\n\r\n" % (os.environ.get("CONTENT_LENGTH"), os.environ.get("CONTENT_TYPE")))
sys.stdout.flush()
sys.stdout.buffer.write(data)
"#;

/// The same in Perl, reading exactly CONTENT_LENGTH bytes as CGI.pm does.
const ECHO_PL: &str = r#"#!/usr/bin/perl
binmode STDIN; binmode STDOUT;
my $n = $ENV{CONTENT_LENGTH} || 0;
my $data = '';
while (length($data) < $n) { my $r = read(STDIN, $data, $n - length($data), length($data)); last unless $r; }
print "Content-Type: text/plain\r\nX-Length: $n\r\n\r\n$data";
"#;

#[test]
fn urlencoded_posts_arrive_byte_exact_on_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(dir.path(), "cgi-bin/echo.py", ECHO_PY);
    write_script(dir.path(), "cgi-bin/echo.pl", ECHO_PL);
    let server = Serveur::start(dir.path(), &["--cgi"]);
    let form = "name=Ana%C3%AFs&msg=a+b%26c";
    for script in ["/cgi-bin/echo.py", "/cgi-bin/echo.pl"] {
        let reply = post(
            server.addr,
            script,
            "application/x-www-form-urlencoded",
            form,
        );
        assert_eq!(reply.status, 200, "{script}");
        assert_eq!(reply.header("x-length"), form.len().to_string(), "{script}");
        assert_eq!(reply.text(), form, "{script}");
    }
}

#[test]
fn a_ten_mebibyte_binary_multipart_upload_arrives_byte_exact() {
    let (_dir, server) = serve_script("cgi-bin/echo.py", ECHO_PY, &["--cgi"]);
    let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"b.bin\"\r\n\
Content-Type: application/octet-stream\r\n\r\n"
        .to_vec();
    let mut x: u32 = 2_463_534_242;
    body.extend((0..10 << 20).map(|_| {
        // xorshift: every byte value, no pattern a short buffer could fake.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    let reply = post(
        server.addr,
        "/cgi-bin/echo.py",
        "multipart/form-data; boundary=XyZ",
        body.clone(),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-type"), "multipart/form-data; boundary=XyZ");
    assert_eq!(reply.header("x-length"), body.len().to_string());
    assert!(reply.body == body, "the body came back different");
}

#[test]
fn a_chunked_body_is_spooled_so_content_length_is_set() {
    let (_dir, server) = serve_script("cgi-bin/echo.py", ECHO_PY, &["--cgi"]);
    let answer = raw_to_script(
        server.addr,
        b"POST /cgi-bin/echo.py HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\
Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("x-length: 11\r\n"), "{answer}");
    assert!(answer.contains("hello world"), "{answer}");
}

#[test]
fn bodies_over_the_limit_get_413_without_running_the_script() {
    let (dir, server) = serve_script(
        "cgi-bin/mark.sh",
        "#!/bin/sh\ntouch \"$DOCUMENT_ROOT/ran\"\nprintf 'Content-Type: text/plain\\n\\nok'\n",
        &["--cgi", "--cgi-max-body", "10"],
    );
    assert_eq!(
        post(server.addr, "/cgi-bin/mark.sh", "text/plain", "0123456789").status,
        200
    );
    std::fs::remove_file(dir.path().join("ran")).expect("the script ran");
    assert_eq!(
        post(server.addr, "/cgi-bin/mark.sh", "text/plain", "0123456789a").status,
        413
    );
    let chunked = raw_text(
        server.addr,
        b"POST /cgi-bin/mark.sh HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
Connection: close\r\n\r\n6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n",
    );
    assert!(chunked.starts_with("HTTP/1.1 413 "), "{chunked}");
    assert!(!dir.path().join("ran").exists());
}

#[test]
fn status_sets_the_status_line_and_headers_pass_through() {
    let (_dir, server) = serve_script("cgi-bin/status.py", "#!/usr/bin/env python3\nprint('Status: 418 Short And Stout')\nprint('Content-Type: text/plain')\nprint('X-Extra: yes')\nprint()\nprint('teapot')\n", &["--cgi"]);
    let answer = raw_to_script(
        server.addr,
        b"GET /cgi-bin/status.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        answer.starts_with("HTTP/1.1 418 Short And Stout\r\n"),
        "{answer}"
    );
    assert!(answer.contains("x-extra: yes\r\n"), "{answer}");
    assert!(!answer.to_ascii_lowercase().contains("status:"), "{answer}");
    assert!(answer.ends_with("teapot\n\r\n0\r\n\r\n"), "{answer}");
}

#[test]
fn an_absolute_location_redirects_the_client_with_302() {
    let (_dir, server) = serve_script(
        "cgi-bin/go.sh",
        "#!/bin/sh\nprintf 'Location: https://example.com/next\\n\\n'\n",
        &["--cgi"],
    );
    let reply = get(server.addr, "/cgi-bin/go.sh");
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location"), "https://example.com/next");
}

#[test]
fn a_local_location_is_served_in_place_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("page.txt"), "the page\n").expect("write");
    write_script(
        dir.path(),
        "cgi-bin/local.sh",
        "#!/bin/sh\nprintf 'Location: /page.txt\\n\\n'\n",
    );
    write_script(
        dir.path(),
        "cgi-bin/to-script.sh",
        "#!/bin/sh\nprintf 'Location: /cgi-bin/env.sh?from=redirect\\r\\n\\r\\n'\n",
    );
    write_script(dir.path(), "cgi-bin/env.sh", ENV_SCRIPT);
    write_script(
        dir.path(),
        "cgi-bin/loop.sh",
        "#!/bin/sh\nprintf 'Location: /cgi-bin/loop.sh\\n\\n'\n",
    );
    let server = Serveur::start(dir.path(), &["--cgi"]);
    let reply = get(server.addr, "/cgi-bin/local.sh");
    assert_eq!((reply.status, reply.text().as_str()), (200, "the page\n"));
    let env = env_of(&get(server.addr, "/cgi-bin/to-script.sh").text());
    assert_eq!(env["QUERY_STRING"], "from=redirect");
    assert_eq!(env["REQUEST_METHOD"], "GET");
    assert_eq!(get(server.addr, "/cgi-bin/loop.sh").status, 500);
    server.wait_for_log("only one is followed");
}

#[test]
fn nph_scripts_choose_status_and_fields_but_the_server_frames_the_response() {
    let (_dir, server) = serve_script("cgi-bin/nph-raw.sh", "#!/bin/sh\nprintf 'HTTP/1.0 299 Very Custom\\r\\nX-Nph: yes\\r\\nStatus: 500\\r\\nConnection: close\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nraw body'\n", &["--cgi"]);
    // Kept alive (no `Connection: close` of the client's in the answer), read to the last chunk.
    let (_, answer) = send_until(
        server.addr,
        b"GET /cgi-bin/nph-raw.sh HTTP/1.1\r\nHost: x\r\n\r\n",
        |seen| seen.ends_with("\r\n0\r\n\r\n"),
    );
    let reply = RawReply::parse(&answer);
    // The connection's version, not the script's: hyper writes the status line.
    assert_eq!(reply.status_line, "HTTP/1.1 299 Very Custom");
    assert_eq!(reply.header("x-nph"), Some("yes"));
    assert_eq!(reply.header("status"), Some("500"));
    // Hop-by-hop fields are the server's (RFC 9110 §7.6.1): the script's are dropped and the
    // body, which the script wrote unframed, is chunked by the server.
    assert_eq!(reply.header("connection"), None);
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
    assert_eq!(reply.body, b"8\r\nraw body\r\n0\r\n\r\n");
    assert!(reply.header("date").is_some());
    assert_eq!(
        reply.header("server"),
        Some(concat!("serveur/", env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn broken_scripts_get_python_error_pages_and_log_lines_naming_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_script(
        dir.path(),
        "cgi-bin/no-type.sh",
        "#!/bin/sh\nprintf 'X-A: b\\n\\nbody'\n",
    );
    write_script(
        dir.path(),
        "cgi-bin/garbage.sh",
        "#!/bin/sh\nprintf 'this is not a header\\n\\n'\n",
    );
    write_script(
        dir.path(),
        "cgi-bin/dies.sh",
        "#!/bin/sh\necho 'oops, dying' >&2\nexit 3\n",
    );
    write_script(dir.path(), "cgi-bin/no-shebang.sh", "\x7fELF not really\n");
    write_script(
        dir.path(),
        "cgi-bin/late.pl",
        "#!/usr/bin/perl\nprint \"Content-Type: text/plain\\n\\nfine\";\nexit 4;\n",
    );
    let server = Serveur::start(dir.path(), &["--cgi"]);
    let reply = get(server.addr, "/cgi-bin/no-type.sh");
    assert_eq!(reply.status, 500);
    assert!(reply.text().contains("<p>Error code: 500</p>"));
    server.wait_for_log("CGI script /cgi-bin/no-type.sh sent no Content-Type");

    let reply = get(server.addr, "/cgi-bin/garbage.sh");
    assert_eq!(reply.status, 502);
    assert!(reply.text().contains("<p>Error code: 502</p>"));
    server.wait_for_log("CGI script /cgi-bin/garbage.sh sent a malformed header block");

    assert_eq!(get(server.addr, "/cgi-bin/dies.sh").status, 502);
    server.wait_for_log("/cgi-bin/dies.sh: oops, dying");
    server.wait_for_log(
        "CGI script /cgi-bin/dies.sh ended its output before a complete header block (exit code 3)",
    );

    assert_eq!(get(server.addr, "/cgi-bin/no-shebang.sh").status, 502);
    server.wait_for_log("CGI script /cgi-bin/no-shebang.sh could not be started");

    assert_eq!(get(server.addr, "/cgi-bin/late.pl/a%00b").status, 400);
    assert_eq!(get(server.addr, "/cgi-bin/late.pl?a%00b").status, 400);

    let reply = get(server.addr, "/cgi-bin/late.pl");
    assert_eq!((reply.status, reply.text().as_str()), (200, "fine"));
    server.wait_for_log("CGI script /cgi-bin/late.pl exit code 4");
}

#[test]
fn over_http2_the_authority_is_the_host_and_the_body_streams() {
    let (_dir, server) = serve_script("cgi-bin/env.sh", ENV_SCRIPT, &["--cgi"]);
    let addr = server.addr;
    let text = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async move {
            use http_body_util::BodyExt;
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let (mut sender, _) = h2_handshake(stream).await;
            let request = http::Request::builder()
                .uri(format!(
                    "http://example.test:{}/cgi-bin/env.sh?x=1",
                    addr.port()
                ))
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .expect("request");
            let response = sender.send_request(request).await.expect("response");
            assert_eq!(response.status(), 200);
            let body = response.into_body().collect().await.expect("body");
            String::from_utf8(body.to_bytes().to_vec()).expect("utf-8")
        });
    let env = env_of(&text);
    assert_eq!(env["SERVER_PROTOCOL"], "HTTP/2.0");
    assert_eq!(env["SERVER_NAME"], "example.test");
    assert_eq!(env["HTTP_HOST"], format!("example.test:{}", addr.port()));
    assert_eq!(env["QUERY_STRING"], "x=1");
}
