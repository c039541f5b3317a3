//! Symlinks over real HTTP: followed while the target stays inside the served root, refused
//! (404) when it leads outside unless `--follow-symlinks`, and always shown in listings.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::support::{get, Serveur};

/// `tmp/www` is served; `tmp/outside` holds what must stay unreachable by default.
fn tree() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let www = tmp.path().join("www");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(www.join("real")).expect("mkdir");
    fs::create_dir_all(outside.join("deeper")).expect("mkdir");
    fs::write(www.join("real/file.txt"), "inside").expect("write");
    fs::write(outside.join("secret.txt"), "SECRET").expect("write");
    fs::write(outside.join("deeper/more.txt"), "MORE").expect("write");
    let link = |target: &Path, name: &str| symlink(target, www.join(name)).expect("symlink");
    link(Path::new("real/file.txt"), "in-file");
    link(Path::new("real"), "in-dir");
    link(&outside.join("secret.txt"), "out-file");
    link(&outside, "out-dir");
    link(Path::new("../outside/secret.txt"), "out-relative");
    // A link inside the root that points at a link leading outside.
    link(Path::new("out-file"), "chain");
    link(Path::new("missing"), "dangling");
    (tmp, www)
}

#[test]
fn links_inside_the_root_are_followed() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    assert_eq!(get(server.addr, "/in-file").text(), "inside");
    assert_eq!(get(server.addr, "/in-dir/file.txt").text(), "inside");
    assert_eq!(get(server.addr, "/in-dir").status, 301);
    assert!(get(server.addr, "/in-dir/").text().contains("file.txt"));
}

#[test]
fn links_leading_outside_the_root_are_not_found() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    for path in [
        "/out-file",
        "/out-relative",
        "/chain",
        "/out-dir",
        "/out-dir/",
        "/out-dir/secret.txt",
        "/out-dir/deeper/more.txt",
        "/in-dir/../out-file",
        "/dangling",
    ] {
        let reply = get(server.addr, path);
        assert_eq!(reply.status, 404, "{path}");
        assert!(!reply.text().contains("SECRET") && !reply.text().contains("MORE"));
    }
    server.wait_for_log("\"GET /out-dir/secret.txt HTTP/1.1\" 404");
}

#[test]
fn follow_symlinks_serves_links_leading_outside() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &["--follow-symlinks"]);
    assert_eq!(get(server.addr, "/out-file").text(), "SECRET");
    assert_eq!(get(server.addr, "/out-relative").text(), "SECRET");
    assert_eq!(get(server.addr, "/chain").text(), "SECRET");
    assert_eq!(get(server.addr, "/out-dir/deeper/more.txt").text(), "MORE");
    assert_eq!(get(server.addr, "/out-dir").status, 301);
    assert!(get(server.addr, "/out-dir/").text().contains("secret.txt"));
    // `..` still cannot climb out of the root by itself.
    assert_eq!(get(server.addr, "/../outside/secret.txt").status, 404);
    assert_eq!(get(server.addr, "/dangling").status, 404);
}

#[test]
fn listing_shows_every_link_with_an_at_sign() {
    let (_tmp, www) = tree();
    let server = Serveur::start(&www, &[]);
    let page = get(server.addr, "/").text();
    for item in [
        r#"<li><a href="chain">chain@</a></li>"#,
        r#"<li><a href="dangling">dangling@</a></li>"#,
        r#"<li><a href="in-dir/">in-dir@</a></li>"#,
        r#"<li><a href="in-file">in-file@</a></li>"#,
        r#"<li><a href="out-file">out-file@</a></li>"#,
        r#"<li><a href="out-relative">out-relative@</a></li>"#,
        r#"<li><a href="real/">real/</a></li>"#,
    ] {
        assert!(page.contains(item), "{item} missing from {page}");
    }
    assert!(page.contains(">out-dir@</a></li>"), "{page}");
}

#[test]
fn served_root_may_itself_be_a_symlink() {
    let (tmp, www) = tree();
    let alias = tmp.path().join("alias");
    symlink(&www, &alias).expect("symlink");
    let server = Serveur::start(&alias, &[]);
    assert_eq!(get(server.addr, "/in-file").text(), "inside");
    assert_eq!(get(server.addr, "/out-file").status, 404);
}
