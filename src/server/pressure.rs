//! Connections under pressure: the connection limit, and room made at it.
//!
//! Every connection holds a slot of the limit from its accept to its end. When no slot is free,
//! the accept loop does not queue behind connections that do nothing: it asks the oldest
//! *reusable* ones to close, at most [`SHED_AT_ONCE`] at a time (nginx's "reusable
//! connections", `ngx_drain_connections`, which closes up to 32). Reusable means no request is
//! being answered and no part of a head has come in: a connection that has not sent a byte yet
//! (a port scan, a browser's unused preconnect, a slowloris that never starts; for TLS, also
//! one in its handshake, which hyper has not seen), a kept-alive HTTP/1 connection between
//! requests, and an HTTP/2 connection whose streams are all done. A
//! connection busy with a request is never cut; only when every connection is busy does a new
//! one wait in the kernel's queue, as before.
//!
//! The live connections are kept in accept order in a slab ([`Registry`]): entering and
//! leaving cost a lock and an index each, once per connection, nothing per request. The slab
//! is read when the limit is reached, and once a second by the rest sweep
//! ([`Limit::ask_idle_to_rest`], `rest`). A shed connection is told through its [`Signal`];
//! its supervisor checks again that it is still reusable (a request may have come in
//! since) and closes it. Oldest first makes it rare that the connection closed is one whose
//! first request is already in its socket buffer, unread; a client that meets a closed idle
//! connection retries on a new one (RFC 9112 §9.3.1).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::malformed::Parsed;
use crate::access_log::AccessLog;

/// At most this many connections are closed for one that waits (nginx's figure).
const SHED_AT_ONCE: usize = 32;

/// How often a waiting accept looks again for connections to close: soon after some were asked
/// (one may have turned busy before its supervisor saw the request), seldom when every
/// connection was busy (the look reads the whole registry).
const RETRY_AFTER_SHED: Duration = Duration::from_millis(100);
const RETRY_ALL_BUSY: Duration = Duration::from_secs(1);

/// At most one log line a second about shedding, and one about waiting.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// Descriptors kept out of the default limit's reckoning: the standard streams, the listener,
/// epoll, the runtime's and the log's own, FastCGI pools.
const RESERVED_DESCRIPTORS: u64 = 64;

/// The default connection limit for a process allowed `descriptors` open files: half of them
/// past a reserve, since a connection may hold a file it sends or a CGI script's pipes beside
/// its socket. A server with no descriptor limit (`None`) counts 2^20.
pub(crate) fn default_limit(descriptors: Option<u64>) -> usize {
    let descriptors = descriptors.unwrap_or(1 << 20);
    let half = descriptors.saturating_sub(RESERVED_DESCRIPTORS) / 2;
    usize::try_from(half).unwrap_or(usize::MAX).max(1)
}

/// Below this default, the limit is said in the log: serveur used to default to 1000, and a
/// lower figure comes from a low descriptor limit the user may want to raise.
const LOW_DEFAULT: usize = 1000;

/// [`default_limit`] for the process's soft limit on open files (read, never changed: only the
/// binary raises it), logged when it is low.
pub(super) fn default_limit_said(log: &AccessLog) -> usize {
    let descriptors = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let limit = default_limit(descriptors);
    if limit < LOW_DEFAULT {
        log.message(
            None,
            format!(
                "connection limit {limit}, from the limit of {} open files; raise it \
                 (ulimit -n) for more",
                descriptors.unwrap_or_default()
            ),
        );
    }
    limit
}

/// Whether a connection may be closed to make room: nothing being answered, and no part of a
/// head come in since its last request. HTTP/2 reads frames between requests (window updates,
/// pings), so there it is enough that every stream is done.
pub(super) fn reusable(parsed: &Parsed) -> bool {
    !parsed.busy() && (parsed.is_http2() || !parsed.mid_head())
}

