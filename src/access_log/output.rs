//! Where the writer thread puts lines: stderr, any writer, or a file (`--log-file`) opened for
//! appending and opened again on request, so that logrotate can move it away and signal
//! (`postrotate`) rather than copy and truncate it (`copytruncate`, which loses the lines
//! written in between). For the combined format written to a file, the lines that are not
//! access lines go to stderr, as nginx keeps its error log apart, so that the file holds only
//! lines a log tool can read.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Stderr, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The writer thread's destinations.
pub(super) struct Output {
    access: BufWriter<Box<dyn Write + Send>>,
    /// The file `access` writes to, when it is one, to open again.
    path: Option<PathBuf>,
    /// Where the other lines go when not with the access lines.
    others: Option<BufWriter<Stderr>>,
}

/// The writer's buffer: lines gather here between the writer's wake-ups.
const BUFFER: usize = 64 * 1024;

impl Output {
    /// Every line to `writer`.
    pub(super) fn writer(writer: impl Write + Send + 'static) -> Output {
        Output {
            access: BufWriter::with_capacity(BUFFER, Box::new(writer)),
            path: None,
            others: None,
        }
    }

    /// Access lines appended to the file at `path` (created `0640`: a log names clients and
    /// users), the other lines with them or, when `others_to_stderr`, to stderr.
    pub(super) fn file(path: &Path, others_to_stderr: bool) -> io::Result<Output> {
        let file = open(path)?;
        Ok(Output {
            access: BufWriter::with_capacity(BUFFER, Box::new(file)),
            path: Some(path.to_owned()),
            others: others_to_stderr.then(|| BufWriter::new(io::stderr())),
        })
    }

    /// Where access lines go.
    pub(super) fn access(&mut self) -> &mut impl Write {
        &mut self.access
    }

    /// Where the other lines (errors, a script's stderr) go.
    pub(super) fn others(&mut self) -> Others<'_> {
        match &mut self.others {
            Some(stderr) => Others::Stderr(stderr),
            None => Others::Access(&mut self.access),
        }
    }

    /// Writes out what is buffered.
    pub(super) fn flush(&mut self) {
        let _ = self.access.flush();
        if let Some(stderr) = &mut self.others {
            let _ = stderr.flush();
        }
    }

    /// Opens the file again at its path (after logrotate renamed it): the lines buffered so
    /// far go to the old file, the next ones to the new. If it cannot be opened, lines go on
    /// to the old one and stderr says why. Nothing for a log that is not a file.
    pub(super) fn reopen(&mut self) {
        let Some(path) = &self.path else {
            return;
        };
        let _ = self.access.flush();
        match open(path) {
            Ok(file) => *self.access.get_mut() = Box::new(file),
            Err(e) => eprintln!(
                "serveur: error: cannot reopen the log file {}: {e}; still writing to the old one",
                path.display()
            ),
        }
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
}

/// The other lines' destination, chosen by a `match` per write rather than a `dyn Write`: a
/// virtual call per piece of CPython's line (eight a line) made a logged 404 1.3% dearer than
/// before the formats existed (17,064 -> 17,278 instructions, `instructions.sh`); with the
/// `match` it is 16,833.
pub(super) enum Others<'a> {
    Access(&'a mut BufWriter<Box<dyn Write + Send>>),
    Stderr(&'a mut BufWriter<Stderr>),
}

impl Write for Others<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Others::Access(out) => out.write(bytes),
            Others::Stderr(out) => out.write(bytes),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Others::Access(out) => out.write_all(bytes),
            Others::Stderr(out) => out.write_all(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Others::Access(out) => out.flush(),
            Others::Stderr(out) => out.flush(),
        }
    }
}
