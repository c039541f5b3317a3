//! The connection layer: a listening socket, the accept loop, limits and timeouts, and a
//! graceful stop. It knows handlers only through the [`Handler`] trait, and never decides what a
//! response looks like.

mod admission;
mod by_regions;
mod connection;
mod listener;
mod logged_body;
pub(crate) mod malformed;
mod min_rate;
mod pressure;
mod read_ahead;
mod rest;
mod shutdown;
mod side_wake;
mod staged;
mod stream;
mod supervisor;
mod tls;
mod unix_socket;
pub(crate) mod zero_copy;

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use listener::BindOptions;
pub use min_rate::MinRate;
pub use shutdown::{stop_signal, StopSignal};
pub use tls::{TlsConfig, TlsError};

use crate::access_log::{AccessLog, Client};
use crate::handler::Handler;
use crate::metrics::Metrics;
use crate::request::departure::SocketSlot;
use crate::request::{ConnectionInfo, ServerSide, TopHandler, NO_ADDRESS};
use connection::ConnectionState;
use malformed::Parsed;
use staged::Staged;
use stream::{Listen, Stream as _};
use unix_socket::SocketFile;

/// The HTTP version a server speaks on HTTP/1 connections (`-p`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// One request per connection and `HTTP/1.0` status lines, as CPython's default.
    Http10,
    /// Persistent connections and pipelining (serveur's default), plus HTTP/2.
    #[default]
    Http11,
}

/// A bound server, configured and ready to [`serve`](Server::serve) a handler.
///
/// ```no_run
/// use serveur::{Handler, Request, Response, Server, response};
///
/// struct Hello;
/// impl Handler for Hello {
///     async fn handle(&self, _req: Request) -> Response {
///         response::html("<h1>Bonjour</h1>")
///     }
/// }
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     Server::bind("127.0.0.1:8000".parse().unwrap())?.serve(Hello).await
/// }
/// ```
#[derive(Debug)]
pub struct Server {
    listener: Listening,
    settings: Settings,
}

/// The socket a [`Server`] accepts connections from.
#[derive(Debug)]
enum Listening {
    Tcp(StdListener),
    Unix {
        listener: StdUnixListener,
        path: Arc<Path>,
        /// The file, when the server made it (not when systemd passed the socket: its
        /// `.socket` unit says what becomes of the file).
        file: Option<SocketFile>,
    },
}

/// Everything a [`Server`] is configured with but its socket.
#[derive(Debug)]
struct Settings {
    protocol: Protocol,
    log: AccessLog,
    /// `None`: from the process's descriptor limit when serving starts.
    max_connections: Option<usize>,
    header_timeout: Duration,
    min_rate: MinRate,
    shutdown_grace: Duration,
    tls: Option<TlsConfig>,
    handshake_timeout: Duration,
    metrics: Option<Arc<Metrics>>,
}

impl Server {
    /// Binds `addr` now (port 0 picks a free port: see [`local_addr`](Server::local_addr)).
    /// An IPv6 address is bound dual-stack where the system allows it, as CPython does.
    pub fn bind(addr: SocketAddr) -> io::Result<Server> {
        Self::bind_with(addr, BindOptions::default())
    }

    /// Binds every interface on `port`, IPv6 and IPv4 together where the machine allows.
    pub fn bind_all(port: u16) -> io::Result<Server> {
        Self::bind_all_with(port, BindOptions::default())
    }

    /// [`bind`](Server::bind), the socket opened with `options` (e.g. `SO_REUSEPORT`).
    pub fn bind_with(addr: SocketAddr, options: BindOptions) -> io::Result<Server> {
        Ok(Self::from_listener(listener::bind(addr, options)?))
    }

    /// [`bind_all`](Server::bind_all), the socket opened with `options`.
    pub fn bind_all_with(port: u16, options: BindOptions) -> io::Result<Server> {
        Ok(Self::from_listener(listener::bind_all(port, options)?))
    }

