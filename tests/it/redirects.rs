//! Every `Location` serveur writes stays on the site (issue 14; CPython gh-132826, CWE-601).
//! Browsers read `\` as `/` and drop tabs and line breaks, so a directory redirect that echoes
//! `/\evil.example/x` sends the visitor to `evil.example`. Hostile spellings go to the real
//! server over raw sockets (a client library would normalise the target), and each answer's
//! `Location` is resolved against `http://127.0.0.1:PORT/` by the `url` crate, a WHATWG URL
//! parser as browsers use: the host and port must not change. The redirect is then followed,
//! to show that it still leads where it should. Covered: the static trailing-slash 301, a CGI
//! directory's 301, CGI and FastCGI local redirects to a directory, and the library's `Mount`
//! and `response::redirect`.

use crate::support;

use std::net::SocketAddr;

use serveur::http::StatusCode;
use serveur::{by_method, response, Mount, Request, RequestExt, StaticFiles};
use url::{Position, Url};

use crate::fastcgi_apps::{responder, site_with};
use crate::support::{
    get, hostile_site, make_hostile_dirs, raw_request, write_script, RawReply, Serveur,
};

/// Spellings of those directories without their trailing slash: each must get a 301 that
/// stays on the site and leads to the directory's listing.
const STATIC_TARGETS: &[&str] = &[
    "/\\evil.example",
    "/\\evil.example/x",
    "//\\evil.example/x",
    "/\\/evil.example",
    "/\\\\evil.example",
    "/%5cevil.example/x",
    "/%5C%5Cevil.example",
    "/%5C/evil.example",
    "//evil.example",
    "///evil.example",
    "/%2F%2Fevil.example",
    "/%2F/evil.example",
    "/./\\evil.example",
    "/.//\\evil.example",
    "/%09evil.example",
    "/%09/evil.example",
    "/%0d%0aevil.example",
    "/..%5c..%5cevil.example",
    "/%EF%BC%8Fevil.example",
    "/\u{FF0F}evil.example",
    "/\\evil.example/x?q=\\\\evil.example//x",
    "/\\evil.example?//evil.example",
];

/// `GET target` sent raw; the answer must be a redirect whose `Location`, resolved as a
/// browser would, stays on `addr`. Returns that resolved URL.
fn redirect_staying(addr: SocketAddr, target: &str) -> Url {
    let reply = raw_request(addr, "GET", target);
    assert!(
        reply.status().starts_with('3'),
        "GET {target:?}: not a redirect but {reply:?}"
    );
    let location = reply
        .header("location")
        .unwrap_or_else(|| panic!("GET {target:?}: a redirect without Location"));
    let base = Url::parse(&format!("http://{addr}/")).expect("base URL");
    let resolved = base
        .join(location)
        .unwrap_or_else(|e| panic!("GET {target:?}: Location {location:?} unusable: {e}"));
    assert_eq!(
        (resolved.host_str(), resolved.port()),
        (base.host_str(), base.port()),
        "GET {target:?}: Location {location:?} leaves the site for {resolved}"
    );
    resolved
}

/// Follows `url` (on the server) as a browser would, with the path and query it resolved to.
fn follow(addr: SocketAddr, url: &Url) -> RawReply {
    raw_request(
        addr,
        "GET",
        &url[Position::BeforePath..Position::AfterQuery],
    )
}

/// Each of `targets` gets a redirect that stays on the site and, followed, gets `then`.
fn assert_all_stay(addr: SocketAddr, targets: &[&str], then: &str) {
    for target in targets {
        let resolved = redirect_staying(addr, target);
        let followed = follow(addr, &resolved);
        assert!(
            followed.status().starts_with(then),
            "GET {target:?} → {resolved} → {:?}, not {then}",
            followed.status_line
        );
    }
}

#[test]
fn the_static_trailing_slash_redirect_stays_on_the_site() {
    let server = Serveur::start(hostile_site(), &[]);
    assert_all_stay(server.addr, STATIC_TARGETS, "200");
    // The query is kept, as CPython keeps it.
    let resolved = redirect_staying(server.addr, "/\\evil.example?a=1&b=\\//x");
    assert_eq!(resolved.query(), Some("a=1&b=\\//x"));
}

