//! The rich directory page (`--ui`): breadcrumbs, a table of name, size and modification time
//! sortable by links (no JavaScript needed), a filter box and delete buttons added by a script,
//! the upload form, and the directory's `README.md` below. Its style sheet and script are
//! served by [`assets`](super::assets); the page itself holds no inline script, style or
//! handler, so that [`CSP`] can refuse everything else.
//!
//! Made for speed on large directories: one `stat` per entry, names and sort keys in two
//! shared buffers, and the page written straight into one `String`.

mod page;
mod readme;
mod sort;

use std::ffi::OsString;
use std::fs;
use std::io;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::SystemTime;

use super::listing_cache::Unseen;
use super::{listing, StaticFiles};
use crate::safe_path::{UrlPath, TEMP_PREFIX};
use sort::Key;
pub(crate) use sort::Sort;

/// The rich page's `Content-Security-Policy`: its own style sheet and scripts, images from the
/// server or `data:` (the icons), requests (uploads, deletes) and forms to the server only;
/// nothing inline, no framing (clickjacking of the delete buttons), no `<base>`.
pub(super) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
frame-ancestors 'none'";

/// What an entry is, for its icon and its link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Directory,
    /// A symlink; `true` when it names a directory (its link then ends with `/`, as CPython's).
    Link(bool),
    File,
}

/// One listed entry; its display name and sort key are ranges of the listing's shared buffers.
struct Entry {
    raw_name: OsString,
    name: Range<usize>,
    key: Range<usize>,
    kind: Kind,
    /// Files only.
    size: Option<u64>,
    modified: Option<SystemTime>,
}

impl Entry {
    fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Directory | Kind::Link(true))
    }
}

/// The entries of a directory, sorted, with the buffers their names live in.
struct Listing {
    entries: Vec<Entry>,
    names: String,
    /// The entry that is the directory's README, if any.
    readme: Option<usize>,
}

/// The rich page of the directory `dir` at `url`, in the order `sort`, with the entries whose
/// name `visible` accepts; and the newest entry's time (see `listing_json::render`). The rows
/// inotify on `dir` would not see change go to `unseen`.
pub(super) fn render(
    files: &StaticFiles,
    dir: &Path,
    url: &UrlPath,
    sort: Sort,
    visible: impl Fn(&[u8]) -> bool,
    unseen: &mut Unseen,
) -> io::Result<(String, Option<SystemTime>)> {
    let listing = read(dir, files.uploads, sort, visible, unseen)?;
    let newest = listing.entries.iter().filter_map(|e| e.modified).max();
    Ok((page::write(files, url, sort, &listing), newest))
}

/// Reads and sorts `dir`'s entries.
fn read(
    dir: &Path,
    uploads: bool,
    sort: Sort,
    visible: impl Fn(&[u8]) -> bool,
    unseen: &mut Unseen,
) -> io::Result<Listing> {
    let mut entries = Vec::new();
    let mut names = String::new();
    let (mut keys, mut lower) = (Vec::new(), String::new());
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let raw_name = entry.file_name();
        let bytes = raw_name.as_bytes();
        if (uploads && bytes.starts_with(TEMP_PREFIX.as_bytes())) || !visible(bytes) {
            continue;
        }
        // `DirEntry::metadata` does not follow a symlink: a link shows its own time and no
        // size, as the JSON listing does (its target may be outside the root). Whether it
        // names a directory is asked as CPython's `os.path.isdir` asks it.
        let Ok(metadata) = entry.metadata() else {
            continue; // gone since read_dir
        };
        let kind = if metadata.is_symlink() {
            let target = fs::metadata(entry.path()).ok();
            unseen.target(&raw_name, target.as_ref());
            Kind::Link(target.is_some_and(|m| m.is_dir()))
        } else {
            unseen.own(&raw_name, &metadata);
            if metadata.is_dir() {
                Kind::Directory
            } else {
                Kind::File
            }
        };
        let shown = String::from_utf8_lossy(bytes);
        let name = listing::push(&mut names, &shown);
        lower.clear();
        let lowered = listing::push_key(&mut lower, &shown);
        let key = sort::push_natural_key(&mut keys, &lower[lowered]);
        entries.push(Entry {
            raw_name,
            name,
            key,
            kind,
            size: (kind == Kind::File).then_some(metadata.len()),
            modified: metadata.modified().ok(),
        });
    }
    // The order is found on indices, then the entries are moved once: comparing is cheap, and
    // an entry is large to move at every step of the sort.
    let mut order: Vec<usize> = (0..entries.len()).collect();
    // Unstable is enough: the last tie-break (the raw names, unique in a directory) makes the
    // order total; pdqsort compares less often than the stable merge here.
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (&entries[a], &entries[b]);
        let by_name = || keys[a.key.clone()].cmp(&keys[b.key.clone()]);
        let chosen = match sort.key {
            Key::Name => by_name(),
            Key::Size => a.size.cmp(&b.size),
            Key::Time => a.modified.cmp(&b.modified),
        };
        let chosen = if sort.descending {
            chosen.reverse()
        } else {
            chosen
        };
        // Directories first, whichever the order; equal sizes or times by name, ascending.
        b.is_dir()
            .cmp(&a.is_dir())
            .then(chosen)
            .then_with(by_name)
            .then_with(|| a.raw_name.cmp(&b.raw_name))
    });
    let mut slots: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
    let entries: Vec<Entry> = order.iter().filter_map(|&i| slots[i].take()).collect();
    let readme = entries
        .iter()
        .position(|e| !e.is_dir() && names[e.name.clone()].eq_ignore_ascii_case(readme::NAME));
    Ok(Listing {
        entries,
        names,
        readme,
    })
}
