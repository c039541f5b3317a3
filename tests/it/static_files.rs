//! GET and HEAD on a file tree over real HTTP, as CPython's `SimpleHTTPRequestHandler` answers
//! them: path decoding, redirects, index files, 404s, content types, conditional GET, 501s and
//! the exact error page.

use crate::support;

use std::fs;
use std::time::{Duration, SystemTime};

use crate::support::{
    get, open_to_others, raw, raw_request, request, write_file, RawReply, Serveur,
};

/// CPython 3.14's error page for `404 File not found`, byte for byte.
const NOT_FOUND_PAGE: &str = r#"<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <style type="text/css">
            :root {
                color-scheme: light dark;
            }
        </style>
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: 404</p>
        <p>Message: File not found.</p>
        <p>Error code explanation: 404 - Nothing matches the given URI.</p>
    </body>
</html>
"#;

/// A served tree under `www/`, with a `secret.txt` beside it that must never be reachable.
fn tree() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let www = tmp.path().join("www");
    write_file(tmp.path(), "secret.txt", "TOP SECRET");
    write_file(&www, "a.txt", "alpha\n");
    write_file(&www, "b c.txt", "with space");
    write_file(&www, "sub/in.txt", "inner");
    write_file(&www, "evil.com/dir/x.txt", "not a host");
    (tmp, www)
}

#[test]
fn file_is_served_with_type_length_and_last_modified() {
    let (_tmp, www) = tree();
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    fs::File::options()
        .write(true)
        .open(www.join("a.txt"))
        .expect("open")
        .set_modified(mtime)
        .expect("set mtime");
    let server = Serveur::start(&www, &[]);
    let reply = get(server.addr, "/a.txt");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "alpha\n");
    assert_eq!(reply.header("content-type"), "text/plain");
    assert_eq!(reply.header("content-length"), "6");
    assert_eq!(
        reply.header("last-modified"),
        "Sun, 13 Sep 2020 12:26:40 GMT"
    );
}

#[test]
fn percent_encoded_names_are_decoded() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    assert_eq!(get(server.addr, "/b%20c.txt").text(), "with space");
    assert_eq!(get(server.addr, "/%61.txt").text(), "alpha\n");
    // An encoded slash is a slash once decoded, as in CPython's translate_path.
    assert_eq!(get(server.addr, "/sub%2fin.txt").text(), "inner");
}

#[test]
fn query_and_fragment_are_ignored() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    assert_eq!(
        get(server.addr, "/a.txt?x=1&y=/../secret.txt").text(),
        "alpha\n"
    );
    let reply = raw_request(server.addr, "GET", "/a.txt#/../../secret.txt");
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
    assert_eq!(reply.body, b"alpha\n");
}

#[test]
fn leading_double_slash_never_redirects_off_site() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    for (path, location) in [
        ("//evil.com/dir", "/evil.com/dir/"),
        ("///evil.com/dir", "/evil.com/dir/"),
        ("//evil.com/dir?q=1", "/evil.com/dir/?q=1"),
    ] {
        let reply = raw_request(server.addr, "GET", path);
        assert_eq!(
            reply.status_line, "HTTP/1.1 301 Moved Permanently",
            "{path}"
        );
        assert_eq!(reply.header("location"), Some(location), "{path}");
    }
    assert_eq!(
        get(server.addr, "//evil.com/dir/x.txt").text(),
        "not a host"
    );
}

#[test]
fn dot_dot_never_escapes_the_root() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    for path in [
        "/../secret.txt",
        "/../../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/sub/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/sub%2f..%2f..%2fsecret.txt",
        "/.%2e/secret.txt",
    ] {
        let reply = raw_request(server.addr, "GET", path);
        assert_eq!(reply.status_line, "HTTP/1.1 404 File not found", "{path}");
        assert!(!String::from_utf8_lossy(&reply.body).contains("SECRET"));
    }
    // `..` is resolved lexically inside the root, as CPython does.
    assert_eq!(get(server.addr, "/sub/../a.txt").text(), "alpha\n");
    assert_eq!(get(server.addr, "/../a.txt").text(), "alpha\n");
}

