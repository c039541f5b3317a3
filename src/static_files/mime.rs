//! Content types by extension, as CPython's `SimpleHTTPRequestHandler.guess_type` gives them:
//! its own `extensions_map` first (compressed files are served as what they are, never with a
//! `Content-Encoding`), then the platform table, then the configured default.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::OsStr;
use std::path::Path;

/// The content type for `path`, or `None` when the extension is unknown.
pub(super) fn guess(path: &Path) -> Option<&'static str> {
    let ext = path.extension().and_then(OsStr::to_str)?;
    // CPython's `extensions_map`, matched exactly and then lower-cased.
    let python = |e: &str| match e {
        "gz" => Some("application/gzip"),
        "Z" => Some("application/octet-stream"),
        "bz2" => Some("application/x-bzip2"),
        "xz" => Some("application/x-xz"),
        _ => None,
    };
    if let Some(t) = python(ext) {
        return Some(t);
    }
    // Lower-cased once, and only when needed: two allocations per request before.
    let lower: Cow<'_, str> = if ext.bytes().any(|b| b.is_ascii_uppercase()) {
        ext.to_ascii_lowercase().into()
    } else {
        ext.into()
    };
    if let Some(t) = python(&lower) {
        return Some(t);
    }
    match &*lower {
        // RFC 9239 §6: JavaScript is text/javascript, as CPython 3.12+ says.
        "js" | "mjs" | "cjs" => Some("text/javascript"),
        _ => platform_table(ext),
    }
}

/// mime_guess's answer for `ext`. The last extension asked is remembered per thread: its table
/// is a case-insensitive binary search that cost ~1,150 instructions per small-file request
/// (callgrind), and a server mostly sends the same few types in a row.
fn platform_table(ext: &str) -> Option<&'static str> {
    thread_local! {
        static LAST: RefCell<(String, Option<&'static str>)> =
            const { RefCell::new((String::new(), None)) };
    }
    LAST.with_borrow_mut(|(last_ext, last_type)| {
        if last_ext.as_str() != ext || last_ext.is_empty() {
            *last_type = mime_guess::from_ext(ext).first_raw();
            last_ext.clear();
            last_ext.push_str(ext);
        }
        *last_type
    })
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
