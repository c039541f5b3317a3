//! Telling a gateway that its client has left while the script it runs for has not answered
//! (issue 14), so that the script is stopped and its turn given back, as nginx stops an upstream
//! request whose client closed (its status 499).
//!
//! hyper cannot tell it for HTTP/1: serveur lets a client half-close after its request (RFC 9112
//! §9.6, `half_close(true)` in `server/mod.rs`), so while a response is pending hyper does not
//! read the socket, and the client's FIN goes unseen until a write fails. `close()` and
//! `shutdown(SHUT_WR)` send the same FIN, so both count as leaving (nginx chooses the same, and
//! `--ignore-client-abort` is the way out). A gateway that waits on a script therefore asks the
//! kernel itself ([`Departure`]): it registers a duplicate of the connection's socket with the
//! runtime's epoll for reading, which reports `EPOLLRDHUP` once the FIN has arrived (tokio's
//! `Ready::is_read_closed`); bytes a client pipelines behind its request only make the socket
//! readable, and are left for hyper. Under TLS the TCP socket is watched the same way: a
//! `close_notify` alert is data, the FIN after it sets `EPOLLRDHUP`.
//!
//! The cost falls on requests that run a script only (a `dup`, two `epoll_ctl`, a `close`), and
//! only on those whose wait lasts ([`Departure::wait_after`]); a connection keeps its socket's
//! number and nothing more. HTTP/2 needs none of it: hyper reads
//! its connections all the time and drops a handler's future as soon as its stream is reset or
//! its connection closes.
//!
//! The number is only used under a lock that the connection's IO takes, to mark the socket
//! closed, before it closes it ([`SocketSlot`]): no watch can duplicate a closed or reused
//! descriptor, whichever task a handler's future runs in.

use std::future::pending;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use http::Version;

use tokio::io::Interest;
use tokio::net::TcpStream;

use super::ConnectionInfo;

/// A connection's socket, as a [`Departure`] may watch it.
#[derive(Debug, Default)]
pub(crate) struct SocketSlot(Mutex<Slot>);

#[derive(Debug, Default)]
enum Slot {
    /// No socket is known (a `ConnectionInfo` made outside a server): nothing to watch.
    #[default]
    Unknown,
    /// The socket's descriptor, open until the slot says `Closed`.
    Open(RawFd),
    /// The connection's IO has closed it: the client has left with its connection.
    Closed,
}

/// What a departure watch found when it started.
enum Start {
    Watching(TcpStream),
    Closed,
    Impossible,
}

impl SocketSlot {
    /// The slot of a connection's open socket.
    pub(crate) fn open(fd: RawFd) -> SocketSlot {
        SocketSlot(Mutex::new(Slot::Open(fd)))
    }

    /// Marks the socket closed. Its owner calls this just before it closes it.
    pub(crate) fn close(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Slot::Closed;
    }

    /// Registers a duplicate of the socket (close-on-exec, so no script inherits it) with the
    /// runtime. Closing the duplicate later closes nothing of the connection.
    // One of the crate's two `unsafe` (Cargo.toml denies it elsewhere; the other calls glibc's
    // `malloc_trim`, `server/rest.rs`): a descriptor known by its number only. Without it the
    // connection would have to duplicate its socket up front, a system call for every
    // connection for the few that run a script.
    #[allow(unsafe_code)]
    fn watch(&self) -> Start {
        let slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let fd = match *slot {
            Slot::Open(fd) => fd,
            Slot::Closed => return Start::Closed,
            Slot::Unknown => return Start::Impossible,
        };
        // SAFETY: `Open(fd)` means the connection's IO still owns the open socket `fd`, and it
        // cannot close it before this lock is released (`close` takes it first); the borrow
        // ends with the duplicate made.
        let duplicate = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned();
        drop(slot);
        // The duplicate shares the socket's non-blocking flag, as `from_std` requires. Out of
        // descriptors, the script is bounded by its timeout alone. A Unix-domain socket is
        // wrapped as a `TcpStream` too: only its readiness (epoll's `EPOLLRDHUP`) is used,
        // which is the same for both.
        match duplicate.and_then(|fd| TcpStream::from_std(std::net::TcpStream::from(fd))) {
            Ok(watched) => Start::Watching(watched),
            Err(_) => Start::Impossible,
        }
    }
}

/// Watches whether the client of a request has closed its end of the connection (a FIN or a
/// reset), from the first [`wait`](Departure::wait) until it is dropped.
pub(crate) struct Departure<'a>(State<'a>);

enum State<'a> {
    /// Nothing can be told, or nothing needs to be (HTTP/2, `--ignore-client-abort`).
    Never,
    /// Not watched yet: the connection, which holds its socket.
    Unwatched(&'a ConnectionInfo),
    /// The registered duplicate.
    Watching(TcpStream),
    /// The connection is closed.
    Left,
}

impl<'a> Departure<'a> {
    /// A watch that never sees the client leave.
    pub(crate) fn never() -> Departure<'a> {
        Departure(State::Never)
    }

    /// A watch on the socket of `connection`, for a request of `version`; nothing is done
    /// before the first [`wait`](Departure::wait). HTTP/2 needs none: hyper drops the
    /// handler's future when the client resets the stream or closes the connection.
    pub(crate) fn of(connection: &'a ConnectionInfo, version: Version) -> Departure<'a> {
        if version > Version::HTTP_11 {
            return Departure::never();
        }
        Departure(State::Unwatched(connection))
    }

    /// As [`wait`](Departure::wait), but a watch not started yet starts only after `delay`:
    /// a wait that ends sooner costs no system call, and a client that leaves is told at most
    /// `delay` late.
    pub(crate) async fn wait_after(&mut self, delay: Duration) {
        if matches!(self.0, State::Unwatched(_)) {
            tokio::time::sleep(delay).await;
        }
        self.wait().await;
    }

    /// Resolves once the client has left; never, when that cannot be told. Cancel-safe: a
    /// `select!` may drop it and call it again, the registration stays.
    pub(crate) async fn wait(&mut self) {
        if let State::Unwatched(connection) = &self.0 {
            self.0 = match connection.socket.watch() {
                Start::Watching(watched) => State::Watching(watched),
                Start::Closed => State::Left,
                Start::Impossible => State::Never,
            };
        }
        let watched = match &self.0 {
            State::Watching(watched) => watched,
            State::Left => return,
            State::Never | State::Unwatched(_) => return pending().await,
        };
        loop {
            let Ok(ready) = watched.ready(Interest::READABLE).await else {
                // The runtime is shutting down: nothing will be told any more.
                return pending().await;
            };
            if ready.is_read_closed() {
                return;
            }
            // Pipelined bytes, which hyper reads after this response: the readiness they set is
            // cleared without reading them (a `WouldBlock` from `try_io` clears it), and the
            // edge-triggered registration reports the FIN when it comes.
            let _ = watched.try_io(Interest::READABLE, || {
                Err::<(), _>(io::ErrorKind::WouldBlock.into())
            });
        }
    }
}
