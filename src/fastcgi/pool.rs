//! Connections to one FastCGI application (`host:port` or `unix:/path`), kept open between
//! requests (`FCGI_KEEP_CONN`) in a bounded pool.
//!
//! Two facts about applications shape it. First, a restarted application leaves the pool full
//! of closed connections: an idle connection is checked before reuse (a closed socket reads as
//! end-of-file at once), and the client retries once on a fresh connection when a reused one
//! fails before anything of the request was consumed. Second, php-fpm binds a worker to a kept
//! connection until that connection closes (its `fcgi_accept_request` waits for the next
//! request on the same socket), so a connection the pool keeps idle holds a worker idle too,
//! while a newer connection may sit in php-fpm's accept queue waiting for a worker. How many
//! connections may be open, and whether a finished one is kept or closed to free its worker
//! for a newer one, is `capacity`'s decision; the pool carries it out under one lock, and
//! wakes one waiting request at each change. For the same reason a connection left idle for
//! [`IDLE_TIMEOUT`] is closed: a php-fpm that other servers or tools share gets its worker
//! back once serveur's traffic stops.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::pin;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::Notify;

use super::capacity::{AfterRequest, Capacity, FirstRecord, Opening};
use super::record::{Kind, Record, Values};

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
    state: Mutex<State>,
    /// Wakes a request waiting for a connection: one was kept, closed, or answered.
    changed: Notify,
    /// Whether the task that closes connections idle too long has been started.
    reaping: AtomicBool,
}

struct State {
    /// Idle connections, the most recently used last, with the time each became idle.
    idle: Vec<(Stream, Instant)>,
    capacity: Capacity,
}

impl Pool {
    /// A pool of at most `bound` connections (at least one) to `address`; requests beyond
    /// that wait for a connection to be free. With `learn`, fewer if the application serves
    /// fewer at once (see `capacity`).
    pub(super) fn new(address: Address, bound: usize, learn: bool) -> Arc<Pool> {
        Arc::new(Pool {
            address,
            state: Mutex::new(State {
                idle: Vec::new(),
                capacity: Capacity::new(bound, learn),
            }),
            changed: Notify::new(),
            reaping: AtomicBool::new(false),
        })
    }

    /// The application's address.
    pub(super) fn address(&self) -> &Address {
        &self.address
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection: an idle one that is still open, else a new one if the capacity allows,
    /// else the next one kept, closed or answered.
    pub(crate) async fn get(self: &Arc<Self>) -> io::Result<Connection> {
        let mut waiter = Waiter {
            pool: self,
            waiting: false,
        };
        let opening = loop {
            let mut changed = pin!(self.changed.notified());
            {
                let mut state = self.state();
                if let Some(stream) = state.take_idle() {
                    waiter.done(&mut state);
                    let request = state.capacity.reuse();
                    return Ok(self.connection(stream, request, false, false));
                }
                if let Some(opening) = state.capacity.open(Instant::now()) {
                    waiter.done(&mut state);
                    break opening;
                }
                if !waiter.waiting {
                    state.capacity.wait();
                    waiter.waiting = true;
                }
                // Registered before the lock is let go: every change is made under it and then
                // told, so none is missed (and a request that never waits never registers).
                changed.as_mut().enable();
            }
            changed.await;
        };
        self.connect(opening).await
    }

    /// A new connection in place of `broken`, keeping its place in the pool.
    pub(crate) async fn replace(self: &Arc<Self>, broken: Connection) -> io::Result<Connection> {
        let opening = {
            let mut state = self.state();
            let opening = state.capacity.reopen(broken.answer.fresh_request());
            broken.forget();
            opening
        };
        self.connect(opening).await
    }

    async fn connect(self: &Arc<Self>, opening: Opening) -> io::Result<Connection> {
        // Dropped unconnected (an error, a timeout, the client gone): the place is given back.
        let mut place = Place {
            pool: self,
            request: Some(opening.request),
        };
        let stream = Stream::connect(&self.address).await?;
        place.request = None;
        Ok(self.connection(stream, opening.request, true, opening.asks))
    }

    fn connection(
        self: &Arc<Self>,
        stream: Stream,
        request: u64,
        new: bool,
        asks: bool,
    ) -> Connection {
        Connection {
            stream: Some(stream),
            answer: Answer {
                pool: Arc::clone(self),
                request,
                fresh: new,
                asks,
            },
            reused: !new,
        }
    }

    /// A connection is gone; `fresh` is its request's number if nothing had come back on it.
    fn closed(&self, fresh: Option<u64>) {
        self.state().capacity.closed(fresh);
        self.changed.notify_one();
    }

    /// Keeps `stream` for the next request, and starts the task that closes idle connections
    /// the first time one is kept (the pool is made before the runtime runs).
    fn keep(self: &Arc<Self>, state: &mut State, stream: Stream) {
        state.idle.push((stream, Instant::now()));
        self.changed.notify_one();
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
        let mut state = self.state();
        let before = state.idle.len();
        state
            .idle
            .retain(|(_, since)| since.elapsed() < IDLE_TIMEOUT);
        for _ in state.idle.len()..before {
            state.capacity.closed(None);
            self.changed.notify_one();
        }
    }
}

impl State {
    /// The most recently kept idle connection that is still open.
    fn take_idle(&mut self) -> Option<Stream> {
        while let Some((stream, _)) = self.idle.pop() {
            if !stream.is_closed() {
                return Some(stream);
            }
            self.capacity.closed(None);
        }
        None
    }
}

/// A request counted as waiting for a connection until it has one or is dropped.
struct Waiter<'a> {
    pool: &'a Pool,
    waiting: bool,
}

