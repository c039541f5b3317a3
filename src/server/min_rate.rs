//! The minimum transfer rate (`--min-rate`, `--min-rate-window`): a connection on which the
//! server waits on its client — a write found the socket's send buffer full, or a read of a
//! request body found nothing to read — and that moves fewer than `rate × window` bytes in a
//! whole window of such waiting is closed, with one log line. It bounds slow readers (a large
//! download read at 1 byte/s) and trickled request bodies, which the header timeout leaves
//! alone once a request is being answered; a server waiting on itself (a slow script, a
//! handler computing) is never cut. Precedents: Apache's `mod_reqtimeout`
//! (`body=20,MinRate=500`), nginx's `send_timeout` and `client_body_timeout` (60 s between two
//! operations), lighttpd's `max-write-idle` and `max-read-idle` (60 s).
//!
//! **Two halves.** The connection's IO (`malformed::Guard`, above TLS, so one place for plain
//! and TLS connections) keeps a [`Meter`]: on a `Pending` that means waiting on the client it
//! raises a bit in the connection's shared [`Waits`], and from then on it adds every byte it
//! moves to their count (a relaxed load and store: the IO is the only writer). A connection that
//! never waited on its client (every small request) pays one predictable branch per read and
//! write. The supervisor holds a [`RateCheck`]: when it sees a bit raised it arms a timer of one
//! window; when the timer fires while the connection is still waiting it compares the bytes
//! moved since, and either closes the connection or starts another window. A window at whose end
//! the connection no longer waits disarms the check until the next wait.
//!
//! **What counts as waiting.** A write that returned `Pending` (the send buffer is full: the
//! client is not reading), until a write completes. A read that returned `Pending` on an HTTP/1
//! connection while a request with a body is being answered (hyper reads a request's body only
//! while its handler asks for it, and with `half_close` reads nothing else then), until a read
//! completes. hyper reads whenever the handler has asked for the body, so the bit falls as soon
//! as bytes arrive: a handler that stops asking (a script that does not read its standard
//! input yet, its pipe full) leaves no bit raised, its last read having brought bytes. HTTP/2
//! reads all the time, so only its writes count: a connection whose writes stay blocked moves
//! nothing for any of its streams, while one slow stream is held by HTTP/2's flow control and
//! never blocks the socket. A trickled HTTP/2 upload is therefore not cut (its stream window
//! bounds what it holds).
//!
//! **Granularity.** Bytes are counted as the server's IO moves them, i.e. when the kernel takes
//! them into its send buffer or hands them over from its receive buffer. The send buffer empties
//! in steps (the socket turns writable again once about a third of it is free), so a window must
//! be long against `send buffer / rate`: the 60 s default against 500 bytes/s allows a send
//! buffer of about 90 KB before a reader just above the rate could see a window without a step.
//! Under TLS the count is of plaintext: record overheads (a few percent) are not counted.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// The bit of a write waiting on the client.
const SENDING: u8 = 1;
/// The bit of a read of a request body waiting on the client.
const READING: u8 = 2;

/// The minimum rate: a connection waiting on its client for a whole `window` must move at
/// least `bytes_per_sec × window` bytes in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinRate {
    /// Bytes per second; 0 turns the check off.
    pub bytes_per_sec: u64,
    /// The span over which the rate is measured.
    pub window: Duration,
}

impl Default for MinRate {
    /// 500 bytes/s (Apache's `MinRate`) over 60 s (nginx's and lighttpd's idle write and read
    /// timeouts): 30 KB a minute, far below what a 2G phone moves.
    fn default() -> Self {
        MinRate {
            bytes_per_sec: 500,
            window: Duration::from_secs(60),
        }
    }
}

/// What a connection's IO tells its supervisor: whether it waits on the client, and the bytes
/// it moved since it first did. Lives in the connection's shared counters (`Parsed`).
#[derive(Debug, Default)]
pub(crate) struct Waits {
    waiting: AtomicU8,
    moved: AtomicU64,
}

impl Waits {
    fn waiting(&self) -> u8 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Whether a write waits on the client: the server still has bytes to send.
    pub(crate) fn sending(&self) -> bool {
        self.waiting() & SENDING != 0
    }

    fn moved(&self) -> u64 {
        self.moved.load(Ordering::Relaxed)
    }
}

/// The IO's side: what it last told [`Waits`], so that it stores only changes.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    /// Whether the connection ever waited on its client: only then are bytes counted.
    metering: bool,
    waiting: u8,
}

impl Meter {
    /// `n` bytes were written.
    #[inline]
    pub(crate) fn wrote(&mut self, waits: &Waits, n: usize) {
        if self.metering {
            self.moved(waits, SENDING, n);
        }
    }

    /// `n` bytes were read (0 at the end of the stream).
    #[inline]
    pub(crate) fn read(&mut self, waits: &Waits, n: usize) {
        if self.metering {
            self.moved(waits, READING, n);
        }
    }

    /// A write found the send buffer full.
    pub(crate) fn write_blocked(&mut self, waits: &Waits) {
        self.wait(waits, SENDING);
    }

    /// A read of a request body found nothing to read.
    pub(crate) fn body_awaited(&mut self, waits: &Waits) {
        self.wait(waits, READING);
    }

    fn wait(&mut self, waits: &Waits, bit: u8) {
        self.metering = true;
        if self.waiting & bit == 0 {
            self.waiting |= bit;
            waits.waiting.store(self.waiting, Ordering::Relaxed);
        }
    }

    fn moved(&mut self, waits: &Waits, bit: u8, n: usize) {
        // The IO is the only writer: a load and a store, no locked instruction.
        waits
            .moved
            .store(waits.moved() + n as u64, Ordering::Relaxed);
        if self.waiting & bit != 0 {
            self.waiting &= !bit;
            waits.waiting.store(self.waiting, Ordering::Relaxed);
        }
    }
}