#[test]
fn dir_without_slash_redirects_keeping_query() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    let reply = raw_request(server.addr, "GET", "/sub?a=1&b=%20");
    assert_eq!(reply.status_line, "HTTP/1.1 301 Moved Permanently");
    assert_eq!(reply.header("location"), Some("/sub/?a=1&b=%20"));
    assert_eq!(reply.header("content-length"), Some("0"));
    assert!(reply.body.is_empty());
    let plain = raw_request(server.addr, "GET", "/sub");
    assert_eq!(plain.header("location"), Some("/sub/"));
    let empty_query = raw_request(server.addr, "GET", "/sub?");
    assert_eq!(empty_query.header("location"), Some("/sub/"));
}

#[test]
fn index_html_wins_over_index_htm_which_wins_over_the_listing() {
    let (_tmp, www) = tree();
    write_file(&www, "both/index.html", "html");
    write_file(&www, "both/index.htm", "htm");
    write_file(&www, "htm/index.htm", "only htm");
    fs::create_dir_all(www.join("notfile/index.html")).expect("mkdir");
    let server = Serveur::start(&www, &[]);
    let both = get(server.addr, "/both/");
    assert_eq!(both.text(), "html");
    assert_eq!(both.header("content-type"), "text/html");
    assert_eq!(get(server.addr, "/htm/").text(), "only htm");
    // An index.html that is a directory is not an index file (CPython's os.path.isfile).
    let listing = get(server.addr, "/notfile/");
    assert!(listing.text().contains("Directory listing for /notfile/"));
}

#[test]
fn file_path_with_trailing_slash_is_not_found() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    assert_eq!(get(server.addr, "/a.txt/").status, 404);
    assert_eq!(get(server.addr, "/sub/in.txt/").status, 404);
}

#[test]
fn missing_file_gets_pythons_error_page_byte_for_byte() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    let reply = raw_request(server.addr, "GET", "/nope.txt");
    assert_eq!(reply.status_line, "HTTP/1.1 404 File not found");
    assert_eq!(String::from_utf8_lossy(&reply.body), NOT_FOUND_PAGE);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html;charset=utf-8")
    );
    assert_eq!(
        reply.header("content-length"),
        Some(NOT_FOUND_PAGE.len().to_string().as_str())
    );
    assert_eq!(reply.header("connection"), Some("close"));
}

/// CPython closes the connection after every error; serveur keeps it, since hyper knows the
/// request was read whole (a documented difference: a 404 costs no new connection).
#[test]
fn not_found_keeps_the_connection_for_the_next_request() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    let (bytes, closed) = support::raw_keep_open(
        server.addr,
        b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        support::WAIT,
    );
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.starts_with("HTTP/1.1 404 File not found\r\n"),
        "{text}"
    );
    let (not_found, second) = text
        .split_once("HTTP/1.1 200 OK\r\n")
        .unwrap_or_else(|| panic!("second request unanswered: {text}"));
    assert!(!not_found.contains("connection: close"), "{not_found}");
    assert!(second.contains("connection: close"), "{second}");
    assert!(
        closed,
        "the connection should end after the `Connection: close` request"
    );
}

