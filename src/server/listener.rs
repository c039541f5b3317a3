//! Opening the listening socket as CPython's `HTTPServer` does: `SO_REUSEADDR`, and an IPv6
//! socket made dual-stack (`IPV6_V6ONLY=0`) so IPv4 clients reach it too.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Enough for bursts of new connections on a busy server (nginx's default is 511).
const BACKLOG: i32 = 1024;

/// Binds `addr`; an IPv6 address gets a dual-stack socket where the system allows one.
pub(super) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
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
pub(super) fn bind_all(port: u16) -> io::Result<TcpListener> {
    bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)))
        .or_else(|_| bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))))
}
