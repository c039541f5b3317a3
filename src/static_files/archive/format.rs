//! The two archive formats, written as a stream: ZIP through `zip`'s streaming writer (local
//! headers followed by data descriptors, since nothing written can be revisited; entries stored
//! uncompressed; zip64 records for files of 4 GiB and more) and tar (GNU headers, long names
//! as GNU long-name entries) through `tar`, gzip-compressed by `flate2` at its fastest level.
//! Every entry is inside one directory named after the folder; entry paths are relative and
//! made of the tree's own names, never `.` or `..`, so extracting cannot write outside it.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io::{self, BufReader, Write};
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
            sink.zip.finish().map_err(io::Error::from)?;
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
    /// The entry's name, from the folder's and the path's bytes by [`zip_name`].
    fn entry_name(&self, path: &[u8]) -> String {
        format!("{}/{}", zip_name(self.name.as_bytes()), zip_name(path))
    }
}

/// A path as a ZIP entry name: UTF-8 (the writer sets the language encoding flag), `/`
/// between names, and what ZIP tools would read otherwise percent-encoded: `\` (a separator
/// to Windows tools and to the `zip` crate, so `..\x` could leave the folder), control
/// characters (Info-ZIP's unzip drops them, merging names), each byte that is not UTF-8, and
/// `%` itself, so that no two names of the tree meet in one entry. tar keeps the raw bytes.
fn zip_name(path: &[u8]) -> String {
    let mut name = String::with_capacity(path.len());
    for chunk in path.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '%' || c == '\\' || c.is_ascii_control() {
                name.push_str(&format!("%{:02X}", u32::from(c)));
            } else {
                name.push(c);
            }
        }
        for byte in chunk.invalid() {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name
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
            .map_err(io::Error::from)
    }

    fn file(&mut self, path: &[u8], metadata: &Metadata, content: &mut Exact) -> io::Result<()> {
        let name = self.entry_name(path);
        // zip64 extra fields only where the 32-bit sizes cannot hold the file.
        let options = zip_options(metadata).large_file(metadata.len() >= u64::from(u32::MAX));
        self.zip
            .start_file(name, options)
            .map_err(io::Error::from)?;
        io::copy(&mut reader(content), &mut self.zip)?;
        Ok(())
    }
}

/// A file's content read 64 KiB at a time: `io::copy` reads through a `BufReader`'s own
/// buffer, where it would otherwise read 8 KiB per call (an eighth of the system calls for a
/// large file).
fn reader(content: &mut Exact) -> BufReader<&mut Exact> {
    BufReader::with_capacity(64 * 1024, content)
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
        self.tar.append_data(&mut header, path, reader(content))
    }
}

#[cfg(test)]
mod tests {
    use super::zip_name;

    #[test]
    fn zip_names_encode_what_zip_tools_would_misread_and_nothing_else() {
        assert_eq!(zip_name(b"dir/caf\xc3\xa9 1.txt"), "dir/caf\u{e9} 1.txt");
        assert_eq!(zip_name(b"..\\..\\x"), "..%5C..%5Cx");
        assert_eq!(zip_name(b"a\tb\r\nc\x7f"), "a%09b%0D%0Ac%7F");
        assert_eq!(zip_name(b"100%"), "100%25");
        assert_eq!(zip_name(b"\xff\xe2\x82x"), "%FF%E2%82x");
    }
}
