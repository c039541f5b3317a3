//! Connections to one FastCGI application (`host:port` or `unix:/path`), kept open between
//! requests (`FCGI_KEEP_CONN`) in a bounded pool.
//!
//! Two facts about applications shape it. First, a restarted application leaves the pool full
//! of closed connections: an idle connection is checked before reuse (a closed socket reads as
//! end-of-file at once), and the client retries once on a fresh connection when a reused one
//! fails before anything of the request was consumed. Second, php-fpm binds a worker to a kept
//! connection until that connection closes (its `fcgi_accept_request` waits for the next
//! request on the same socket), so a connection the pool keeps idle holds a worker idle too,
//! while a newer connection may sit in php-fpm's accept queue waiting for a worker. The pool
//! therefore counts connections that have not been answered yet, and while any is waiting, a
//! finished connection is closed instead of kept, which frees its worker for the one waiting.
//! For the same reason a connection left idle for [`IDLE_TIMEOUT`] is closed: a php-fpm that
//! other servers or tools share gets its worker back once serveur's traffic stops.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Where a FastCGI application listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// `host:port`, resolved when connecting.
    Tcp(String),
    /// `unix:/path`, a Unix domain socket.
    Unix(PathBuf),
}

impl FromStr for Address {
    type Err = String;

    /// `unix:/run/php/php-fpm.sock`, `127.0.0.1:9000`, `[::1]:9000` or `localhost:9000`.
    fn from_str(text: &str) -> Result<Address, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(format!("'{text}' names no socket path"));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        match text.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(Address::Tcp(text.to_owned()))
            }
            _ => Err(format!("'{text}' is not host:port or unix:/path")),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(host_port) => f.write_str(host_port),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// An open connection to the application.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// The reading half of a [`Stream`], borrowed for one exchange.
pub(crate) type ReadHalf<'a> = Pin<Box<dyn AsyncRead + Send + 'a>>;
/// The writing half of a [`Stream`], borrowed for one exchange.
pub(crate) type WriteHalf<'a> = Pin<Box<dyn AsyncWrite + Send + 'a>>;

impl Stream {
    async fn connect(address: &Address) -> io::Result<Stream> {
        match address {
            Address::Tcp(host_port) => {
                let stream = TcpStream::connect(host_port.as_str()).await?;
                // Records are written whole; Nagle's delay would only hold the last one back.
                stream.set_nodelay(true)?;
                Ok(Stream::Tcp(stream))
            }
            Address::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path).await?)),
        }
    }

    /// Whether the application has closed (or broken) this idle connection: an idle FastCGI
    /// connection never has anything to read, so any readiness means it is unusable.
    fn is_closed(&self) -> bool {
        let mut byte = [0u8; 1];
        let read = match self {
            Stream::Tcp(s) => s.try_read(&mut byte),
            Stream::Unix(s) => s.try_read(&mut byte),
        };
        !matches!(read, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        match self {
            Stream::Tcp(s) => {
                let (r, w) = s.split();
                (Box::pin(r), Box::pin(w))
            }
            Stream::Unix(s) => {
                let (r, w) = s.split();
                (Box::pin(r), Box::pin(w))
            }
        }
    }
}

/// How long a connection may stay idle in the pool. Short, because each one holds a php-fpm
/// worker; a new connection costs a `connect(2)`. Checked every period, so an idle connection
/// closes between one and two periods after its last request.
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// A bounded pool of connections to one application.
pub(super) struct Pool {
    address: Address,
    /// Idle connections, the most recently used last, with the time each became idle.
    idle: Mutex<Vec<(Stream, Instant)>>,
    slots: Arc<Semaphore>,
    unanswered: AtomicUsize,
    /// Whether the task that closes connections idle too long has been started.
    reaping: AtomicBool,
}

