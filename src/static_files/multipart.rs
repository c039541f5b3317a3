//! `multipart/byteranges` (RFC 9110 §14.6): several ranges of one file in one 206 response.
//! The part headers are made up front (a few hundred bytes); the file's bytes are read range
//! by range as the client takes them, each through [`Body::file_at`], so the response is never
//! held in memory. Its exact length is known before the first byte is sent.

use std::collections::VecDeque;
use std::fs::File;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderValue;
use http_body::{Frame, SizeHint};

use super::range::ByteRange;
use crate::body::Body;

/// The multipart body of `ranges` of `file` (a representation of `total` bytes and type
/// `content_type`), with the `Content-Type` header value naming its boundary.
pub fn body(
    file: File,
    ranges: &[ByteRange],
    total: u64,
    content_type: &HeaderValue,
) -> (Body, HeaderValue) {
    let boundary = boundary();
    let content_type = String::from_utf8_lossy(content_type.as_bytes());
    let mut parts = VecDeque::with_capacity(ranges.len() * 2 + 1);
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
        parts.push_back(Part::Bytes(Bytes::from(head)));
        parts.push_back(Part::Range(*range));
    }
    let tail = format!("\r\n--{boundary}--\r\n");
    len += tail.len() as u64;
    parts.push_back(Part::Bytes(Bytes::from(tail)));
    let header = HeaderValue::try_from(format!("multipart/byteranges; boundary={boundary}"))
        .unwrap_or_else(|_| HeaderValue::from_static("multipart/byteranges"));
    let body = Body::stream(Multipart {
        file,
        parts,
        current: None,
        remaining: len,
    });
    (body, header)
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

struct Multipart {
    file: File,
    parts: VecDeque<Part>,
    current: Option<Body>,
    remaining: u64,
}

impl Multipart {
    /// The body of the next part, opening the next range of the file when its turn comes.
    fn next_part(&mut self) -> Option<io::Result<Body>> {
        Some(match self.parts.pop_front()? {
            Part::Bytes(bytes) => Ok(Body::full(bytes)),
            Part::Range(range) => self
                .file
                .try_clone()
                .and_then(|file| Body::file_at(file, range.start, range.len())),
        })
    }
}

impl http_body::Body for Multipart {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some(current) = this.current.as_mut() {
                match Pin::new(current).poll_frame(cx) {
                    Poll::Ready(None) => this.current = None,
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Some(data) = frame.data_ref() {
                            this.remaining = this.remaining.saturating_sub(data.len() as u64);
                        }
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    other => return other,
                }
            }
            match this.next_part() {
                None => return Poll::Ready(None),
                Some(Ok(body)) => this.current = Some(body),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
