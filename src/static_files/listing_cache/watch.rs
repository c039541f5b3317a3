//! The listing cache's inotify instance: a watch per cached directory, and the events read
//! back without blocking. Through rustix (already a dependency for the same kind of work), not
//! the `inotify` crate: the same three system calls, no new crate.
//!
//! A watch is added through `/proc/self/fd/N` of a descriptor opened on the directory, so that
//! it is on the very inode the listing is read from, even when the path through which the
//! request found it goes through a symlink that is retargeted meanwhile.

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// A directory's identity: device and inode (what a watch is on; the watch pins the inode, so
/// the pair is not reused while it is watched).
pub(super) type Identity = (u64, u64);

/// The identity of what `metadata` describes.
pub(super) fn identity(metadata: &std::fs::Metadata) -> Identity {
    (metadata.dev(), metadata.ino())
}

/// Everything that changes what a listing shows: entries coming and going (created, deleted,
/// renamed in or out), an entry's bytes or metadata changing (size, times, kind), and the
/// directory itself going away or moving. `IN_Q_OVERFLOW` and `IN_IGNORED` come unasked.
const EVENTS: WatchFlags = WatchFlags::CREATE
    .union(WatchFlags::DELETE)
    .union(WatchFlags::MOVED_FROM)
    .union(WatchFlags::MOVED_TO)
    .union(WatchFlags::MODIFY)
    .union(WatchFlags::ATTRIB)
    .union(WatchFlags::CLOSE_WRITE)
    .union(WatchFlags::DELETE_SELF)
    .union(WatchFlags::MOVE_SELF)
    .union(WatchFlags::ONLYDIR);

/// What one event read back says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Change {
    /// Something in (or of) the directory watched as this descriptor changed.
    In(i32),
    /// The watch is gone (the directory was deleted, or the watch removed): `IN_IGNORED`.
    Gone(i32),
    /// Events were lost (`IN_Q_OVERFLOW`), or the queue could not be read: anything may have
    /// changed.
    Unknown,
}

/// A non-blocking inotify instance.
pub(super) struct Inotify {
    fd: OwnedFd,
}

/// A directory opened for a watch and for its listing to be read through `path`.
pub(super) struct OpenDir {
    /// Keeps `path` naming the directory.
    _fd: OwnedFd,
    /// `/proc/self/fd/N`: the directory opened, whatever its path names now.
    pub path: PathBuf,
    pub identity: Identity,
}

impl OpenDir {
    /// Opens the directory `path` names now (`O_PATH`: no read permission needed to watch).
    pub(super) fn open(path: &Path) -> io::Result<OpenDir> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let stat = rustix::fs::fstat(&fd)?;
        let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        Ok(OpenDir {
            _fd: fd,
            path,
            identity: (stat.st_dev, stat.st_ino),
        })
    }
}

impl Inotify {
    pub(super) fn new() -> io::Result<Inotify> {
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)?;
        Ok(Inotify { fd })
    }

    /// Watches `dir` (the same watch descriptor again if its inode is watched already).
    /// Fails when the user's watch limit is reached (`ENOSPC`).
    pub(super) fn watch(&self, dir: &OpenDir) -> io::Result<i32> {
        Ok(inotify::add_watch(&self.fd, &dir.path, EVENTS)?)
    }

    /// Stops watching: the kernel then queues `IN_IGNORED` for `wd`.
    pub(super) fn unwatch(&self, wd: i32) {
        // Fails only for a watch the kernel has already dropped (its directory deleted).
        let _ = inotify::remove_watch(&self.fd, wd);
    }

    /// Reads every queued event, without waiting: one `read` answering `EAGAIN` when nothing
    /// changed. The kernel queues an event before the system call that caused it returns, so
    /// after this no change made before the call began is unseen. An event about an entry
    /// whose name starts with `unlisted` (a name no listing shows) is skipped.
    pub(super) fn drain(&self, unlisted: Option<&[u8]>, mut on: impl FnMut(Change)) {
        // Room for many events per read; each is 16 bytes and a NUL-padded name.
        let mut buffer = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.fd, &mut buffer);
        loop {
            match reader.next() {
                Ok(event) => {
                    let flags = event.events();
                    let name = event.file_name().map(CStr::to_bytes);
                    if unlisted
                        .zip(name)
                        .is_some_and(|(p, name)| name.starts_with(p))
                    {
                        continue;
                    }
                    on(if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                        Change::Unknown
                    } else if flags.contains(ReadFlags::IGNORED) {
                        Change::Gone(event.wd())
                    } else {
                        Change::In(event.wd())
                    });
                }
                Err(Errno::AGAIN) => return,
                Err(Errno::INTR) => continue,
                Err(_) => {
                    // Cannot be read: nothing cached may be trusted.
                    on(Change::Unknown);
                    return;
                }
            }
        }
    }
}
