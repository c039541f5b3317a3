//! The listing cache (issue 18): the rich page (`--ui`) and the JSON listing are kept in memory
//! while their directory is unchanged, and never served stale. Each test first shows the page is
//! served from memory (the `--metrics-path` hit counter moves), then changes the tree and asks
//! again at once, with no sleep in between: the very next request must show the change, for
//! the rich page and the JSON alike. What inotify on the directory does not report (a
//! subdirectory's own time, a symlink's target, a hard-linked file written through another
//! name) is covered too, and a hammer test lists while another thread changes the tree.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::support::{decode, get, request, Serveur};

/// A server with the rich page, the JSON and the metrics, serving a tree with `d/` in it.
struct Listed {
    tree: tempfile::TempDir,
    server: Serveur,
}

impl Listed {
    /// `d/` holds `a.txt`, `b.txt` and the subdirectory `sub/`, and whatever `setup` adds.
    fn new(setup: impl FnOnce(&Path)) -> Listed {
        Listed::with_flags(setup, &[])
    }

    /// [`new`](Self::new), the server given `flags` too.
    fn with_flags(setup: impl FnOnce(&Path), flags: &[&str]) -> Listed {
        let tree = tempfile::tempdir().expect("temp dir");
        let d = tree.path().join("d");
        fs::create_dir_all(d.join("sub")).expect("mkdir");
        fs::write(d.join("a.txt"), "a").expect("write");
        fs::write(d.join("b.txt"), "bb").expect("write");
        setup(tree.path());
        let mut args = vec!["--ui", "--metrics-path", "/metrics"];
        args.extend(flags);
        let server = Serveur::start(tree.path(), &args);
        Listed { tree, server }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.tree.path().join(rel)
    }

    /// The rich page and the JSON of `d/`, as the next requests get them.
    fn listings(&self) -> (String, String) {
        let page = get(self.server.addr, "/d/");
        let json = get(self.server.addr, "/d/?format=json");
        assert_eq!((page.status, json.status), (200, 200));
        (page.text(), json.text())
    }

    /// The listing cache's hits so far.
    fn hits(&self) -> u64 {
        let page = get(self.server.addr, "/metrics").text();
        page.lines()
            .find_map(|line| line.strip_prefix("serveur_listing_cache_hits_total "))
            .unwrap_or_else(|| panic!("no listing cache counter in {page}"))
            .parse()
            .expect("a count")
    }

    /// Lists `d/` until both listings come from memory, and returns them: what a change must
    /// then replace.
    fn cached(&self) -> (String, String) {
        let first = self.listings();
        let before = self.hits();
        let again = self.listings();
        assert_eq!(self.hits(), before + 2, "both listings served from memory");
        assert_eq!(first, again);
        again
    }
}

/// The JSON listing's entry for `name`, if it has one.
fn entry(json: &str, name: &str) -> Option<serde_json::Value> {
    let entries: Vec<serde_json::Value> = serde_json::from_str(json).expect("JSON listing");
    entries.into_iter().find(|entry| entry["name"] == name)
}

/// Whether the rich page has a row for `name` (linked as `href`).
fn row(page: &str, href: &str) -> bool {
    page.contains(&format!("<td class=\"n\"><a href=\"{href}\">"))
}

/// `touch -d DATE PATH` (`-h`: the link itself), the tool people use to set a time.
fn touch(path: &Path, date: &str, extra: &[&str]) {
    let status = Command::new("touch")
        .args(extra)
        .args(["-d", date])
        .arg(path)
        .status()
        .expect("touch runs");
    assert!(status.success());
}

#[test]
fn a_created_file_shows_at_once() {
    let listed = Listed::new(|_| {});
    let (page, json) = listed.cached();
    assert!(!row(&page, "new.txt") && entry(&json, "new.txt").is_none());
    fs::write(listed.path("d/new.txt"), "new").expect("write");
    let (page, json) = listed.listings();
    assert!(row(&page, "new.txt"), "{page}");
    assert_eq!(entry(&json, "new.txt").expect("listed")["size"], 3);
}

#[test]
fn a_deleted_file_is_gone_at_once() {
    let listed = Listed::new(|_| {});
    let (page, json) = listed.cached();
    assert!(row(&page, "a.txt") && entry(&json, "a.txt").is_some());
    fs::remove_file(listed.path("d/a.txt")).expect("rm");
    let (page, json) = listed.listings();
    assert!(
        !row(&page, "a.txt") && entry(&json, "a.txt").is_none(),
        "{json}"
    );
}