/// A connection closed for moving too little while it waited on its client.
pub(super) struct TooSlow {
    moved: u64,
    window: Duration,
    sending: bool,
}

impl TooSlow {
    /// The log line: the bytes of the window and what the server was doing.
    pub(super) fn message(&self, rate: &MinRate) -> String {
        format!(
            "Connection closed: the client moved {} bytes in {:?} while the server was {} \
             (--min-rate {} bytes/s)",
            self.moved,
            self.window,
            if self.sending {
                "sending the response"
            } else {
                "reading the request body"
            },
            rate.bytes_per_sec
        )
    }
}

/// The supervisor's side: a timer of one window, armed while the connection waits on its
/// client.
pub(super) struct RateCheck {
    rate: MinRate,
    /// The window being measured, and the bytes moved when it began.
    window: Option<(Pin<Box<Sleep>>, u64)>,
}

impl RateCheck {
    /// A check of `rate`, or none when the rate is 0.
    pub(super) fn new(rate: MinRate) -> Option<RateCheck> {
        (rate.bytes_per_sec > 0).then_some(RateCheck { rate, window: None })
    }

    pub(super) fn rate(&self) -> &MinRate {
        &self.rate
    }

    /// Starts a window if none runs and the connection waits on its client; says whether it
    /// did (its timer must then be polled once to be registered). One load per wake otherwise.
    pub(super) fn arm(&mut self, waits: &Waits) -> bool {
        if self.window.is_some() || waits.waiting() == 0 {
            return false;
        }
        let timer = Box::pin(tokio::time::sleep(self.rate.window));
        self.window = Some((timer, waits.moved()));
        true
    }

    /// At the end of a window: `Ready` when the connection waited on its client at its start
    /// and its end and moved too little in between. A body read counts only while a request is
    /// answered (`busy`): one left waiting by a request that is over is no one's wait.
    pub(super) fn poll_window(
        &mut self,
        cx: &mut Context<'_>,
        waits: &Waits,
        busy: bool,
    ) -> Poll<TooSlow> {
        let Some((timer, start)) = &mut self.window else {
            return Poll::Pending;
        };
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let waiting = match waits.waiting() {
            READING if !busy => 0,
            waiting => waiting,
        };
        if waiting == 0 {
            self.window = None;
            return Poll::Pending;
        }
        let moved = waits.moved() - *start;
        let least = self.rate.bytes_per_sec as f64 * self.rate.window.as_secs_f64();
        if (moved as f64) < least {
            return Poll::Ready(TooSlow {
                moved,
                window: self.rate.window,
                sending: waiting & SENDING != 0,
            });
        }
        *start = waits.moved();
        timer.as_mut().reset(Instant::now() + self.rate.window);
        // Registers the new deadline.
        let _ = timer.as_mut().poll(cx);
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_count_from_the_first_wait_and_each_bit_falls_with_its_own_direction() {
        let (waits, mut meter) = (Waits::default(), Meter::default());
        // A connection that never waited counts nothing: the hot path stores nothing.
        meter.wrote(&waits, 100);
        meter.read(&waits, 100);
        assert_eq!((waits.waiting(), waits.moved()), (0, 0));

        meter.write_blocked(&waits);
        meter.body_awaited(&waits);
        assert_eq!(waits.waiting(), SENDING | READING);
        // A read does not end a write's wait, nor the reverse.
        meter.read(&waits, 10);
        assert_eq!((waits.waiting(), waits.moved()), (SENDING, 10));
        meter.wrote(&waits, 5);
        assert_eq!((waits.waiting(), waits.moved()), (0, 15));
        // Once metered, a connection counts every byte, waiting or not.
        meter.wrote(&waits, 1);
        assert_eq!(waits.moved(), 16);
    }

    /// Polls the check once: whether it found the window too slow.
    async fn too_slow(check: &mut RateCheck, waits: &Waits, busy: bool) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(check.poll_window(cx, waits, busy).is_ready())).await
    }

    #[tokio::test]
    async fn a_window_of_waiting_under_the_rate_is_too_slow_and_a_fast_one_is_not() {
        // 100 bytes over each window of 50 ms.
        let rate = MinRate {
            bytes_per_sec: 2000,
            window: Duration::from_millis(50),
        };
        assert!(RateCheck::new(MinRate {
            bytes_per_sec: 0,
            ..rate
        })
        .is_none());
        let mut check = RateCheck::new(rate).expect("on");
        let (waits, mut meter) = (Waits::default(), Meter::default());
        assert!(!check.arm(&waits), "nothing to wait on");
        meter.write_blocked(&waits);
        assert!(check.arm(&waits));
        assert!(!too_slow(&mut check, &waits, true).await);
        // 100 bytes in the first window: enough; the window starts again.
        meter.wrote(&waits, 100);
        meter.write_blocked(&waits);
        tokio::time::sleep(rate.window).await;
        assert!(!too_slow(&mut check, &waits, true).await);
        // 99 in the next: too few.
        meter.wrote(&waits, 99);
        meter.write_blocked(&waits);
        tokio::time::sleep(rate.window).await;
        assert!(too_slow(&mut check, &waits, true).await);
        // A body read left waiting by a request that is over is no one's wait: the window ends
        // without a verdict, and the check disarms.
        let (waits, mut meter) = (Waits::default(), Meter::default());
        let mut check = RateCheck::new(rate).expect("on");
        meter.body_awaited(&waits);
        assert!(check.arm(&waits));
        tokio::time::sleep(rate.window).await;
        assert!(!too_slow(&mut check, &waits, false).await);
        assert!(check.window.is_none());
    }
}