impl Pool {
    /// A pool of at most `max` connections (at least one) to `address`; requests beyond that
    /// wait for a connection to be free.
    pub(super) fn new(address: Address, max: usize) -> Arc<Pool> {
        Arc::new(Pool {
            address,
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(max.max(1))),
            unanswered: AtomicUsize::new(0),
            reaping: AtomicBool::new(false),
        })
    }

    /// The application's address.
    pub(super) fn address(&self) -> &Address {
        &self.address
    }

    /// A connection: an idle one that is still open, else a new one. Waits while the pool is
    /// at its bound.
    pub(crate) async fn get(self: &Arc<Self>) -> io::Result<Connection> {
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        loop {
            let idle = self.idle.lock().map_or(None, |mut idle| idle.pop());
            match idle {
                Some((stream, _)) if stream.is_closed() => continue,
                Some((stream, _)) => return Ok(self.connection(stream, slot, true)),
                None => break,
            }
        }
        let stream = Stream::connect(&self.address).await?;
        Ok(self.connection(stream, slot, false))
    }

    /// A new connection in place of `broken`, keeping its place in the pool.
    pub(crate) async fn replace(self: &Arc<Self>, broken: Connection) -> io::Result<Connection> {
        let slot = broken.slot;
        let stream = Stream::connect(&self.address).await?;
        Ok(self.connection(stream, slot, false))
    }

    /// Keeps `stream` for the next request, and starts the task that closes idle connections
    /// the first time one is kept (the pool is made before the runtime runs).
    fn keep(self: &Arc<Self>, stream: Stream) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push((stream, Instant::now()));
        }
        if self.reaping.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            if !self.reaping.swap(true, Ordering::Relaxed) {
                runtime.spawn(close_idle_connections(Arc::downgrade(self)));
            }
        }
    }

    /// Closes the connections idle for [`IDLE_TIMEOUT`] or longer.
    fn close_idle(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.retain(|(_, since)| since.elapsed() < IDLE_TIMEOUT);
        }
    }

    fn connection(
        self: &Arc<Self>,
        stream: Stream,
        slot: OwnedSemaphorePermit,
        reused: bool,
    ) -> Connection {
        let waiting = (!reused).then(|| {
            self.unanswered.fetch_add(1, Ordering::Relaxed);
            Waiting(Arc::clone(self))
        });
        Connection {
            stream,
            slot,
            reused,
            waiting,
            pool: Arc::clone(self),
        }
    }
}

/// A connection taken from a [`Pool`]: closed when dropped, kept when
/// [`release`](Connection::release)d after a complete request.
pub(crate) struct Connection {
    stream: Stream,
    slot: OwnedSemaphorePermit,
    reused: bool,
    waiting: Option<Waiting>,
    pool: Arc<Pool>,
}

/// Held while a new connection has had no answer from the application (it may still be in
/// the application's accept queue); dropped at the first answer, or when the attempt ends.
pub(crate) struct Waiting(Arc<Pool>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.unanswered.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Connection {
    /// Whether the connection served an earlier request (so it may have been closed since).
    pub(crate) fn reused(&self) -> bool {
        self.reused
    }

    /// The stream's two halves, so that the request body can be written while the response
    /// is read, and the connection's [`Waiting`] mark, to drop at the first answer.
    pub(crate) fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>, Option<Waiting>) {
        let (reader, writer) = self.stream.split();
        (reader, writer, self.waiting.take())
    }

    /// Gives the connection back for the next request, after a complete one; closes it instead
    /// while a newer connection waits for the application to answer (see the module notes).
    pub(crate) fn release(self) {
        drop(self.waiting);
        if self.pool.unanswered.load(Ordering::Relaxed) > 0 {
            return;
        }
        self.pool.keep(self.stream);
    }
}

/// Every [`IDLE_TIMEOUT`], closes the connections idle for that long; ends with the pool.
async fn close_idle_connections(pool: Weak<Pool>) {
    loop {
        tokio::time::sleep(IDLE_TIMEOUT).await;
        let Some(pool) = pool.upgrade() else { return };
        pool.close_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_port_or_unix_paths() {
        assert_eq!(
            "unix:/run/php.sock".parse(),
            Ok(Address::Unix("/run/php.sock".into()))
        );
        assert_eq!(
            "127.0.0.1:9000".parse(),
            Ok(Address::Tcp("127.0.0.1:9000".into()))
        );
        assert_eq!("[::1]:9000".parse(), Ok(Address::Tcp("[::1]:9000".into())));
        for bad in ["unix:", "9000", ":9000", "host:port", "host:99999"] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
        assert_eq!(Address::Unix("/a b".into()).to_string(), "unix:/a b");
    }
}
