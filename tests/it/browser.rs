//! A real browser against the real binary: Debian's headless Chromium, driven by Playwright
//! (`tests/browser/scenarios.js`, its `playwright-core` installed by `npm ci --prefix
//! tests/browser`), uses the listing's upload form with and without JavaScript (issue 16) and
//! reads a private listing with the browser's own Basic credentials (issue 17), and uses the
//! rich page of `--ui` (issue 18: sorting, filter, themes, keyboard, upload, delete). The script
//! prints what the browser saw as JSON; these tests judge it, the files on disk and the
//! server's log. Screenshots go to `target/screenshots/` (CI keeps them). A missing `node`,
//! `playwright-core` or `/usr/bin/chromium` fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use crate::fastcgi_apps::json;
use crate::support::{run_to_exit_within, sample_bytes, write_file, Serveur};

/// Debian's `chromium` package; Playwright downloads no browser of its own.
const CHROMIUM: &str = "/usr/bin/chromium";

/// A whole scenario, browser start included; each wait inside it has its own 10 s bound.
const SCENARIO_LIMIT: Duration = Duration::from_secs(60);

/// One browser at a time: three Chromiums at once would crowd the two cores CI has.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

/// Where Playwright's script and its `node_modules` live.
fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// `target/screenshots`, created (beside cargo's `target/tmp`, so `CARGO_TARGET_DIR` counts).
fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target directory")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

/// Runs `node scenarios.js SCENARIO URL SCREENSHOTS FILES…` against `server` and returns the
/// JSON it printed, after checking that the browser contacted nothing but the server.
fn scenario(name: &str, server: &Serveur, files: &[PathBuf]) -> Value {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
    );
    assert!(
        browser_dir()
            .join("node_modules/playwright-core/package.json")
            .is_file(),
        "playwright-core is missing: run `npm ci --prefix tests/browser`"
    );
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let mut command = Command::new("node");
    command
        .arg(browser_dir().join("scenarios.js"))
        .arg(name)
        .arg(format!("http://{}/", server.addr))
        .arg(screenshots())
        .args(files);
    let exit = run_to_exit_within(command, SCENARIO_LIMIT);
    assert_eq!(
        exit.code,
        0,
        "scenario {name} failed:\n{}\n{}\nserver log: {:#?}",
        exit.stderr,
        exit.stdout,
        server.log()
    );
    let result = json(exit.stdout.lines().last().unwrap_or_default());
    assert_eq!(
        result["hosts"],
        json!([server.addr.to_string()]),
        "{result}"
    );
    result
}

/// Fails unless `target/screenshots/NAME` is a PNG file of some size.
fn assert_screenshot(name: &str) {
    let bytes = std::fs::read(screenshots().join(name)).expect("screenshot written");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000,
        "{name} is not a PNG"
    );
}

/// Files to upload, in a directory of their own: `(name, bytes)` written, paths returned.
fn sources(dir: &Path, files: &[(&str, &[u8])]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).expect("write source file");
            path
        })
        .collect()
}

/// Fails unless each source file is in `site` under its name, byte for byte.
fn assert_stored(site: &Path, files: &[PathBuf]) {
    for file in files {
        let name = file.file_name().expect("name");
        let stored =
            std::fs::read(site.join(name)).unwrap_or_else(|e| panic!("{name:?} not stored: {e}"));
        assert!(
            stored == std::fs::read(file).expect("source"),
            "{name:?} differs"
        );
    }
}

