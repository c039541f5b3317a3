//! serveur beside CPython 3.13's `python -m http.server` on the same tree: the listing and
//! error pages are byte for byte the same once 3.14's color-scheme `<style>` block (which
//! serveur has and 3.13 lacks) is taken out, and status codes, locations and headers agree for
//! a table of request paths. The differences made on purpose are in `python_differences.rs`.

use crate::support;

use crate::support::{hostile_site, raw_request, start_python, write_file, RawReply, Serveur};

/// The style block CPython 3.14 adds to listings (and serveur writes); 3.13 has none.
const LISTING_STYLE: &str =
    "<style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>\n";

/// The same block as CPython 3.14 indents it in the error page.
const ERROR_STYLE: &str = "        <style type=\"text/css\">\n            :root {\n                color-scheme: light dark;\n            }\n        </style>\n";

/// `page` without exactly one copy of `block`, which must be there.
fn without(page: &[u8], block: &str) -> String {
    let page = String::from_utf8_lossy(page);
    assert_eq!(page.matches(block).count(), 1, "no style block in {page}");
    page.replacen(block, "", 1)
}

/// Asserts that `mine` is `theirs` plus `style`: the same page once the block is taken out, the
/// same content type, and a length longer by exactly the block.
fn assert_same_page(mine: &RawReply, theirs: &RawReply, style: &str, what: &str) {
    assert_eq!(
        without(&mine.body, style),
        String::from_utf8_lossy(&theirs.body),
        "{what}"
    );
    assert_eq!(
        mine.header("content-type"),
        theirs.header("content-type"),
        "{what}"
    );
    let their_len: usize = theirs
        .header("content-length")
        .and_then(|n| n.parse().ok())
        .expect("Python's Content-Length");
    let expected = (their_len + style.len()).to_string();
    assert_eq!(
        mine.header("content-length"),
        Some(expected.as_str()),
        "{what}"
    );
}

#[test]
fn listings_are_python_3_13_pages_plus_the_style_block() {
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    for path in [
        "/",
        "/hostile/",
        "/sub/",
        "/empty/",
        "/link-dir/",
        "/a%20%3Cb%3E%20&%20c/",
        "/hostile/dir%20%23%3F/",
        "//sub/",
        "/sub%2f/",
        "/./sub/../sub/",
        "/../sub/",
    ] {
        let theirs = raw_request(python.addr, "GET", path);
        let mine = raw_request(ours.addr, "GET", path);
        assert_eq!(mine.status(), "200 OK", "{path}");
        assert_eq!(theirs.status(), "200 OK", "{path}");
        assert_same_page(&mine, &theirs, LISTING_STYLE, path);
    }
}

#[test]
fn error_pages_are_python_3_13_pages_plus_the_style_block() {
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/a.txt/"),
        ("GET", "/link-out"),
        ("POST", "/"),
        ("PUT", "/a.txt"),
        ("DELETE", "/a.txt"),
    ] {
        let mut theirs = raw_request(python.addr, method, path);
        let mine = raw_request(ours.addr, method, path);
        if path == "/link-out" {
            // A documented difference: CPython follows links out of the root; serveur
            // answers them as missing, with the very page CPython gives for a missing file.
            assert_eq!(theirs.status(), "200 OK");
            theirs = raw_request(python.addr, method, "/nope");
        }
        assert_eq!(mine.status(), theirs.status(), "{method} {path}");
        assert_same_page(&mine, &theirs, ERROR_STYLE, &format!("{method} {path}"));
        assert_eq!(mine.header("connection"), theirs.header("connection"));
    }
}

