//! What inotify on a directory does not report, though a listing shows it: a listed
//! subdirectory's own time (it changes when something *inside* it changes), what a listed
//! symlink leads to (its target may be elsewhere: a file, a directory, nothing), and a file with
//! other hard links (a write through a name in another directory is reported there only:
//! inotify reports to the watch on the parent of the name that was used). A cached page keeps
//! these rows' identities as its render saw them, and each lookup `stat`s just those rows.

use std::ffi::OsStr;
use std::fs::{self, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::static_files::identity::Identity;

/// One row to look at again: its name, whether its `stat` follows a symlink, and what it said
/// (`None`: it failed, a dangling link).
#[derive(Debug)]
struct Row<P> {
    name: P,
    follow: bool,
    seen: Option<Identity>,
}

/// The rows of one render that inotify does not watch, by name, as the render collects them.
#[derive(Debug, Default)]
pub(crate) struct Unseen {
    rows: Vec<Row<Box<OsStr>>>,
}

impl Unseen {
    /// A row whose own `metadata` (not following a link) the listing showed, if inotify may
    /// miss its change: a directory (its time), a file with other hard links.
    pub(crate) fn own(&mut self, name: &OsStr, metadata: &Metadata) {
        if metadata.is_dir() || (metadata.is_file() && metadata.nlink() > 1) {
            self.rows.push(Row {
                name: name.into(),
                follow: false,
                seen: Some(Identity::of(metadata)),
            });
        }
    }

    /// A symlink row, with what `fs::metadata` (following it) said.
    pub(crate) fn target(&mut self, name: &OsStr, target: Option<&Metadata>) {
        self.rows.push(Row {
            name: name.into(),
            follow: true,
            seen: target.map(Identity::of),
        });
    }

    /// The rows as paths below `dir`, kept with a cached page.
    pub(super) fn below(self, dir: &Path) -> Rows {
        Rows(
            self.rows
                .into_iter()
                .map(|row| Row {
                    name: dir.join(&*row.name),
                    follow: row.follow,
                    seen: row.seen,
                })
                .collect(),
        )
    }
}

/// The rows of a cached page, by path.
#[derive(Debug)]
pub(super) struct Rows(Box<[Row<PathBuf>]>);

impl Rows {
    /// Whether every row is as the page showed it: one `stat` each.
    pub(super) fn unchanged(&self) -> bool {
        self.0.iter().all(|row| {
            let now = if row.follow {
                fs::metadata(&row.name)
            } else {
                fs::symlink_metadata(&row.name)
            };
            now.ok().as_ref().map(Identity::of) == row.seen
        })
    }

    /// Bytes held, for the cache's budget.
    pub(super) fn weight(&self) -> usize {
        self.0
            .iter()
            .map(|row| std::mem::size_of::<Row<PathBuf>>() + row.name.as_os_str().len())
            .sum()
    }
}
