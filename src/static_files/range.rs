//! Byte ranges (RFC 9110 §14.1.2): the `Range` header read against a representation's length.
//!
//! The crates at hand either fold "malformed" into "unsatisfiable" (`http-range-header`: the
//! first must be ignored, the second answered with 416) or mis-handle long suffixes
//! (`headers::Range`), so the small grammar is read here. Ranges are sorted and overlapping or
//! adjacent ones merged (§14.6 allows it), so the parts never add up to more than the file;
//! a header that still asks for many parts is ignored and the whole file sent with 200, which
//! keeps CVE-2011-3192's amplification out of reach.

use http::HeaderValue;

/// Range specs read at most; a longer header is ignored rather than parsed.
const MAX_SPECS: usize = 100;

/// Parts served at most after merging; more and the whole file is sent instead.
pub(crate) const MAX_PARTS: usize = 16;

/// An inclusive byte range of a representation, never empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
}

impl ByteRange {
    /// The number of bytes in the range.
    pub(crate) fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// `Content-Range: bytes START-END/TOTAL`.
    pub(crate) fn content_range(&self, total: u64) -> HeaderValue {
        HeaderValue::try_from(format!("bytes {}-{}/{total}", self.start, self.end))
            .unwrap_or_else(|_| HeaderValue::from_static("bytes */0"))
    }
}

/// What a `Range` header asks of a representation of a given length.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Send the whole representation with 200: the header is malformed, of another unit, asks
    /// for too many parts, or the representation is empty.
    Whole,
    /// Send these parts with 206: sorted, disjoint, non-adjacent, at most [`MAX_PARTS`].
    Parts(Vec<ByteRange>),
    /// No range overlaps the representation: 416 with `Content-Range: bytes */LEN`.
    Unsatisfiable,
}

/// Reads `value` against a representation of `len` bytes.
pub(crate) fn plan(value: &HeaderValue, len: u64) -> Plan {
    let Some(specs) = parse(value.as_bytes()) else {
        return Plan::Whole;
    };
    if len == 0 {
        // Nothing to slice: the empty representation is sent whole (as Apache does).
        return Plan::Whole;
    }
    let mut ranges: Vec<ByteRange> = specs.into_iter().filter_map(|s| s.clamp(len)).collect();
    if ranges.is_empty() {
        return Plan::Unsatisfiable;
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end.saturating_add(1) => {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    if merged.len() > MAX_PARTS {
        return Plan::Whole;
    }
    Plan::Parts(merged)
}

/// One `byte-range-spec` or `suffix-range` as written.
#[derive(Debug, PartialEq, Eq)]
enum Spec {
    /// `first-` or `first-last`.
    From { first: u64, last: Option<u64> },
    /// `-length`: the last `length` bytes.
    Suffix(u64),
}

impl Spec {
    /// The part of a `len`-byte representation this spec selects, if any (§14.1.1).
    fn clamp(&self, len: u64) -> Option<ByteRange> {
        match *self {
            Spec::From { first, last } => (first < len).then(|| ByteRange {
                start: first,
                end: last.map_or(len - 1, |l| l.min(len - 1)),
            }),
            Spec::Suffix(0) => None,
            Spec::Suffix(n) => Some(ByteRange {
                start: len.saturating_sub(n),
                end: len - 1,
            }),
        }
    }
}

/// `bytes=spec, spec, …` (the unit is case-insensitive; empty list members are allowed,
/// §5.6.1); `None` when anything is malformed, including `first > last`.
fn parse(value: &[u8]) -> Option<Vec<Spec>> {
    let (unit, set) = value.split_at(value.iter().position(|&b| b == b'=')?);
    if !unit.trim_ascii().eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let mut specs = Vec::new();
    for member in set[1..].split(|&b| b == b',') {
        let member = member.trim_ascii();
        if member.is_empty() {
            continue;
        }
        if specs.len() == MAX_SPECS {
            return None;
        }
        let dash = member.iter().position(|&b| b == b'-')?;
        let (first, last) = (&member[..dash], &member[dash + 1..]);
        let spec = if first.is_empty() {
            Spec::Suffix(number(last)?)
        } else {
            let first = number(first)?;
            let last = if last.is_empty() {
                None
            } else {
                Some(number(last)?)
            };
            if last.is_some_and(|l| l < first) {
                return None;
            }
            Spec::From { first, last }
        };
        specs.push(spec);
    }
    (!specs.is_empty()).then_some(specs)
}

/// `1*DIGIT`; values past `u64::MAX` saturate (they lie beyond any file anyway).
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(value: &'static str, len: u64) -> Plan {
        plan(&HeaderValue::from_static(value), len)
    }

    fn parts(list: &[(u64, u64)]) -> Plan {
        Plan::Parts(
            list.iter()
                .map(|&(start, end)| ByteRange { start, end })
                .collect(),
        )
    }

    #[test]
    fn single_suffix_and_open_ranges() {
        assert_eq!(plan_of("bytes=0-499", 10000), parts(&[(0, 499)]));
        assert_eq!(plan_of("bytes=-500", 10000), parts(&[(9500, 9999)]));
        assert_eq!(plan_of("bytes=9500-", 10000), parts(&[(9500, 9999)]));
        assert_eq!(plan_of("bytes=-20000", 10000), parts(&[(0, 9999)]));
        assert_eq!(plan_of("bytes=9990-20000", 10000), parts(&[(9990, 9999)]));
        assert_eq!(plan_of("BYTES = 1-1", 10), parts(&[(1, 1)]));
    }

    #[test]
    fn overlapping_and_adjacent_ranges_merge_in_order() {
        assert_eq!(
            plan_of("bytes=50-60, 0-9, 10-19, 5-12, 100-", 200),
            parts(&[(0, 19), (50, 60), (100, 199)])
        );
        assert_eq!(plan_of("bytes=0-0,0-0,0-0,0-0", 10), parts(&[(0, 0)]));
    }

    #[test]
    fn malformed_or_foreign_headers_are_ignored() {
        for value in [
            "bytes=5-1",
            "bytes=a-b",
            "bytes=",
            "items=0-1",
            "bytes 0-1",
            "bytes=1-2-3",
            "bytes=-",
        ] {
            assert_eq!(plan_of(value, 100), Plan::Whole, "{value}");
        }
    }

    #[test]
    fn unsatisfiable_when_no_range_overlaps() {
        assert_eq!(plan_of("bytes=100-", 100), Plan::Unsatisfiable);
        assert_eq!(plan_of("bytes=-0", 100), Plan::Unsatisfiable);
        assert_eq!(plan_of("bytes=100-200, 300-", 100), Plan::Unsatisfiable);
        assert_eq!(plan_of("bytes=0-1", 0), Plan::Whole);
    }

    #[test]
    fn many_parts_are_refused_never_amplified() {
        let many: String = (0..17).map(|i| format!("{}-{},", i * 10, i * 10)).collect();
        let value = HeaderValue::from_str(&format!("bytes={many}")).expect("header");
        assert_eq!(plan(&value, 1000), Plan::Whole);
        let too_long: String = (0..101).map(|_| "0-0,").collect();
        let value = HeaderValue::from_str(&format!("bytes={too_long}")).expect("header");
        assert_eq!(plan(&value, 1000), Plan::Whole);
        // Ninety overlapping whole-file ranges collapse into one part.
        let overlapping: String = (0..90).map(|_| "0-,").collect();
        let value = HeaderValue::from_str(&format!("bytes={overlapping}")).expect("header");
        assert_eq!(plan(&value, 1000), parts(&[(0, 999)]));
    }
}
