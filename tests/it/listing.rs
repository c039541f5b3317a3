//! Directory listings over real HTTP: CPython 3.14's page byte for byte, sorted
//! case-insensitively, directories with `/`, symlinks with `@`, and a web root of hostile names
//! where every entry is listed correctly and fetchable through the link the listing gives.

use std::fs;
use std::os::unix::fs::symlink;

use crate::support::{get, hostile_site, write_file, Serveur, HOSTILE_NAMES, HOSTILE_SUBDIRS};

/// The page CPython 3.14 writes for `title` with these `<li>` lines.
fn python_page(title: &str, items: &[&str]) -> String {
    let mut page = format!(
        "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <style type=\"text/css\">\n:root {{\ncolor-scheme: light dark;\n}}\n</style>\n\
         <title>Directory listing for {title}</title>\n</head>\n<body>\n\
         <h1>Directory listing for {title}</h1>\n<hr>\n<ul>\n"
    );
    for item in items {
        page.push_str(item);
        page.push('\n');
    }
    page.push_str("</ul>\n<hr>\n</body>\n</html>\n");
    page
}

/// The hrefs of a listing, in order.
fn hrefs(page: &str) -> Vec<String> {
    page.split("<li><a href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().expect("closing quote").to_owned())
        .collect()
}

#[test]
fn listing_is_pythons_page_byte_for_byte() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    write_file(root, "b.txt", "b");
    write_file(root, "A.txt", "a");
    write_file(root, ".hidden", "h");
    write_file(root, "Sub/x", "x");
    write_file(root, "c d.txt", "cd");
    symlink("b.txt", root.join("link.txt")).expect("symlink");
    symlink("Sub", root.join("linkdir")).expect("symlink");
    let server = Serveur::start(root, &[]);
    let reply = get(server.addr, "/");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(reply.header("content-length"), reply.body.len().to_string());
    let expected = python_page(
        "/",
        &[
            r#"<li><a href=".hidden">.hidden</a></li>"#,
            r#"<li><a href="A.txt">A.txt</a></li>"#,
            r#"<li><a href="b.txt">b.txt</a></li>"#,
            r#"<li><a href="c%20d.txt">c d.txt</a></li>"#,
            r#"<li><a href="link.txt">link.txt@</a></li>"#,
            r#"<li><a href="linkdir/">linkdir@</a></li>"#,
            r#"<li><a href="Sub/">Sub/</a></li>"#,
        ],
    );
    assert_eq!(reply.text(), expected);
}

#[test]
fn entries_are_sorted_case_insensitively() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for name in [
        "banana",
        "Apple",
        "cherry",
        "apricot",
        "Blueberry",
        "_under",
        "10",
        "9",
    ] {
        write_file(tmp.path(), name, "");
    }
    let server = Serveur::start(tmp.path(), &[]);
    let page = get(server.addr, "/").text();
    assert_eq!(
        hrefs(&page),
        [
            "10",
            "9",
            "_under",
            "Apple",
            "apricot",
            "banana",
            "Blueberry",
            "cherry"
        ]
    );
}

#[test]
fn title_is_the_decoded_path_html_escaped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(tmp.path().join("a <b> & c")).expect("mkdir");
    let server = Serveur::start(tmp.path(), &[]);
    let page = get(server.addr, "/a%20%3Cb%3E%20&%20c/").text();
    assert!(
        page.contains("<title>Directory listing for /a &lt;b&gt; &amp; c/</title>"),
        "{page}"
    );
    assert!(page.contains("<h1>Directory listing for /a &lt;b&gt; &amp; c/</h1>"));
}

#[test]
fn title_leaves_out_the_query_as_python_3_15_does() {
    // A documented difference: CPython 3.13 puts `?q=1` in the title, 3.15 does not.
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(tmp.path().join("sub")).expect("mkdir");
    let server = Serveur::start(tmp.path(), &[]);
    let page = get(server.addr, "/sub/?q=1").text();
    assert!(
        page.contains("<title>Directory listing for /sub/</title>"),
        "{page}"
    );
}

#[test]
fn empty_directory_lists_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(tmp.path().join("empty")).expect("mkdir");
    let server = Serveur::start(tmp.path(), &[]);
    assert_eq!(
        get(server.addr, "/empty/").text(),
        python_page("/empty/", &[])
    );
}

#[test]
fn hostile_names_are_listed_escaped_and_fetchable_through_their_hrefs() {
    let server = Serveur::start(hostile_site(), &[]);
    let page = get(server.addr, "/hostile/").text();

    for name in HOSTILE_NAMES {
        // html.escape(name, quote=False): only &, < and > are replaced.
        let shown = name
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(
            page.contains(&format!("\">{shown}</a></li>\n")),
            "{name:?} in {page}"
        );
    }
    assert!(!page.contains("<script>"), "a name was not escaped");
    assert!(page.contains("<a href=\"dir%20%3C%26%3E%20%23%3F/\">dir &lt;&amp;&gt; #?/</a>"));

    let links = hrefs(&page);
    assert_eq!(links.len(), HOSTILE_NAMES.len() + HOSTILE_SUBDIRS.len());
    for href in &links {
        assert!(
            href.bytes().all(|b| b.is_ascii_graphic() && b != b'"'),
            "href not quoted: {href:?}"
        );
        let reply = get(server.addr, &format!("/hostile/{href}"));
        assert_eq!(reply.status, 200, "GET /hostile/{href}");
        if href.ends_with('/') {
            assert!(reply.text().contains("inner.txt"));
        } else {
            let name = percent_encoding::percent_decode_str(href)
                .decode_utf8()
                .expect("utf-8 name");
            assert!(HOSTILE_NAMES.contains(&&*name), "unknown name {name:?}");
            // Each file holds its own name.
            assert_eq!(reply.text(), name, "{name:?}");
        }
    }
    let inner = get(server.addr, "/hostile/dir%20%3C%26%3E%20%23%3F/inner.txt");
    assert_eq!(inner.text(), "inner");
}

#[test]
fn hrefs_are_quoted_as_urllib_parse_quote_does() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for name in ["a-b_c.d~e", "x y", "100%", "é", "q?#", "new\nline"] {
        write_file(tmp.path(), name, "");
    }
    let server = Serveur::start(tmp.path(), &[]);
    let page = get(server.addr, "/").text();
    assert_eq!(
        hrefs(&page),
        [
            "100%25",
            "a-b_c.d~e",
            "new%0Aline",
            "q%3F%23",
            "x%20y",
            "%C3%A9"
        ]
    );
}

#[test]
fn listing_survives_a_name_that_is_not_utf8() {
    let server = Serveur::start(hostile_site(), &[]);
    let reply = get(server.addr, "/not-utf8/");
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("ok.txt"));
    // The href carries the name's own bytes, so the link leads to the file.
    let links = hrefs(&reply.text());
    assert_eq!(links, ["ok.txt", "x%FFy"]);
    assert_eq!(get(server.addr, "/not-utf8/x%FFy").text(), "raw");
}
