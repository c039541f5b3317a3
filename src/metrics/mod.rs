//! The server's numbers for a monitoring system: requests by status class and by the handler
//! that answered, bytes sent, how long answers took, connections, scripts running and failing,
//! small-file and listing cache hits. One [`Metrics`] is shared (behind an `Arc`) by the server and the
//! handlers given it; [`Metrics::render`] writes them in Prometheus's text format (`text.rs`),
//! which the [`Page`] handler serves at one path.
//!
//! Nothing here is reached unless a server or handler was given a `Metrics`: without one, a
//! request costs no counter, no clock read and no label (the binary gives one only under
//! `--metrics-path`). Which handler answered is told by [`Labelled`] layers (`label.rs`).
//! Counters are relaxed atomics: each is a count on its own, and a scrape may see one
//! request's counters half-updated, which the next scrape corrects.

mod label;
mod page;
mod text;

pub use label::Labelled;
pub(crate) use label::{clear as clear_label, note, take as take_label};
pub use page::Page;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Which handler answered a request: the `handler` label of `serveur_requests_total`, given
/// by the [`Labelled`] layer around each handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// The static files.
    Static,
    /// A CGI script, or CGI's own refusals.
    Cgi,
    /// A FastCGI application, or FastCGI's own refusals.
    FastCgi,
    /// An upload, delete or directory creation.
    Upload,
    /// The metrics page itself.
    Metrics,
    /// Access control's refusals (401, 403).
    Auth,
    /// The server, before any handler (a request refused on admission), or a handler no
    /// [`Labelled`] layer names.
    Server,
}

impl Handled {
    const ALL: [Handled; 7] = [
        Handled::Static,
        Handled::Cgi,
        Handled::FastCgi,
        Handled::Upload,
        Handled::Metrics,
        Handled::Auth,
        Handled::Server,
    ];

    fn label(self) -> &'static str {
        match self {
            Handled::Static => "static",
            Handled::Cgi => "cgi",
            Handled::FastCgi => "fastcgi",
            Handled::Upload => "upload",
            Handled::Metrics => "metrics",
            Handled::Auth => "auth",
            Handled::Server => "server",
        }
    }
}

/// The status classes counted: `1xx` to `5xx`, and `other` for the codes from 600 to 999 that
/// HTTP's syntax allows (a CGI script may send one).
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

fn class(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100 - 1),
        _ => CLASSES.len() - 1,
    }
}

/// The upper bounds of the duration histogram's buckets, in microseconds (compared as
/// integers on each answer; `text.rs` writes them in seconds): from a file in memory (well
/// under a millisecond) to a slow script or a large download.
const BUCKETS: [u64; 6] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 60_000_000];

/// Which gateway a script runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gateway {
    Cgi,
    FastCgi,
}

/// A gateway's two numbers.
#[derive(Default)]
struct Scripts {
    in_flight: AtomicU64,
    failures: AtomicU64,
}

/// The counters of one server (see the [module's notes](self)). Give the same `Arc` to the
/// [`Server`](crate::Server) and to the handlers whose numbers it should show, and serve
/// [`render`](Metrics::render) at some path.
///
/// ```
/// use std::sync::Arc;
/// let metrics = Arc::new(serveur::metrics::Metrics::new());
/// assert!(metrics.render().contains("serveur_connections_open 0\n"));
/// ```
pub struct Metrics {
    /// By handler, then status class.
    requests: [[AtomicU64; CLASSES.len()]; Handled::ALL.len()],
    response_bytes: AtomicU64,
    /// Per bucket (not cumulative: `render` adds them up), the last one past every bound.
    durations: [AtomicU64; BUCKETS.len() + 1],
    duration_micros: AtomicU64,
    connections_open: AtomicU64,
    connections: AtomicU64,
    cgi: Scripts,
    fastcgi: Scripts,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    listing_hits: AtomicU64,
    listing_misses: AtomicU64,
    started: SystemTime,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All counters at zero; the process's start time is now.
    pub fn new() -> Metrics {
        Metrics {
            requests: Default::default(),
            response_bytes: AtomicU64::new(0),
            durations: Default::default(),
            duration_micros: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            cgi: Scripts::default(),
            fastcgi: Scripts::default(),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            listing_hits: AtomicU64::new(0),
            listing_misses: AtomicU64::new(0),
            started: SystemTime::now(),
        }
    }

    /// The metrics in Prometheus's text exposition format 0.0.4, whose content type is
    /// [`CONTENT_TYPE`](Metrics::CONTENT_TYPE).
    pub fn render(&self) -> String {
        text::render(self)
    }

    /// The content type of [`render`](Metrics::render)'s text.
    pub const CONTENT_TYPE: &'static str = "text/plain; version=0.0.4; charset=utf-8";

    /// One answered request: its handler, status, the body bytes sent and how long it took
    /// from its head being read to its body's end.
    pub(crate) fn answered(&self, handled: Handled, status: u16, bytes: u64, took: Duration) {
        self.requests[handled as usize][class(status)].fetch_add(1, Relaxed);
        self.response_bytes.fetch_add(bytes, Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS
            .iter()
            .position(|&bound| micros <= bound)
            .unwrap_or(BUCKETS.len());
        self.durations[bucket].fetch_add(1, Relaxed);
        self.duration_micros.fetch_add(micros, Relaxed);
    }

    /// A connection accepted; it counts as open until the returned guard is dropped.
    pub(crate) fn connection_opened(self: &Arc<Self>) -> OpenConnection {
        self.connections.fetch_add(1, Relaxed);
        self.connections_open.fetch_add(1, Relaxed);
        OpenConnection(Arc::clone(self))
    }

    /// A small file or kept compressed output found in memory (`hit`), or read again.
    pub(crate) fn cache_lookup(&self, hit: bool) {
        let counter = if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        };
        counter.fetch_add(1, Relaxed);
    }

    /// A rich page or JSON listing found in memory (`hit`), or rendered.
    pub(crate) fn listing_lookup(&self, hit: bool) {
        let counter = if hit {
            &self.listing_hits
        } else {
            &self.listing_misses
        };
        counter.fetch_add(1, Relaxed);
    }

    /// A script started under `gateway`; it counts as in flight until the guard is dropped.
    pub(crate) fn script_started(self: &Arc<Self>, gateway: Gateway) -> InFlight {
        self.scripts(gateway).in_flight.fetch_add(1, Relaxed);
        InFlight {
            metrics: Arc::clone(self),
            gateway,
        }
    }

    /// A gateway answered `502 Bad Gateway` or `504 Gateway Timeout` itself: the script or
    /// application could not be reached, failed or sent nothing usable, or took too long.
    pub(crate) fn script_failed(&self, gateway: Gateway) {
        self.scripts(gateway).failures.fetch_add(1, Relaxed);
    }

    fn scripts(&self, gateway: Gateway) -> &Scripts {
        match gateway {
            Gateway::Cgi => &self.cgi,
            Gateway::FastCgi => &self.fastcgi,
        }
    }
}

/// An open connection, counted in `serveur_connections_open` while it lives.
pub(crate) struct OpenConnection(Arc<Metrics>);

impl OpenConnection {
    /// The metrics the connection counts in.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.0
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Relaxed);
    }
}

/// A script in flight, counted in `serveur_cgi_in_flight` or `serveur_fastcgi_in_flight`
/// while it lives: from the request reaching the gateway to its response body's end.
pub(crate) struct InFlight {
    metrics: Arc<Metrics>,
    gateway: Gateway,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics
            .scripts(self.gateway)
            .in_flight
            .fetch_sub(1, Relaxed);
    }
}
