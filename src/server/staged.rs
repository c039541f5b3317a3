//! A connection that costs little until its client speaks: [`Staged`] first runs a small
//! future that waits for the socket to be readable (and for TLS, then does the handshake),
//! and only then builds hyper's connection, on the heap.
//!
//! A task's future is one allocation the size of its largest state. With hyper's connection
//! (its HTTP/1 and HTTP/2 states, buffers' headers: kilobytes) inline in the task, every
//! connection that never sends a byte pays for all of it, and for the buffers hyper allocates
//! as it starts. Here the waiting state holds the socket, a readiness future and what the
//! connection will be built from; the connection is made, boxed, once there is something to
//! read. On plain TCP that first read is the one that tells HTTP/1 from HTTP/2 and gives hyper
//! its first bytes (`read_ahead::first_read`), so it costs no extra system call; TLS waits with
//! a one-byte peek.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// What a supervisor runs: a connection that ends, and can be asked to end gracefully.
pub(super) trait Supervised: Future<Output = ()> {
    /// Ends the connection after the request in flight (HTTP/2: sends GOAWAY); a connection
    /// not yet built simply ends.
    fn graceful_shutdown(self: Pin<&mut Self>);

    /// Gives back what the connection holds while it waits for its next request (`rest`); a
    /// connection not yet built, or one that cannot rest, goes on as it is.
    fn rest(self: Pin<&mut Self>);
}

pin_project_lite::pin_project! {
    /// A connection in two stages: `start` resolves to the connection, or to `None` if the
    /// client left (or failed its TLS handshake) first.
    #[project = Stage]
    pub(super) enum Staged<F, C> {
        Starting { #[pin] start: F },
        Serving { #[pin] conn: C },
        Over,
    }
}

impl<F, C> Staged<F, C> {
    pub(super) fn new(start: F) -> Self {
        Staged::Starting { start }
    }
}

impl<F, C> Future for Staged<F, C>
where
    F: Future<Output = Option<C>>,
    C: Supervised,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match self.as_mut().project() {
                Stage::Starting { start } => match ready!(start.poll(cx)) {
                    Some(conn) => self.set(Staged::Serving { conn }),
                    None => self.set(Staged::Over),
                },
                Stage::Serving { conn } => {
                    ready!(conn.poll(cx));
                    self.set(Staged::Over);
                }
                Stage::Over => return Poll::Ready(()),
            }
        }
    }
}

impl<F, C> Supervised for Staged<F, C>
where
    F: Future<Output = Option<C>>,
    C: Supervised,
{
    fn graceful_shutdown(mut self: Pin<&mut Self>) {
        match self.as_mut().project() {
            Stage::Starting { .. } => self.set(Staged::Over),
            Stage::Serving { conn } => conn.graceful_shutdown(),
            Stage::Over => {}
        }
    }

    fn rest(self: Pin<&mut Self>) {
        if let Stage::Serving { conn } = self.project() {
            conn.rest();
        }
    }
}
