//! What a test serves: files and executable scripts written into a temporary tree, sample
//! data, modification times set in the past, and [`hostile_site`], the one tree of hostile
//! names that every test which only reads such a tree shares.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// Writes `content` to `root/rel`, creating the directories on the way.
pub(crate) fn write_file(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create directories");
    std::fs::write(path, content).expect("write file");
}

/// Opens `path` and every directory above it up to the temporary directory (0755; the
/// temporary directories are 0700), so that `nobody` can walk down to it.
pub(crate) fn open_to_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut dir = path.to_path_buf();
    while dir.starts_with(std::env::temp_dir()) && dir != std::env::temp_dir() {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        dir.pop();
    }
}

/// `len` bytes of deterministic, compressible text (words and newlines), for downloads tests.
pub(crate) fn sample_text(len: usize) -> Vec<u8> {
    let words = [
        "serveur ", "range ", "etag ", "gzip ", "brotli ", "zstd\n", "vary ",
    ];
    let mut text = Vec::with_capacity(len + 8);
    let mut seed: u32 = 7;
    while text.len() < len {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        text.extend_from_slice(words[(seed >> 16) as usize % words.len()].as_bytes());
    }
    text.truncate(len);
    text
}

/// `len` bytes of deterministic noise (incompressible), for downloads tests.
pub(crate) fn sample_bytes(len: usize) -> Vec<u8> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// Sets the modification time of `path` to `secs` seconds before now.
pub(crate) fn age(path: &Path, secs: u64) {
    let when = std::time::SystemTime::now() - Duration::from_secs(secs);
    std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open to set mtime")
        .set_modified(when)
        .expect("set mtime");
}

/// Writes an executable script (mode 755) at `dir/relative`, creating its directories.
pub(crate) fn write_script(dir: &Path, relative: &str, source: &str) {
    use std::os::unix::fs::PermissionsExt;
    write_file(dir, relative, source);
    std::fs::set_permissions(dir.join(relative), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
}

/// File names a web root must survive, all in [`hostile_site`]'s `hostile/`: markup, quotes,
/// `%` and what looks like an escape, `#` and `?`, controls, spaces, non-ASCII, and names that
/// only sort (CPython sorts case-insensitively).
pub(crate) const HOSTILE_NAMES: &[&str] = &[
    "with space",
    "with space.txt",
    "100%",
    "100%.txt",
    "%41%2e.txt",
    "q\"uote",
    "double\"quote",
    "it's",
    "single'quote",
    "<script>x",
    "<script>alert(1)",
    "<img src=x onerror=alert(2)>",
    "amp&",
    "amp&amp;.txt",
    "café",
    "café.txt",
    "日本語 ☃",
    "日本語 ☃.txt",
    "hash#",
    "hash#frag",
    "qm?",
    "question?mark",
    "new\nline",
    "tab\tand\rcr",
    "plus+semi;colon=eq",
    "Zebra",
    "apple",
    "_under",
];

/// Directories in [`hostile_site`]'s `hostile/`, each holding `inner.txt`.
pub(crate) const HOSTILE_SUBDIRS: &[&str] = &["dir #?", "dir <&> #?"];

/// Directories whose names a browser would read as the start of another host, or which hold
/// bytes a WHATWG parser strips (Linux allows any byte in a name but `/` and NUL): at the top
/// of [`hostile_site`], where a path without its trailing slash gets a redirect.
pub(crate) const HOSTILE_DIRS: &[&str] = &[
    "\\evil.example/x",
    "\\/evil.example",
    "\\\\evil.example",
    "evil.example",
    "\t/evil.example",
    "\tevil.example",
    "\r\nevil.example",
    "..\\..\\evil.example",
    "\u{FF0F}evil.example",
];

/// Creates [`HOSTILE_DIRS`] under `root`.
pub(crate) fn make_hostile_dirs(root: &Path) {
    for dir in HOSTILE_DIRS {
        std::fs::create_dir_all(root.join(dir)).expect("create a hostile directory");
    }
}

/// One web root for every test that only reads it, built once per test run (many tests serve
/// it at once, with serveur and with CPython): `www/` holds
///
/// - plain files (`a.txt` = `alpha\n`, `B.html`, `b c.txt`, `.hidden`, `data.tar.gz`,
///   `noext`), `sub/in.txt` = `inner`, index files (`idx/index.html`, `htm/index.htm`),
///   `evil.com/dir/x.txt`, `empty/` and `a <b> & c/`;
/// - `hostile/`: each of [`HOSTILE_NAMES`], a file holding its own name, and each of
///   [`HOSTILE_SUBDIRS`] with `inner.txt` = `inner`;
/// - [`HOSTILE_DIRS`];
/// - `not-utf8/`: `x\xffy` (a name that is not UTF-8) = `raw`, and `ok.txt` = `ok`;
/// - links: `link-in` → `a.txt`, `link-dir` → `sub`, and `link-out` → `../outside.txt`
///   (`outside`), out of the root.
///
/// Returns the path of `www`. A test that changes its tree builds its own.
pub(crate) fn hostile_site() -> &'static Path {
    // A static is never dropped: the tree is made under cargo's scratch directory for
    // integration tests (target/tmp), which `cargo clean` empties, rather than in /tmp.
    static SITE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, www) = SITE.get_or_init(|| {
        let tmp = tempfile::Builder::new()
            .prefix("hostile-site")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("tempdir");
        let www = build_hostile_site(tmp.path());
        (tmp, www)
    });
    www
}

fn build_hostile_site(tmp: &Path) -> PathBuf {
    let www = tmp.join("www");
    write_file(tmp, "outside.txt", "outside");
    for (name, content) in [
        ("a.txt", "alpha\n"),
        ("B.html", "<p>b</p>"),
        ("b c.txt", "space"),
        (".hidden", "h"),
        ("data.tar.gz", "gz"),
        ("noext", "?"),
        ("sub/in.txt", "inner"),
        ("idx/index.html", "index"),
        ("htm/index.htm", "htm"),
        ("evil.com/dir/x.txt", "x"),
        ("not-utf8/ok.txt", "ok"),
    ] {
        write_file(&www, name, content);
    }
    for dir in ["empty", "a <b> & c"] {
        std::fs::create_dir_all(www.join(dir)).expect("mkdir");
    }
    let hostile = www.join("hostile");
    for name in HOSTILE_NAMES {
        write_file(&hostile, name, name);
    }
    for dir in HOSTILE_SUBDIRS {
        write_file(&hostile.join(dir), "inner.txt", "inner");
    }
    make_hostile_dirs(&www);
    std::fs::write(
        www.join("not-utf8").join(OsStr::from_bytes(b"x\xffy")),
        "raw",
    )
    .expect("write a name that is not UTF-8");
    symlink("a.txt", www.join("link-in")).expect("symlink");
    symlink("sub", www.join("link-dir")).expect("symlink");
    symlink(tmp.join("outside.txt"), www.join("link-out")).expect("symlink");
    www
}
