//! Choosing the representation to send (RFC 9110 §12.5.3). Only compressible types of at least
//! [`MIN_COMPRESS_LEN`] bytes are negotiated, and only when compression is on; everything else
//! is sent as it is, without looking at `Accept-Encoding` or the disk.
//!
//! Among the codings the client accepts (its q-values first, then zstd, br, gzip), a
//! precompressed sibling wins over compressing on the fly: it costs nothing and is smaller.
//!
//! A `Range` request gets the identity representation, whose byte offsets every client
//! understands, unless its `If-Range` carries the tag of a precompressed representation: that
//! client downloaded the encoded bytes and is resuming them, so it gets a range of the same
//! sibling (if the sibling changed, `If-Range` fails and the whole sibling is sent). Ranges are
//! never cut from on-the-fly output, whose bytes are not stable.

use std::fs::Metadata;
use std::path::Path;
use std::time::SystemTime;

use http::header::{IF_RANGE, RANGE};
use http::HeaderMap;

use super::encoding::{compressible, Accepted, Encoding, MIN_COMPRESS_LEN};
use super::small_files::Content;
use super::{etag, precompressed, StaticFiles};
use crate::safe_path::UrlPath;

/// The representation chosen.
pub(crate) enum Choice {
    /// The bytes as they are; `vary` when another request could have been answered encoded.
    Identity {
        /// Whether the response must say `Vary: Accept-Encoding`.
        vary: bool,
    },
    /// A precompressed sibling's content, with its metadata (boxed: the other choices are
    /// a few bytes).
    Stored(Encoding, Box<(Content, Metadata)>),
    /// Compressed while sent.
    OnTheFly(Encoding),
    /// The client refuses identity and nothing else is on offer: `406`.
    NotAcceptable,
}

/// The file at `url`, found at `path` (`len` bytes, modified at `modified`, of `content_type`).
pub(super) fn for_file(
    files: &StaticFiles,
    url: &UrlPath,
    path: &Path,
    len: u64,
    modified: SystemTime,
    content_type: &[u8],
    headers: &HeaderMap,
) -> Choice {
    if !files.compress || len < MIN_COMPRESS_LEN || !compressible(content_type) {
        return Choice::Identity { vary: false };
    }
    let Some(accepted) = Accepted::from_headers(headers) else {
        return Choice::Identity { vary: true };
    };
    let stored = |encoding| {
        precompressed::find(
            &files.root,
            &files.small_files,
            url,
            path,
            encoding,
            modified,
        )
        .map(|sibling| Choice::Stored(encoding, Box::new(sibling)))
    };
    if headers.contains_key(RANGE) {
        let resumed = headers
            .get(IF_RANGE)
            .and_then(|v| etag::stored_coding(v.as_bytes()))
            .filter(|&e| accepted.weight(e) > 0);
        if let Some(choice) = resumed.and_then(stored) {
            return choice;
        }
        if accepted.identity_allowed() {
            return Choice::Identity { vary: true };
        }
    }
    if let Some(choice) = accepted.ranked().find_map(stored) {
        return choice;
    }
    on_the_fly(&accepted)
}

/// A page made in memory (a listing) of `len` bytes, always HTML.
pub(super) fn for_page(files: &StaticFiles, len: usize, headers: &HeaderMap) -> Choice {
    if !files.compress || (len as u64) < MIN_COMPRESS_LEN {
        return Choice::Identity { vary: false };
    }
    match Accepted::from_headers(headers) {
        Some(accepted) => on_the_fly(&accepted),
        None => Choice::Identity { vary: true },
    }
}

pub(crate) fn on_the_fly(accepted: &Accepted) -> Choice {
    match accepted.ranked().next() {
        Some(encoding) => Choice::OnTheFly(encoding),
        None if accepted.identity_allowed() => Choice::Identity { vary: true },
        None => Choice::NotAcceptable,
    }
}