#[test]
fn unreadable_file_is_not_found() {
    use std::os::unix::fs::PermissionsExt;
    let (_tmp, www) = tree();
    write_file(&www, "locked.txt", "locked");
    write_file(&www, "locked/in.txt", "x");
    open_to_others(&www.join("sub"));
    fs::set_permissions(www.join("a.txt"), fs::Permissions::from_mode(0o644)).expect("chmod");
    fs::set_permissions(www.join("locked.txt"), fs::Permissions::from_mode(0o000)).expect("chmod");
    fs::set_permissions(www.join("locked"), fs::Permissions::from_mode(0o000)).expect("chmod");
    let server = Serveur::start_unprivileged(&www, &[]);
    assert_eq!(
        get(server.addr, "/a.txt").text(),
        "alpha\n",
        "setup: readable file"
    );
    let reply = raw_request(server.addr, "GET", "/locked.txt");
    assert_eq!(reply.status_line, "HTTP/1.1 404 File not found");
    assert_eq!(String::from_utf8_lossy(&reply.body), NOT_FOUND_PAGE);
    // A directory that cannot be entered hides what is in it.
    assert_eq!(get(server.addr, "/locked/in.txt").status, 404);
    let listing = raw_request(server.addr, "GET", "/locked/");
    assert_eq!(
        listing.status_line,
        "HTTP/1.1 404 No permission to list directory"
    );
    server.wait_for_log("code 404, message No permission to list directory");
    // Give the tree back to its owner so that the temporary directory can be removed.
    fs::set_permissions(www.join("locked"), fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn fifo_is_never_opened() {
    let (_tmp, www) = tree();
    let status = std::process::Command::new("mkfifo")
        .arg(www.join("pipe"))
        .status()
        .expect("run mkfifo");
    assert!(status.success());
    let server = Serveur::start(&www, &[]);
    assert_eq!(get(server.addr, "/pipe").status, 404);
    assert_eq!(
        get(server.addr, "/a.txt").status,
        200,
        "server still answers"
    );
}

#[test]
fn content_type_comes_from_the_extension_with_pythons_overrides_first() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("a.html", "text/html"),
        ("a.htm", "text/html"),
        ("a.txt", "text/plain"),
        ("a.css", "text/css"),
        ("a.js", "text/javascript"),
        ("a.json", "application/json"),
        ("a.png", "image/png"),
        ("a.svg", "image/svg+xml"),
        ("a.tar.gz", "application/gzip"),
        ("a.GZ", "application/gzip"),
        ("a.bz2", "application/x-bzip2"),
        ("a.xz", "application/x-xz"),
        ("a.Z", "application/octet-stream"),
        ("README", "application/octet-stream"),
        ("a.zzzunknown", "application/octet-stream"),
    ];
    for (name, _) in cases {
        write_file(tmp.path(), name, "x");
    }
    let server = Serveur::start(tmp.path(), &[]);
    for (name, expected) in cases {
        let reply = get(server.addr, &format!("/{name}"));
        assert_eq!(reply.header("content-type"), expected, "{name}");
        // Compressed files are sent as they are: never a Content-Encoding (CPython gh-75397).
        assert_eq!(reply.header("content-encoding"), "", "{name}");
    }
}

#[test]
fn if_modified_since_gives_304_unless_if_none_match_is_present() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    let first = get(server.addr, "/a.txt");
    let last_modified = first.header("last-modified").to_owned();

    let same = request(
        server.addr,
        "GET",
        "/a.txt",
        &[("if-modified-since", &last_modified)],
    );
    assert_eq!(same.status, 304);
    assert!(same.body.is_empty());

    let later = request(
        server.addr,
        "GET",
        "/a.txt",
        &[("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT")],
    );
    assert_eq!(later.status, 304);

    let earlier = request(
        server.addr,
        "GET",
        "/a.txt",
        &[("if-modified-since", "Thu, 01 Jan 1998 00:00:00 GMT")],
    );
    assert_eq!(earlier.status, 200);
    assert_eq!(earlier.text(), "alpha\n");

    // RFC 9110 §13.1.3: If-None-Match takes precedence; CPython then ignores the date.
    let with_etag = request(
        server.addr,
        "GET",
        "/a.txt",
        &[
            ("if-modified-since", &last_modified),
            ("if-none-match", "\"no-such-tag\""),
        ],
    );
    assert_eq!(with_etag.status, 200);

    let garbage = request(
        server.addr,
        "GET",
        "/a.txt",
        &[("if-modified-since", "not a date")],
    );
    assert_eq!(garbage.status, 200);
    server.wait_for_log("\"GET /a.txt HTTP/1.1\" 304 0");
}

#[test]
fn other_methods_get_501_with_the_method_in_the_reason_phrase() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    // OPTIONS is answered (204 with `Allow`, RFC 9110 §9.3.7): see downloads_headers.rs.
    for method in ["POST", "PUT", "DELETE", "PATCH", "BREW"] {
        let answer = raw(
            server.addr,
            format!("{method} /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").as_bytes(),
        );
        let reply = RawReply::parse(&answer);
        assert_eq!(
            reply.status_line,
            format!("HTTP/1.1 501 Unsupported method ('{method}')")
        );
        let body = String::from_utf8_lossy(&reply.body);
        // html.escape(message, quote=False): the quotes stay as they are.
        assert!(
            body.contains(&format!("<p>Message: Unsupported method ('{method}').</p>")),
            "{body}"
        );
        assert!(body.contains(
            "<p>Error code explanation: 501 - Server does not support this operation.</p>"
        ));
    }
    server.wait_for_log("code 501, message Unsupported method ('POST')");
}

