//! On-the-fly compression: a file (or a listing page) streamed through async-compression's
//! encoders, chunk by chunk as the client reads, so memory stays at a few buffers whatever
//! the file's size. Levels are fast ones, as servers pick for on-the-fly work (nginx's
//! `gzip_comp_level` defaults to 1); better ratios come from precompressed siblings.

use std::fs::File;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZstdEncoder};
use async_compression::Level;
use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body::Frame;
use http_body_util::StreamBody;
use tokio::io::{AsyncBufRead, AsyncRead, BufReader, ReadBuf};
use tokio_util::io::ReaderStream;

use super::encoding::Encoding;
use super::small_files::Content;
use crate::body::Body;

/// gzip level 1: nginx's default, the fastest deflate.
const GZIP_LEVEL: i32 = 1;
/// brotli quality 3: several times faster than the default 11, still smaller than gzip.
const BROTLI_LEVEL: i32 = 3;
/// zstd level 3: the library's own default, already fast.
const ZSTD_LEVEL: i32 = 3;

/// Bytes read from the source, and at most written per chunk of output.
const CHUNK: usize = 64 * 1024;

/// `content` compressed with `encoding` as the client reads.
pub fn content(content: Content, encoding: Encoding) -> Body {
    match content {
        Content::File(file) => encode(
            BufReader::with_capacity(CHUNK, BlockingFile { file, offset: 0 }),
            encoding,
        ),
        Content::Memory(bytes) => self::bytes(bytes, encoding),
    }
}

/// `bytes` (a page already in memory) compressed with `encoding`.
pub fn bytes(bytes: Bytes, encoding: Encoding) -> Body {
    encode(io::Cursor::new(bytes), encoding)
}

fn encode<R: AsyncBufRead + Send + Unpin + 'static>(source: R, encoding: Encoding) -> Body {
    match encoding {
        Encoding::Gzip => stream(GzipEncoder::with_quality(
            source,
            Level::Precise(GZIP_LEVEL),
        )),
        Encoding::Brotli => stream(BrotliEncoder::with_quality(
            source,
            Level::Precise(BROTLI_LEVEL),
        )),
        Encoding::Zstd => stream(ZstdEncoder::with_quality(
            source,
            Level::Precise(ZSTD_LEVEL),
        )),
    }
}

fn stream<R: AsyncRead + Send + 'static>(encoder: R) -> Body {
    let frames = ReaderStream::with_capacity(encoder, CHUNK).map_ok(Frame::data);
    Body::stream(StreamBody::new(frames))
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
