//! What may be written where: the request path read strictly into segments, each a name the
//! file system will store as it is. Reads go through `UrlPath::parse`, which quietly resolves
//! `..` and decodes `%2F` into a separator, as CPython's `translate_path` does; a write must not
//! be that forgiving, so a segment that decodes to `.`, `..`, or to something holding `/`, `\`,
//! NUL or a control character, or longer than a file name may be (255 bytes, `NAME_MAX`), is
//! refused rather than reinterpreted. Names starting with [`OWN_PREFIX`] (`.serveur-`) are
//! serveur's own, its uploads in progress and the files its pages load, and are refused too.

use percent_encoding::percent_decode_str;

use crate::safe_path::{UrlPath, OWN_PREFIX};

/// `NAME_MAX` on Linux file systems: one more byte and `open` fails with `ENAMETOOLONG`.
const NAME_MAX: usize = 255;

/// A request path read for a write: its decoded segments and whether it ended with `/`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// The decoded segments, none empty.
    pub segments: Vec<Vec<u8>>,
    /// Whether the path ended with `/` (a directory).
    pub trailing_slash: bool,
}

impl Target {
    /// Reads `path` (without the query), refusing any segment that [`check`] refuses.
    pub(crate) fn parse(path: &str) -> Result<Target, &'static str> {
        let path = path.split(['?', '#']).next().unwrap_or("");
        let mut segments = Vec::new();
        for raw in path.split('/').filter(|s| !s.is_empty()) {
            let segment: Vec<u8> = percent_decode_str(raw).collect();
            check(&segment)?;
            segments.push(segment);
        }
        Ok(Target {
            segments,
            trailing_slash: path.ends_with('/'),
        })
    }

    /// The directory holding the last segment, and that segment; `None` for `/`.
    pub(super) fn split_last(&self) -> Option<(UrlPath, &[u8])> {
        let (last, parent) = self.segments.split_last()?;
        Some((UrlPath::from_segments(parent.to_vec()), last))
    }

    /// The whole path as a [`UrlPath`] (a directory a form posts to).
    pub(super) fn url(&self) -> UrlPath {
        UrlPath::from_segments(self.segments.clone())
    }
}

/// Whether `name` may be stored as one file or directory name; the reason when not.
pub(crate) fn check(name: &[u8]) -> Result<(), &'static str> {
    match name {
        b"" => Err("empty name"),
        b"." | b".." => Err("'.' and '..' are not names"),
        _ if name.len() > NAME_MAX => Err("name longer than 255 bytes"),
        _ if name.iter().any(|&b| b == b'/' || b == b'\\') => Err("slash in a name"),
        _ if name.iter().any(|&b| b < 0x20 || b == 0x7f) => Err("control character in a name"),
        _ if name.starts_with(OWN_PREFIX.as_bytes()) => Err("reserved name"),
        _ => Ok(()),
    }
}

/// `name (n).ext`: the `n`th other name for a form upload whose name is taken, the number put
/// before the extension so that the file still opens with the same program. A name whose only
/// dot is its first character (`.bashrc`) has no extension.
pub(super) fn numbered(name: &[u8], n: u32) -> Vec<u8> {
    let dot = name
        .iter()
        .rposition(|&b| b == b'.')
        .filter(|&i| i > 0)
        .unwrap_or(name.len());
    let mut out = name[..dot].to_vec();
    out.extend_from_slice(format!(" ({n})").as_bytes());
    out.extend_from_slice(&name[dot..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_split_and_decoded() {
        let target = Target::parse("/a%20b//c.txt?x=/y").expect("valid");
        assert_eq!(target.segments, [b"a b".to_vec(), b"c.txt".to_vec()]);
        assert!(!target.trailing_slash);
        assert!(Target::parse("/dir/").expect("valid").trailing_slash);
    }

    #[test]
    fn names_that_could_leave_their_directory_are_refused() {
        for bad in [
            "/..",
            "/a/../b",
            "/%2e%2e/x",
            "/.",
            "/a%2fb",
            "/a%5cb",
            "/a\\b",
            "/a%00b",
            "/a%0ab",
            "/a%7fb",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        assert!(Target::parse(&format!("/{}", "x".repeat(256))).is_err());
        assert!(Target::parse(&format!("/{}", "x".repeat(255))).is_ok());
        assert!(Target::parse("/.serveur-upload-0123.part").is_err());
        assert!(Target::parse("/caf%C3%A9 (1).txt").is_ok());
    }

    #[test]
    fn numbered_names_keep_their_extension() {
        assert_eq!(numbered(b"a.tar.gz", 1), b"a.tar (1).gz");
        assert_eq!(numbered(b"notes", 2), b"notes (2)");
        assert_eq!(numbered(b".bashrc", 1), b".bashrc (1)");
    }
}