    /// Binds a Unix-domain socket at `path`, for a reverse proxy on the same machine (nginx's
    /// `proxy_pass http://unix:/run/serveur.sock:`), its file made `0o660` (see
    /// [`bind_unix_with`](Server::bind_unix_with)).
    ///
    /// A socket file left at `path` by a server that crashed (nothing listens on it) is
    /// replaced; a socket a server listens on, or anything that is not a socket, is an error.
    /// The file is removed when serving ends (or when the `Server` is dropped). Requests' peer
    /// and local addresses are then `None` ([`RequestExt::peer_addr`](crate::RequestExt)),
    /// and the log names the client `unix:`, as nginx does.
    ///
    /// ```no_run
    /// use serveur::{Server, StaticFiles};
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let server = Server::bind_unix("/run/serveur/serveur.sock")?;
    /// assert!(server.unix_path().is_some());
    /// server.serve(StaticFiles::new(".")?).await
    /// # }
    /// ```
    pub fn bind_unix(path: impl AsRef<Path>) -> io::Result<Server> {
        Self::bind_unix_with(path, BindOptions::default())
    }

    /// [`bind_unix`](Server::bind_unix), the file's mode from `options`
    /// ([`BindOptions::unix_mode`]); `SO_REUSEPORT` does not apply, and is an error.
    ///
    /// ```no_run
    /// use serveur::{BindOptions, Server};
    ///
    /// // The proxy runs as serveur's own user: nobody else may connect.
    /// let options = BindOptions::default().unix_mode(0o600);
    /// let server = Server::bind_unix_with("/tmp/serveur.sock", options)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_unix_with(path: impl AsRef<Path>, options: BindOptions) -> io::Result<Server> {
        options.refuse_reuse_port()?;
        let path = path.as_ref();
        let (listener, file) = unix_socket::bind(path, options.unix_mode)?;
        Ok(Self::with(Listening::Unix {
            listener,
            path: path.into(),
            file: Some(file),
        }))
    }

    /// [`from_std`](Server::from_std) for a listening Unix-domain socket (systemd's
    /// `ListenStream=/run/serveur.sock`). Its file is left where it is when serving ends:
    /// whoever made it removes it.
    pub fn from_std_unix(listener: StdUnixListener) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        // Linux's abstract sockets (systemd's `ListenStream=@name`) have a name, no file: `@`
        // and the name, as systemd and `ss` write them.
        let abstract_name = || {
            use std::os::linux::net::SocketAddrExt;
            let name = address.as_abstract_name().unwrap_or_default();
            Path::new(&format!("@{}", String::from_utf8_lossy(name))).into()
        };
        let path = address.as_pathname().map_or_else(abstract_name, Arc::from);
        Ok(Self::with(Listening::Unix {
            listener,
            path,
            file: None,
        }))
    }

    /// Serves on a socket that is already listening: one handed over by systemd's socket
    /// activation (the `listenfd` crate takes it from `LISTEN_FDS`), by a parent process, or
    /// opened with options serveur does not offer. It is made non-blocking, as the accept loop
    /// needs.
    ///
    /// ```no_run
    /// use serveur::{Server, StaticFiles};
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:8000")?;
    /// Server::from_std(listener)?.serve(StaticFiles::new(".")?).await
    /// # }
    /// ```
    pub fn from_std(listener: StdListener) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        Ok(Self::from_listener(listener))
    }

    fn from_listener(listener: StdListener) -> Server {
        Self::with(Listening::Tcp(listener))
    }

    fn with(listener: Listening) -> Server {
        let settings = Settings {
            protocol: Protocol::Http11,
            log: AccessLog::stderr(),
            max_connections: None,
            header_timeout: Duration::from_secs(30),
            min_rate: MinRate::default(),
            shutdown_grace: Duration::from_secs(10),
            tls: None,
            handshake_timeout: Duration::from_secs(10),
            metrics: None,
        };
        Server { listener, settings }
    }

    /// The address the server listens on; an error of kind `Unsupported` for a Unix-domain
    /// socket, which has none ([`unix_path`](Server::unix_path)).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.listener {
            Listening::Tcp(listener) => listener.local_addr(),
            Listening::Unix { .. } => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a Unix-domain socket has no address; see unix_path",
            )),
        }
    }

    /// The path of the Unix-domain socket the server listens on, if it does.
    pub fn unix_path(&self) -> Option<&Path> {
        match &self.listener {
            Listening::Tcp(_) => None,
            Listening::Unix { path, .. } => Some(path),
        }
    }

    /// The HTTP/1 version spoken (default HTTP/1.1 with keep-alive).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.settings.protocol = protocol;
        self
    }

    /// Where the access log goes (default: standard error).
    pub fn access_log(mut self, log: AccessLog) -> Self {
        self.settings.log = log;
        self
    }

    /// The most connections open at once. At the limit, the oldest connections doing nothing
    /// (none of a request sent yet, or idle between requests) are closed to make room; only
    /// when every connection is busy do new ones wait in the kernel's queue. Log lines (at most
    /// one a second) say so.
    ///
    /// By default, half the process's soft limit on open files (`RLIMIT_NOFILE`, read when
    /// serving starts) less 32, leaving a descriptor per connection for a file it sends or a
    /// script's pipes; a default under 1000 is said in the log. The library never changes the
    /// process's limit; the `serveur` binary raises its soft limit to the hard one first.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.settings.max_connections = Some(max.max(1));
        self
    }

    /// How long a client has to send a complete request head while no request of its
    /// connection is being answered (default 30 s): on a new connection, and between requests
    /// on a kept-alive one, for HTTP/1 and for an HTTP/2 connection's first request. A
    /// connection quiet that long is closed within one more such period. It stops slowloris
    /// clients (with CPython's `Request timed out` log line naming the client) and closes idle
    /// keep-alive connections (quietly).
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.settings.header_timeout = timeout;
        self
    }

    /// The least a connection must move while the server waits on its client (default 500
    /// bytes/s over 60 s; a rate of 0 turns it off): a response the client does not read or a
    /// request body it does not send, at under `bytes_per_sec` over a whole `window`, closes
    /// the connection with a log line. A server waiting on itself (a slow script) is never cut.
    pub fn min_rate(mut self, min_rate: MinRate) -> Self {
        self.settings.min_rate = min_rate;
        self
    }

    /// How long in-flight requests may run on after a stop is asked for (default 10 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.settings.shutdown_grace = grace;
        self
    }

    /// Serves HTTPS with `config` instead of plain HTTP: TLS 1.2 or 1.3, ALPN `h2` and
    /// `http/1.1` (`http/1.1` alone under [`Protocol::Http10`]).
    pub fn tls(mut self, config: TlsConfig) -> Self {
        self.settings.tls = Some(config);
        self
    }

    /// How long a client has to complete the TLS handshake (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.settings.handshake_timeout = timeout;
        self
    }

    /// Counts connections and answers (by the handler that answered, as
    /// [`Labelled`](crate::metrics::Labelled) layers tell it, their status, bytes and duration)
    /// in `metrics`; without it (the default) no request reads a clock or counts anything.
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.settings.metrics = Some(metrics);
        self
    }

    /// Serves `handler` until Ctrl+C or SIGTERM, then drains in-flight requests.
    pub async fn serve(self, handler: impl Handler) -> io::Result<()> {
        let stop = stop_signal();
        self.serve_until(handler, async {
            stop.await;
        })
        .await
    }

    /// Serves `handler` until `stop` resolves, then stops accepting, lets in-flight requests
    /// finish within the grace period, and returns.
    pub async fn serve_until(
        self,
        handler: impl Handler,
        stop: impl Future<Output = ()>,
    ) -> io::Result<()> {
        match self.listener {
            Listening::Tcp(listener) => {
                let listener = TcpListener::from_std(listener)?;
                self.settings.serve(listener, None, handler, stop).await
            }
            Listening::Unix {
                listener,
                path,
                file,
            } => {
                let listener = UnixListener::from_std(listener)?;
                let served = self
                    .settings
                    .serve(listener, Some(path), handler, stop)
                    .await;
                // Serving is over, every connection closed: the socket file goes.
                drop(file);
                served
            }
        }
    }
}

