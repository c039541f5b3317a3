//! Where a gateway request's script is: the URL path is split into the script's name
//! (`SCRIPT_NAME`) and what follows it (`PATH_INFO`), the way CPython's `run_cgi` walks it
//! (RFC 3875 §4.1.5, §4.1.13). Below a gateway directory, sub-directories are descended while
//! more of the path follows; the first segment that is not a directory names the script, and the
//! rest is extra path. The walk goes through [`Root::resolve`], so a script is never found
//! outside the served tree, and every spelling of a path (`%2e`, `//`, `/./`, `%2f`) is the same
//! decoded path here.

use std::fs::Metadata;
use std::path::PathBuf;

use crate::safe_path::{Root, UrlPath};

/// A script found below a gateway directory.
#[derive(Debug)]
pub(crate) struct ScriptPath {
    /// `SCRIPT_NAME`: the decoded URL path of the script, e.g. `/cgi-bin/form.py`.
    pub script_name: Vec<u8>,
    /// `PATH_INFO`: the decoded rest of the path, empty or starting with `/`.
    pub path_info: Vec<u8>,
    /// The script on disk.
    pub file: PathBuf,
    /// What the script is (a regular file, or not).
    pub metadata: Metadata,
    /// Whether the script is a directory's index file (the URL named the directory).
    pub is_index: bool,
}

/// What a path below a gateway directory names.
#[derive(Debug)]
pub(crate) enum Located {
    /// A script (which may still be unfit to run: not a regular file, not executable).
    Script(Box<ScriptPath>),
    /// Nothing exists at this name (`SCRIPT_NAME` as it would have been).
    Missing(Vec<u8>),
    /// The path names a directory without an index script; the name ends with `/` when the
    /// URL did.
    Directory(Vec<u8>),
    /// The gateway directory itself, asked for without its trailing slash.
    AddSlash,
}

/// Of `dirs` (gateway directories as URL paths), the longest that contains `url`.
pub(crate) fn matching_dir<'a>(dirs: &'a [UrlPath], url: &UrlPath) -> Option<&'a UrlPath> {
    dirs.iter()
        .filter(|dir| url.segments().starts_with(dir.segments()))
        .max_by_key(|dir| dir.segments().len())
}

/// Finds the script `url` names below the gateway directory `dir` (which must contain it), in
/// `root`. A path that names a directory runs the first of `index_names` found in it.
pub(crate) fn locate(root: &Root, dir: &UrlPath, url: &UrlPath, index_names: &[&str]) -> Located {
    let segments = url.segments();
    let slash = url.has_trailing_slash();
    for i in dir.segments().len()..segments.len() {
        let candidate = url.prefix(i + 1);
        let Some(found) = root.resolve(&candidate) else {
            return Located::Missing(url_name(candidate.segments(), false));
        };
        let last = i + 1 == segments.len();
        if found.metadata.is_dir() && !last {
            continue;
        }
        if found.metadata.is_dir() && !slash {
            // CPython never descends into the last segment: `/cgi-bin/sub` is "not a plain
            // file" even when `sub/` has an index.
            return Located::Directory(url_name(candidate.segments(), false));
        }
        if !found.metadata.is_dir() {
            let path_info = url_name(&segments[i + 1..], slash);
            return Located::Script(Box::new(ScriptPath {
                script_name: url_name(candidate.segments(), false),
                path_info,
                file: found.path,
                metadata: found.metadata,
                is_index: false,
            }));
        }
        break;
    }
    if segments.len() == dir.segments().len() && !slash {
        return Located::AddSlash;
    }
    let dir_url = url.prefix(segments.len());
    for index in index_names {
        let candidate = dir_url.join(index);
        if let Some(found) = root.resolve(&candidate) {
            return Located::Script(Box::new(ScriptPath {
                script_name: url_name(candidate.segments(), false),
                path_info: Vec::new(),
                file: found.path,
                metadata: found.metadata,
                is_index: true,
            }));
        }
    }
    Located::Directory(url_name(dir_url.segments(), true))
}

/// `segments` as a URL path, each after a `/` (so no segments is empty, as an empty
/// `PATH_INFO` is), and a trailing `/` when asked.
pub(crate) fn url_name(segments: &[Vec<u8>], trailing_slash: bool) -> Vec<u8> {
    let mut name = Vec::new();
    for segment in segments {
        name.push(b'/');
        name.extend_from_slice(segment);
    }
    if trailing_slash {
        name.push(b'/');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join("cgi-bin/sub")).expect("mkdir");
        fs::write(dir.path().join("cgi-bin/a.sh"), "").expect("write");
        fs::write(dir.path().join("cgi-bin/sub/b.py"), "").expect("write");
        let root = Root::new(dir.path(), false).expect("root");
        (dir, root)
    }

    fn at(root: &Root, path: &str) -> Located {
        let url = UrlPath::parse(path);
        locate(root, &UrlPath::parse("/cgi-bin"), &url, &["index.py"])
    }

    fn script(located: Located) -> (String, String) {
        match located {
            Located::Script(s) => (
                String::from_utf8(s.script_name).expect("utf-8"),
                String::from_utf8(s.path_info).expect("utf-8"),
            ),
            other => panic!("not a script: {other:?}"),
        }
    }

    #[test]
    fn script_name_and_path_info_split_at_the_first_file() {
        let (_dir, root) = tree();
        assert_eq!(
            script(at(&root, "/cgi-bin/a.sh")),
            ("/cgi-bin/a.sh".into(), "".into())
        );
        assert_eq!(
            script(at(&root, "/cgi-bin/sub/b.py/x/y/")),
            ("/cgi-bin/sub/b.py".into(), "/x/y/".into())
        );
        assert_eq!(
            script(at(&root, "/cgi-bin/a.sh/")),
            ("/cgi-bin/a.sh".into(), "/".into())
        );
        assert_eq!(
            script(at(&root, "/cgi-bin/%73ub//./b.py/%2e%2e/b.py/q")),
            ("/cgi-bin/sub/b.py".into(), "/q".into())
        );
    }

    #[test]
    fn missing_and_directories_are_named_as_cpython_names_them() {
        let (_dir, root) = tree();
        assert!(
            matches!(at(&root, "/cgi-bin/nope/x"), Located::Missing(n) if n == b"/cgi-bin/nope")
        );
        assert!(matches!(at(&root, "/cgi-bin/"), Located::Directory(n) if n == b"/cgi-bin/"));
        assert!(matches!(at(&root, "/cgi-bin/sub"), Located::Directory(n) if n == b"/cgi-bin/sub"));
        assert!(matches!(at(&root, "/cgi-bin"), Located::AddSlash));
    }

    #[test]
    fn a_directory_with_an_index_runs_it() {
        let (dir, root) = tree();
        fs::write(dir.path().join("cgi-bin/sub/index.py"), "").expect("write");
        assert_eq!(
            script(at(&root, "/cgi-bin/sub/")),
            ("/cgi-bin/sub/index.py".into(), "".into())
        );
    }

    #[test]
    fn the_longest_matching_directory_wins() {
        let dirs = [UrlPath::parse("/"), UrlPath::parse("/cgi-bin")];
        let found = matching_dir(&dirs, &UrlPath::parse("/cgi-bin/x")).expect("match");
        assert_eq!(found.segments().len(), 1);
        assert!(matching_dir(&dirs[1..], &UrlPath::parse("/cgi-binx")).is_none());
    }
}
