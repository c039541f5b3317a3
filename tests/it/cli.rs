//! The binary's command line: help and version, every kind of bad argument (one line on stderr,
//! exit 2), an address already in use, and what `-H` and `--content-type` do to responses.

use crate::support;

use std::net::TcpListener;

use crate::support::{get, raw_request, request, run_to_exit, serveur_command, Exit, Serveur};

fn run(args: &[&str]) -> Exit {
    let mut command = serveur_command();
    command.args(args);
    run_to_exit(command)
}

#[test]
fn help_shows_pythons_flags_first_and_ours_under_their_own_headings() {
    let exit = run(&["--help"]);
    assert_eq!(exit.code, 0);
    let help = exit.stdout;
    let ours = help
        .find("serveur options:")
        .expect("serveur options heading");
    let limits = help.find("Limits and timeouts:").expect("limits heading");
    for python_flag in [
        "[PORT]",
        "-b, --bind <ADDRESS>",
        "-d, --directory <DIRECTORY>",
        "-p, --protocol <VERSION>",
        "--content-type <TYPE>",
        "-H, --header <HEADER>",
    ] {
        let at = help
            .find(python_flag)
            .unwrap_or_else(|| panic!("{python_flag}"));
        assert!(
            at < ours && at < limits,
            "{python_flag} is under our headings"
        );
    }
    for own_flag in ["--follow-symlinks", "-q, --quiet"] {
        assert!(help.find(own_flag).expect(own_flag) > ours, "{own_flag}");
    }
    for limit in ["--max-connections", "--header-timeout", "--shutdown-grace"] {
        assert!(help.find(limit).expect(limit) > limits, "{limit}");
    }
}

#[test]
fn version_prints_the_package_version() {
    let exit = run(&["--version"]);
    assert_eq!(exit.code, 0);
    assert_eq!(
        exit.stdout.trim(),
        format!("serveur {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_arguments_give_one_line_and_exit_2() {
    let missing = tempfile::tempdir().expect("tempdir").path().join("gone");
    let missing = missing.to_str().expect("utf-8 path");
    let cases: &[(&[&str], &str)] = &[
        (&["--no-such-flag"], "--no-such-flag"),
        (&["-b", "127.0.0.1", "port"], "port"),
        (&["-b", "127.0.0.1", "70000"], "70000"),
        (&["-b", "127.0.0.1", "-1"], "-1"),
        (&["-b", "127.0.0.1", "-d", missing, "0"], "gone"),
        (&["-b", "127.0.0.1", "-H", "NoColon", "0"], "NoColon"),
        (&["-b", "127.0.0.1", "-H", ": no name", "0"], "no name"),
        (&["-b", "127.0.0.1", "-H", "Bad Name: x", "0"], "Bad Name"),
        (&["-b", "127.0.0.1", "-H", "X-Ctl: a\u{1}b", "0"], "X-Ctl"),
        (
            &["-b", "127.0.0.1", "--content-type", "text/\n", "0"],
            "--content-type",
        ),
        (
            &["-b", "127.0.0.1", "-p", "HTTP/1.1\nX", "0"],
            "HTTP/1.1\\nX",
        ),
        (&["-b", "127.0.0.1", "-p", "HTTP/2.0", "0"], "HTTP/2.0"),
        (&["-b", "127.0.0.1", "-p", "http/1.1", "0"], "http/1.1"),
        (&["-b", "no..such..host", "0"], "no..such..host"),
        (&["-b", "127.0.0.1", "--header-timeout", "-3", "0"], "-3"),
        (&["8000", "8001"], "8001"),
        (
            &["-b", "127.0.0.1", "--cgi-dir", "/x", "0"],
            "--cgi-dir: only meaningful with --cgi",
        ),
        (
            &["-b", "127.0.0.1", "--cgi", "--cgi-dir", "x", "0"],
            "'x' does not start with /",
        ),
        (
            &["-b", "127.0.0.1", "--cgi", "--cgi-max", "0", "0"],
            "--cgi-max: must be at least 1",
        ),
        (
            &["-b", "127.0.0.1", "--cgi", "--cgi-max-body", "x", "0"],
            "--cgi-max-body: 'x' is not a size",
        ),
        (
            &["-b", "127.0.0.1", "--cgi", "--cgi-timeout", "0", "0"],
            "--cgi-timeout: must be more than 0",
        ),
        (
            &["-b", "127.0.0.1", "--upload-max", "1M", "0"],
            "--upload-max: only meaningful with --upload",
        ),
        (
            &["-b", "127.0.0.1", "--upload", "--upload-max", "lots", "0"],
            "--upload-max: 'lots' is not a size",
        ),
        (
            &[
                "-b",
                "127.0.0.1",
                "--upload",
                "--cgi",
                "--cgi-dir",
                "/",
                "0",
            ],
            "--upload: not allowed with --cgi-dir /",
        ),
    ];
    for (args, mention) in cases {
        let exit = run(args);
        assert_eq!(exit.code, 2, "{args:?}: {exit:?}");
        assert!(exit.stdout.is_empty(), "{args:?} printed {:?}", exit.stdout);
        let lines: Vec<&str> = exit.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {:?}", exit.stderr);
        assert!(lines[0].starts_with("serveur: error: "), "{lines:?}");
        assert!(lines[0].contains(mention), "{args:?}: {lines:?}");
    }
}

#[test]
fn address_in_use_is_a_clear_error_and_a_failing_exit() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let exit = run(&["-b", "127.0.0.1", &port]);
    assert_ne!(exit.code, 0);
    assert!(exit.stdout.is_empty(), "printed a startup line: {exit:?}");
    assert_eq!(
        exit.stderr.trim_end(),
        format!("serveur: error: cannot listen on 127.0.0.1 port {port}: Address already in use (os error 98)")
    );
}

#[test]
fn address_in_use_on_all_interfaces_is_a_clear_error_too() {
    let taken = TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let exit = run(&[&port]);
    assert_ne!(exit.code, 0);
    assert!(exit.stdout.is_empty(), "printed a startup line: {exit:?}");
    assert!(
        exit.stderr.starts_with(&format!(
            "serveur: error: cannot listen on 0.0.0.0 port {port}: "
        )),
        "{exit:?}"
    );
    assert!(exit.stderr.contains("in use"), "{exit:?}");
}

fn site() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("a.txt"), "alpha").expect("write");
    std::fs::write(tmp.path().join("data.unknownext"), "?").expect("write");
    std::fs::write(tmp.path().join("noext"), "?").expect("write");
    std::fs::create_dir(tmp.path().join("sub")).expect("mkdir");
    tmp
}