#[test]
fn files_renamed_in_and_out_show_at_once() {
    let listed = Listed::new(|root| fs::write(root.join("outside.txt"), "out").expect("write"));
    listed.cached();
    fs::rename(listed.path("outside.txt"), listed.path("d/inside.txt")).expect("rename in");
    let (page, json) = listed.listings();
    assert!(row(&page, "inside.txt") && entry(&json, "inside.txt").is_some());
    listed.cached();
    fs::rename(listed.path("d/b.txt"), listed.path("gone.txt")).expect("rename out");
    let (page, json) = listed.listings();
    assert!(
        !row(&page, "b.txt") && entry(&json, "b.txt").is_none(),
        "{json}"
    );
}

#[test]
fn a_file_rewritten_in_place_shows_its_new_size_and_time() {
    let listed = Listed::new(|_| {});
    listed.cached();
    // In place: the same inode, a new size.
    fs::OpenOptions::new()
        .append(true)
        .open(listed.path("d/a.txt"))
        .and_then(|mut file| std::io::Write::write_all(&mut file, b"more bytes"))
        .expect("append");
    let (page, json) = listed.listings();
    assert_eq!(entry(&json, "a.txt").expect("listed")["size"], 11);
    assert!(page.contains("title=\"11 bytes\">11 B"), "{page}");
    // The same size, only the time: the page and the JSON show the new one.
    let (page, json) = listed.cached();
    assert!(!page.contains("2001-02-0") && !json.contains("2001"));
    touch(&listed.path("d/a.txt"), "2001-02-03 12:00:00 UTC", &[]);
    let (page, json) = listed.listings();
    assert_eq!(
        entry(&json, "a.txt").expect("listed")["mtime"],
        "Sat, 03 Feb 2001 12:00:00 GMT"
    );
    assert!(page.contains("<time datetime=\"2001-02-0"), "{page}");
}

/// What an upload in progress does in its directory: a `.serveur-upload-` file created and
/// written in pieces (then renamed to its own name, left to the caller). Returns its path.
fn upload_by_hand(d: &Path) -> std::path::PathBuf {
    let temp = d.join(".serveur-upload-0123abcd");
    let mut file = fs::File::create(&temp).expect("create");
    for _ in 0..8 {
        std::io::Write::write_all(&mut file, &[b'x'; 4096]).expect("write");
    }
    file.sync_all().expect("sync");
    drop(file);
    temp
}

#[test]
fn an_upload_in_progress_leaves_the_kept_pages_and_its_end_shows_at_once() {
    let listed = Listed::with_flags(|_| {}, &["--upload"]);
    listed.cached();
    let temp = upload_by_hand(&listed.path("d"));
    // Its many events are about a name no listing shows: the pages are still served from
    // memory, and do not show it.
    let before = listed.hits();
    let (page, json) = listed.listings();
    assert_eq!(listed.hits(), before + 2, "both listings still from memory");
    assert!(
        !page.contains("0123abcd") && !json.contains("0123abcd"),
        "{json}"
    );
    fs::rename(&temp, listed.path("d/up.txt")).expect("rename");
    let (page, json) = listed.listings();
    assert!(row(&page, "up.txt"), "{page}");
    assert_eq!(entry(&json, "up.txt").expect("listed")["size"], 8 * 4096);
}

#[test]
fn without_uploads_a_file_named_as_an_upload_shows_at_once() {
    // Without `--upload` such a file is an ordinary file, listed as any other: its events
    // count.
    let listed = Listed::new(|_| {});
    listed.cached();
    upload_by_hand(&listed.path("d"));
    let (_, json) = listed.listings();
    assert!(entry(&json, ".serveur-upload-0123abcd").is_some(), "{json}");
}

#[test]
fn a_subdirectory_whose_content_changes_shows_its_new_time() {
    // inotify on `d/` says nothing when something inside `d/sub/` changes, yet the listing
    // shows `sub`'s own time, which that changes.
    let listed = Listed::new(|root| touch(&root.join("d/sub"), "2001-02-03 12:00:00 UTC", &[]));
    let (page, json) = listed.cached();
    assert!(json.contains("2001") && page.contains("2001-02-0"));
    fs::write(listed.path("d/sub/inner.txt"), "x").expect("write");
    let (page, json) = listed.listings();
    assert!(!json.contains("2001"), "{json}");
    assert!(!page.contains("2001-02-0"), "{page}");
}

#[test]
fn a_retargeted_symlink_shows_at_once() {
    // `d/link` names a file, then (replaced, as `ln -sfn` does) a directory: the page links it
    // with a `/`.
    let listed = Listed::new(|root| {
        fs::create_dir(root.join("elsewhere")).expect("mkdir");
        symlink("a.txt", root.join("d/link")).expect("symlink");
    });
    let (page, _) = listed.cached();
    assert!(row(&page, "link"), "{page}");
    let status = Command::new("ln")
        .args(["-sfn", "../elsewhere"])
        .arg(listed.path("d/link"))
        .status()
        .expect("ln runs");
    assert!(status.success());
    let (page, json) = listed.listings();
    assert!(row(&page, "link/"), "{page}");
    assert_eq!(entry(&json, "link").expect("listed")["type"], "symlink");
}