#[test]
fn chromium_uploads_two_files_through_the_form_and_one_by_drag_and_drop() {
    let site = tempfile::tempdir().expect("site");
    let from = tempfile::tempdir().expect("sources");
    // A text whose lines look like a multipart boundary, and binary noise.
    let files = sources(
        from.path(),
        &[
            ("report.bin", &sample_bytes(5_000)),
            ("notes.txt", b"first\r\n--boundary\r\n\r\nlast"),
            ("dropped.bin", &sample_bytes(70_000)),
        ],
    );
    let server = Serveur::start(site.path(), &["--upload"]);

    let seen = scenario("upload", &server, &files);

    assert_eq!(seen["title"], "Directory listing for /");
    // The script sends each file on its own and asks for JSON; nothing posts the form itself.
    assert_eq!(
        seen["answers"],
        json!(vec!["201 application/json"; 3]),
        "{seen}"
    );
    assert_eq!(
        seen["afterForm"],
        json!(["notes.txt", "report.bin"]),
        "{seen}"
    );
    assert_eq!(
        seen["progress"],
        json!([{"label": "dropped.bin", "max": 70_000, "visible": true}]),
        "{seen}"
    );
    assert_eq!(
        seen["afterDrop"],
        json!(["dropped.bin", "notes.txt", "report.bin"]),
        "{seen}"
    );
    assert_stored(site.path(), &files);
    server.wait_for_log("upload stored /dropped.bin (70000 bytes)");
    assert_screenshot("upload.png");
    assert_screenshot("upload-progress.png");
}

#[test]
fn chromium_without_javascript_posts_the_plain_form_and_follows_the_303() {
    let site = tempfile::tempdir().expect("site");
    write_file(site.path(), "already.txt", "here\n");
    let from = tempfile::tempdir().expect("sources");
    let files = sources(from.path(), &[("plain.bin", &sample_bytes(20_000))]);
    let server = Serveur::start(site.path(), &["--upload"]);

    let seen = scenario("no-js", &server, &files);

    // The browser's own post (Accept: text/html) gets 303 to the listing, which it follows.
    assert_eq!(seen["answers"], json!(["303"]), "{seen}");
    assert_eq!(seen["url"], format!("http://{}/", server.addr));
    assert_eq!(seen["after"], json!(["already.txt", "plain.bin"]), "{seen}");
    assert_stored(site.path(), &files);
    server.wait_for_log("\"POST / HTTP/1.1\" 303");
    assert_screenshot("upload-no-js.png");
}

#[test]
fn chromium_reads_a_private_listing_with_its_credentials_and_gets_401_without() {
    let site = tempfile::tempdir().expect("site");
    write_file(site.path(), "pub/a.txt", "open\n");
    write_file(site.path(), "private/s.txt", "secret\n");
    let server = Serveur::start(
        site.path(),
        &["--auth", "@/pub", "--auth", "alice:pw@/private"],
    );

    let seen = scenario("private", &server, &[]);

    assert_eq!(seen["withCredentials"], 200, "{seen}");
    assert_eq!(seen["title"], "Directory listing for /private/");
    assert_eq!(seen["seen"], json!(["s.txt"]), "{seen}");
    // Chromium asked without credentials first and answered the challenge with alice's.
    server.wait_for_log("- alice [");
    assert!(
        server
            .log()
            .iter()
            .any(|line| line.contains(" - alice [")
                && line.contains("\"GET /private/ HTTP/1.1\" 200 ")),
        "{:#?}",
        server.log()
    );
    // Without credentials: the server's 401, and Playwright, having none to give, cancels
    // the prompt, so the navigation ends in Chromium's error.
    assert_eq!(seen["statuses"], json!([401]), "{seen}");
    let without = seen["without"].as_str().expect("without");
    assert!(without.contains("ERR_INVALID_AUTH_CREDENTIALS"), "{seen}");
    assert_eq!(seen["pub"], 200, "{seen}");
    assert_eq!(seen["pubSeen"], json!(["a.txt"]), "{seen}");
    assert_screenshot("private.png");
}

