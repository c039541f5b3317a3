//! Conditional requests, evaluated in the order of RFC 9110 §13.2.2: `If-Match`, else
//! `If-Unmodified-Since` (→ 412); then `If-None-Match` (→ 304), else `If-Modified-Since`
//! (→ 304; ignored when `If-None-Match` is present, as CPython's `send_head` and §13.1.3 say);
//! `If-Range` last, deciding whether a `Range` applies. Header values are read with the
//! `headers` crate; dates compare at one-second resolution, as HTTP dates carry them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use headers::{
    ETag, Header, HeaderMapExt, IfMatch, IfModifiedSince, IfNoneMatch, IfRange, IfUnmodifiedSince,
};
use http::header::{IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE};
use http::{HeaderMap, HeaderName, HeaderValue};

/// What the preconditions of a GET or HEAD say.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Answer normally.
    Proceed,
    /// `304 Not Modified`.
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// Evaluates the preconditions of a GET or HEAD against the selected representation's `etag`
/// and modification time.
pub(super) fn evaluate(headers: &HeaderMap, etag: &HeaderValue, modified: SystemTime) -> Verdict {
    // The plain request carries none of these: decide without parsing anything.
    if !has_any(
        headers,
        &[
            IF_MATCH,
            IF_UNMODIFIED_SINCE,
            IF_NONE_MATCH,
            IF_MODIFIED_SINCE,
        ],
    ) {
        return Verdict::Proceed;
    }
    let has = |name| headers.contains_key(name);
    let tag = parse_tag(etag);
    // Step 1, else step 2.
    if has(IF_MATCH) {
        // An If-Match that cannot be parsed matches nothing.
        let passes = tags_well_formed(headers.get_all(IF_MATCH))
            .then(|| headers.typed_get::<IfMatch>())
            .flatten()
            .zip(tag.as_ref())
            .is_some_and(|(m, t)| m.precondition_passes(t));
        if !passes {
            return Verdict::Failed;
        }
    } else if let Some(since) = headers.typed_get::<IfUnmodifiedSince>() {
        if !since.precondition_passes(modified) {
            return Verdict::Failed;
        }
    }
    // Step 3, else step 4.
    if has(IF_NONE_MATCH) {
        let matched = tags_well_formed(headers.get_all(IF_NONE_MATCH))
            .then(|| headers.typed_get::<IfNoneMatch>())
            .flatten()
            .zip(tag.as_ref())
            .is_some_and(|(m, t)| !m.precondition_passes(t));
        if matched {
            return Verdict::NotModified;
        }
    } else if let Some(since) = headers.typed_get::<IfModifiedSince>() {
        // An unparsable date is ignored (typed_get gives None), as CPython ignores it.
        if !since.is_modified(modified) {
            return Verdict::NotModified;
        }
    }
    Verdict::Proceed
}

/// Whether `headers` has a field of any of these `names`, in one pass over a request's few
/// fields: each `contains_key` or `get` of an absent name hashes it and probes the map (~85 to
/// ~125 instructions, callgrind), and the plain request has none of the names asked about.
pub(super) fn has_any(headers: &HeaderMap, names: &[HeaderName]) -> bool {
    headers.keys().any(|name| names.contains(name))
}

/// Step 5: whether a `Range` may be honoured. Without `If-Range`, yes. With an entity tag, only
/// if it is strongly equal to `etag`; with a date, only if it is exactly the modification time
/// and that time is a strong validator, at least a second old (RFC 9110 §13.1.5, §8.8.2.2).
pub(crate) fn range_allowed(headers: &HeaderMap, etag: &HeaderValue, modified: SystemTime) -> bool {
    let Some(value) = headers.get(IF_RANGE) else {
        return true;
    };
    let bytes = value.as_bytes();
    if bytes.starts_with(b"\"") || bytes.starts_with(b"W/") {
        if !tags_well_formed([value]) {
            return false;
        }
        let if_range = IfRange::decode(&mut std::iter::once(value)).ok();
        return if_range
            .zip(parse_tag(etag))
            .is_some_and(|(r, t)| !r.is_modified(Some(&t), None));
    }
    let Some(date) = value
        .to_str()
        .ok()
        .and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        return false;
    };
    let modified = whole_seconds(modified);
    let strong = SystemTime::now()
        .duration_since(modified)
        .is_ok_and(|age| age >= Duration::from_secs(1));
    date == modified && strong
}

/// Whether every quoted entity tag in these values holds only `etagc` (RFC 9110 §8.8.3:
/// `%x21 / %x23-7E / obs-text`). The `headers` crate only debug-asserts it, so a space inside
/// quotes (`If-Range: "a b"`) panicked a debug build (found by fuzz/range): such a field is
/// malformed, and treated as unparsable before it reaches the crate.
fn tags_well_formed<'a>(values: impl IntoIterator<Item = &'a HeaderValue>) -> bool {
    values.into_iter().all(|value| {
        let mut quoted = false;
        value.as_bytes().iter().all(|&b| {
            quoted ^= b == b'"';
            !quoted || (b > b' ' && b != 0x7f)
        })
    })
}

