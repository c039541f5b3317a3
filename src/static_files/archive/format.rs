//! The two archive formats, written as a stream: ZIP through `zip`'s streaming writer (local
//! headers followed by data descriptors, since nothing written can be revisited; entries stored
//! uncompressed; zip64 records for files of 4 GiB and more) and tar (GNU headers, long names
//! as GNU long-name entries) through `tar`, gzip-compressed by `flate2` at its fastest level.
//! Every entry is inside one directory named after the folder; entry paths are relative and
//! made of the tree's own names, never `.` or `..`, so extracting cannot write outside it.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use flate2::write::GzEncoder;
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

use super::walk::{Exact, Sink};
use super::Format;

/// Writes the archive `format` of the folder `name` into `out`, its entries given by `walk`.
pub(super) fn write(
    format: Format,
    out: &mut impl Write,
    name: &str,
    walk: impl FnOnce(&mut dyn Sink) -> io::Result<()>,
) -> io::Result<()> {
    match format {
        Format::Zip => {
            let mut sink = ZipSink {
                zip: ZipWriter::new_stream(out),
                name,
            };
            walk(&mut sink)?;
            sink.zip.finish().map_err(io::Error::other)?;
        }
        Format::TarGz => {
            let gzip = GzEncoder::new(out, flate2::Compression::fast());
            let mut sink = TarSink {
                tar: tar::Builder::new(gzip),
                name: PathBuf::from(name),
            };
            walk(&mut sink)?;
            sink.tar.into_inner()?.finish()?;
        }
    }
    Ok(())
}

struct ZipSink<'a, W: Write> {
    zip: ZipWriter<StreamWriter<W>>,
    name: &'a str,
}

impl<W: Write> ZipSink<'_, W> {
    /// ZIP names are UTF-8 here (the writer sets the language encoding flag): a name that is
    /// not gets U+FFFD, as the listing shows it.
    fn entry_name(&self, path: &[u8]) -> String {
        format!("{}/{}", self.name, String::from_utf8_lossy(path))
    }
}

/// An entry's stored options: permissions and modification time (MS-DOS time, local to no
/// zone: the UTC time is written; times before 1980 become 1980-01-01).
fn zip_options(metadata: &Metadata) -> SimpleFileOptions {
    let mut options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .unix_permissions(metadata.mode() & 0o777);
    if let Some(time) = chrono::DateTime::from_timestamp(metadata.mtime(), 0)
        .and_then(|time| zip::DateTime::try_from(time.naive_utc()).ok())
    {
        options = options.last_modified_time(time);
    }
    options
}

impl<W: Write> Sink for ZipSink<'_, W> {
    fn directory(&mut self, path: &[u8], metadata: &Metadata) -> io::Result<()> {
        let name = self.entry_name(path);
        self.zip
            .add_directory(name, zip_options(metadata))
            .map_err(io::Error::other)
    }

    fn file(&mut self, path: &[u8], metadata: &Metadata, content: &mut Exact) -> io::Result<()> {
        let name = self.entry_name(path);
        // zip64 extra fields only where the 32-bit sizes cannot hold the file.
        let options = zip_options(metadata).large_file(metadata.len() >= u64::from(u32::MAX));
        self.zip
            .start_file(name, options)
            .map_err(io::Error::other)?;
        io::copy(content, &mut self.zip)?;
        Ok(())
    }
}

struct TarSink<W: Write> {
    tar: tar::Builder<W>,
    name: PathBuf,
}

fn tar_header(metadata: &Metadata, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(metadata.mode() & 0o777);
    header.set_mtime(u64::try_from(metadata.mtime()).unwrap_or(0));
    header
}

impl<W: Write> Sink for TarSink<W> {
    fn directory(&mut self, path: &[u8], metadata: &Metadata) -> io::Result<()> {
        let mut header = tar_header(metadata, tar::EntryType::Directory, 0);
        let path = self.name.join(OsStr::from_bytes(path));
        self.tar.append_data(&mut header, path, io::empty())
    }

    fn file(&mut self, path: &[u8], metadata: &Metadata, content: &mut Exact) -> io::Result<()> {
        let mut header = tar_header(metadata, tar::EntryType::Regular, metadata.len());
        let path = self.name.join(OsStr::from_bytes(path));
        self.tar.append_data(&mut header, path, content)
    }
}