impl Waiter<'_> {
    fn done(&mut self, state: &mut State) {
        if std::mem::take(&mut self.waiting) {
            state.capacity.stop_waiting();
        }
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.waiting {
            self.pool.state().capacity.stop_waiting();
        }
    }
}

/// A place in the pool taken for a connection being opened, given back if it never opens.
struct Place<'a> {
    pool: &'a Pool,
    request: Option<u64>,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if let Some(request) = self.request {
            self.pool.closed(Some(request));
        }
    }
}

/// A connection taken from a [`Pool`]: closed when dropped, kept when
/// [`release`](Connection::release)d after a complete request.
pub(crate) struct Connection {
    /// `None` once kept by the pool or replaced.
    stream: Option<Stream>,
    answer: Answer,
    reused: bool,
}

/// What the pool learns from the first record that comes back on a new connection.
pub(crate) struct Answer {
    pool: Arc<Pool>,
    /// The number of the request the connection carries.
    request: u64,
    /// New, and nothing has come back on it yet.
    fresh: bool,
    /// Whether `FCGI_GET_VALUES` goes before the request.
    asks: bool,
}

impl Answer {
    /// Whether `FCGI_GET_VALUES` goes before the request on this (new) connection.
    pub(crate) fn asks(&self) -> bool {
        self.asks
    }

    /// Notes `record`, if it is the first to come back on this new connection; returns what
    /// the log should say if the pool's limit changed.
    pub(crate) fn record(&mut self, record: &Record) -> Option<String> {
        if !std::mem::take(&mut self.fresh) {
            return None;
        }
        let first =
            if self.asks && record.request_id == 0 && record.kind == Kind::GetValuesResult as u8 {
                // An answer that cannot be read gives no limit, as one without a number.
                FirstRecord::Values(Values::parse(&record.content).unwrap_or_default())
            } else {
                FirstRecord::Other
            };
        let said = self.pool.state().capacity.answered(self.request, first);
        self.pool.changed.notify_one();
        said
    }

    fn fresh_request(&self) -> Option<u64> {
        self.fresh.then_some(self.request)
    }
}

impl Connection {
    /// Whether the connection served an earlier request (so it may have been closed since).
    pub(crate) fn reused(&self) -> bool {
        self.reused
    }

    /// Whether this is a new connection that asked `FCGI_GET_VALUES` and got nothing back.
    pub(crate) fn asked_in_vain(&self) -> bool {
        self.answer.asks && self.answer.fresh
    }

    /// The stream's two halves, so that the request body can be written while the response
    /// is read, and what notes the first record back.
    pub(crate) fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>, &mut Answer) {
        let (reader, writer) = self
            .stream
            .as_mut()
            .expect("a connection in use has its stream")
            .split();
        (reader, writer, &mut self.answer)
    }

    /// The application closed this new connection before answering its `FCGI_GET_VALUES`:
    /// nothing is asked again.
    pub(crate) fn never_ask(&self) {
        self.answer.pool.state().capacity.never_ask();
    }

    /// Gives the connection back after a complete request: kept for the next one, or closed
    /// (see `capacity`). Returns what the log should say if the pool's limit changed.
    pub(crate) fn release(mut self) -> Option<String> {
        let pool = Arc::clone(&self.answer.pool);
        let mut state = pool.state();
        let (after, said) = state.capacity.complete(self.answer.request, Instant::now());
        if after == AfterRequest::Keep {
            if let Some(stream) = self.stream.take() {
                pool.keep(&mut state, stream);
            }
        }
        drop(state);
        said
    }

    /// Leaves the pool's count alone when dropped: its place went to another connection.
    fn forget(mut self) {
        self.stream = None;
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.stream.take().is_some() {
            self.answer.pool.closed(self.answer.fresh_request());
        }
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
