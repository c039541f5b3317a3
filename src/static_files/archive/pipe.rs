//! The bridge from a blocking writer to a response body: [`spawn`] runs the writer on a
//! blocking thread with a [`Pipe`] to write into; the pipe sends 256 KiB chunks through a
//! channel of four, so the archive in flight never exceeds about 1.3 MiB, and a send waits while
//! the client is slow. (64 KiB chunks made a 1 GiB zip about a quarter slower on one core: each
//! chunk is a hand-over between the writer's thread and the connection's, and a write to the
//! socket.) When the body is dropped (the client left), a send fails with `BrokenPipe`
//! and the writer stops at its next write.

use std::io::{self, Write};

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::StreamBody;
use tokio::sync::mpsc;

use crate::body::Body;

/// The size of the chunks sent to the client.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the writer and the connection.
const IN_FLIGHT: usize = 4;

/// The writing end: buffers up to [`CHUNK`] bytes, then hands them to the body.
pub(super) struct Pipe {
    buffer: BytesMut,
    tx: mpsc::Sender<io::Result<Bytes>>,
}

impl Write for Pipe {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buffer.len();
        let taken = room.min(data.len());
        self.buffer.extend_from_slice(&data[..taken]);
        if self.buffer.len() == CHUNK {
            self.send()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.send()
    }
}

impl Pipe {
    fn send(&mut self) -> io::Result<()> {
        let chunk = self.buffer.split().freeze();
        self.buffer.reserve(CHUNK);
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client left"))
    }
}

/// A body fed by `write`, run on a blocking thread. An error of `write` (other than the
/// client's departure) ends the body with that error, so the connection is closed instead of
/// the archive looking complete.
pub(super) fn spawn<F>(write: F) -> Body
where
    F: FnOnce(&mut Pipe) -> io::Result<()> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel(IN_FLIGHT);
    let mut pipe = Pipe {
        buffer: BytesMut::with_capacity(CHUNK),
        tx: tx.clone(),
    };
    tokio::task::spawn_blocking(move || {
        if let Err(error) = write(&mut pipe).and_then(|()| pipe.flush()) {
            let _ = tx.blocking_send(Err(error));
        }
    });
    let frames = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|item| item.map(|chunk| chunk.map(Frame::data)))
    });
    Body::stream(StreamBody::new(frames))
}
