//! The one place where a URL path becomes a path on disk. [`UrlPath::parse`] reads a request path
//! the way CPython's `SimpleHTTPRequestHandler.translate_path` does (query and fragment dropped,
//! percent-decoded, `.`/`..` resolved lexically so they never climb above `/`), and
//! [`Root::resolve`] walks it below the served directory, refusing any symlink whose target
//! leaves the root unless the server was told to follow them (CPython gh-132142 documents that
//! it follows them everywhere; serveur does not).

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode;

/// The start of every temporary file an upload writes (`upload/`), and of the upload form's
/// script (`static_files`). No request can name such a file: the listing skips them, the
/// static files answer 404, and writes refuse the prefix.
pub(crate) const TEMP_PREFIX: &str = ".serveur-upload-";

/// The start of every name serveur keeps for itself: its temporary files ([`TEMP_PREFIX`]) and
/// the files its pages load (`static_files/assets.rs`, answered at that name in any directory).
/// Writes refuse it, so an upload is never stored under a name a built-in file would shadow.
pub(crate) const OWN_PREFIX: &str = ".serveur-";

/// The request path after CPython's `//` collapsing (gh-87389: a leading `//x` would be read as
/// a host by the client following a redirect).
pub(crate) fn collapse_leading_slashes(path: &str) -> &str {
    if path.starts_with("//") {
        &path[path.len() - path.trim_start_matches('/').len() - 1..]
    } else {
        path
    }
}

/// A request path split into decoded segments, with `.` and `..` already resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlPath {
    segments: Vec<Vec<u8>>,
    trailing_slash: bool,
}

impl UrlPath {
    /// Reads `path` (the request target without scheme and authority) as CPython does:
    /// everything from the first `?` or `#` is dropped, a trailing `/` is remembered, `%XX` is
    /// decoded (so `%2e%2e` and `%2f` count as `..` and `/`), `posixpath.normpath` resolves `..`
    /// lexically, and empty, `.` and `..` segments are skipped.
    ///
    /// ```
    /// use serveur::safe_path::UrlPath;
    /// let p = UrlPath::parse("/a/b/../c%20d/?q=1");
    /// assert_eq!(p.segments(), [b"a".to_vec(), b"c d".to_vec()]);
    /// assert!(p.has_trailing_slash());
    /// assert!(UrlPath::parse("/../../etc/passwd").segments() == [b"etc".to_vec(), b"passwd".to_vec()]);
    /// ```
    pub fn parse(path: &str) -> UrlPath {
        UrlPath::parse_collapsed(path)
    }

    /// A request's path as every handler routes it: leading slashes collapsed to one
    /// ([`collapse_leading_slashes`]), then [`parse`](UrlPath::parse)d.
    pub(crate) fn of_request(path: &str) -> UrlPath {
        UrlPath::parse_collapsed(collapse_leading_slashes(path))
    }

    fn parse_collapsed(path: &str) -> UrlPath {
        let end = path
            .bytes()
            .position(|b| b == b'?' || b == b'#')
            .unwrap_or(path.len());
        let path = &path[..end];
        let trailing_slash = path.trim_end().ends_with('/');
        // Borrowed when nothing is percent-encoded, the common case: decoding byte by byte
        // into a new buffer was a third of the parse (callgrind).
        let decoded: Cow<'_, [u8]> = percent_decode(path.as_bytes()).into();
        let mut segments: Vec<Vec<u8>> = Vec::new();
        for word in decoded.split(|&b| b == b'/') {
            match word {
                b"" | b"." => {}
                b".." => {
                    segments.pop();
                }
                _ => segments.push(word.to_vec()),
            }
        }
        UrlPath {
            segments,
            trailing_slash,
        }
    }

    /// The path made of these decoded segments (none of them `.`, `..` or holding `/`: the
    /// caller checked them), without a trailing slash.
    pub(crate) fn from_segments(segments: Vec<Vec<u8>>) -> UrlPath {
        UrlPath {
            segments,
            trailing_slash: false,
        }
    }

    /// The decoded segments, in order.
    pub fn segments(&self) -> &[Vec<u8>] {
        &self.segments
    }

    /// Whether this path is `dir` or below it, segment by segment (`/in` is not below
    /// `/i`).
    pub fn is_within(&self, dir: &UrlPath) -> bool {
        self.segments.starts_with(&dir.segments)
    }

