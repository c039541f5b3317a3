//! CPython's 414 at the moment a request line passes its limit. CPython reads the request line
//! with `readline(65537)` and answers 414 as soon as it has 65,537 bytes without a line end;
//! hyper only gives up on a head when its whole buffer (about 400 KiB) is full, or the client
//! stops and the header timeout fires. [`LongLine`] counts, on the read side of the
//! [`Guard`](super::Guard), the bytes of a first line still without its end while the
//! connection waits for a head.
//!
//! "Waits for a head" must be certain, or a body would be taken for a request line: so the
//! count runs only while no request is being answered and only on a connection that has not
//! carried a request body (after a body, hyper alone knows where the next head starts; its
//! buffer limit and the header timeout still bound such a connection).

use super::python_rules::MAX_LINE;
use super::Parsed;

/// The first line of the head being received, as far as it has come.
#[derive(Default)]
pub(super) struct LongLine {
    /// The request count when the connection was last seen waiting for a head: the count is
    /// restarted when it changes, since a new head has begun.
    waiting_after: Option<usize>,
    /// Bytes of the first line so far (leading empty lines, which hyper skips, not counted).
    unended: usize,
    /// Whether the first line has ended: then nothing more is counted until the next head.
    ended: bool,
}

impl LongLine {
    /// Notes `fresh` bytes just read: `true` when they take a request line past CPython's
    /// limit. Costs a look at the connection's counters per read, and a search for a line end
    /// only in the bytes of a head's first line.
    pub(super) fn passes_limit(&mut self, fresh: &[u8], parsed: &Parsed) -> bool {
        if fresh.is_empty() {
            return false;
        }
        let (requests, finished) = parsed.activity();
        if requests > finished || parsed.had_body() {
            self.waiting_after = None;
            return false;
        }
        if self.waiting_after != Some(requests) {
            *self = LongLine {
                waiting_after: Some(requests),
                ..LongLine::default()
            };
        }
        if self.ended {
            return false;
        }
        let start = if self.unended == 0 {
            fresh.iter().position(|&b| b != b'\r' && b != b'\n')
        } else {
            Some(0)
        };
        let Some(line) = start.map(|start| &fresh[start..]) else {
            return false;
        };
        // Lines end in order, so a line end anywhere in `line` ends the first line. A head
        // usually arrives whole and ends in one: the search is rarely needed.
        if line.last() == Some(&b'\n') || line.contains(&b'\n') {
            self.ended = true;
            return false;
        }
        self.unended += line.len();
        self.unended > MAX_LINE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_line_over_the_limit_is_seen_the_read_it_passes_it() {
        let parsed = Parsed::default();
        let mut line = LongLine::default();
        // Leading empty lines do not count; `GET /` does.
        assert!(!line.passes_limit(b"\r\nGET /", &parsed));
        let rest = MAX_LINE - "GET /".len();
        assert!(!line.passes_limit(&vec![b'a'; rest / 2], &parsed));
        assert!(!line.passes_limit(&vec![b'a'; rest - rest / 2], &parsed));
        // 65,536 bytes and no line end yet: CPython still reads; one more is over.
        assert!(line.passes_limit(b"a", &parsed));
    }

    #[test]
    fn ended_lines_heads_of_later_requests_and_bodies_are_not_counted() {
        let parsed = Parsed::default();
        let mut line = LongLine::default();
        assert!(!line.passes_limit(b"GET / HTTP/1.1\r\nX-Long: ", &parsed));
        assert!(!line.passes_limit(&vec![b'a'; MAX_LINE + 10], &parsed));
        // A request being answered: what comes may be its body, or pipelined.
        parsed.bump(http::Version::HTTP_11);
        assert!(!line.passes_limit(&vec![b'a'; MAX_LINE + 10], &parsed));
        // Answered: the next head starts afresh.
        parsed.finish();
        assert!(!line.passes_limit(&vec![b'a'; MAX_LINE], &parsed));
        assert!(line.passes_limit(b"aa", &parsed));
        // Once a request carried a body, hyper alone knows where heads start.
        parsed.note_body();
        let mut line = LongLine::default();
        assert!(!line.passes_limit(&vec![b'a'; MAX_LINE + 10], &parsed));
    }
}