fn parse_tag(etag: &HeaderValue) -> Option<ETag> {
    ETag::decode(&mut std::iter::once(etag)).ok()
}

/// `modified` truncated to whole seconds, as HTTP dates carry it.
pub(super) fn whole_seconds(modified: SystemTime) -> SystemTime {
    let secs = modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "\"abc\"";

    fn verdict(pairs: &[(&'static str, &str)], mtime: SystemTime) -> Verdict {
        evaluate(&headers(pairs), &HeaderValue::from_static(TAG), mtime)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).expect("valid header"));
        }
        map
    }

    fn mtime() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_700_000_000_900)
    }

    fn date(offset_secs: i64) -> String {
        let base = whole_seconds(mtime());
        let t = if offset_secs >= 0 {
            base + Duration::from_secs(offset_secs.unsigned_abs())
        } else {
            base - Duration::from_secs(offset_secs.unsigned_abs())
        };
        httpdate::fmt_http_date(t)
    }

    #[test]
    fn if_modified_since_at_or_after_mtime_is_not_modified() {
        let at = date(0);
        let before = date(-1);
        assert_eq!(
            verdict(&[("if-modified-since", &at)], mtime()),
            Verdict::NotModified
        );
        assert_eq!(
            verdict(&[("if-modified-since", &before)], mtime()),
            Verdict::Proceed
        );
        assert_eq!(
            verdict(&[("if-modified-since", "yesterday")], mtime()),
            Verdict::Proceed
        );
    }

    #[test]
    fn if_none_match_disables_if_modified_since() {
        let at = date(0);
        let pairs = [
            ("if-modified-since", at.as_str()),
            ("if-none-match", "\"x\""),
        ];
        assert_eq!(verdict(&pairs, mtime()), Verdict::Proceed);
    }

    #[test]
    fn precedence_of_rfc_9110_13_2_2() {
        let old = date(-10);
        let new = date(10);
        // If-Match failing wins over everything after it.
        let pairs = [("if-match", "\"nope\""), ("if-none-match", TAG)];
        assert_eq!(verdict(&pairs, mtime()), Verdict::Failed);
        // A matching If-Match makes If-Unmodified-Since irrelevant.
        let pairs = [("if-match", TAG), ("if-unmodified-since", old.as_str())];
        assert_eq!(verdict(&pairs, mtime()), Verdict::Proceed);
        let pairs = [("if-unmodified-since", old.as_str())];
        assert_eq!(verdict(&pairs, mtime()), Verdict::Failed);
        // Weak comparison for If-None-Match, strong for If-Match.
        let pairs = [("if-none-match", "W/\"abc\"")];
        assert_eq!(verdict(&pairs, mtime()), Verdict::NotModified);
        let pairs = [("if-match", "W/\"abc\"")];
        assert_eq!(verdict(&pairs, mtime()), Verdict::Failed);
        let pairs = [("if-match", "*"), ("if-modified-since", new.as_str())];
        assert_eq!(verdict(&pairs, mtime()), Verdict::NotModified);
    }

    #[test]
    fn if_range_needs_a_strong_tag_or_the_exact_date() {
        let etag = HeaderValue::from_static(TAG);
        let allowed = |v: &str| range_allowed(&headers(&[("if-range", v)]), &etag, mtime());
        assert!(range_allowed(&HeaderMap::new(), &etag, mtime()));
        assert!(allowed(TAG));
        assert!(!allowed("W/\"abc\""));
        assert!(!allowed("\"other\""));
        assert!(allowed(&date(0)));
        assert!(!allowed(&date(1)));
        assert!(!allowed("garbage"));
    }

    /// fuzz/range found that a space inside a quoted tag reached the `headers` crate's
    /// debug assertion: a panic in a debug build. Such a field is malformed: it matches nothing.
    #[test]
    fn a_space_or_tab_inside_a_quoted_tag_is_malformed_not_a_panic() {
        let etag = HeaderValue::from_static(TAG);
        for bad in ["\"a b\"", "W/\"a\tb\"", "\"x\", \"a b\""] {
            assert!(!range_allowed(
                &headers(&[("if-range", bad)]),
                &etag,
                mtime()
            ));
            assert_eq!(verdict(&[("if-match", bad)], mtime()), Verdict::Failed);
            assert_eq!(
                verdict(&[("if-none-match", bad)], mtime()),
                Verdict::Proceed
            );
        }
        // Spaces between the tags of a list are not inside one.
        let list = format!("\"x\" , {TAG}");
        assert_eq!(
            verdict(&[("if-none-match", &list)], mtime()),
            Verdict::NotModified
        );
    }
}
