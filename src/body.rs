//! Response bodies. [`Body`] is what handlers answer with: nothing, bytes in memory, a file read
//! in chunks, or any stream; it hides hyper's types. (What handlers receive, `RequestBody`, is
//! in `request`.)

use std::fs::File;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// How much of a file is read per chunk when a body streams it.
const FILE_CHUNK: usize = 256 * 1024;

type BoxedBody = Pin<Box<dyn http_body::Body<Data = Bytes, Error = io::Error> + Send>>;

/// A response body.
pub struct Body {
    kind: Kind,
}

enum Kind {
    Full(Once),
    File(FileChunks),
    Stream(BoxedBody),
}

impl Body {
    /// No body at all.
    pub fn empty() -> Self {
        Body::full(Bytes::new())
    }

    /// A body held in memory.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Body {
            kind: Kind::Full(Once::new(bytes.into())),
        }
    }

    /// The next `len` bytes of an open file, read in chunks as the client takes them.
    ///
    /// The reads are blocking `read(2)` calls made on the runtime's thread, as nginx makes them
    /// without `aio`: for files in the page cache they cost less than a hand-off to a thread pool.
    pub fn file(file: File, len: u64) -> Self {
        Body::file_at(file, 0, len)
    }

    /// `len` bytes of an open file from byte `offset` on (a range request), read as
    /// [`Body::file`] reads, with `pread(2)`.
    pub fn file_at(file: File, offset: u64, len: u64) -> Self {
        Body::shared_file(Arc::new(file), offset, len)
    }

    /// As [`Body::file_at`], for a file other bodies may be reading too (`pread` keeps no
    /// shared position).
    pub(crate) fn shared_file(file: Arc<File>, offset: u64, len: u64) -> Self {
        Body {
            kind: Kind::File(FileChunks {
                file,
                offset,
                remaining: len,
            }),
        }
    }

    /// The file part of a file body of at least `min` bytes, or the body unchanged: for the
    /// server, which sends such a file its own way (`sendfile`, `server::zero_copy`).
    pub(crate) fn into_file_range(self, min: u64) -> Result<FileRange, Body> {
        match self.kind {
            Kind::File(chunks) if chunks.remaining >= min => Ok(FileRange {
                file: chunks.file,
                offset: chunks.offset,
                len: chunks.remaining,
            }),
            kind => Err(Body { kind }),
        }
    }

    /// The length of a file body, `None` for any other.
    pub(crate) fn file_len(&self) -> Option<u64> {
        match &self.kind {
            Kind::File(chunks) => Some(chunks.remaining),
            _ => None,
        }
    }

    /// Any body: a stream of chunks produced as the client reads them.
    pub fn stream<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes, Error = io::Error> + Send + 'static,
    {
        Body {
            kind: Kind::Stream(Box::pin(body)),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Body")
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::full(bytes)
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::full(text)
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body::full(Bytes::from_static(text.as_bytes()))
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::full(bytes)
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.get_mut().kind {
            Kind::Full(once) => Poll::Ready(once.take()),
            Kind::File(chunks) => Poll::Ready(chunks.next_chunk().map(|r| r.map(Frame::data))),
            Kind::Stream(body) => body.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(once) => once.is_end_stream(),
            Kind::File(chunks) => chunks.remaining == 0,
            Kind::Stream(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(once) => once.size_hint(),
            Kind::File(chunks) => SizeHint::with_exact(chunks.remaining),
            Kind::Stream(body) => body.size_hint(),
        }
    }
}

/// The unread part of a file body.
struct FileChunks {
    file: Arc<File>,
    offset: u64,
    remaining: u64,
}

impl FileChunks {
    fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        if self.remaining == 0 {
            return None;
        }
        let want = self.remaining.min(FILE_CHUNK as u64) as usize;
        // `with_capacity` gives exactly `want` (a guarantee of `Vec`), so the reads below can
        // never go past this body's last byte.
        let mut buf = Vec::with_capacity(want);
        // `read(2)` straight into the spare capacity: one call for a chunk in the page cache,
        // and no zero-filling (`Read::read_to_end` would start at 8 KiB and grow, several
        // calls per chunk).
        while buf.len() < want {
            let at = self.offset + buf.len() as u64;
            match rustix::io::pread(&*self.file, rustix::buffer::spare_capacity(&mut buf), at) {
                Ok(0) => break,
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Some(Err(e.into())),
            }
        }
        if buf.is_empty() {
            // The file shrank after its length was sent: end the body short rather than
            // invent bytes; the client sees a truncated message, as it would from nginx.
            self.remaining = 0;
            return Some(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being sent",
            )));
        }
        self.remaining -= buf.len() as u64;
        self.offset += buf.len() as u64;
        Some(Ok(Bytes::from(buf)))
    }
}

/// The unread part of a file body, taken out of it to be sent another way.
pub(crate) struct FileRange {
    pub(crate) file: Arc<File>,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// Bytes held in memory, handed out as one data frame (none when empty).
pub(crate) struct Once(Option<Bytes>);

impl Once {
    pub(crate) fn new(bytes: Bytes) -> Self {
        Once((!bytes.is_empty()).then_some(bytes))
    }

    pub(crate) fn take(&mut self) -> Option<Result<Frame<Bytes>, io::Error>> {
        self.0.take().map(|b| Ok(Frame::data(b)))
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}
