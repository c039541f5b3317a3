//! A file body as a plain HTTP/1 connection sends it with `sendfile`
//! ([`zero_copy`](super::zero_copy)): it yields placeholders, one per region of the file, and
//! queues each region for the connection's IO. The body module knows nothing of this: it only
//! hands the file's range over ([`Body::into_file_range`]).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::zero_copy::{FileRegions, Region, MAX_REGION};
use crate::body::{Body, FileRange};

/// From this length on, a file sent on a plain HTTP/1 connection goes by `sendfile`; below it
/// one `read` and the response's own `writev` cost less than `sendmsg` plus `sendfile`.
const ZERO_COPY_MIN: u64 = 16 * 1024;

/// Whether `body` is a file large enough to gain by `sendfile`.
pub(super) fn gains(body: &Body) -> bool {
    body.file_len().is_some_and(|len| len >= ZERO_COPY_MIN)
}

/// `body`, sent through `regions` if it is a file large enough to gain by it.
pub(super) fn send_by_regions(body: Body, regions: &FileRegions) -> Body {
    match body.into_file_range(ZERO_COPY_MIN) {
        Ok(range) => Body::stream(FileByRegions {
            range,
            regions: regions.clone(),
        }),
        Err(body) => body,
    }
}

/// The unsent part of a file body that goes by `sendfile`: each frame is a placeholder for
/// the next region, which the connection's IO sends.
struct FileByRegions {
    range: FileRange,
    regions: FileRegions,
}

impl http_body::Body for FileByRegions {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let range = &mut this.range;
        if range.len == 0 {
            return Poll::Ready(None);
        }
        let len = range.len.min(MAX_REGION as u64) as usize;
        let placeholder = this.regions.push(Region {
            file: Arc::clone(&range.file),
            offset: range.offset,
            len,
            // More of the file follows this region: a long download (see `Region::cork`).
            cork: range.len > len as u64,
        });
        range.offset += len as u64;
        range.len -= len as u64;
        Poll::Ready(Some(Ok(Frame::data(placeholder))))
    }

    fn is_end_stream(&self) -> bool {
        self.range.len == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.range.len)
    }
}
