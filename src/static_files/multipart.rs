//! `multipart/byteranges` (RFC 9110 §14.6): several ranges of one file in one 206 response.
//! The part headers are made up front (a few hundred bytes); the file's bytes are read range
//! by range as the client takes them, each through [`Body::file_at`], so the response is never
//! held in memory. Its exact length is known before the first byte is sent.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::io;

use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use http::HeaderValue;
use http_body::Frame;
use http_body_util::{BodyStream, StreamBody};

use super::range::ByteRange;
use super::small_files::Content;
use crate::body::Body;

/// The multipart body of `ranges` of `content` (a representation of `total` bytes and type
/// `content_type`), with the `Content-Type` header value naming its boundary, and its length.
pub(super) fn body(
    content: Content,
    ranges: &[ByteRange],
    total: u64,
    content_type: &HeaderValue,
) -> (Body, HeaderValue, u64) {
    let boundary = boundary();
    let content_type = String::from_utf8_lossy(content_type.as_bytes());
    let mut parts = Vec::with_capacity(ranges.len() * 2 + 1);
    let mut len = 0;
    for (i, range) in ranges.iter().enumerate() {
        // The CRLF ending each part's data belongs to the delimiter that follows it (§14.6).
        let lead = if i == 0 { "" } else { "\r\n" };
        let head = format!(
            "{lead}--{boundary}\r\nContent-Type: {content_type}\r\n\
             Content-Range: bytes {}-{}/{total}\r\n\r\n",
            range.start, range.end
        );
        len += head.len() as u64 + range.len();
        parts.push(Part::Bytes(Bytes::from(head)));
        parts.push(Part::Range(*range));
    }
    let tail = format!("\r\n--{boundary}--\r\n");
    len += tail.len() as u64;
    parts.push(Part::Bytes(Bytes::from(tail)));
    let header = HeaderValue::try_from(format!("multipart/byteranges; boundary={boundary}"))
        .unwrap_or_else(|_| HeaderValue::from_static("multipart/byteranges"));
    let body = Body::stream(StreamBody::new(frames(content, parts)));
    (body, header, len)
}

/// A boundary no file is likely to contain: 128 bits from the standard library's randomly
/// keyed hasher (seeded from the OS), which saves a dependency on a random-number crate.
fn boundary() -> String {
    let state = RandomState::new();
    let mut words = [0u64; 2];
    for (i, word) in words.iter_mut().enumerate() {
        let mut hasher = state.build_hasher();
        hasher.write_usize(i);
        *word = hasher.finish();
    }
    format!("serveur-{:016x}{:016x}", words[0], words[1])
}

enum Part {
    Bytes(Bytes),
    Range(ByteRange),
}

/// The parts as one stream of frames, each range read from `content` when its turn comes.
fn frames(
    content: Content,
    parts: Vec<Part>,
) -> impl Stream<Item = io::Result<Frame<Bytes>>> + Send + 'static {
    stream::iter(parts).flat_map(move |part| {
        BodyStream::new(match part {
            Part::Bytes(bytes) => Body::full(bytes),
            Part::Range(range) => content.body(range.start, range.len()),
        })
    })
}
