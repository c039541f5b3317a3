//! The atomic write. A body goes to a temporary file created in the target's own directory
//! (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode `0644` less the umask: never executable), is `fsync`ed,
//! then renamed onto its name: with `renameat2(RENAME_NOREPLACE)` unless replacing is allowed,
//! so a file that appeared meanwhile is never overwritten. Until that rename nobody sees a
//! byte of it; if anything fails first (the client leaves, the limit is reached, the disk is
//! full, the request is dropped) the temporary file is removed ([`TempFile`]'s `Drop`).
//!
//! The directory is reached by [`Dir::open`]: resolved as reads resolve it (`Root::resolve`,
//! which refuses a symlink out of the tree), then opened again one real component at a time
//! with `O_NOFOLLOW` from the root, so a link swapped in after the check fails the open
//! instead of leading the write elsewhere. Every later call works relative to that descriptor.

use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::StatusCode;
use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags, CWD};
use rustix::io::Errno;

use super::Refusal;
use crate::safe_path::TEMP_PREFIX;
use crate::safe_path::{Root, UrlPath};

/// Writes are gathered up to this size before a `write(2)`: an HTTP/2 body arrives in frames
/// of 16 KiB, and one system call per frame cost more than the copy.
const WRITE_BUFFER: usize = 256 * 1024;

/// A directory below the root, opened without following any link.
#[derive(Clone)]
pub(super) struct Dir {
    fd: Arc<OwnedFd>,
    /// Its real path below the root, as segments (what a rule on paths must look at: the
    /// request may have named it through a symlink).
    pub real: UrlPath,
}

impl Dir {
    /// The directory `url` names below `root`: 409 when it does not exist (RFC 9110 §15.5.10,
    /// as WebDAV answers a missing parent), 403 when it exists only through a link that leaves
    /// the tree or is hidden from it (a CGI directory).
    pub(super) fn open(root: &Root, url: &UrlPath) -> Result<Dir, Refusal> {
        let Some(found) = root.resolve(url) else {
            let mut lexical = root.dir().to_path_buf();
            lexical.extend(url.segments().iter().map(|s| OsStr::from_bytes(s)));
            return Err(if fs::metadata(&lexical).is_ok() {
                Refusal::new(StatusCode::FORBIDDEN, "Upload refused: outside the tree")
            } else {
                Refusal::new(StatusCode::CONFLICT, "No such directory")
            });
        };
        if !found.metadata.is_dir() {
            return Err(Refusal::new(StatusCode::CONFLICT, "Not a directory"));
        }
        let moved = || Refusal::new(StatusCode::FORBIDDEN, "Upload refused: the path changed");
        let real = fs::canonicalize(&found.path).map_err(|_| moved())?;
        let below = real.strip_prefix(root.dir()).map_err(|_| moved())?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let mut fd = rustix::fs::openat(CWD, root.dir(), flags, Mode::empty())
            .map_err(|e| Refusal::io(e.into()))?;
        let mut segments = Vec::new();
        for part in below.iter() {
            fd = rustix::fs::openat(&fd, part, flags | OFlags::NOFOLLOW, Mode::empty())
                .map_err(|_| moved())?;
            segments.push(part.as_bytes().to_vec());
        }
        Ok(Dir {
            fd: Arc::new(fd),
            real: UrlPath::from_segments(segments),
        })
    }

    /// What `name` is in this directory now (a symlink itself, not its target), if anything.
    pub(super) fn entry(&self, name: &[u8]) -> Option<Metadata> {
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&*self.fd, name, flags, Mode::empty()).ok()?;
        File::from(fd).metadata().ok()
    }

    /// Creates the directory `name` (`MKCOL`), `0755` less the umask.
    pub(super) fn make_dir(&self, name: &[u8]) -> io::Result<()> {
        Ok(rustix::fs::mkdirat(
            &*self.fd,
            name,
            Mode::from_raw_mode(0o755),
        )?)
    }

    /// Removes the file or empty directory `name` (`DELETE`); a symlink is removed, never
    /// followed.
    pub(super) fn remove(&self, name: &[u8]) -> io::Result<()> {
        let flags = match self.entry(name) {
            Some(meta) if meta.is_dir() => AtFlags::REMOVEDIR,
            Some(_) => AtFlags::empty(),
            None => return Err(io::ErrorKind::NotFound.into()),
        };
        Ok(rustix::fs::unlinkat(&*self.fd, name, flags)?)
    }
}

/// How the finished file takes its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Commit {
    /// Only if nothing has that name (`renameat2(RENAME_NOREPLACE)`).
    NoReplace,
    /// Replacing whatever file has it, atomically (`rename`).
    Replace,
}

/// Why a commit did not happen.
pub(super) enum CommitError {
    /// The name was taken (only with [`Commit::NoReplace`]).
    Exists,
    /// The file system failed.
    Io(io::Error),
}

/// A temporary file being written; removed when dropped unless committed.
pub(super) struct TempFile {
    dir: Dir,
    name: Vec<u8>,
    file: Option<File>,
    buffer: Vec<u8>,
    written: u64,
}

