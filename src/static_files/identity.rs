//! What makes a file the same file, as a `stat` says: its device and inode, kind and mode,
//! size, and both times (`ctime` too, which no user can set back: a write that restores the
//! size and the `mtime` still moves it). If none of these changed, its bytes and its place in a
//! listing have not either. The small-file cache (`small_files.rs`) and the listing cache's
//! rows that inotify cannot see (`listing_cache/unseen.rs`) compare these.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A file's identity, from its [`Metadata`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Identity {
    dev: u64,
    ino: u64,
    mode: u32,
    /// Its length in bytes.
    pub size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    pub(super) fn of(metadata: &Metadata) -> Self {
        Identity {
            dev: metadata.dev(),
            ino: metadata.ino(),
            mode: metadata.mode(),
            size: metadata.size(),
            mtime: (metadata.mtime(), metadata.mtime_nsec()),
            ctime: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// When it last changed (its `ctime`).
    pub(super) fn changed(&self) -> SystemTime {
        UNIX_EPOCH + Duration::new(self.ctime.0.max(0) as u64, self.ctime.1 as u32)
    }
}
