//! Content types by extension, as CPython's `SimpleHTTPRequestHandler.guess_type` gives them:
//! its own `extensions_map` first (compressed files are served as what they are, never with a
//! `Content-Encoding`), then the platform table, then the configured default.

use std::ffi::OsStr;
use std::path::Path;

/// The content type for `path`, or `None` when the extension is unknown.
pub fn guess(path: &Path) -> Option<&'static str> {
    let ext = path.extension().and_then(OsStr::to_str)?;
    // CPython's `extensions_map`, matched exactly and then lower-cased.
    let python = |e: &str| match e {
        "gz" => Some("application/gzip"),
        "Z" => Some("application/octet-stream"),
        "bz2" => Some("application/x-bzip2"),
        "xz" => Some("application/x-xz"),
        _ => None,
    };
    if let Some(t) = python(ext).or_else(|| python(&ext.to_ascii_lowercase())) {
        return Some(t);
    }
    match ext.to_ascii_lowercase().as_str() {
        // RFC 9239 §6: JavaScript is text/javascript, as CPython 3.12+ says.
        "js" | "mjs" | "cjs" => Some("text/javascript"),
        _ => mime_guess::from_ext(ext).first_raw(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_files_keep_cpython_types() {
        assert_eq!(guess(Path::new("a.tar.gz")), Some("application/gzip"));
        assert_eq!(guess(Path::new("a.GZ")), Some("application/gzip"));
        assert_eq!(guess(Path::new("a.Z")), Some("application/octet-stream"));
        assert_eq!(guess(Path::new("a.xz")), Some("application/x-xz"));
    }

    #[test]
    fn common_types_and_unknown() {
        assert_eq!(guess(Path::new("a.html")), Some("text/html"));
        assert_eq!(guess(Path::new("a.txt")), Some("text/plain"));
        assert_eq!(guess(Path::new("a.js")), Some("text/javascript"));
        assert_eq!(guess(Path::new("README")), None);
        assert_eq!(guess(Path::new("a.zzzunknown")), None);
    }
}
