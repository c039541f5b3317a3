//! Precompressed siblings: `app.js.br` next to `app.js`, made at build time with better
//! settings than on-the-fly compression can afford. A sibling must be a regular file inside the
//! root (a symlinked `.br` is resolved through [`Root::resolve`] like any other path, so it
//! cannot lead outside), and must not be older than the file it stands for: a stale sibling
//! left behind after an edit is ignored rather than served.

use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::encoding::Encoding;
use super::small_files::{Content, SmallFiles};
use crate::safe_path::{Root, UrlPath};

/// The `encoding` sibling of the file at `url` (found by [`Root::resolve`] at `path`, modified
/// at `modified`): its content (kept in memory when small, as any file's), with its metadata.
pub(super) fn find(
    root: &Root,
    small_files: &SmallFiles,
    url: &UrlPath,
    path: &Path,
    encoding: Encoding,
    modified: SystemTime,
) -> Option<(Content, Metadata)> {
    let (path, metadata) = sibling(root, url, path, encoding)?;
    let fresh = metadata.modified().is_ok_and(|m| m >= modified);
    if !metadata.is_file() || !fresh {
        return None;
    }
    let content = small_files
        .open(&path, &metadata, SystemTime::now, || None)
        .ok()?;
    Some((content, metadata))
}

/// The sibling's path and metadata. It lives in the directory `resolve` already walked and
/// admitted for the original, so one `lstat` decides it, unless it is a symlink: then it is
/// resolved from the root like any path (one `lstat` per segment, and the link's target
/// checked against the root).
fn sibling(
    root: &Root,
    url: &UrlPath,
    path: &Path,
    encoding: Encoding,
) -> Option<(PathBuf, Metadata)> {
    let mut name = OsString::with_capacity(path.as_os_str().len() + 4);
    name.push(path.as_os_str());
    name.push(encoding.suffix());
    let path = PathBuf::from(name);
    let metadata = fs::symlink_metadata(&path).ok()?;
    if metadata.file_type().is_symlink() {
        let found = root.resolve(&url.with_suffix(encoding.suffix()))?;
        return Some((found.path, found.metadata));
    }
    Some((path, metadata))
}