    /// Whether the raw path ended with `/` (before decoding, as in CPython).
    pub fn has_trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// The same path with one more segment (e.g. an index file name, a listed entry) appended.
    pub(crate) fn join(&self, segment: impl AsRef<[u8]>) -> UrlPath {
        let mut segments = self.segments.clone();
        segments.push(segment.as_ref().to_vec());
        UrlPath {
            segments,
            trailing_slash: false,
        }
    }

    /// The same path with `suffix` appended to its last segment (`app.js` → `app.js.br`), for
    /// a sibling file that must be resolved like any other.
    pub(crate) fn with_suffix(&self, suffix: &str) -> UrlPath {
        let mut segments = self.segments.clone();
        if let Some(last) = segments.last_mut() {
            last.extend_from_slice(suffix.as_bytes());
        }
        UrlPath {
            segments,
            trailing_slash: false,
        }
    }

    /// The first `n` segments only.
    pub(crate) fn prefix(&self, n: usize) -> UrlPath {
        UrlPath {
            segments: self.segments[..n.min(self.segments.len())].to_vec(),
            trailing_slash: false,
        }
    }
}

/// A served directory: the only tree paths are resolved in.
#[derive(Clone, Debug)]
pub struct Root {
    dir: PathBuf,
    follow_symlinks: bool,
    hidden: Vec<PathBuf>,
}

/// An existing path below a [`Root`], with the metadata of what it names (a symlink followed).
#[derive(Debug)]
pub struct Found {
    /// The path on disk.
    pub path: PathBuf,
    /// The metadata of the file or directory (of the symlink's target for a symlink).
    pub metadata: Metadata,
}

/// Where a path leads once its symlinks are followed ([`Root::real_path`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RealPath {
    /// No symlink on the way: the path is its own real path.
    AsSpelled,
    /// Somewhere else below the root.
    Below(UrlPath),
    /// Outside the root (a link `follow_symlinks` may serve).
    Outside,
    /// Through a dangling or unreadable link.
    Unknown,
}

