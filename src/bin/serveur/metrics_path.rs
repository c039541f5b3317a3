//! `--metrics-path`'s value, checked at start-up: the page (`serveur::metrics::Page`) must not
//! hide a file, nor a file the page.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `--metrics-path`'s value, checked: an absolute path as a request line spells it, matched
/// exactly (no query), that names nothing in the served `directory` — the page must not hide a
/// file, nor a file the page.
pub(crate) fn checked(path: &str, directory: &Path) -> Result<String, String> {
    let spelled = path.starts_with('/')
        && !path.contains(['?', '#'])
        && path.parse::<http::uri::PathAndQuery>().is_ok();
    if !spelled {
        return Err(format!(
            "argument --metrics-path: '{path}' is not an absolute URL path such as /metrics"
        ));
    }
    // As the static files would find it: decoded, `..` resolved, below the directory.
    let url = serveur::safe_path::UrlPath::parse(path);
    let mut on_disk = directory.to_path_buf();
    for segment in url.segments() {
        on_disk.push(OsStr::from_bytes(segment));
    }
    if on_disk.symlink_metadata().is_ok() {
        return Err(format!(
            "argument --metrics-path: {path} exists in the served directory ({}); choose a \
             path no file takes",
            on_disk.display()
        ));
    }
    Ok(path.to_owned())
}