/// What the server asks of one connection from outside its task: to close to make room
/// (`pressure`), or to rest, giving back its buffers (`rest`). It lives in the connection's
/// [`Parsed`], so it costs no allocation of its own, and its one waker serves both.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    close: AtomicBool,
    rest: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    /// Wakes `waker` when the connection is asked something.
    pub(super) fn wake(&self, waker: &Waker) {
        self.waker.register(waker);
    }

    /// Whether the connection was asked to close; clears the question.
    pub(super) fn take_close(&self) -> bool {
        self.close.swap(false, Ordering::AcqRel)
    }

    /// Whether the connection was asked to rest; clears the question.
    pub(super) fn take_rest(&self) -> bool {
        self.rest.swap(false, Ordering::AcqRel)
    }

    fn ask(&self, flag: &AtomicBool) {
        flag.store(true, Ordering::Release);
        self.waker.wake();
    }

    fn is_asked_to_close(&self) -> bool {
        self.close.load(Ordering::Acquire)
    }
}

/// The connection limit of one server: its slots and its live connections.
pub(super) struct Limit {
    max: usize,
    slots: Arc<Semaphore>,
    registry: Mutex<Registry>,
    /// Told when a connection enters an empty registry (`rest::sweep` waits for it).
    occupied: Notify,
    log: AccessLog,
}

/// The live connections in a slab.
#[derive(Default)]
struct Registry {
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
    accepted: u64,
    /// Connections closed since the last line about it, and when that line was.
    shed_unlogged: usize,
    shed_logged: Option<Instant>,
    wait_logged: Option<Instant>,
}

impl Registry {
    fn is_empty(&self) -> bool {
        self.free.len() == self.entries.len()
    }
}

/// A live connection: its accept number, its counters, and what the rest sweep saw of them.
struct Entry {
    accepted: u64,
    parsed: Parsed,
    /// Its activity at the last sweep.
    seen: (usize, usize),
    /// Whether it was asked to rest since its activity last changed.
    rest_asked: bool,
}

/// A connection's slot and its place in the registry, given back when dropped.
pub(super) struct Place {
    limit: Arc<Limit>,
    index: usize,
    _slot: OwnedSemaphorePermit,
}

impl Limit {
    pub(super) fn new(max: usize, log: AccessLog) -> Arc<Limit> {
        Arc::new(Limit {
            max,
            slots: Arc::new(Semaphore::new(max)),
            registry: Mutex::default(),
            occupied: Notify::new(),
            log,
        })
    }