impl Root {
    /// A root at `dir`, which must exist; it is made absolute and its own symlinks resolved once.
    /// With `follow_symlinks`, symlinks whose target is outside `dir` are served too.
    pub fn new(dir: impl AsRef<Path>, follow_symlinks: bool) -> io::Result<Root> {
        let dir = fs::canonicalize(dir)?;
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            ));
        }
        Ok(Root {
            dir,
            follow_symlinks,
            hidden: Vec::new(),
        })
    }

    /// The same root, following symlinks out of it or not.
    pub(crate) fn with_follow_symlinks(self, follow_symlinks: bool) -> Root {
        Root {
            follow_symlinks,
            ..self
        }
    }

    /// Never resolves anything below `dir` (a directory below the root, e.g. a CGI directory
    /// whose files must not be served as files), whatever path leads there: its own, or one
    /// through a symlink. Its real path is hidden too when it is itself a symlink.
    pub(crate) fn hide(mut self, dir: impl AsRef<Path>) -> Root {
        let dir = dir.as_ref();
        if let Ok(real) = fs::canonicalize(dir) {
            self.hidden.push(real);
        }
        self.hidden.push(dir.to_path_buf());
        self
    }

    /// Whether `path` is a hidden directory or below one. Compared as bytes (a prefix ending at
    /// a `/`), not with `Path::starts_with`, which splits both paths into components: this runs
    /// on every resolve once `--cgi` hides its directories.
    fn is_hidden(&self, path: &Path) -> bool {
        let path = path.as_os_str().as_bytes();
        self.hidden.iter().any(|dir| {
            let dir = dir.as_os_str().as_bytes();
            path.starts_with(dir) && matches!(path.get(dir.len()), None | Some(b'/'))
        })
    }

    /// The served directory (absolute, without symlinks).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path `url` names below the root, if it exists and does not escape the root.
    ///
    /// Every component is examined with `lstat`; only when one is a symlink is the whole path
    /// canonicalized and checked against the root, so the common case costs one `lstat` per
    /// segment and nothing more.
    pub fn resolve(&self, url: &UrlPath) -> Option<Found> {
        // One buffer, sized once: the path, of which each prefix `lstat` examines is a slice
        // (a second buffer for the prefixes, and `PathBuf::push`'s checks, cost ~250
        // instructions a request, callgrind). Segments hold no `/` and are never empty, so
        // joining them with `/` is what `push` would do.
        let dir = self.dir.as_os_str().as_bytes();
        let len = dir.len() + url.segments().iter().map(|s| s.len() + 1).sum::<usize>();
        let mut bytes = Vec::with_capacity(len);
        bytes.extend_from_slice(dir);
        for segment in url.segments() {
            if bytes.last() != Some(&b'/') {
                bytes.push(b'/');
            }
            bytes.extend_from_slice(segment);
        }
        let path = PathBuf::from(OsString::from_vec(bytes));
        if self.is_hidden(&path) {
            return None;
        }
        if self.follow_symlinks {
            if !self.hidden.is_empty() && self.is_hidden(&fs::canonicalize(&path).ok()?) {
                return None;
            }
            let metadata = fs::metadata(&path).ok()?;
            return Some(Found { path, metadata });
        }
        let bytes = path.as_os_str().as_bytes();
        let mut end = dir.len();
        let mut last = None;
        for segment in url.segments() {
            end += usize::from(bytes[end - 1] != b'/') + segment.len();
            let probe = Path::new(OsStr::from_bytes(&bytes[..end]));
            let metadata = fs::symlink_metadata(probe).ok()?;
            if metadata.file_type().is_symlink() {
                return self.resolve_through_symlink(path);
            }
            last = Some(metadata);
        }
        let metadata = match last {
            Some(metadata) => metadata,
            None => fs::metadata(&path).ok()?,
        };
        Some(Found { path, metadata })
    }

    /// Where `url` really leads once symlinks are followed, for a check that must hold for the
    /// place a path names and not only for its spelling (access rules: a link in an open
    /// folder to a closed one). A path that does not exist yet (an upload's) is judged by its
    /// longest existing prefix, the rest appended. One `lstat` per existing segment; a
    /// `canonicalize` only when one of them is a symlink.
    pub(crate) fn real_path(&self, url: &UrlPath) -> RealPath {
        let mut probe = self.dir.clone();
        let mut linked = false;
        let mut existing = 0;
        for segment in url.segments() {
            probe.push(OsStr::from_bytes(segment));
            match fs::symlink_metadata(&probe) {
                Ok(metadata) => linked |= metadata.file_type().is_symlink(),
                Err(_) => {
                    probe.pop();
                    break;
                }
            }
            existing += 1;
        }
        if !linked {
            return RealPath::AsSpelled;
        }
        let Ok(real) = fs::canonicalize(&probe) else {
            // A dangling link: where it would lead cannot be judged.
            return RealPath::Unknown;
        };
        let Ok(below) = real.strip_prefix(&self.dir) else {
            return RealPath::Outside;
        };
        let mut segments: Vec<Vec<u8>> =
            below.iter().map(|part| part.as_bytes().to_vec()).collect();
        segments.extend(url.segments()[existing..].iter().cloned());
        RealPath::Below(UrlPath::from_segments(segments))
    }

    /// The slow path: a symlink was met, so the target must be proven to stay inside the root.
    fn resolve_through_symlink(&self, path: PathBuf) -> Option<Found> {
        let real = fs::canonicalize(&path).ok()?;
        if !real.starts_with(&self.dir) || self.is_hidden(&real) {
            return None;
        }
        let metadata = fs::metadata(&real).ok()?;
        Some(Found { path, metadata })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_slashes_collapse_to_one() {
        assert_eq!(collapse_leading_slashes("//evil.com/x"), "/evil.com/x");
        assert_eq!(collapse_leading_slashes("///a"), "/a");
        assert_eq!(collapse_leading_slashes("/a//b"), "/a//b");
    }

    fn segs(p: &str) -> Vec<String> {
        UrlPath::parse(p)
            .segments()
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    }

    #[test]
    fn dot_dot_never_climbs_above_the_root() {
        assert_eq!(segs("/../../etc/passwd"), ["etc", "passwd"]);
        assert_eq!(segs("/a/%2e%2e/%2e%2e/%2e%2e/b"), ["b"]);
        assert_eq!(segs("/a/..%2f..%2fb"), ["b"]);
    }

    #[test]
    fn query_and_fragment_are_dropped_before_decoding() {
        assert_eq!(segs("/a%3fb?c=/d"), ["a?b"]);
        assert_eq!(segs("/x#/../y"), ["x"]);
    }

    #[test]
    fn trailing_slash_is_read_before_decoding_as_cpython_3_13_does() {
        assert!(UrlPath::parse("/sub/").has_trailing_slash());
        assert!(!UrlPath::parse("/sub%2f").has_trailing_slash());
        assert!(UrlPath::parse("/sub/?x").has_trailing_slash());
    }

    #[test]
    fn invalid_utf8_is_kept_as_raw_bytes() {
        assert_eq!(UrlPath::parse("/%ff").segments(), [vec![0xff]]);
    }
}