#[test]
fn a_symlink_whose_target_changes_elsewhere_shows_at_once() {
    // `d/link` → `../target`, outside `d/`: the target replaced by a directory is nothing
    // inotify on `d/` reports, yet the page now links `link/`. Its own time (`touch -h`) is.
    let listed = Listed::new(|root| {
        fs::write(root.join("target"), "t").expect("write");
        symlink("../target", root.join("d/link")).expect("symlink");
    });
    let (page, _) = listed.cached();
    assert!(row(&page, "link"), "{page}");
    fs::remove_file(listed.path("target")).expect("rm");
    fs::create_dir(listed.path("target")).expect("mkdir");
    let (page, _) = listed.listings();
    assert!(row(&page, "link/"), "{page}");
    listed.cached();
    touch(&listed.path("d/link"), "2001-02-03 12:00:00 UTC", &["-h"]);
    let (page, json) = listed.listings();
    assert_eq!(
        entry(&json, "link").expect("listed")["mtime"],
        "Sat, 03 Feb 2001 12:00:00 GMT"
    );
    assert!(page.contains("2001-02-0"), "{page}");
}

#[test]
fn a_hard_linked_file_written_through_its_other_name_shows_at_once() {
    // inotify reports a write to the watch on the directory of the name written through.
    let listed = Listed::new(|root| {
        fs::write(root.join("other.txt"), "1").expect("write");
        fs::hard_link(root.join("other.txt"), root.join("d/twin.txt")).expect("link");
    });
    listed.cached();
    fs::write(listed.path("other.txt"), "12345").expect("rewrite");
    let (page, json) = listed.listings();
    assert_eq!(entry(&json, "twin.txt").expect("listed")["size"], 5);
    assert!(page.contains("title=\"5 bytes\""), "{page}");
}

#[test]
fn an_edited_readme_shows_at_once() {
    let listed = Listed::new(|root| fs::write(root.join("d/README.md"), "alpha").expect("write"));
    let (page, _) = listed.cached();
    assert!(page.contains("<p>alpha</p>"), "{page}");
    fs::write(listed.path("d/README.md"), "omega").expect("rewrite");
    let (page, _) = listed.listings();
    assert!(page.contains("<p>omega</p>"), "{page}");
}

#[test]
fn a_kept_page_is_only_sent_to_the_users_it_was_made_for() {
    // Anyone may read `d/`; only alice `d/secret.txt`, so only her listings show it.
    let listed = Listed::with_flags(
        |root| fs::write(root.join("d/secret.txt"), "s").expect("write"),
        &[
            "--auth",
            "@/d,/metrics",
            "--auth",
            "alice:pw@/d,/d/secret.txt",
        ],
    );
    let alice = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:pw")
    );
    let as_alice = |path| {
        request(
            listed.server.addr,
            "GET",
            path,
            &[("authorization", &alice)],
        )
    };
    let before = listed.hits();
    for _ in 0..2 {
        let (page, json) = listed.listings();
        assert!(!row(&page, "secret.txt") && entry(&json, "secret.txt").is_none());
        assert!(row(&as_alice("/d/").text(), "secret.txt"));
        assert!(entry(&as_alice("/d/?format=json").text(), "secret.txt").is_some());
    }
    // Each viewer's second listings came from memory, each from their own.
    assert_eq!(listed.hits(), before + 4);
}

#[test]
fn a_link_leading_somewhere_private_now_is_hidden_at_once() {
    // `d/l` → `../hop/x`, and `hop` → `pub` (anyone may read), then → `private` (alice only):
    // `d/` did not change, yet `l` now leads where anonymous may not read, so it is not listed.
    let listed = Listed::with_flags(
        |root| {
            for dir in ["pub", "private"] {
                fs::create_dir(root.join(dir)).expect("mkdir");
                fs::write(root.join(dir).join("x"), dir).expect("write");
            }
            symlink("pub", root.join("hop")).expect("symlink");
            symlink("../hop/x", root.join("d/l")).expect("symlink");
        },
        &["--auth", "@/d,/pub,/metrics", "--auth", "alice:pw@/private"],
    );
    let (page, json) = listed.cached();
    assert!(row(&page, "l") && entry(&json, "l").is_some(), "{json}");
    let hop = listed.path("hop");
    symlink("private", listed.path("hop.new")).expect("symlink");
    fs::rename(listed.path("hop.new"), &hop).expect("retarget");
    let (page, json) = listed.listings();
    assert!(!row(&page, "l"), "{page}");
    assert!(entry(&json, "l").is_none(), "{json}");
}

