//! The two kinds of listening socket a server accepts from, TCP and Unix-domain (`-b
//! unix:PATH`, for a reverse proxy on the same machine), behind two traits: [`Listen`] (accept
//! a connection) and [`Stream`] (what the accept loop, `read_ahead`, `zero_copy` and the TLS
//! handshake need of a connected socket). The accept loop is generic over them, so a TCP
//! server's code is the same machine code as before Unix sockets existed: no branch, no enum
//! per read or write. Everything a connection does with its socket (readiness, `writev`,
//! `sendmsg`, `sendfile`, `recv(MSG_PEEK)`) works the same on both.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::request::NO_ADDRESS;

/// A connected socket, as the accept loop and the IO below hyper use it. The methods are
/// tokio's own, which its `TcpStream` and `UnixStream` each have.
pub(crate) trait Stream:
    AsyncRead + AsyncWrite + AsFd + Unpin + Send + Sync + 'static
{
    /// Waits until the socket may be written to (or failed).
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Runs `f`, a system call on the socket, clearing the readiness for `interest` if it
    /// would block.
    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
    /// Waits until the socket may be read (or the peer closed it).
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send;
    /// Reads what is there without waiting.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Waits for bytes and copies them without taking them off the socket (`MSG_PEEK`).
    fn peek(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
}

/// A listening socket.
pub(crate) trait Listen: Send {
    type Stream: Stream;
    /// The next connection and, for TCP, its client's address (IPv4-mapped IPv6 addresses
    /// shown as IPv4); a Unix-domain client has none a log or a script could use.
    fn accept(&self)
        -> impl Future<Output = io::Result<(Self::Stream, Option<SocketAddr>)>> + Send;
    /// The address clients connect to; for a Unix-domain socket, which has none,
    /// `0.0.0.0:0`.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

impl Listen for TcpListener {
    type Stream = TcpStream;

    async fn accept(&self) -> io::Result<(TcpStream, Option<SocketAddr>)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // Nagle's algorithm would hold a response's last small segment back until the
        // client's delayed ACK (up to 40 ms); failing to turn it off only costs latency.
        let _ = stream.set_nodelay(true);
        Ok((
            stream,
            Some(SocketAddr::new(peer.ip().to_canonical(), peer.port())),
        ))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

impl Listen for UnixListener {
    type Stream = UnixStream;

    async fn accept(&self) -> io::Result<(UnixStream, Option<SocketAddr>)> {
        let (stream, _unnamed) = UnixListener::accept(self).await?;
        Ok((stream, None))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(NO_ADDRESS)
    }
}

impl Stream for TcpStream {
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_write_ready(self, cx)
    }

    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        TcpStream::try_io(self, interest, f)
    }

    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        TcpStream::readable(self)
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        TcpStream::try_read(self, buf)
    }

    fn peek(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send {
        TcpStream::peek(self, buf)
    }
}

impl Stream for UnixStream {
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        UnixStream::poll_write_ready(self, cx)
    }

    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        UnixStream::try_io(self, interest, f)
    }

    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        UnixStream::readable(self)
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        UnixStream::try_read(self, buf)
    }

    /// tokio's `UnixStream` has no `peek`: the same readiness loop as its `TcpStream::peek`.
    async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            self.readable().await?;
            let peeked = self.try_io(Interest::READABLE, || {
                rustix::net::recv(self, &mut *buf, rustix::net::RecvFlags::PEEK)
                    .map(|(n, _)| n)
                    .map_err(io::Error::from)
            });
            match peeked {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                done => return done,
            }
        }
    }
}
