//! Folder downloads (`--archive`) and the JSON listing (`--listing-json`): checked against
//! the tree on disk by `archive/check.py` with Python's `zipfile`, `tarfile` and `json` and
//! with Info-ZIP's `unzip` and GNU `tar`; hostile names, symlinks out of the root, private
//! folders, memory, and Python's page kept when the flags are off.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{fixture, get, raw_text, rss_kib, write_file, Serveur};

/// Runs `archive/check.py` for `folder` of `site` served by `server`; it fails the test unless
/// it prints `ok` (python3, unzip and tar must be installed).
fn check(
    server: &Serveur,
    site: &Path,
    folder: &str,
    mode: &str,
    auth: Option<&str>,
    hidden: Option<&str>,
) {
    let mut command = Command::new("python3");
    command
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/archive/check.py"
        ))
        .arg(format!("http://{}", server.addr))
        .arg(site)
        .arg(folder)
        .arg(mode)
        .args(auth);
    if let Some(hidden) = hidden {
        command.env("HIDDEN", hidden);
    }
    let output = command.output().expect("python3 must be installed");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "ok",
        "{mode} of {folder}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn zip_and_tar_gz_of_the_hostile_tree_extract_to_the_same_bytes() {
    let site = fixture::hostile_site();
    let server = Serveur::start(site, &["--archive"]);
    for folder in ["/hostile/", "/not-utf8/", "/"] {
        for mode in ["zip", "tar.gz"] {
            check(&server, site, folder, mode, None, None);
        }
    }
}

#[test]
fn the_json_listing_names_every_entry_escaped() {
    let site = fixture::hostile_site();
    let server = Serveur::start(site, &["--listing-json"]);
    for folder in ["/hostile/", "/not-utf8/", "/"] {
        check(&server, site, folder, "json", None, None);
    }
    // Names like `<script>` never appear raw; the same URL without the query is the page.
    let reply = get(server.addr, "/hostile/?format=json");
    assert!(!reply.text().contains('<'), "{}", reply.text());
    assert!(reply.header("vary").split(", ").any(|v| v == "Accept"));
    let page = get(server.addr, "/hostile/");
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.header("vary").split(", ").any(|v| v == "Accept"));
    assert_ne!(page.header("etag"), reply.header("etag"));
}

#[test]
fn the_json_listing_revalidates_with_its_own_etag() {
    let site = fixture::hostile_site();
    let server = Serveur::start(site, &["--listing-json"]);
    let json = get(server.addr, "/sub/?format=json");
    let tag = json.header("etag").to_owned();
    assert!(tag.contains("-json-"), "{tag}");
    let request = format!(
        "GET /sub/ HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nIf-None-Match: {tag}\r\nConnection: close\r\n\r\n"
    );
    let reply = raw_text(server.addr, request.as_bytes());
    assert!(reply.starts_with("HTTP/1.1 304"), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("vary: accept"),
        "{reply}"
    );
}

#[test]
fn a_private_folder_is_absent_from_an_anonymous_archive_and_listing() {
    let site = tempfile::tempdir().expect("tempdir");
    write_file(site.path(), "pub.txt", "public");
    write_file(site.path(), "private/secret.txt", "secret");
    write_file(site.path(), "docs/a.txt", "a");
    let server = Serveur::start(
        site.path(),
        &[
            "--archive",
            "--listing-json",
            "--auth",
            "@/",
            "--auth",
            "alice:pw@/private",
        ],
    );
    for mode in ["zip", "tar.gz", "json"] {
        check(&server, site.path(), "/", mode, None, Some("private"));
        check(&server, site.path(), "/", mode, Some("alice:pw"), None);
    }
}

/// Asks `/sub/` of the hostile site, served with `args`, with each of `queries`, and checks
/// that every answer is the plain listing page.
fn assert_queries_ignored(args: &[&str], queries: &[&str]) {
    let site = fixture::hostile_site();
    let server = Serveur::start(site, args);
    let page = get(server.addr, "/sub/");
    for query in queries {
        let reply = get(server.addr, &format!("/sub/{query}"));
        assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(reply.body, page.body, "{query}");
        assert!(reply.headers.get("vary").is_none());
    }
}

#[test]
fn without_the_flags_the_queries_are_ignored_as_python_ignores_them() {
    assert_queries_ignored(&[], &["?download=zip", "?download=tar.gz", "?format=json"]);
}

#[test]
fn no_archive_turns_folder_downloads_off_whatever_turned_them_on() {
    assert_queries_ignored(
        &["--archive", "--no-archive"],
        &["?download=zip", "?download=tar.gz"],
    );
}

#[test]
fn memory_stays_flat_while_a_large_folder_streams() {
    const FILE: u64 = 128 << 20;
    let site = tempfile::tempdir().expect("tempdir");
    for i in 0..3 {
        let file = std::fs::File::create(site.path().join(format!("big/{i}.bin")))
            .or_else(|_| {
                std::fs::create_dir_all(site.path().join("big"))?;
                std::fs::File::create(site.path().join(format!("big/{i}.bin")))
            })
            .expect("create");
        file.set_len(FILE).expect("size");
    }
    let server = Serveur::start(site.path(), &["--archive"]);
    let before = rss_kib(server.pid());
    let mut peak = before;
    for mode in ["zip", "tar.gz"] {
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(
            stream,
            "GET /big/?download={mode} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut buf = vec![0; 1 << 16];
        let mut total = 0u64;
        let started = Instant::now();
        let mut last_sample = Instant::now();
        loop {
            let n = stream.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            total += n as u64;
            if last_sample.elapsed() > Duration::from_millis(20) {
                peak = peak.max(rss_kib(server.pid()));
                last_sample = Instant::now();
            }
            assert!(started.elapsed() < Duration::from_secs(120), "too slow");
        }
        // Stored zip: the bytes plus headers; gzip of zeros: much less, but some.
        assert!(
            total > if mode == "zip" { 3 * FILE } else { 1 << 16 },
            "{mode}: {total}"
        );
    }
    assert!(
        peak - before < 32 << 10,
        "RSS grew from {before} KiB to {peak} KiB"
    );
}