#[test]
fn a_kept_page_keeps_its_validators_head_and_compression() {
    // Enough rows that the page is worth compressing and its output worth keeping.
    let listed = Listed::new(|root| {
        for i in 0..100 {
            fs::write(root.join(format!("d/file-{i}.txt")), "x").expect("write");
        }
    });
    listed.cached();
    let addr = listed.server.addr;
    let fresh = get(addr, "/d/");
    let tag = fresh.header("etag").to_owned();
    assert!(tag.contains("-c"), "a content tag: {tag}");
    let revalidated = request(addr, "GET", "/d/", &[("if-none-match", &tag)]);
    assert_eq!(revalidated.status, 304);
    let head = request(addr, "HEAD", "/d/", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), fresh.body.len().to_string());
    assert_eq!(head.header("etag"), tag);
    // Compressed as it is sent the first time, then the kept output, its length known.
    let gzip = || request(addr, "GET", "/d/", &[("accept-encoding", "gzip")]);
    let (first, kept) = (gzip(), gzip());
    for reply in [&first, &kept] {
        assert_eq!(reply.header("content-encoding"), "gzip");
        assert_eq!(decode("gzip", &reply.body), fresh.body.to_vec());
    }
    assert_eq!(first.header("content-length"), "");
    assert_eq!(kept.header("content-length"), kept.body.len().to_string());
    assert_eq!(kept.header("etag"), first.header("etag"));
    // After a change, the old tag no longer revalidates, and the compressed page is new.
    fs::write(listed.path("d/c.txt"), "c").expect("write");
    let changed = request(addr, "GET", "/d/", &[("if-none-match", &tag)]);
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), tag);
    let page = String::from_utf8(decode("gzip", &gzip().body)).expect("UTF-8");
    assert!(row(&page, "c.txt"), "{page}");
}

/// The file of step `k`'s hammer: created at step 3k, grown at 3k+1, deleted at 3(k+5)+2.
const KEEP: u64 = 5;

/// One change of the hammer test; `s` is its step.
fn change(d: &Path, s: u64) {
    let k = s / 3;
    match s % 3 {
        0 => fs::write(d.join(format!("f{k}")), "1").expect("create"),
        1 => fs::write(d.join(format!("f{k}")), "22").expect("grow"),
        _ => {
            if let Some(old) = k.checked_sub(KEEP) {
                fs::remove_file(d.join(format!("f{old}"))).expect("delete");
            }
        }
    }
}

/// Checks one listing against the steps: all those before `done` had returned before it was
/// asked for, and none from `started` on had begun when it was answered.
fn check(json: &str, done: u64, started: u64) {
    for k in 0..started.div_ceil(3) + 1 {
        let (created, grown, deleted) = (3 * k, 3 * k + 1, 3 * (k + KEEP) + 2);
        let shown = entry(json, &format!("f{k}"));
        if created >= started || deleted < done {
            assert!(
                shown.is_none(),
                "f{k} listed, steps {done}..{started}: {json}"
            );
        } else if created < done && deleted >= started {
            let shown = shown.unwrap_or_else(|| panic!("f{k} missing, steps {done}..{started}"));
            if grown < done {
                assert_eq!(shown["size"], 2, "f{k} not grown, steps {done}..{started}");
            }
        }
    }
}

#[test]
fn listings_keep_up_with_a_tree_changing_under_them() {
    let listed = Listed::new(|_| {});
    let d = listed.path("d");
    // `done`: steps returned; `started`: steps begun.
    let (done, started) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let deadline = Instant::now() + Duration::from_secs(2);
    let changer = {
        let (done, started, d) = (Arc::clone(&done), Arc::clone(&started), d.clone());
        std::thread::spawn(move || {
            for s in 0..30_000 {
                if Instant::now() > deadline {
                    break;
                }
                started.store(s + 1, SeqCst);
                change(&d, s);
                done.store(s + 1, SeqCst);
                // Now and then a pause, so that some listings are kept and served again.
                if s % 50 == 0 {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        })
    };
    let mut listings = 0;
    while Instant::now() < deadline && listings < 20_000 {
        let before = done.load(SeqCst);
        let json = get(listed.server.addr, "/d/?format=json").text();
        check(&json, before, started.load(SeqCst));
        let before = done.load(SeqCst);
        let page = get(listed.server.addr, "/d/").text();
        let after = started.load(SeqCst);
        // The page: every file created and not yet deleted has its row.
        for k in 0..after.div_ceil(3) + 1 {
            if 3 * k < before && 3 * (k + KEEP) + 2 >= after {
                assert!(
                    row(&page, &format!("f{k}")),
                    "f{k}, steps {before}..{after}"
                );
            }
        }
        listings += 2;
    }
    changer.join().expect("changer");
    let steps = done.load(SeqCst);
    assert!(
        steps > 100 && listings > 100,
        "{steps} changes, {listings} listings"
    );
    // Once the tree is still, the listings are kept and served again.
    listed.cached();
}