impl TempFile {
    /// Creates a new temporary file in `dir`.
    pub(super) fn create(dir: &Dir) -> io::Result<TempFile> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut tries = 0;
        loop {
            // Unique within the process by the counter and across processes by the pid; the
            // names need not be unguessable, since `O_EXCL` never opens what exists and no
            // request can create a name with this prefix.
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("{TEMP_PREFIX}{}-{n}.part", std::process::id()).into_bytes();
            match rustix::fs::openat(&*dir.fd, &name[..], flags, Mode::from_raw_mode(0o644)) {
                Ok(fd) => {
                    return Ok(TempFile {
                        dir: dir.clone(),
                        name,
                        file: Some(File::from(fd)),
                        buffer: Vec::new(),
                        written: 0,
                    })
                }
                // A stale file of an earlier process with the same pid.
                Err(Errno::EXIST) if tries < 16 => tries += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Writes `body` into the file, at most `limit` bytes: a longer body is a 413, a body
    /// that ends in an error (the client left) that error; either way nothing is committed.
    pub(super) async fn receive(
        &mut self,
        body: impl Stream<Item = Result<Bytes, Refusal>>,
        limit: u64,
    ) -> Result<u64, Refusal> {
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            if self.written + chunk.len() as u64 > limit {
                return Err(Refusal::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Upload larger than the limit",
                ));
            }
            self.write(&chunk).map_err(Refusal::io)?;
        }
        self.flush().map_err(Refusal::io)?;
        Ok(self.written)
    }

    /// Buffers `bytes`, writing when the buffer is full. Written on the runtime's thread, as
    /// files are read (ARCHITECTURE, decisions): into the page cache, a write costs less than
    /// a hand-off to a thread; the `fsync`, which waits for the disk, is handed off.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.written += bytes.len() as u64;
        if self.buffer.len() + bytes.len() > WRITE_BUFFER {
            self.flush()?;
        }
        if bytes.len() >= WRITE_BUFFER {
            return write_all(self.file()?, bytes);
        }
        if self.buffer.capacity() == 0 {
            self.buffer.reserve_exact(WRITE_BUFFER);
        }
        self.buffer.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buffer.is_empty() {
            write_all(self.file()?, &self.buffer)?;
            self.buffer.clear();
        }
        Ok(())
    }

    fn file(&self) -> io::Result<&File> {
        self.file
            .as_ref()
            .ok_or_else(|| io::Error::other("file already closed"))
    }

    /// Makes the file durable and gives it the first of `names` that is free (only the first
    /// is tried with [`Commit::Replace`]); answers the name it took. Runs on a blocking thread
    /// (`fsync` waits for the disk): dropped before it runs, the request's future leaves the
    /// file to be removed; once running, the commit finishes even if the client is gone.
    pub(super) async fn commit(
        mut self,
        names: impl IntoIterator<Item = Vec<u8>> + Send + 'static,
        how: Commit,
    ) -> Result<Vec<u8>, CommitError> {
        self.flush().map_err(CommitError::Io)?;
        let task = tokio::task::spawn_blocking(move || {
            if let Some(file) = self.file.take() {
                rustix::fs::fsync(&file).map_err(|e| CommitError::Io(e.into()))?;
            }
            for name in names {
                match self.rename(&name, how) {
                    Err(CommitError::Exists) if how == Commit::NoReplace => continue,
                    Err(e) => return Err(e),
                    Ok(()) => {
                        // The new entry survives a crash only once the directory is synced.
                        rustix::fs::fsync(&*self.dir.fd).map_err(|e| CommitError::Io(e.into()))?;
                        return Ok(name);
                    }
                }
            }
            Err(CommitError::Exists)
        });
        task.await
            .unwrap_or_else(|e| Err(CommitError::Io(io::Error::other(e))))
    }

    fn rename(&self, name: &[u8], how: Commit) -> Result<(), CommitError> {
        let dir = &*self.dir.fd;
        let temp = &self.name[..];
        let renamed = match how {
            Commit::Replace => rustix::fs::renameat(dir, temp, dir, name),
            Commit::NoReplace => {
                match rustix::fs::renameat_with(dir, temp, dir, name, RenameFlags::NOREPLACE) {
                    // A file system without RENAME_NOREPLACE: a hard link never replaces
                    // either; the temporary name is then removed by the drop.
                    Err(Errno::INVAL) => rustix::fs::linkat(dir, temp, dir, name, AtFlags::empty()),
                    other => other,
                }
            }
        };
        match renamed {
            Ok(()) => Ok(()),
            Err(Errno::EXIST) => Err(CommitError::Exists),
            Err(e) => Err(CommitError::Io(e.into())),
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // After a rename the name is gone and this fails harmlessly (ENOENT); after a link,
        // or on any failure, it removes the temporary file.
        let _ = rustix::fs::unlinkat(&*self.dir.fd, &self.name[..], AtFlags::empty());
    }
}

fn write_all(file: &File, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(file, bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Removes the temporary files a crashed or killed server left below `dir` (links are not
/// followed), and says how many. Run at start-up, before any upload can be in progress.
pub(super) fn remove_stale(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            removed += remove_stale(&entry.path());
        } else if kind.is_file()
            && entry
                .file_name()
                .as_bytes()
                .starts_with(TEMP_PREFIX.as_bytes())
            && fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}
