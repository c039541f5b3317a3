//! On-the-fly compression: a file (or a listing page) streamed through async-compression's
//! encoders, chunk by chunk as the client reads, so memory stays at a few buffers whatever
//! the file's size. Levels are fast ones, as servers pick for on-the-fly work (nginx's
//! `gzip_comp_level` defaults to 1); better ratios come from precompressed siblings. The output,
//! once complete, can be handed to a [`Keep`] (a small file's [`EncodedKeeper`], a kept
//! listing's slot) so that later answers send it without compressing again.

use std::fs::File;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZstdEncoder};
use async_compression::Level;
use bytes::Bytes;
use futures_util::{ready, Stream, StreamExt, TryStreamExt};
use http_body::Frame;
use http_body_util::StreamBody;
use tokio::io::{AsyncBufRead, AsyncRead, BufReader, ReadBuf};
use tokio_util::io::ReaderStream;

use super::encoding::Encoding;
use super::small_files::{Content, EncodedKeeper};
use crate::body::Body;

/// gzip level 1: nginx's default, the fastest deflate.
const GZIP_LEVEL: i32 = 1;
/// brotli quality 3: several times faster than the default 11, still smaller than gzip.
const BROTLI_LEVEL: i32 = 3;
/// zstd level 3: the library's own default, already fast.
const ZSTD_LEVEL: i32 = 3;

/// Bytes read from the source, and at most written per chunk of output.
const CHUNK: usize = 64 * 1024;

/// Where a complete compressed output goes, to be sent again.
pub(super) trait Keep: Send + Unpin + 'static {
    /// The most output it keeps; the one collecting it stops past this.
    fn limit(&self) -> usize;
    /// Takes the whole output.
    fn keep(self, output: Bytes);
}

impl Keep for EncodedKeeper {
    fn limit(&self) -> usize {
        EncodedKeeper::limit(self)
    }

    fn keep(self, output: Bytes) {
        EncodedKeeper::keep(self, output);
    }
}

/// `content` compressed with `encoding` as the client reads (or, already compressed, sent as
/// it is); the whole output goes to `keeper`, if any, once sent.
pub(super) fn content(content: Content, encoding: Encoding, keeper: Option<EncodedKeeper>) -> Body {
    match content {
        Content::File(file) => encode(
            BufReader::with_capacity(CHUNK, BlockingFile { file, offset: 0 }),
            encoding,
            keeper,
        ),
        Content::Memory(bytes) => encode(io::Cursor::new(bytes), encoding, keeper),
        Content::Encoded(bytes) => Body::full(bytes),
    }
}

/// `bytes` (a page already in memory) compressed with `encoding`; the whole output goes to
/// `keeper`, if any, once sent.
pub(super) fn bytes(bytes: Bytes, encoding: Encoding, keeper: Option<impl Keep>) -> Body {
    encode(io::Cursor::new(bytes), encoding, keeper)
}

fn encode<R: AsyncBufRead + Send + Unpin + 'static>(
    source: R,
    encoding: Encoding,
    keeper: Option<impl Keep>,
) -> Body {
    match encoding {
        Encoding::Gzip => stream(
            GzipEncoder::with_quality(source, Level::Precise(GZIP_LEVEL)),
            keeper,
        ),
        Encoding::Brotli => stream(
            BrotliEncoder::with_quality(source, Level::Precise(BROTLI_LEVEL)),
            keeper,
        ),
        Encoding::Zstd => stream(
            ZstdEncoder::with_quality(source, Level::Precise(ZSTD_LEVEL)),
            keeper,
        ),
    }
}

fn stream<R: AsyncRead + Send + Unpin + 'static>(encoder: R, keeper: Option<impl Keep>) -> Body {
    let chunks = ReaderStream::with_capacity(encoder, CHUNK);
    let frames = match keeper {
        Some(keeper) => Keeping::new(chunks, keeper)
            .map_ok(Frame::data)
            .left_stream(),
        None => chunks.map_ok(Frame::data).right_stream(),
    };
    Body::stream(StreamBody::new(frames))
}

/// The compressor's output passed through, and collected for the keeper: handed over when
/// the output is complete, dropped if it fails or the client leaves first.
struct Keeping<S, K> {
    chunks: S,
    output: Vec<u8>,
    keeper: Option<K>,
}

impl<S, K> Keeping<S, K> {
    fn new(chunks: S, keeper: K) -> Self {
        Keeping {
            chunks,
            output: Vec::new(),
            keeper: Some(keeper),
        }
    }
}

impl<S: Stream<Item = io::Result<Bytes>> + Unpin, K: Keep> Stream for Keeping<S, K> {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let item = ready!(Pin::new(&mut this.chunks).poll_next(cx));
        match &item {
            Some(Ok(chunk)) => {
                if let Some(keeper) = &this.keeper {
                    if this.output.len() + chunk.len() > keeper.limit() {
                        this.keeper = None;
                        this.output = Vec::new();
                    } else {
                        this.output.extend_from_slice(chunk);
                    }
                }
            }
            Some(Err(_)) => this.keeper = None,
            None => {
                if let Some(keeper) = this.keeper.take() {
                    keeper.keep(std::mem::take(&mut this.output).into());
                }
            }
        }
        Poll::Ready(item)
    }
}

/// A file read from its start with plain blocking `pread(2)` calls on the runtime's thread, as
/// [`Body::file`] reads: for files in the page cache that costs less than tokio's hand-off of
/// each read to its blocking pool, and the compressor next to it costs far more anyway.
struct BlockingFile {
    file: Arc<File>,
    offset: u64,
}

impl AsyncRead for BlockingFile {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match rustix::io::pread(&*this.file, buf.initialize_unfilled(), this.offset) {
                Ok(n) => {
                    buf.advance(n);
                    this.offset += n as u64;
                    return Poll::Ready(Ok(()));
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }
}