#[test]
fn chromium_sorts_filters_themes_tabs_uploads_and_deletes_on_the_rich_page() {
    let site = tempfile::tempdir().expect("site");
    for (name, size) in [
        ("file1.txt", 1_200),
        ("file2.txt", 30),
        ("file10.txt", 64_000),
        ("photo.png", 250_000),
        ("notes.md", 900),
        ("backup.tar.gz", 3_500_000),
        ("to-delete.txt", 5),
    ] {
        std::fs::write(site.path().join(name), sample_bytes(size)).expect("write");
    }
    std::fs::create_dir(site.path().join("docs")).expect("mkdir");
    write_file(
        site.path(),
        "README.md",
        "# Shared files\n\nDrop what you want to share below; **everything here** is served \
         read-only to the room.\n\n- `backup.tar.gz`: last night's backup\n- `docs/`: manuals\n",
    );
    let from = tempfile::tempdir().expect("sources");
    let files = sources(from.path(), &[("uploaded.bin", &sample_bytes(10_000))]);
    let server = Serveur::start(site.path(), &["--ui", "--allow-all"]);

    let seen = scenario("ui", &server, &files);

    assert_eq!(seen["title"], "Index of /");
    assert_eq!(seen["cspErrors"], json!([]), "{seen}");
    let by_name = [
        "docs/",
        "backup.tar.gz",
        "file1.txt",
        "file2.txt",
        "file10.txt",
        "notes.md",
        "photo.png",
        "README.md",
        "to-delete.txt",
    ];
    assert_eq!(seen["byName"], json!(by_name), "{seen}");
    assert_eq!(
        seen["bySizeDesc"],
        json!([
            "docs/",
            "backup.tar.gz",
            "photo.png",
            "file10.txt",
            "file1.txt",
            "notes.md",
            "README.md",
            "file2.txt",
            "to-delete.txt"
        ]),
        "{seen}"
    );
    assert!(seen["sizeUrl"]
        .as_str()
        .is_some_and(|url| url.ends_with("/?sort=size&order=desc")));
    assert_eq!(
        seen["bySizeAsc"],
        json!([
            "docs/",
            "to-delete.txt",
            "file2.txt",
            "README.md",
            "notes.md",
            "file1.txt",
            "file10.txt",
            "photo.png",
            "backup.tar.gz"
        ]),
        "{seen}"
    );
    assert_eq!(seen["filterVisible"], true);
    assert_eq!(
        seen["filtered"],
        json!(["file1.txt", "file10.txt"]),
        "{seen}"
    );
    assert!(seen["links"]
        .as_u64()
        .is_some_and(|n| n > by_name.len() as u64));
    assert_eq!(seen["linksReached"], seen["links"], "{seen}");
    assert!(
        seen["afterUpload"]
            .as_array()
            .is_some_and(|rows| rows.contains(&json!("uploaded.bin"))),
        "{seen}"
    );
    assert_stored(site.path(), &files);
    assert_eq!(
        seen["dialogs"],
        json!(["Delete to-delete.txt?", "Delete to-delete.txt?"]),
        "{seen}"
    );
    assert_eq!(seen["deleteStatus"], 204, "{seen}");
    assert!(!site.path().join("to-delete.txt").exists());
    assert!(
        seen["afterDelete"]
            .as_array()
            .is_some_and(|rows| !rows.contains(&json!("to-delete.txt"))),
        "{seen}"
    );
    // JavaScript off: the page is whole, its sort links work; no filter box, no delete button.
    assert_eq!(seen["noJsRows"], seen["afterDelete"], "{seen}");
    assert_eq!(seen["noJsFilter"], false, "{seen}");
    assert_eq!(seen["noJsDelete"], 0, "{seen}");
    assert_eq!(
        seen["noJsBySize"].as_array().and_then(|rows| rows.get(1)),
        Some(&json!("backup.tar.gz")),
        "{seen}"
    );
    assert_ne!(seen["lightBackground"], seen["darkBackground"], "{seen}");
    assert_eq!(seen["darkBackground"], "rgb(21, 24, 30)", "{seen}");
    assert_eq!(
        seen["phoneOverflow"], 0,
        "no sideways scrolling at 360 px: {seen}"
    );
    assert_eq!(seen["phoneTimeShown"], false, "{seen}");
    for shot in ["ui-light.png", "ui-dark.png", "ui-phone.png"] {
        assert_screenshot(shot);
    }
}