#[test]
fn head_has_the_headers_of_get_and_no_body() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    for path in ["/a.txt", "/", "/nope", "/sub"] {
        let got = raw_request(server.addr, "GET", path);
        let head = raw_request(server.addr, "HEAD", path);
        assert_eq!(head.status_line, got.status_line, "{path}");
        assert!(head.body.is_empty(), "{path}: HEAD sent a body");
        for name in [
            "content-type",
            "content-length",
            "last-modified",
            "location",
            "connection",
        ] {
            assert_eq!(head.header(name), got.header(name), "{path}: {name}");
        }
    }
}

/// The small-file cache's hits, from the metrics page at `/metrics`.
fn cache_hits(server: &Serveur) -> u64 {
    let page = get(server.addr, "/metrics").text();
    page.lines()
        .find_map(|line| line.strip_prefix("serveur_small_file_cache_hits_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the cache's hits on the metrics page")
}

#[test]
fn a_file_kept_in_memory_is_sent_with_its_own_headers_never_an_earlier_versions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let page = tmp.path().join("page.txt");
    fs::write(&page, "first version\n").expect("write");
    // A file's bytes, and the head made with them, are kept once its last change is two
    // seconds old (small_files).
    std::thread::sleep(Duration::from_millis(2100));
    let server = Serveur::start(tmp.path(), &["--metrics-path", "/metrics"]);
    let read = get(server.addr, "/page.txt");
    let kept = get(server.addr, "/page.txt");
    assert_eq!(cache_hits(&server), 1, "the second answer came from memory");
    assert_eq!(kept.body, read.body);
    for name in [
        "content-type",
        "content-length",
        "last-modified",
        "etag",
        "accept-ranges",
    ] {
        assert_ne!(kept.header(name), "", "{name}");
        assert_eq!(kept.header(name), read.header(name), "{name}");
    }
    assert_eq!(kept.header("content-length"), "14");
    // HEAD says the file's length; a range says the part's.
    let head = request(server.addr, "HEAD", "/page.txt", &[]);
    assert_eq!(head.header("content-length"), "14");
    assert_eq!(head.header("etag"), kept.header("etag"));
    let part = request(server.addr, "GET", "/page.txt", &[("range", "bytes=0-4")]);
    assert_eq!(part.status, 206);
    assert_eq!(&part.body[..], b"first");
    assert_eq!(part.header("content-length"), "5");
    assert_eq!(part.header("content-range"), "bytes 0-4/14");
    let etag = kept.header("etag");
    let revalidated = request(server.addr, "GET", "/page.txt", &[("if-none-match", etag)]);
    assert_eq!(revalidated.status, 304);
    assert_eq!(
        cache_hits(&server),
        3,
        "HEAD and the range came from memory too"
    );
    // Changed in place, same length: the new bytes with a new tag, at once.
    fs::write(&page, "FIRST VERSION\n").expect("write");
    let changed = get(server.addr, "/page.txt");
    assert_eq!(changed.text(), "FIRST VERSION\n");
    assert_ne!(changed.header("etag"), etag);
    assert_eq!(changed.header("content-length"), "14");
    // Replaced by a longer file: its own length and tag.
    let longer = "the second version, longer\n";
    let other = tmp.path().join("other.txt");
    fs::write(&other, longer).expect("write");
    fs::rename(&other, &page).expect("rename");
    let replaced = get(server.addr, "/page.txt");
    assert_eq!(replaced.text(), longer);
    assert_eq!(replaced.header("content-length"), longer.len().to_string());
    assert_ne!(replaced.header("etag"), changed.header("etag"));
    assert_ne!(replaced.header("etag"), etag);
}
