//! How many connections the pool may open to an application: its capacity, given, told or
//! learned. Pure bookkeeping under the pool's lock, with no I/O, so every rule is unit-tested.
//!
//! An application serves a bounded number of connections at once: php-fpm one per worker
//! (`pm.max_children`), and a connection beyond that waits in its accept queue, which a kept
//! connection never leaves while its worker waits for the next request on it. Opening more
//! connections than that only buys queueing and reconnects, and fewer starves a threaded
//! application. So, unless `--fastcgi-connections` fixes the bound ([`Mode::Fixed`]), each new
//! connection first asks `FCGI_GET_VALUES` (FastCGI specification §4.1), in the same write as
//! its request:
//!
//! - an application that gives `FCGI_MAX_CONNS` or `FCGI_MAX_REQS` gets that many connections
//!   at most ([`Mode::Told`], within the bound);
//! - one that answers without a number (php-fpm 8.2 answers only `FCGI_MPXS_CONNS=0`) is
//!   learned from how its answers come back ([`Mode::Probing`]). A management record is answered
//!   as soon as the connection is accepted, before any script runs, so a new connection whose
//!   answer has not come while a request *sent after it* on another connection ran to its end
//!   sits in the accept queue: the limit becomes the connections answered so far. New
//!   connections are opened one at a time, each once the one before was answered, so that a
//!   request that waits for a connection meanwhile is there to show it. After a second
//!   without queueing, a pool kept busy at its limit tries one connection more, so a php-fpm
//!   that starts workers on demand (`pm = dynamic`) is followed, and a wrong guess heals;
//! - one that does not answer at all ([`Mode::Silent`]: its first record is its response) keeps
//!   the bound, so a threaded application is never starved by a guess.

use std::time::{Duration, Instant};

use super::record::Values;

/// How long a pool that saw queueing waits before it tries one connection more.
const REGROW_AFTER: Duration = Duration::from_secs(1);

/// What the pool knows of the application's capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// The bound was given (`--fastcgi-connections`): nothing is asked.
    Fixed,
    /// Nothing known yet: each new connection asks `FCGI_GET_VALUES`.
    Asking,
    /// The application gave its limit.
    Told,
    /// It answers management records without a limit: learned from queueing.
    Probing,
    /// It does not answer management records: the bound.
    Silent,
}

/// The first record that came back on a new connection.
pub(super) enum FirstRecord {
    /// `FCGI_GET_VALUES_RESULT`, read.
    Values(Values),
    /// Anything else: the application does not answer management records.
    Other,
}

/// The connections open to one application and how many may be.
#[derive(Debug)]
pub(super) struct Capacity {
    mode: Mode,
    /// The bound: `--fastcgi-connections`, or its default.
    bound: usize,
    /// How many connections may be open now.
    limit: usize,
    /// Connections open, idle or in use, or being opened.
    open: usize,
    /// New connections nothing has come back on yet, each by its request's number.
    fresh: Vec<u64>,
    /// Requests given a connection so far: the last one's number.
    requests: u64,
    /// Requests waiting for a connection.
    waiting: usize,
    /// When queueing was last seen.
    queued_at: Option<Instant>,
}

/// A connection the pool may open: the number of its request, and whether it asks
/// `FCGI_GET_VALUES` first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Opening {
    pub(super) request: u64,
    pub(super) asks: bool,
}

/// What becomes of a connection whose request is complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AfterRequest {
    /// Kept for the next request.
    Keep,
    /// Closed: more are open than the limit, or a newer connection waits to be accepted and
    /// no request waits to show whether it is queued (closing frees a php-fpm worker for it;
    /// once for each such connection).
    Close,
}

impl Capacity {
    /// At most `bound` connections (at least one); with `learn`, fewer if the application
    /// serves fewer at once.
    pub(super) fn new(bound: usize, learn: bool) -> Capacity {
        let bound = bound.max(1);
        Capacity {
            mode: if learn { Mode::Asking } else { Mode::Fixed },
            bound,
            limit: bound,
            open: 0,
            fresh: Vec::new(),
            requests: 0,
            waiting: 0,
            queued_at: None,
        }
    }

    /// The number of a request given a kept connection.
    pub(super) fn reuse(&mut self) -> u64 {
        self.requests += 1;
        self.requests
    }

    /// A new connection for a request that found none idle, if one may be opened now; `None`
    /// means the request waits ([`wait`](Capacity::wait)).
    pub(super) fn open(&mut self, now: Instant) -> Option<Opening> {
        let allowed = match self.mode {
            Mode::Fixed | Mode::Asking | Mode::Told | Mode::Silent => self.open < self.limit,
            // One new connection at a time, so requests wait (and can show queueing) while it
            // is judged; one beyond the limit now and then, to find workers started since.
            Mode::Probing => {
                self.fresh.is_empty()
                    && (self.open < self.limit
                        || (self.limit < self.bound
                            && self
                                .queued_at
                                .is_none_or(|at| now.duration_since(at) >= REGROW_AFTER)))
            }
        };
        allowed.then(|| self.opened())
    }