#[test]
fn extra_headers_go_on_200_responses_only() {
    let tmp = site();
    let server = Serveur::start(
        tmp.path(),
        &["-H", "X-Frame-Options: DENY", "-H", "X-Multi:  a: b "],
    );
    for path in ["/a.txt", "/", "/sub/"] {
        let reply = get(server.addr, path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(reply.header("x-multi"), "a: b", "{path}");
    }
    let head = request(server.addr, "HEAD", "/a.txt", &[]);
    assert_eq!(head.header("x-frame-options"), "DENY");
    let last_modified = get(server.addr, "/a.txt")
        .header("last-modified")
        .to_owned();
    let not_modified = request(
        server.addr,
        "GET",
        "/a.txt",
        &[("if-modified-since", &last_modified)],
    );
    for (path, reply) in [
        ("/nope", get(server.addr, "/nope")),
        ("/sub", get(server.addr, "/sub")),
        ("POST /", request(server.addr, "POST", "/", &[])),
        ("304", not_modified),
    ] {
        assert_ne!(reply.status, 200, "{path}");
        assert_eq!(reply.header("x-frame-options"), "", "{path}");
    }
}

#[test]
fn repeated_extra_headers_are_all_sent() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &["-H", "Link: <a>", "-H", "Link: <b>"]);
    let reply = get(server.addr, "/a.txt");
    let links: Vec<_> = reply.headers.get_all("link").iter().collect();
    assert_eq!(links, ["<a>", "<b>"]);
}

#[test]
fn extra_headers_never_override_the_servers_own() {
    let tmp = site();
    let server = Serveur::start(
        tmp.path(),
        &[
            "-H",
            "Content-Type: x/forced",
            "-H",
            "Content-Length: 999",
            "-H",
            "Last-Modified: never",
            "-H",
            "Server: evil",
            "-H",
            "Date: never",
            "-H",
            "Connection: close",
            "-H",
            "Transfer-Encoding: chunked",
            "-H",
            "X-Ok: yes",
        ],
    );
    let reply = raw_request(server.addr, "GET", "/a.txt");
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
    assert_eq!(reply.body, b"alpha");
    let all = |name: &str| -> Vec<&str> {
        reply
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(all("content-type"), ["text/plain"]);
    assert_eq!(all("content-length"), ["5"]);
    assert_eq!(
        all("server"),
        [format!("serveur/{}", env!("CARGO_PKG_VERSION"))]
    );
    assert_eq!(all("transfer-encoding"), Vec::<&str>::new());
    assert_eq!(all("x-ok"), ["yes"]);
    assert_eq!(all("date").len(), 1);
    assert_ne!(all("date"), ["never"]);
    assert_ne!(all("last-modified"), ["never"]);
    // The connection stays persistent: `-H Connection: close` does not reach the framing.
    let replies = support::send_on_one_connection(
        server.addr,
        (0..2)
            .map(|_| {
                http::Request::get("/a.txt")
                    .header("host", "t")
                    .body(http_body_util::Full::new(bytes::Bytes::new()))
                    .expect("request")
            })
            .collect(),
    );
    assert_eq!(replies.len(), 2);
}

#[test]
fn content_type_flag_sets_the_type_of_unknown_extensions_only() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &["--content-type", "text/plain; charset=utf-8"]);
    for path in ["/data.unknownext", "/noext"] {
        assert_eq!(
            get(server.addr, path).header("content-type"),
            "text/plain; charset=utf-8",
            "{path}"
        );
    }
    assert_eq!(
        get(server.addr, "/a.txt").header("content-type"),
        "text/plain"
    );
    assert_eq!(
        get(server.addr, "/").header("content-type"),
        "text/html; charset=utf-8"
    );
}
