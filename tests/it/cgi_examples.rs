//! The tutorial programs of `examples/cgi/`, served as README shows them: `serveur --cgi` runs
//! the scripts of `cgi-bin/`, `serveur --cgi --cgi-dir /` also runs the form page at `/`.

use std::path::PathBuf;

use crate::support::{get, post, Serveur};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/cgi")
}

#[test]
fn the_form_page_greets_the_name_it_was_posted() {
    let server = Serveur::start(&examples(), &["--cgi", "--cgi-dir", "/"]);
    let page = get(server.addr, "/");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert!(
        page.text().contains("<form method=\"post\">"),
        "{}",
        page.text()
    );
    assert!(!page.text().contains("Bonjour,"));
    let reply = post(
        server.addr,
        "/",
        "application/x-www-form-urlencoded",
        "name=Ana%C3%AFs+%3Cb%3E",
    );
    assert_eq!(reply.status, 200);
    assert!(
        reply.text().contains("<p>Bonjour, Anaïs &lt;b&gt; !</p>"),
        "{}",
        reply.text()
    );
    assert_eq!(get(server.addr, "/index.py").text(), page.text());
}

#[test]
fn the_query_shell_and_perl_examples_run_under_plain_cgi() {
    let server = Serveur::start(&examples(), &["--cgi"]);
    let query = get(server.addr, "/cgi-bin/query.py?q=deux+mots");
    assert!(query
        .text()
        .contains("<p>2 word(s)</p><ul><li>deux</li><li>mots</li></ul>"));
    let hello = get(server.addr, "/cgi-bin/hello.sh");
    assert!(hello
        .text()
        .ends_with("asked for /cgi-bin/hello.sh with GET\n"));
    let perl = get(server.addr, "/cgi-bin/perl.pl");
    assert!(
        perl.text().contains("\nSCRIPT_NAME=/cgi-bin/perl.pl\n"),
        "{}",
        perl.text()
    );
    // Without `--cgi-dir /`, the form page is a file like any other, as in CPython.
    assert!(get(server.addr, "/index.py")
        .text()
        .starts_with("#!/usr/bin/env python3"));
}