    /// A free slot, at once if there is one; else one made by closing reusable connections,
    /// or freed by a connection's end. `None` only if the slots were closed (never, in fact).
    pub(super) async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() {
            return Some(slot);
        }
        loop {
            let asked = self.shed();
            let retry = if asked == 0 {
                RETRY_ALL_BUSY
            } else {
                RETRY_AFTER_SHED
            };
            tokio::select! {
                slot = Arc::clone(&self.slots).acquire_owned() => return slot.ok(),
                () = tokio::time::sleep(retry) => {}
            }
        }
    }

    /// Registers the accepted connection `parsed` holding `slot`.
    pub(super) fn enter(self: &Arc<Self>, slot: OwnedSemaphorePermit, parsed: &Parsed) -> Place {
        let mut registry = self.registry();
        registry.accepted += 1;
        let entry = Some(Entry {
            accepted: registry.accepted,
            parsed: parsed.clone(),
            seen: parsed.activity(),
            rest_asked: false,
        });
        let was_empty = registry.is_empty();
        let index = match registry.free.pop() {
            Some(index) => {
                registry.entries[index] = entry;
                index
            }
            None => {
                registry.entries.push(entry);
                registry.entries.len() - 1
            }
        };
        if was_empty {
            // Once per connection at most, and only the first after a quiet time.
            self.occupied.notify_one();
        }
        Place {
            limit: Arc::clone(self),
            index,
            _slot: slot,
        }
    }

    /// Asks the oldest reusable connections to close, up to [`SHED_AT_ONCE`]; returns how many
    /// were asked, and logs (at most once a second) how many since the last line, or that
    /// every connection is busy.
    fn shed(&self) -> usize {
        let mut registry = self.registry();
        let asked = {
            let mut oldest: Vec<(u64, &Parsed)> = registry
                .entries
                .iter()
                .flatten()
                .filter(|e| !e.parsed.signal().is_asked_to_close() && reusable(&e.parsed))
                .map(|e| (e.accepted, &e.parsed))
                .collect();
            if oldest.len() > SHED_AT_ONCE {
                oldest.select_nth_unstable_by_key(SHED_AT_ONCE, |(accepted, _)| *accepted);
                oldest.truncate(SHED_AT_ONCE);
            }
            for (_, parsed) in &oldest {
                parsed.signal().ask(&parsed.signal().close);
            }
            oldest.len()
        };
        let now = Instant::now();
        let due = |last: Option<Instant>| last.is_none_or(|at| now - at >= LOG_EVERY);
        if asked > 0 {
            registry.shed_unlogged += asked;
            if due(registry.shed_logged) {
                let closed = std::mem::take(&mut registry.shed_unlogged);
                registry.shed_logged = Some(now);
                self.say(format!(
                    "connection limit ({}) reached; closing {closed} idle connections, oldest first",
                    self.max
                ));
            }
        } else if due(registry.wait_logged) {
            registry.wait_logged = Some(now);
            self.say(format!(
                "connection limit ({}) reached; every connection is busy, new connections wait",
                self.max
            ));
        }
        asked
    }

    /// Whether no connection is open.
    pub(super) fn is_empty(&self) -> bool {
        self.registry().is_empty()
    }

    /// Resolves once a connection has entered since the registry was last empty (at once if
    /// one entered while nobody waited: `Notify` keeps that permit, so none is missed between
    /// an [`is_empty`](Self::is_empty) and this wait).
    pub(super) async fn occupied(&self) {
        self.occupied.notified().await;
    }

    /// Asks to rest every connection whose activity has not changed since the last call and
    /// that [`may_rest`](super::rest::may_rest), once per quiet spell; returns how many were
    /// asked. Called once a second (`rest::sweep`): a connection rests one to two seconds
    /// after its last request.
    pub(super) fn ask_idle_to_rest(&self) -> usize {
        let mut registry = self.registry();
        let mut asked = 0;
        for entry in registry.entries.iter_mut().flatten() {
            let now = entry.parsed.activity();
            if now != entry.seen {
                entry.seen = now;
                entry.rest_asked = false;
            } else if !entry.rest_asked && super::rest::may_rest(&entry.parsed) {
                entry.rest_asked = true;
                let signal = entry.parsed.signal();
                signal.ask(&signal.rest);
                asked += 1;
            }
        }
        asked
    }

    fn say(&self, line: String) {
        self.log.message(None::<IpAddr>, line);
    }

    /// The registry, even if a thread panicked holding it (its entries stay consistent: each
    /// change is one assignment).
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut registry = self.limit.registry();
        registry.entries[self.index] = None;
        registry.free.push(self.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_limit_is_half_the_descriptors_past_a_reserve() {
        assert_eq!(default_limit(Some(1024)), 480);
        assert_eq!(default_limit(Some(256)), 96);
        assert_eq!(default_limit(Some(10)), 1);
        assert_eq!(default_limit(None), ((1 << 20) - 64) / 2);
    }

    /// A limit of `n` with `n` connections entered, their places and their counters.
    fn full(n: usize, log: AccessLog) -> (Arc<Limit>, Vec<Place>, Vec<Parsed>) {
        let limit = Limit::new(n, log);
        let connections: Vec<Parsed> = (0..n).map(|_| Parsed::default()).collect();
        let places = connections
            .iter()
            .map(|parsed| {
                let slot = Arc::clone(&limit.slots)
                    .try_acquire_owned()
                    .expect("a slot");
                limit.enter(slot, parsed)
            })
            .collect();
        (limit, places, connections)
    }

    #[tokio::test]
    async fn the_oldest_idle_connections_are_asked_first_and_busy_ones_never() {
        let (limit, mut places, connections) = full(40, AccessLog::off());
        connections[0].bump(http::Version::HTTP_11); // busy: its response is not finished
        assert_eq!(limit.shed(), SHED_AT_ONCE);
        let asked: Vec<bool> = connections
            .iter()
            .map(|p| p.signal().is_asked_to_close())
            .collect();
        assert!(!asked[0], "a busy connection is never asked");
        assert!(asked[1..=SHED_AT_ONCE].iter().all(|a| *a), "{asked:?}");
        assert!(!asked[SHED_AT_ONCE + 1..].iter().any(|a| *a), "{asked:?}");
        // Those asked are not asked twice; the rest are next.
        assert_eq!(limit.shed(), 40 - 1 - SHED_AT_ONCE);
        assert_eq!(limit.shed(), 0);
        // A place given back is reused.
        drop(places.remove(5));
        let slot = Arc::clone(&limit.slots).try_acquire_owned().expect("freed");
        let again = limit.enter(slot, &Parsed::default());
        assert_eq!(again.index, 5);
    }

    #[tokio::test]
    async fn connections_quiet_since_the_last_sweep_are_asked_to_rest_once_per_quiet_spell() {
        let (limit, _places, connections) = full(4, AccessLog::off());
        // 0: one request answered; 1: one in flight; 2: HTTP/2; 3: never a request.
        connections[0].bump(http::Version::HTTP_11);
        connections[0].finish();
        connections[1].bump(http::Version::HTTP_11);
        connections[2].bump(http::Version::HTTP_2);
        connections[2].finish();
        // The first sweep sees their activity change since they entered.
        assert_eq!(limit.ask_idle_to_rest(), 0);
        assert_eq!(limit.ask_idle_to_rest(), 1);
        let asked: Vec<bool> = connections.iter().map(|p| p.signal().take_rest()).collect();
        assert_eq!(asked, [true, false, false, false]);
        // Still quiet: not asked again.
        assert_eq!(limit.ask_idle_to_rest(), 0);
        // A request answered since: a new quiet spell, asked once it is seen quiet.
        connections[0].bump(http::Version::HTTP_11);
        connections[0].finish();
        assert_eq!(limit.ask_idle_to_rest(), 0);
        assert_eq!(limit.ask_idle_to_rest(), 1);
        assert!(connections[0].signal().take_rest());
    }

    #[tokio::test]
    async fn shedding_is_logged_at_most_once_a_second_with_the_count_since_the_last_line() {
        let lines = crate::access_log::ReadableLog::default();
        let log = AccessLog::to_writer(lines.clone());
        let (limit, _places, connections) = full(40, log.clone());
        assert_eq!(limit.shed(), SHED_AT_ONCE);
        assert_eq!(limit.shed(), 40 - SHED_AT_ONCE);
        let text = lines.logged_by(&log);
        assert_eq!(text.matches("closing").count(), 1, "{text}");
        assert!(
            text.contains("connection limit (40) reached; closing 32 idle connections"),
            "{text}"
        );
        // The next line, a second later, counts those not said yet.
        for parsed in &connections[..3] {
            parsed.signal().take_close();
        }
        tokio::time::sleep(LOG_EVERY).await;
        assert_eq!(limit.shed(), 3);
        let text = lines.logged_by(&log);
        assert!(text.contains("closing 11 idle connections"), "{text}");
        // With nothing to close, the wait is said instead.
        assert_eq!(limit.shed(), 0);
        let text = lines.logged_by(&log);
        assert!(text.contains("every connection is busy"), "{text}");
    }
}