impl Settings {
    /// The accept loop, the same code for a TCP and a Unix-domain listener (`stream.rs`);
    /// `unix` is the latter's path.
    async fn serve<L: Listen>(
        self,
        listener: L,
        unix: Option<Arc<Path>>,
        handler: impl Handler,
        stop: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let local = listener.local_addr()?;
        let builders = Arc::new(self.protocol.builders());
        let acceptor = self
            .tls
            .as_ref()
            .map(|tls| tls.acceptor(self.protocol == Protocol::Http11));
        let handler = Arc::new(handler);
        let top = Arc::clone(&handler);
        let top_handler: TopHandler = Arc::new(move |req| {
            let top = Arc::clone(&top);
            Box::pin(async move { top.handle(req).await })
        });
        // Every connection's task is tracked, from before its TLS handshake to its end, so the
        // stop can wait for them; the token tells their supervisors to finish.
        let tasks = TaskTracker::new();
        let stopping = CancellationToken::new();
        let max_connections = self
            .max_connections
            .unwrap_or_else(|| pressure::default_limit_said(&self.log));
        let limit = pressure::Limit::new(max_connections, self.log.clone());
        tokio::spawn(rest::sweep(Arc::clone(&limit), stopping.clone()));
        let sendfile_demand = zero_copy::SendfileDemand::default();
        // Polled only when it wakes the loop, not at each accepted connection.
        let stop = side_wake::OnWake::new(stop);
        tokio::pin!(stop);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        accept_failed(&self.log, &e).await;
                        continue;
                    }
                },
                () = &mut stop => break,
            };
            // The slot is taken once a connection is there (at most one accepted connection
            // waits for it): room is made only for a client that needs it.
            let slot = tokio::select! {
                slot = limit.slot() => match slot {
                    Some(slot) => slot,
                    None => break,
                },
                () = &mut stop => break,
            };
            let client = peer.map_or(Client::Unix, |peer| Client::Ip(peer.ip()));
            let parsed = Parsed::default();
            let watch = supervisor::Watch {
                place: limit.enter(slot, &parsed),
                parsed: parsed.clone(),
                header_timeout: self.header_timeout,
                stopping: stopping.clone().cancelled_owned(),
                log: self.log.clone(),
                client,
                min_rate: self.min_rate,
            };
            // The socket's number, for a gateway to watch its client (`departure`); for TLS the
            // TCP socket under it.
            let socket = SocketSlot::open(stream.as_fd().as_raw_fd());
            let (log, tls) = (self.log.clone(), acceptor.is_some());
            let opened = self.metrics.as_ref().map(Metrics::connection_opened);
            // What lives as long as the connection is made here, at the accept, on the accept
            // loop's thread: made with hyper's buffers, on a worker's heap between them, it kept
            // a page of that heap resident after the buffers were freed by a rest (`rest`).
            let info = |files| {
                Arc::new(ConnectionInfo {
                    peer: peer.unwrap_or(NO_ADDRESS),
                    local,
                    tls,
                    log,
                    top_handler: Some(Arc::clone(&top_handler)),
                    socket,
                    server: ServerSide::new(Arc::new(ConnectionState {
                        parsed,
                        files,
                        metrics: opened,
                    })),
                    unix: unix.clone(),
                    client,
                })
            };
            let handler = Arc::clone(&handler);
            let builders = Arc::clone(&builders);
            let protocol = self.protocol;
            // Nothing of hyper's connection is built before the client sends its first byte
            // (`staged`): a connection that never does costs only its waiting state.
            let Some(acceptor) = acceptor.clone() else {
                let (stream, files) = zero_copy::ZeroCopy::new(stream, &sendfile_demand);
                let info = info(Some(files));
                let conn = Staged::new(async move {
                    let ahead = read_ahead::first_read(stream.stream()).await?;
                    connection::serve(&builders, stream, ahead, info, handler, protocol).await
                });
                tasks.spawn(boxed(supervisor::run(conn, watch)));
                continue;
            };
            let info = info(None);
            let (log, client, timeout) = (self.log.clone(), watch.client, self.handshake_timeout);
            let conn = Staged::new(async move {
                // A peek waits for the first bytes (the handshake peeks again, to tell plain
                // HTTP from TLS: one more system call beside a handshake's cost).
                stream.peek(&mut [0u8; 1]).await.ok()?;
                // Boxed, so that the rustls state is not part of the waiting state's size.
                let tls = Box::pin(tls::handshake(&acceptor, stream, timeout, &log, client));
                let tls = tls.await?;
                connection::serve(&builders, tls, BytesMut::new(), info, handler, protocol).await
            });
            tasks.spawn(boxed(supervisor::run(conn, watch)));
        }
        drop(listener);
        stopping.cancel();
        tasks.close();
        if tokio::time::timeout(self.shutdown_grace, tasks.wait())
            .await
            .is_err()
        {
            self.log.message(
                None,
                format!(
                    "grace period of {:?} over; closing the connections still open",
                    self.shutdown_grace
                ),
            );
        }
        self.log.flush();
        Ok(())
    }
}

