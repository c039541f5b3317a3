//! Whole folders as one download (`--archive`): `?download=zip` or `?download=tar.gz` on a
//! directory streams its tree as one archive, written while it is sent. A blocking thread walks
//! the tree ([`walk`]) and writes the archive ([`format`]) into a bounded channel ([`pipe`])
//! that the response body drains: no temporary file, memory bounded by the channel, the
//! writer paced by the client (back-pressure), and stopped when the client leaves (the body,
//! and with it the channel's receiver, is dropped, so the next write fails). An archive that
//! fails on the way (an entry the server cannot read, an I/O error) is cut: its body ends in
//! an error, so the connection closes without HTTP/1.1's last chunk (or HTTP/2's stream is
//! reset) and the client sees a truncated transfer, never a complete-looking archive; the log
//! says which entry and why.

mod format;
mod pipe;
mod walk;

use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::StaticFiles;
use crate::body::Body;
use crate::handler::Response;
use crate::request::{Access, ConnectionInfo};
use crate::safe_path::{Found, UrlPath};

/// The archive formats on offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// ZIP, entries stored (no compression), zip64 for files of 4 GiB and more.
    Zip,
    /// A POSIX/GNU tar, gzip-compressed.
    TarGz,
}

impl Format {
    /// The format a query asks for with `download=zip` or `download=tar.gz`, if any.
    pub(crate) fn asked(query: Option<&str>) -> Option<Format> {
        form_urlencoded::parse(query?.as_bytes()).find_map(|(key, value)| match (&*key, &*value) {
            ("download", "zip") => Some(Format::Zip),
            ("download", "tar.gz") => Some(Format::TarGz),
            _ => None,
        })
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Zip => "zip",
            Format::TarGz => "tar.gz",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Zip => "application/zip",
            Format::TarGz => "application/gzip",
        }
    }
}

/// A directory to send as one archive, as the decide step found it.
pub(crate) struct Folder {
    /// The directory on disk.
    pub found: Found,
    /// Its URL path.
    pub url: UrlPath,
    /// The format asked for.
    pub format: Format,
    /// What the request may read (`None`: no access control).
    pub access: Option<Access>,
}

/// The `200` whose body is the archive of `folder`, made as the client reads it; a failure on
/// the way is written to `connection`'s log.
pub(super) fn respond(
    files: &StaticFiles,
    folder: Folder,
    head: bool,
    connection: Option<&ConnectionInfo>,
) -> Response {
    let name = folder_name(files, &folder.url);
    let mut response = http::Response::new(Body::empty());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(folder.format.content_type()),
    );
    headers.insert(
        CONTENT_DISPOSITION,
        content_disposition(&name, folder.format.extension()),
    );
    if !head {
        let tree = walk::Tree {
            root: files.root.clone(),
            uploads: files.uploads,
            access: folder.access,
        };
        let log = connection.map(|c| (c.log.clone(), c.client()));
        *response.body_mut() = pipe::spawn(move |out| {
            let written = format::write(folder.format, out, &name, |sink| {
                tree.walk(&folder.url, &folder.found.path, sink)
            });
            if let (Err(e), Some((log, client))) = (&written, log) {
                // `BrokenPipe` is the client leaving: nothing went wrong here.
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    let file = format!("{name}.{}", folder.format.extension());
                    log.message_about(Some(client), format!("archive {file} cut: {e}"));
                }
            }
            written
        });
    }
    response
}

/// The archive's name, and the one directory its entries are in: the folder's last URL
/// segment, or for the served directory itself its name on disk.
fn folder_name(files: &StaticFiles, url: &UrlPath) -> String {
    let last = match url.segments().last() {
        Some(segment) => segment.as_slice(),
        None => files
            .root
            .dir()
            .file_name()
            .map_or(b"files".as_slice(), |name| {
                std::os::unix::ffi::OsStrExt::as_bytes(name)
            }),
    };
    String::from_utf8_lossy(last).into_owned()
}

/// What RFC 5987 / RFC 8187 `attr-char` leaves unencoded in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="NAME.EXT"` (RFC 6266 §4.1): the quoted name in printable ASCII, every
/// other character (quotes, backslashes, controls, non-ASCII) as `_`; and when that changed the
/// name, `filename*=UTF-8''…` with the real one percent-encoded (RFC 6266 §4.3: clients that
/// know it prefer it).
fn content_disposition(name: &str, extension: &str) -> HeaderValue {
    let full = format!("{name}.{extension}");
    let ascii: String = full
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let mut value = format!("attachment; filename=\"{ascii}\"");
    if ascii != full {
        value.push_str("; filename*=UTF-8''");
        value.extend(percent_encode(full.as_bytes(), ATTR_CHAR));
    }
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_asks_for_a_format() {
        assert_eq!(Format::asked(Some("download=zip")), Some(Format::Zip));
        assert_eq!(
            Format::asked(Some("a=b&download=tar.gz")),
            Some(Format::TarGz)
        );
        assert_eq!(Format::asked(Some("download=rar")), None);
        assert_eq!(Format::asked(None), None);
    }

    #[test]
    fn disposition_is_ascii_with_utf8_alternative() {
        assert_eq!(
            content_disposition("photos", "zip"),
            "attachment; filename=\"photos.zip\""
        );
        assert_eq!(
            content_disposition("été \"x\"", "tar.gz"),
            "attachment; filename=\"_t_ _x_.tar.gz\"; \
             filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22.tar.gz"
        );
    }
}
