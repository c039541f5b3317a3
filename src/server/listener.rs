//! Opening the listening socket as CPython's `HTTPServer` does: `SO_REUSEADDR`, and an IPv6
//! socket made dual-stack (`IPV6_V6ONLY=0`) so IPv4 clients reach it too; `SO_REUSEPORT` when
//! asked ([`BindOptions::reuse_port`]). A Unix-domain socket is opened by `unix_socket.rs`,
//! with [`BindOptions::unix_mode`].

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Enough for bursts of new connections on a busy server (nginx's default is 511).
pub(super) const BACKLOG: i32 = 1024;

/// How [`Server::bind_with`](super::Server::bind_with) opens its socket, beyond what CPython
/// does.
///
/// ```no_run
/// use serveur::{BindOptions, Server};
///
/// // A second process started the same way shares the port; the kernel spreads new
/// // connections between them.
/// let server = Server::bind_with(
///     "127.0.0.1:8000".parse().unwrap(),
///     BindOptions::default().reuse_port(true),
/// )?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct BindOptions {
    reuse_port: bool,
    pub(super) unix_mode: u32,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            reuse_port: false,
            unix_mode: 0o660,
        }
    }
}

impl BindOptions {
    /// Sets `SO_REUSEPORT` (default off): several processes (or an old and a new one, for a
    /// restart without refused connections) may listen on the same address and port, if each
    /// sets it and they run as the same user; Linux spreads new connections between them.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// The permission bits of a Unix-domain socket's file
    /// ([`bind_unix_with`](super::Server::bind_unix_with)); default `0o660`, whatever the
    /// umask. Connecting needs write permission, so this is who may talk to the server: its
    /// user and group (the proxy's user put in that group), never others — the default of
    /// php-fpm's `listen.mode`. Bits above `0o777` are ignored.
    pub fn unix_mode(mut self, mode: u32) -> Self {
        self.unix_mode = mode;
        self
    }

    /// `SO_REUSEPORT` has no meaning for a Unix-domain socket, whose path one server owns.
    pub(super) fn refuse_reuse_port(self) -> std::io::Result<()> {
        if self.reuse_port {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "SO_REUSEPORT does not apply to a Unix-domain socket",
            ));
        }
        Ok(())
    }
}

/// Binds `addr`; an IPv6 address gets a dual-stack socket where the system allows one.
pub(super) fn bind(addr: SocketAddr, options: BindOptions) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if options.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        // Best effort, as in CPython: some systems have no dual-stack sockets.
        let _ = socket.set_only_v6(false);
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Binds every interface on `port`: `[::]` dual-stack when the machine has IPv6, else
/// `0.0.0.0`.
pub(super) fn bind_all(port: u16, options: BindOptions) -> io::Result<TcpListener> {
    bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)), options)
        .or_else(|_| bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), options))
}
