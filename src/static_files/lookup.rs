//! The decide step of the static-file pipeline: all the file-system I/O for one request, ending
//! in an [`Outcome`] that says what to answer. It follows CPython's `send_head` in order:
//! directory → redirect, index file or listing; file with a trailing slash → 404 (bpo-17324);
//! unopenable → 404; `If-Modified-Since` → 304.

use std::fs::File;
use std::path::PathBuf;
use std::time::SystemTime;

use http::HeaderMap;

use super::conditional;
use crate::safe_path::{Found, Root, UrlPath};

/// What the static-file handler will answer, decided before anything is rendered.
pub enum Outcome {
    /// A regular file, open and ready to be sent.
    File {
        /// The open file.
        file: File,
        /// Its path, for the content type.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
        /// Its modification time.
        modified: SystemTime,
    },
    /// The client's copy is current (`304`).
    NotModified,
    /// A directory without an index file.
    Listing {
        /// The directory on disk.
        dir: PathBuf,
    },
    /// A directory asked for without its trailing slash: redirect to this location.
    AddSlash(String),
    /// Nothing servable at this path (`404 File not found`).
    NotFound,
}

/// The request path after CPython's `//` collapsing (gh-87389: a leading `//x` would be read as
/// a host by the client following a redirect).
pub fn collapse_leading_slashes(path: &str) -> &str {
    if path.starts_with("//") {
        &path[path.len() - path.trim_start_matches('/').len() - 1..]
    } else {
        path
    }
}

/// Decides the outcome for a GET or HEAD of `path` (collapsed, without query) below `root`.
pub fn decide(
    root: &Root,
    index_files: &[String],
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Outcome {
    let url = UrlPath::parse(path);
    let Some(found) = root.resolve(&url) else {
        return Outcome::NotFound;
    };
    if found.metadata.is_dir() {
        if !url.has_trailing_slash() {
            // As CPython's urlunsplit: an empty query (`/dir?`) leaves no `?` behind.
            let location = match query {
                Some(q) if !q.is_empty() => format!("{path}/?{q}"),
                _ => format!("{path}/"),
            };
            return Outcome::AddSlash(location);
        }
        for index in index_files {
            if let Some(index) = root.resolve(&url.join(index)) {
                if index.metadata.is_file() {
                    return open(index, headers);
                }
            }
        }
        return Outcome::Listing { dir: found.path };
    }
    if url.has_trailing_slash() || !found.metadata.is_file() {
        // A FIFO or device is never opened: reading one could block the server.
        return Outcome::NotFound;
    }
    open(found, headers)
}

fn open(found: Found, headers: &HeaderMap) -> Outcome {
    let Ok(file) = File::open(&found.path) else {
        // CPython answers 404 for any open() failure, permission denied included.
        return Outcome::NotFound;
    };
    let modified = found.metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    if conditional::not_modified(headers, modified) {
        return Outcome::NotModified;
    }
    Outcome::File {
        file,
        path: found.path,
        len: found.metadata.len(),
        modified,
    }
}

#[cfg(test)]
mod tests {
    use super::collapse_leading_slashes;

    #[test]
    fn leading_slashes_collapse_to_one() {
        assert_eq!(collapse_leading_slashes("//evil.com/x"), "/evil.com/x");
        assert_eq!(collapse_leading_slashes("///a"), "/a");
        assert_eq!(collapse_leading_slashes("/a//b"), "/a//b");
    }
}