/// `task` on the heap, for `tokio::spawn`. A connection's future is large (hyper's HTTP/1 and
/// HTTP/2 states, buffers' headers): spawned unboxed, tokio copies it whole each time it moves
/// it into the task and each time the task's stage changes, ~5,000 instructions of `memcpy` per
/// connection (callgrind, the `close` scenario); boxed, it moves a pointer.
fn boxed<F: Future>(task: F) -> Pin<Box<F>> {
    Box::pin(task)
}

/// An accept error: out of file descriptors or memory backs off instead of spinning; a
/// connection that died in the queue is just skipped.
async fn accept_failed(log: &AccessLog, error: &io::Error) {
    match error.kind() {
        io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::Interrupted => {}
        _ => {
            log.message(None, format!("accept failed: {error}; retrying in 100 ms"));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Protocol {
    /// The version written in HTTP/1 status lines.
    fn status_version(self) -> &'static str {
        match self {
            Protocol::Http10 => "HTTP/1.0",
            Protocol::Http11 => "HTTP/1.1",
        }
    }

    /// hyper's connection builders for this protocol.
    fn builders(self) -> connection::Builders {
        let mut http1 = hyper::server::conn::http1::Builder::new();
        http1
            // No per-request timer: `supervisor` watches each connection instead.
            .header_read_timeout(None)
            // A client may shut down its write side once the request is sent and still expects
            // the whole response (RFC 9112 §9.6). Its FIN is the same as a closing client's, so
            // hyper stops reading until the response is written: a client gone before the
            // response starts is seen at the first write that fails, or, while a gateway waits
            // on a script, by the gateway's own watch (`departure`).
            .half_close(true)
            // CPython's `_MAXHEADERS` is hyper's default: the 101st header is a 431
            // (`malformed` words it as Python does). Not set again with `max_headers(100)`:
            // hyper then fills a buffer of 100 headers before every parse (~90 instructions
            // a request, callgrind), where its default keeps them uninitialised on the stack.
            // hyper's default `max_buf_size` (about 400 KiB) still bounds the whole head,
            // where CPython only bounds each line (64 KiB, checked per request in
            // `malformed::over_limits`) and their number.
            .keep_alive(self == Protocol::Http11);
        let http2 = (self == Protocol::Http11).then(|| {
            let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            http2.timer(TokioTimer::new());
            http2
        });
        connection::Builders { http1, http2 }
    }
}
