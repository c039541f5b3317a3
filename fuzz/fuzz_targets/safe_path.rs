//! Fuzzes the URL path → file resolution (`UrlPath::of_request`, `Root::resolve`) against a
//! fixture tree holding a symlink that stays inside the root and two that lead out of it: no
//! decoded segment is `.`, `..` or holds a `/`, and nothing resolved leaves the root once every
//! symlink is followed.

#![no_main]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serveur::fuzzing::url_path;
use serveur::safe_path::Root;

/// The fixture, made once per process in a fresh temporary directory:
/// `root/{index.html, dir/a.txt, dir/sub/b.txt, "sp ace.txt", inside -> dir, out -> ../outside,
/// dir/up -> ../..}` and `outside/secret.txt` beside the root.
fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base =
            std::env::temp_dir().join(format!("serveur-fuzz-safe-path-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let root = base.join("root");
        fs::create_dir_all(root.join("dir/sub")).expect("fixture dirs");
        fs::create_dir_all(base.join("outside")).expect("outside dir");
        for (path, text) in [
            (root.join("index.html"), "<p>index</p>"),
            (root.join("dir/a.txt"), "a"),
            (root.join("dir/sub/b.txt"), "b"),
            (root.join("sp ace.txt"), "space"),
            (base.join("outside/secret.txt"), "secret"),
        ] {
            fs::write(path, text).expect("fixture file");
        }
        symlink("dir", root.join("inside")).expect("inside link");
        symlink("../outside", root.join("out")).expect("out link");
        symlink("../..", root.join("dir/up")).expect("up link");
        Root::new(&root, false).expect("root")
    })
}

fuzz_target!(|data: &[u8]| {
    let request_path = String::from_utf8_lossy(data);
    let url = url_path(&request_path);
    for segment in url.segments() {
        assert!(
            !matches!(segment.as_slice(), b"" | b"." | b".."),
            "{request_path:?} kept the segment {segment:?}"
        );
        assert!(
            !segment.contains(&b'/'),
            "{request_path:?}: a segment holds '/'"
        );
    }
    let root = root();
    if let Some(found) = root.resolve(&url) {
        assert!(
            found.path.starts_with(root.dir()),
            "{request_path:?} → {:?}",
            found.path
        );
        let real: PathBuf = fs::canonicalize(&found.path).expect("a resolved path exists");
        assert!(
            real.starts_with(root.dir()),
            "{request_path:?} resolved to {real:?}, outside {:?}",
            root.dir()
        );
    }
});