    /// A new connection in place of a broken one (`fresh`: its request's number if nothing had
    /// come back on it), whatever the limit: the retry keeps the broken one's place.
    pub(super) fn reopen(&mut self, fresh: Option<u64>) -> Opening {
        self.closed(fresh);
        self.opened()
    }

    fn opened(&mut self) -> Opening {
        self.open += 1;
        self.requests += 1;
        self.fresh.push(self.requests);
        Opening {
            request: self.requests,
            asks: matches!(self.mode, Mode::Asking | Mode::Probing),
        }
    }

    /// A request starts waiting for a connection.
    pub(super) fn wait(&mut self) {
        self.waiting += 1;
    }

    /// A request stops waiting (it got a connection, failed or left).
    pub(super) fn stop_waiting(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
    }

    /// A connection is closed, or could not be opened; `request` is its request's number if it
    /// was new and nothing had come back on it.
    pub(super) fn closed(&mut self, request: Option<u64>) {
        self.open = self.open.saturating_sub(1);
        if let Some(request) = request {
            self.fresh.retain(|f| *f != request);
        }
    }

    /// The application stopped a new connection before answering its `FCGI_GET_VALUES`: it is
    /// not asked again (a connection it closes cannot show anything).
    pub(super) fn never_ask(&mut self) {
        if self.mode == Mode::Asking {
            self.mode = Mode::Silent;
        }
    }

    /// The first record came back on the new connection of request `request`. Returns what the
    /// log should say if the limit changed.
    pub(super) fn answered(&mut self, request: u64, first: FirstRecord) -> Option<String> {
        let was_fresh = self.fresh.contains(&request);
        self.fresh.retain(|f| *f != request);
        match (self.mode, first) {
            (Mode::Asking, FirstRecord::Values(values)) => match values.capacity() {
                Some(told) => {
                    self.mode = Mode::Told;
                    let told = usize::try_from(told).unwrap_or(usize::MAX);
                    self.limit = told.min(self.bound);
                    Some(format!(
                        "the application takes {told} requests at once (FCGI_GET_VALUES): \
                         at most {} connections to it",
                        self.limit
                    ))
                }
                None => {
                    self.mode = Mode::Probing;
                    None
                }
            },
            (Mode::Asking, FirstRecord::Other) => {
                self.mode = Mode::Silent;
                None
            }
            // A connection beyond the limit accepted at once: a worker was free for it.
            (Mode::Probing, _) if was_fresh && self.open > self.limit => {
                self.limit = self.open.min(self.bound);
                Some(self.at_most("accepted one connection more"))
            }
            _ => None,
        }
    }

    /// Request `request` is complete on its connection (kept or, when the connection was new,
    /// answered): whether the connection is kept, and what the log should say if the limit
    /// changed.
    pub(super) fn complete(
        &mut self,
        request: u64,
        now: Instant,
    ) -> (AfterRequest, Option<String>) {
        let mut said = None;
        if self.mode == Mode::Probing && self.fresh.iter().any(|f| *f < request) {
            // A request sent after those connections ran to its end while they had no answer:
            // they are in the application's accept queue. It serves the connections that were
            // answered (any other still unanswered is no better placed).
            let limit = self.open.saturating_sub(self.fresh.len()).max(1);
            self.fresh.retain(|f| *f > request);
            self.queued_at = Some(now);
            if limit != self.limit {
                self.limit = limit;
                said = Some(self.at_most("queues new connections"));
            }
        }
        // Only answered connections count against the limit: closing one for a new connection
        // beyond it, not judged yet, would free a worker for it and spoil the judgement.
        if self.open - self.fresh.len() > self.limit {
            return (AfterRequest::Close, said);
        }
        if self.fresh.is_empty() || (self.mode == Mode::Probing && self.waiting > 0) {
            return (AfterRequest::Keep, said);
        }
        // The worker this frees takes the oldest connection of the accept queue (a FIFO): that
        // one needs no other close, and is no evidence of queueing, whenever its answer comes.
        // (Closing again for it would free a worker for nobody, and the new connection opened
        // in its place would be one more to close for: a churn that feeds itself.)
        self.fresh.remove(0);
        (AfterRequest::Close, said)
    }

