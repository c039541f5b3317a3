//! Slowing down guessing: a client address with more than [`FREE_FAILURES`] failed logins in
//! a minute has each further attempt wait, twice as long each time (from 250 ms up to 16 s),
//! and its attempts are taken one after the other, so opening more connections does not
//! multiply its guesses. An attempt that would wait more than a minute is refused at once (429)
//! without any hash being verified. Memory is bounded: at most [`MAX_CLIENTS`] addresses are
//! remembered, the stalest forgotten first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed logins a minute an address may make before its attempts are slowed.
pub(crate) const FREE_FAILURES: u32 = 5;
const WINDOW: Duration = Duration::from_secs(60);
const FIRST_DELAY: Duration = Duration::from_millis(250);
const LONGEST_DELAY: Duration = Duration::from_secs(16);
/// Past this wait, an attempt is refused rather than queued.
const LONGEST_QUEUE: Duration = Duration::from_secs(60);
const MAX_CLIENTS: usize = 4096;

/// What an address's next login attempt does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Go ahead (after waiting this long).
    After(Duration),
    /// Refused: try again after this long.
    Refused(Duration),
}

#[derive(Clone, Copy)]
struct Client {
    since: Instant,
    failures: u32,
    /// When the address's next slowed attempt may run.
    next: Instant,
}

/// Failed logins per client address.
#[derive(Default)]
pub(crate) struct Throttle {
    clients: Mutex<HashMap<IpAddr, Client>>,
}

impl Throttle {
    /// The turn of an attempt from `ip` about to verify a password, at `now`.
    pub(crate) fn turn(&self, ip: IpAddr, now: Instant) -> Turn {
        let Ok(mut clients) = self.clients.lock() else {
            return Turn::After(Duration::ZERO);
        };
        let Some(client) = clients.get_mut(&ip) else {
            return Turn::After(Duration::ZERO);
        };
        if now.duration_since(client.since) >= WINDOW || client.failures < FREE_FAILURES {
            return Turn::After(Duration::ZERO);
        }
        let doublings = (client.failures - FREE_FAILURES).min(6);
        let delay = (FIRST_DELAY * 2u32.pow(doublings)).min(LONGEST_DELAY);
        let slot = client.next.max(now) + delay;
        let wait = slot - now;
        if wait > LONGEST_QUEUE {
            return Turn::Refused(client.next.max(now) - now);
        }
        client.next = slot;
        Turn::After(wait)
    }

    /// Notes a failed login from `ip` at `now`; the count in the current minute.
    pub(crate) fn failed(&self, ip: IpAddr, now: Instant) -> u32 {
        let Ok(mut clients) = self.clients.lock() else {
            return 0;
        };
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&ip) {
            clients.retain(|_, c| now.duration_since(c.since) < WINDOW || c.next > now);
            if clients.len() >= MAX_CLIENTS {
                let stalest = clients
                    .iter()
                    .min_by_key(|(_, c)| c.since)
                    .map(|(ip, _)| *ip);
                if let Some(stalest) = stalest {
                    clients.remove(&stalest);
                }
            }
        }
        let client = clients.entry(ip).or_insert(Client {
            since: now,
            failures: 0,
            next: now,
        });
        if now.duration_since(client.since) >= WINDOW {
            client.since = now;
            client.failures = 0;
        }
        client.failures += 1;
        client.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_slow_down_after_five_failures_and_queue_one_after_the_other() {
        let throttle = Throttle::default();
        let ip: IpAddr = [192, 0, 2, 1].into();
        let now = Instant::now();
        for n in 1..=FREE_FAILURES {
            assert_eq!(throttle.turn(ip, now), Turn::After(Duration::ZERO));
            assert_eq!(throttle.failed(ip, now), n);
        }
        assert_eq!(throttle.turn(ip, now), Turn::After(FIRST_DELAY));
        // A second connection at the same moment waits behind the first.
        assert_eq!(throttle.turn(ip, now), Turn::After(FIRST_DELAY * 2));
        throttle.failed(ip, now);
        assert_eq!(throttle.turn(ip, now), Turn::After(FIRST_DELAY * 4));
        // Another address is not slowed; a minute later this one is not either.
        assert_eq!(
            throttle.turn([192, 0, 2, 2].into(), now),
            Turn::After(Duration::ZERO)
        );
        assert_eq!(throttle.turn(ip, now + WINDOW), Turn::After(Duration::ZERO));
    }

    #[test]
    fn a_long_queue_is_refused_and_memory_stays_bounded() {
        let throttle = Throttle::default();
        let ip: IpAddr = [192, 0, 2, 1].into();
        let now = Instant::now();
        for _ in 0..20 {
            throttle.failed(ip, now);
        }
        let refused = (0..10).any(|_| matches!(throttle.turn(ip, now), Turn::Refused(_)));
        assert!(refused);
        for n in 0..(MAX_CLIENTS as u32 + 100) {
            throttle.failed(IpAddr::from(n.to_be_bytes()), now);
        }
        assert!(throttle.clients.lock().expect("lock").len() <= MAX_CLIENTS);
    }
}
