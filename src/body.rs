//! Message bodies. [`Body`] is what handlers answer with: nothing, bytes in memory, a file read in
//! chunks, or any stream; [`RequestBody`] is what they receive. Both hide hyper's types.

use std::fs::File;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

use crate::server::zero_copy::{FileRegions, Region, MAX_REGION};
use crate::server::ConnectionInfo;

/// How much of a file is read per chunk when a body streams it.
const FILE_CHUNK: usize = 256 * 1024;

/// From this length on, a file sent on a plain HTTP/1 connection goes by `sendfile` (see
/// [`Body::sent_by_regions`]); below it one `read` and the response's own `writev` cost less
/// than `sendmsg` plus `sendfile`.
const ZERO_COPY_MIN: u64 = 16 * 1024;

type BoxedBody = Pin<Box<dyn http_body::Body<Data = Bytes, Error = io::Error> + Send>>;

/// A response body.
pub struct Body {
    kind: Kind,
}

enum Kind {
    Full(Once),
    File(FileChunks),
    Regions(FileByRegions),
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

    /// This body, sent with `sendfile` through `regions` if it is a file large enough to
    /// gain by it. Only for a connection whose IO is the `ZeroCopy` owning `regions`, and an
    /// HTTP/1 response (see `server::zero_copy`).
    pub(crate) fn sent_by_regions(self, regions: &FileRegions) -> Self {
        if !self.gains_by_regions() {
            return self;
        }
        match self.kind {
            Kind::File(chunks) => Body {
                kind: Kind::Regions(FileByRegions {
                    file: chunks.file,
                    offset: chunks.offset,
                    remaining: chunks.remaining,
                    regions: regions.clone(),
                }),
            },
            kind => Body { kind },
        }
    }

    /// Whether this body is a file large enough to gain by `sendfile`.
    pub(crate) fn gains_by_regions(&self) -> bool {
        matches!(&self.kind, Kind::File(chunks) if chunks.remaining >= ZERO_COPY_MIN)
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
            Kind::Regions(file) => Poll::Ready(file.next_region().map(|b| Ok(Frame::data(b)))),
            Kind::Stream(body) => body.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(once) => once.is_end_stream(),
            Kind::File(chunks) => chunks.remaining == 0,
            Kind::Regions(file) => file.remaining == 0,
            Kind::Stream(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(once) => once.size_hint(),
            Kind::File(chunks) => SizeHint::with_exact(chunks.remaining),
            Kind::Regions(file) => SizeHint::with_exact(file.remaining),
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

/// The unsent part of a file body that goes by `sendfile`: each frame is a placeholder for
/// the next region, which the connection's IO sends.
struct FileByRegions {
    file: Arc<File>,
    offset: u64,
    remaining: u64,
    regions: FileRegions,
}

impl FileByRegions {
    fn next_region(&mut self) -> Option<Bytes> {
        if self.remaining == 0 {
            return None;
        }
        let len = self.remaining.min(MAX_REGION as u64) as usize;
        let placeholder = self.regions.push(Region {
            file: Arc::clone(&self.file),
            offset: self.offset,
            len,
        });
        self.offset += len as u64;
        self.remaining -= len as u64;
        Some(placeholder)
    }
}

/// A request body: the bytes a client sends after the head, read as the handler asks for them.
///
/// A body from a client also carries the [`ConnectionInfo`] of the connection it arrives on
/// ([`connection`](RequestBody::connection), or `RequestExt::connection` on the request). It
/// travels here rather than as a request extension because an extension costs three
/// allocations per request (callgrind: ~760 instructions, 7% of a hello-world request), and a
/// shared pointer in the body none.
pub struct RequestBody {
    kind: RequestKind,
    connection: Option<Arc<ConnectionInfo>>,
}

enum RequestKind {
    Incoming(hyper::body::Incoming),
    Full(Once),
}

impl RequestBody {
    /// An empty request body (for requests built in tests or by other handlers).
    pub fn empty() -> Self {
        RequestBody::full(Bytes::new())
    }

    /// A request body held in memory.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        RequestBody {
            kind: RequestKind::Full(Once::new(bytes.into())),
            connection: None,
        }
    }

    /// The body hyper reads from `connection`.
    pub(crate) fn incoming(body: hyper::body::Incoming, connection: Arc<ConnectionInfo>) -> Self {
        RequestBody {
            kind: RequestKind::Incoming(body),
            connection: Some(connection),
        }
    }

    /// The connection the request arrived on; `None` for a body a handler or a test made.
    ///
    /// A handler that replaces the body (after reading it, say) and hands the request on keeps
    /// the connection with [`with_connection_of`](RequestBody::with_connection_of).
    pub fn connection(&self) -> Option<&ConnectionInfo> {
        self.connection.as_deref()
    }

    /// This body, said to arrive on the same connection as `other`.
    ///
    /// ```
    /// # async fn f(mut req: serveur::Request) {
    /// use serveur::{RequestBody, RequestExt};
    /// let read = req.body_bytes(1 << 20).await.unwrap_or_default();
    /// let peer = req.peer_addr();
    /// let body = RequestBody::full(read).with_connection_of(req.body());
    /// *req.body_mut() = body;
    /// assert_eq!(req.peer_addr(), peer);
    /// # }
    /// ```
    pub fn with_connection_of(mut self, other: &RequestBody) -> Self {
        self.connection.clone_from(&other.connection);
        self
    }

    /// The connection, shared, for what outlives the body (a gateway's log, a local redirect).
    pub(crate) fn shared_connection(&self) -> Option<Arc<ConnectionInfo>> {
        self.connection.clone()
    }

    /// This body, arriving on `connection`.
    pub(crate) fn on_connection(mut self, connection: Option<Arc<ConnectionInfo>>) -> Self {
        self.connection = connection;
        self
    }

    /// Takes the content, leaving an empty body that still knows its connection.
    pub(crate) fn take_content(&mut self) -> RequestBody {
        RequestBody {
            kind: std::mem::replace(&mut self.kind, RequestKind::Full(Once::new(Bytes::new()))),
            connection: None,
        }
    }

    /// The next chunk of data, `None` at the end; trailers are skipped.
    pub async fn chunk(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            let frame = self.frame().await?;
            match frame {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl Default for RequestBody {
    fn default() -> Self {
        RequestBody::empty()
    }
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestBody")
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.get_mut().kind {
            RequestKind::Full(once) => Poll::Ready(once.take()),
            RequestKind::Incoming(body) => Pin::new(body).poll_frame(cx).map_err(io::Error::other),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            RequestKind::Full(once) => once.is_end_stream(),
            RequestKind::Incoming(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            RequestKind::Full(once) => once.size_hint(),
            RequestKind::Incoming(body) => body.size_hint(),
        }
    }
}

/// Bytes held in memory, handed out as one data frame (none when empty).
struct Once(Option<Bytes>);

impl Once {
    fn new(bytes: Bytes) -> Self {
        Once((!bytes.is_empty()).then_some(bytes))
    }

    fn take(&mut self) -> Option<Result<Frame<Bytes>, io::Error>> {
        self.0.take().map(|b| Ok(Frame::data(b)))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}
