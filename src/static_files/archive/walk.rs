//! The tree an archive holds: the folder's entries in name order, depth first, with the same
//! rules as single downloads. Every entry is resolved through [`Root::resolve`] (so no symlink
//! out of the root is followed unless `--follow-symlinks` allows it, and hidden CGI
//! directories stay hidden) and checked against the request's [`Access`] (a directory it may
//! not read is left out whole, as the listing leaves it out). Symlinks to files are archived
//! as the files they name; symlinks to directories are left out, so a link to a parent cannot
//! make the walk endless. Upload temp files are never included. Entries that vanish while the
//! walk runs are skipped, as a listing made a moment later would skip them; any other failure
//! (a file or directory the server cannot read, an I/O error, a file that shrinks) ends the
//! walk with an error naming the entry: the archive is then cut rather than sent complete
//! without something the listing shows.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::request::Access;
use crate::safe_path::{Root, UrlPath, TEMP_PREFIX};

/// Where the walk puts what it finds: one of the archive formats.
pub(super) trait Sink {
    /// A directory at `path` (relative to the folder, `/`-separated, never empty).
    fn directory(&mut self, path: &[u8], metadata: &Metadata) -> io::Result<()>;
    /// A file at `path`, whose `metadata.len()` bytes `content` yields.
    fn file(&mut self, path: &[u8], metadata: &Metadata, content: &mut Exact) -> io::Result<()>;
}

/// The served tree, as one request may see it.
pub(super) struct Tree {
    /// The served directory.
    pub root: Root,
    /// Whether uploads write into the tree (their temp files are then left out).
    pub uploads: bool,
    /// What the request may read.
    pub access: Option<Access>,
}

impl Tree {
    /// Writes the tree below the directory `dir` (at `url`) into `sink`.
    pub(super) fn walk(&self, url: &UrlPath, dir: &Path, sink: &mut dyn Sink) -> io::Result<()> {
        self.walk_dir(url, dir, &mut Vec::new(), sink)
    }

    fn walk_dir(
        &self,
        url: &UrlPath,
        dir: &Path,
        prefix: &mut Vec<u8>,
        sink: &mut dyn Sink,
    ) -> io::Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(at(prefix, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            names.push(entry.map_err(|e| at(prefix, e))?.file_name());
        }
        names.sort();
        for name in names {
            let bytes = name.as_bytes();
            if self.uploads && bytes.starts_with(TEMP_PREFIX.as_bytes()) {
                continue;
            }
            let entry_url = url.join(bytes);
            if !self.access.as_ref().is_none_or(|a| a.may_read(&entry_url)) {
                continue;
            }
            let Some(found) = self.root.resolve(&entry_url) else {
                continue;
            };
            let is_link =
                fs::symlink_metadata(dir.join(&name)).map_or(true, |m| m.file_type().is_symlink());
            let len = prefix.len();
            if len > 0 {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(bytes);
            if found.metadata.is_dir() && !is_link {
                sink.directory(prefix, &found.metadata)?;
                self.walk_dir(&entry_url, &found.path, prefix, sink)?;
            } else if found.metadata.is_file() {
                // A FIFO or device is never opened (it could block), as for single downloads.
                match File::open(&found.path) {
                    Ok(file) => {
                        let mut content = Exact {
                            file: file.take(found.metadata.len()),
                            remaining: found.metadata.len(),
                        };
                        sink.file(prefix, &found.metadata, &mut content)
                            .map_err(|e| at(prefix, e))?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(at(prefix, e)),
                }
            }
            prefix.truncate(len);
        }
        Ok(())
    }
}

/// `error` met at the entry `path` (relative to the folder, `.` for the folder itself), with
/// the path in its message; the client's departure (`BrokenPipe`, from the pipe) is left as it
/// is, since no entry is at fault.
fn at(path: &[u8], error: io::Error) -> io::Error {
    if error.kind() == io::ErrorKind::BrokenPipe {
        return error;
    }
    let path = if path.is_empty() {
        ".".into()
    } else {
        String::from_utf8_lossy(path)
    };
    io::Error::new(error.kind(), format!("{path}: {error}"))
}

/// A file's bytes, exactly as many as its entry's header promised: a file that grows while it
/// is sent is cut at its size, and one that shrinks ends the archive with an error (the entry's
/// size is already written; padding it would put bytes in the archive that the file never
/// had).
pub(super) struct Exact {
    file: io::Take<File>,
    remaining: u64,
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if n == 0 && self.remaining > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a file shrank while it was archived",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}
