//! Precompressed siblings: `app.js.br` next to `app.js`, made at build time with better
//! settings than on-the-fly compression can afford. A sibling is resolved through
//! [`Root::resolve`] like any other file (so a symlinked `.br` cannot lead outside the root),
//! must be a regular file, and must not be older than the file it stands for: a stale
//! sibling left behind after an edit is ignored rather than served.

use std::fs::Metadata;
use std::time::SystemTime;

use super::encoding::Encoding;
use super::small_files::{Content, SmallFiles};
use crate::safe_path::{Root, UrlPath};

/// The `encoding` sibling of the file at `url`, modified at `modified`: its content (kept in
/// memory when small, as any file's), with its metadata.
pub fn find(
    root: &Root,
    small_files: &SmallFiles,
    url: &UrlPath,
    encoding: Encoding,
    modified: SystemTime,
) -> Option<(Content, Metadata)> {
    let found = root.resolve(&url.with_suffix(encoding.suffix()))?;
    let fresh = found.metadata.modified().is_ok_and(|m| m >= modified);
    if !found.metadata.is_file() || !fresh {
        return None;
    }
    let content = small_files.open(&found.path, &found.metadata).ok()?;
    Some((content, found.metadata))
}