#[test]
fn a_cgi_directory_redirect_stays_on_the_site() {
    let tree = tempfile::tempdir().expect("tempdir");
    write_script(
        tree.path(),
        "\\cgi.example/index.py",
        "#!/usr/bin/env python3\nprint('Content-Type: text/plain\\n\\nindex ran')\n",
    );
    let server = Serveur::start(tree.path(), &["--cgi", "--cgi-dir", "/\\cgi.example"]);
    let targets = [
        "/\\cgi.example",
        "//\\cgi.example",
        "/%5Ccgi.example",
        "/./\\cgi.example",
        "/\\cgi.example?x=\\\\cgi.example//x",
    ];
    assert_all_stay(server.addr, &targets, "200");
    let resolved = redirect_staying(server.addr, targets[0]);
    let followed = get(server.addr, &resolved[Position::BeforePath..]);
    assert_eq!(followed.text(), "index ran\n");
}

/// Local paths for a gateway to send back as a bare `Location` (RFC 3875 §6.2.2), percent-
/// encoded in a query for the script to decode: each names a directory of `HOSTILE_DIRS`
/// without its trailing slash, so the server answers it with the static 301.
const LOCAL_LOCATIONS: &[&str] = &[
    "?/%5Cevil.example/x",
    "?/%5C/evil.example",
    "?/%5C%5Cevil.example",
    "?/./%5Cevil.example",
    "?/%5Cevil.example%3Fq=%5C%5Cevil.example//x",
];

#[test]
fn a_cgi_local_redirect_to_a_directory_stays_on_the_site() {
    // Its own tree: the script goes into it.
    let tree = tempfile::tempdir().expect("tempdir");
    make_hostile_dirs(tree.path());
    write_script(
        tree.path(),
        "cgi-bin/go.py",
        "#!/usr/bin/env python3\n\
         import os, urllib.parse\n\
         print('Location: ' + urllib.parse.unquote(os.environ['QUERY_STRING']) + '\\n')\n",
    );
    let server = Serveur::start(tree.path(), &["--cgi"]);
    let targets: Vec<String> = LOCAL_LOCATIONS
        .iter()
        .map(|query| format!("/cgi-bin/go.py{query}"))
        .collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    assert_all_stay(server.addr, &targets, "200");
}

#[test]
fn a_fastcgi_local_redirect_to_a_directory_stays_on_the_site() {
    let app = r#"
from urllib.parse import unquote

def app(params, stdin, aborted):
    yield b"Location: " + unquote(params["QUERY_STRING"]).encode() + b"\r\n\r\n"
"#;
    let python = site_with("/go", |run| responder(run, app), &[]);
    make_hostile_dirs(python.site.path());
    let targets: Vec<String> = LOCAL_LOCATIONS
        .iter()
        .map(|query| format!("/go{query}"))
        .collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    assert_all_stay(python.server.addr, &targets, "200");
}

/// The library: static files behind a `Mount`, and a handler that redirects to the path it
/// is given (decoded from `?to=`) with `response::redirect`.
#[test]
fn the_library_mount_and_redirect_stay_on_the_site() {
    let files = StaticFiles::new(hostile_site()).expect("static files");
    let go = by_method().get(|req: Request| async move {
        let to = req.query("to").unwrap_or_default();
        response::redirect(StatusCode::FOUND, &to)
    });
    let running =
        support::library::serve(support::library::bind(), Mount::new(files).at("/go", go));
    assert_all_stay(running.addr, STATIC_TARGETS, "200");

    let paths: Vec<String> = [
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example/",
        "/%09/evil.example/",
        "%09//evil.example/",
        "/%0d%0a/evil.example/",
        "%20//evil.example/",
        "/%EF%BC%8F/evil.example/",
        "%EF%BC%8F%EF%BC%8Fevil.example/",
        "/.//evil.example/",
        "/%5C%5Cevil.example/",
        "%00//evil.example/",
    ]
    .iter()
    .map(|to| format!("/go?to={to}"))
    .collect();
    for target in &paths {
        redirect_staying(running.addr, target);
    }
    // An absolute URL is the program's own choice, and is sent as given.
    let reply = raw_request(running.addr, "GET", "/go?to=https://example.org/x");
    assert_eq!(reply.header("location"), Some("https://example.org/x"));
}