    fn at_most(&self, what: &str) -> String {
        format!(
            "the application {what}: at most {} connections to it",
            self.limit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn php_fpm_answer() -> FirstRecord {
        FirstRecord::Values(Values::default())
    }

    /// A pool that learned, from `workers` connections answered at once, that it serves them.
    fn probing(workers: usize) -> (Capacity, Vec<u64>) {
        let mut capacity = Capacity::new(32, true);
        let now = Instant::now();
        let mut requests = Vec::new();
        for _ in 0..workers {
            let opening = capacity.open(now).expect("room");
            assert!(opening.asks);
            assert_eq!(capacity.answered(opening.request, php_fpm_answer()), None);
            requests.push(opening.request);
        }
        assert_eq!(capacity.mode, Mode::Probing);
        (capacity, requests)
    }

    #[test]
    fn a_given_bound_is_the_limit_and_nothing_is_asked() {
        let mut capacity = Capacity::new(2, false);
        let now = Instant::now();
        let first = capacity.open(now).expect("room");
        assert!(!first.asks);
        assert!(capacity.open(now).is_some());
        assert_eq!(capacity.open(now), None);
        assert_eq!(capacity.answered(first.request, FirstRecord::Other), None);
        assert_eq!(capacity.mode, Mode::Fixed);
    }

    #[test]
    fn a_given_bound_closes_once_for_each_new_connection_that_waits() {
        let mut capacity = Capacity::new(4, false);
        let now = Instant::now();
        let kept: Vec<u64> = (0..3)
            .map(|_| {
                let opening = capacity.open(now).expect("room");
                capacity.answered(opening.request, FirstRecord::Other);
                opening.request
            })
            .collect();
        let fourth = capacity.open(now).expect("room");
        capacity.wait();
        assert_eq!(capacity.complete(kept[0], now), (AfterRequest::Close, None));
        capacity.closed(None);
        // Once is enough: the next ones are kept, and no churn follows.
        assert_eq!(capacity.complete(kept[1], now), (AfterRequest::Keep, None));
        assert_eq!(capacity.complete(kept[2], now), (AfterRequest::Keep, None));
        capacity.answered(fourth.request, FirstRecord::Other);
        assert_eq!(capacity.limit, 4);
    }

    #[test]
    fn a_told_capacity_is_the_limit_within_the_bound() {
        let mut capacity = Capacity::new(32, true);
        let opening = capacity.open(Instant::now()).expect("room");
        let values = Values {
            max_conns: Some(3),
            max_reqs: None,
        };
        let said = capacity.answered(opening.request, FirstRecord::Values(values));
        assert!(said.expect("a line").contains("at most 3 connections"));
        assert_eq!(capacity.limit, 3);
        let mut small = Capacity::new(2, true);
        let opening = small.open(Instant::now()).expect("room");
        let values = Values {
            max_conns: Some(100),
            max_reqs: None,
        };
        small.answered(opening.request, FirstRecord::Values(values));
        assert_eq!(small.limit, 2);
    }

    #[test]
    fn an_application_that_does_not_answer_keeps_the_bound_and_is_never_asked_again() {
        let mut capacity = Capacity::new(32, true);
        let now = Instant::now();
        let first = capacity.open(now).expect("room");
        // A threaded application: many connections at once, before any answer.
        for _ in 1..32 {
            assert!(capacity.open(now).is_some());
        }
        assert_eq!(capacity.open(now), None);
        capacity.answered(first.request, FirstRecord::Other);
        assert_eq!(capacity.mode, Mode::Silent);
        capacity.closed(None);
        assert!(!capacity.open(now).expect("room").asks);
        assert_eq!(capacity.limit, 32);
    }

    #[test]
    fn a_connection_closed_before_its_answer_stops_the_asking() {
        let mut capacity = Capacity::new(32, true);
        let opening = capacity.open(Instant::now()).expect("room");
        capacity.never_ask();
        capacity.closed(Some(opening.request));
        assert!(!capacity.open(Instant::now()).expect("room").asks);
    }

    #[test]
    fn probing_opens_one_new_connection_at_a_time() {
        let (mut capacity, _) = probing(2);
        let now = Instant::now();
        let third = capacity.open(now).expect("room");
        assert_eq!(capacity.open(now), None, "the third is not judged yet");
        capacity.answered(third.request, php_fpm_answer());
        assert!(capacity.open(now).is_some());
    }

    #[test]
    fn a_new_connection_outrun_by_a_later_request_is_queued() {
        // php-fpm with 3 workers: 3 connections answered, a 4th in the accept queue.
        let (mut capacity, kept) = probing(3);
        let now = Instant::now();
        let fourth = capacity.open(now).expect("room");
        capacity.wait();
        // The request sent on a kept connection before the 4th opened ends: no evidence, and
        // a request waits for a connection, so this one is kept for it.
        assert_eq!(capacity.complete(kept[0], now), (AfterRequest::Keep, None));
        let later = capacity.reuse();
        capacity.stop_waiting();
        assert!(later > fourth.request);
        // That later request ends first: the 4th is queued.
        let (after, said) = capacity.complete(later, now);
        assert!(said.expect("a line").contains("at most 3 connections"));
        assert_eq!(capacity.limit, 3);
        assert_eq!(after, AfterRequest::Close, "4 open, 3 allowed");
        capacity.closed(None);
        // The 4th is accepted by the freed worker; kept from now on.
        assert_eq!(capacity.answered(fourth.request, php_fpm_answer()), None);
        assert_eq!(
            capacity.complete(fourth.request, now),
            (AfterRequest::Keep, None)
        );
        assert_eq!(capacity.open(now), None, "3 open, none idle: wait");
    }

    #[test]
    fn a_waiting_new_connection_with_no_request_to_show_anything_gets_a_worker() {
        let (mut capacity, kept) = probing(3);
        let now = Instant::now();
        let fourth = capacity.open(now).expect("room");
        // Nobody waits: the kept connection is closed, so that a worker can take the 4th.
        assert_eq!(capacity.complete(kept[0], now), (AfterRequest::Close, None));
        capacity.closed(None);
        capacity.answered(fourth.request, php_fpm_answer());
        assert_eq!(capacity.limit, 32);
    }

    #[test]
    fn a_new_connection_given_a_freed_worker_is_no_evidence() {
        let (mut capacity, kept) = probing(3);
        let now = Instant::now();
        let fourth = capacity.open(now).expect("room");
        assert_eq!(capacity.complete(kept[0], now), (AfterRequest::Close, None));
        capacity.closed(None);
        // The freed worker has not answered the 4th yet when a later request ends: the 4th
        // was not left in the queue, and 3 connections are not the limit.
        let later = capacity.reuse();
        assert_eq!(capacity.complete(later, now), (AfterRequest::Keep, None));
        assert_eq!(capacity.limit, 32);
        capacity.answered(fourth.request, php_fpm_answer());
        assert_eq!(capacity.limit, 32);
    }

    #[test]
    fn a_connection_beyond_the_limit_is_judged_before_anything_is_closed_for_it() {
        let (mut capacity, kept) = probing(2);
        let start = Instant::now();
        let third = capacity.open(start).expect("room");
        capacity.wait();
        let later = capacity.reuse();
        capacity.complete(later, start);
        capacity.closed(None);
        capacity.answered(third.request, php_fpm_answer());
        assert_eq!(capacity.limit, 2);
        // A second later, busy: one more, which the application queues.
        let probe = capacity.open(start + REGROW_AFTER).expect("a probe");
        // Requests end on the two kept connections: kept for those waiting, not closed to
        // make room for the probe.
        assert_eq!(
            capacity.complete(kept[0], start + REGROW_AFTER),
            (AfterRequest::Keep, None)
        );
        let after_probe = capacity.reuse();
        assert!(after_probe > probe.request);
        // One sent after the probe ends first: the probe was queued, the limit stays 2, and
        // now a connection is closed so that the probe gets a worker.
        let (after, said) = capacity.complete(after_probe, start + REGROW_AFTER);
        assert_eq!((after, said), (AfterRequest::Close, None));
        assert_eq!(capacity.limit, 2);
    }

    #[test]
    fn a_busy_pool_tries_one_more_connection_a_second_after_queueing() {
        let (mut capacity, _) = probing(2);
        let start = Instant::now();
        let third = capacity.open(start).expect("room");
        capacity.wait();
        let later = capacity.reuse();
        capacity.complete(later, start);
        assert_eq!(capacity.limit, 2);
        capacity.closed(None);
        capacity.answered(third.request, php_fpm_answer());
        assert_eq!(capacity.open(start), None, "at the limit");
        assert_eq!(capacity.open(start + REGROW_AFTER / 2), None);
        let probe = capacity
            .open(start + REGROW_AFTER)
            .expect("one more, a second later");
        // A worker was free for it (pm = dynamic started one): the limit grows.
        let said = capacity.answered(probe.request, php_fpm_answer());
        assert!(said.expect("a line").contains("at most 3 connections"));
        assert_eq!(capacity.limit, 3);
    }

    #[test]
    fn a_threaded_application_answering_at_once_is_never_limited() {
        let (mut capacity, kept) = probing(1);
        let now = Instant::now();
        for _ in 1..32 {
            let opening = capacity.open(now).expect("room");
            capacity.answered(opening.request, php_fpm_answer());
        }
        assert_eq!(capacity.complete(kept[0], now), (AfterRequest::Keep, None));
        assert_eq!(capacity.limit, 32);
        assert_eq!(capacity.open(now), None, "the bound");
    }
}
