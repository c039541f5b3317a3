//! What a request knows of the connection it arrived on: [`ConnectionInfo`]. Its public fields
//! are the facts a handler may read (peer, local address, TLS, the log); the rest is for the
//! crate: the server's top handler (for a gateway's local redirect), the socket (for a
//! gateway's departure watch), and the server's own per-connection state, which only `server/`
//! can open ([`ServerSide`]). Defined here, below the handlers and the server, so that bodies,
//! handlers and the server all use it without importing each other.

use std::any::Any;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use super::departure::SocketSlot;
use super::Request;
use crate::access_log::{AccessLog, Client};
use crate::response::BoxResponseFuture;

/// Facts about the connection a request arrived on, carried by the request's body
/// ([`RequestExt::connection`](crate::RequestExt::connection)).
///
/// ```
/// # fn f(req: &serveur::Request) {
/// use serveur::RequestExt;
/// if let Some(info) = req.connection() {
///     println!("{} asked on {}", info.peer, info.local);
/// }
/// # }
/// ```
///
/// A connection to a Unix-domain socket (`Server::bind_unix`) has no addresses: there `peer`
/// and `local` are `0.0.0.0:0`, [`RequestExt::peer_addr`](crate::RequestExt::peer_addr) and
/// `local_addr` are `None`, and [`unix_socket`](Self::unix_socket) names the socket.
pub struct ConnectionInfo {
    /// The client's address (IPv4-mapped IPv6 addresses shown as IPv4); `0.0.0.0:0` on a
    /// Unix-domain socket.
    pub peer: SocketAddr,
    /// The server's address the client connected to; `0.0.0.0:0` on a Unix-domain socket.
    pub local: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The server's log, for handlers that have something to say (a CGI script's stderr).
    pub log: AccessLog,
    /// The handler the server serves, for a request a handler makes anew (a gateway's local
    /// redirect, RFC 3875 §6.2.2), which must be routed as the client's would be.
    pub(crate) top_handler: Option<TopHandler>,
    /// The connection's socket, for a gateway to watch whether its client left.
    pub(crate) socket: SocketSlot,
    /// The server's own state of the connection.
    pub(crate) server: ServerSide,
    /// The path of the Unix-domain socket the connection came through, if it did.
    pub(crate) unix: Option<Arc<Path>>,
    /// The client as log lines name it (`peer`'s address, or `unix:`), made once per
    /// connection rather than at each request's log line.
    pub(crate) client: Client,
}

impl ConnectionInfo {
    /// The Unix-domain socket the connection came through (the server's listening path), or
    /// `None` for TCP.
    pub fn unix_socket(&self) -> Option<&Path> {
        self.unix.as_deref()
    }

    /// The client, as log lines name it.
    pub(crate) fn client(&self) -> Client {
        self.client
    }
}

/// What stands for an address a Unix-domain connection does not have (`peer` and `local`,
/// whose type predates Unix sockets).
pub(crate) const NO_ADDRESS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// The server's top handler, type-erased so that this module need not know the handler
/// traits (which are built on [`Request`]).
pub(crate) type TopHandler = Arc<dyn Fn(Request) -> BoxResponseFuture<'static> + Send + Sync>;

/// State the server keeps for a connection (its counters, how it sends files), opaque to
/// everything but `server/`, which alone names its type.
#[derive(Clone)]
pub(crate) struct ServerSide(Arc<dyn Any + Send + Sync>);

impl ServerSide {
    /// The server's `state`.
    pub(crate) fn new(state: Arc<dyn Any + Send + Sync>) -> ServerSide {
        ServerSide(state)
    }

    /// The state, if it is a `T` (a type only the server knows).
    pub(crate) fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

/// A clone carries the facts and the server's state; it cannot watch the client's socket,
/// which belongs to the connection itself.
impl Clone for ConnectionInfo {
    fn clone(&self) -> Self {
        ConnectionInfo {
            peer: self.peer,
            local: self.local,
            tls: self.tls,
            log: self.log.clone(),
            top_handler: self.top_handler.clone(),
            socket: SocketSlot::default(),
            server: self.server.clone(),
            unix: self.unix.clone(),
            client: self.client,
        }
    }
}

impl std::fmt::Debug for ConnectionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionInfo")
            .field("peer", &self.peer)
            .field("local", &self.local)
            .field("tls", &self.tls)
            .field("unix", &self.unix)
            .finish_non_exhaustive()
    }
}