#[test]
fn status_codes_and_locations_match_for_a_table_of_paths() {
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    let paths = [
        "/",
        "/a.txt",
        "/B.html",
        "/.hidden",
        "/data.tar.gz",
        "/noext",
        "/b%20c.txt",
        "/%61.txt",
        "/a.txt?x=1",
        "/a.txt?x=/../../outside.txt",
        "/a.txt#frag",
        "/a.txt/",
        "/nope",
        "/nope/",
        "/sub",
        "/sub/",
        "/sub?x=1&y=2",
        "/sub?",
        "/sub?a=%20+b",
        "/sub/?x=1",
        "/sub/in.txt",
        "/sub/in.txt/",
        "/sub%2fin.txt",
        "/sub%2f",
        "/idx",
        "/idx/",
        "/htm/",
        "/empty",
        "//sub",
        "//sub?q",
        "//evil.com/dir",
        "///evil.com/dir",
        "///a.txt",
        "/..",
        "/../a.txt",
        "/../outside.txt",
        "/../../outside.txt",
        "/%2e%2e/outside.txt",
        "/%2E%2E/%2e%2e/outside.txt",
        "/sub/..%2f..%2foutside.txt",
        "/sub/%2e%2e/a.txt",
        "/./a.txt",
        "/sub/../a.txt",
        "/link-in",
        "/link-dir",
        "/link-dir/in.txt",
        "/hostile/hash%23",
        "/hostile/qm%3F",
        "/hostile/new%0Aline",
        "/hostile/100%25",
        "/hostile/caf%C3%A9",
        "/hostile/dir%20%23%3F",
        "/%ff",
    ];
    let mut mismatches = Vec::new();
    for path in paths {
        for method in ["GET", "HEAD"] {
            let theirs = raw_request(python.addr, method, path);
            let mine = raw_request(ours.addr, method, path);
            // Listings and error pages are longer by the style block: their lengths are
            // checked against Python's in the two tests above.
            let summary = |r: &RawReply| {
                let generated = matches!(
                    r.header("content-type"),
                    Some("text/html; charset=utf-8" | "text/html;charset=utf-8")
                );
                (
                    r.status().to_owned(),
                    r.header("location").map(str::to_owned),
                    r.header("content-type").map(str::to_owned),
                    r.header("content-length")
                        .filter(|_| !generated)
                        .map(str::to_owned),
                )
            };
            let (theirs, mine) = (summary(&theirs), summary(&mine));
            if theirs != mine {
                mismatches.push(format!(
                    "{method} {path}: python {theirs:?}, serveur {mine:?}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn file_headers_match_apart_from_name_case_and_server() {
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    for path in ["/a.txt", "/B.html", "/data.tar.gz", "/noext", "/idx/"] {
        let theirs = raw_request(python.addr, "GET", path);
        let mine = raw_request(ours.addr, "GET", path);
        assert_eq!(mine.body, theirs.body, "{path}");
        for name in ["content-type", "content-length", "last-modified"] {
            assert_eq!(mine.header(name), theirs.header(name), "{path}: {name}");
        }
        // The documented differences: lower-case names (HTTP/1.1 names are case-insensitive,
        // RFC 9110 §5.1) and our own Server header.
        assert!(theirs.headers.iter().any(|(n, _)| n == "Content-type"));
        assert!(mine.headers.iter().any(|(n, _)| n == "content-type"));
        assert!(theirs
            .header("server")
            .expect("server")
            .starts_with("SimpleHTTP/0.6 Python/3.13"));
        assert!(mine
            .header("server")
            .expect("server")
            .starts_with("serveur/"));
    }
}

#[test]
fn status_lines_match_exactly_under_http_1_0() {
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &["-p", "HTTP/1.0"]);
    for (method, path) in [
        ("GET", "/a.txt"),
        ("GET", "/sub"),
        ("GET", "/nope"),
        ("POST", "/"),
        ("HEAD", "/"),
    ] {
        let theirs = raw_request(python.addr, method, path);
        let mine = raw_request(ours.addr, method, path);
        assert_eq!(mine.status_line, theirs.status_line, "{method} {path}");
    }
}

#[test]
fn conditional_answers_match() {
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    let ask = |addr, extra: &str| {
        let request = format!("GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n");
        RawReply::parse(&support::raw(addr, request.as_bytes()))
    };
    for extra in [
        "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n",
        "If-Modified-Since: Thu, 01 Jan 1998 00:00:00 GMT\r\n",
        "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\nIf-None-Match: \"x\"\r\n",
        "If-Modified-Since: garbage\r\n",
    ] {
        let (theirs, mine) = (ask(python.addr, extra), ask(ours.addr, extra));
        assert_eq!(mine.status(), theirs.status(), "{extra}");
        assert_eq!(mine.body, theirs.body, "{extra}");
        for name in ["content-type", "content-length", "last-modified"] {
            assert_eq!(mine.header(name), theirs.header(name), "{extra}: {name}");
        }
    }
}

#[test]
fn content_types_of_web_files_match() {
    // CPython also reads the machine's /etc/mime.types, serveur has its own table: for the
    // types of the web they agree (the README lists the rest as a difference).
    let tmp = tempfile::tempdir().expect("tempdir");
    let extensions = [
        "html",
        "htm",
        "css",
        "js",
        "mjs",
        "json",
        "txt",
        "csv",
        "md",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "webp",
        "avif",
        "wasm",
        "pdf",
        "zip",
        "tar",
        "gz",
        "bz2",
        "xz",
        "Z",
        "mp4",
        "webm",
        "mp3",
        "ogg",
        "woff2",
        "ttf",
        "unknownext",
    ];
    for ext in extensions {
        write_file(tmp.path(), &format!("f.{ext}"), "x");
    }
    let python = start_python(tmp.path());
    let ours = Serveur::start(tmp.path(), &[]);
    for ext in extensions {
        let path = format!("/f.{ext}");
        let theirs = raw_request(python.addr, "HEAD", &path);
        let mine = raw_request(ours.addr, "HEAD", &path);
        assert_eq!(
            mine.header("content-type"),
            theirs.header("content-type"),
            "{path}"
        );
    }
}
