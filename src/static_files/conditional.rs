//! Conditional GET as CPython's `send_head` does it: `If-Modified-Since` is honoured only when
//! `If-None-Match` is absent (RFC 9110 §13.1.3), compared at one-second resolution.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{IF_MODIFIED_SINCE, IF_NONE_MATCH};
use http::HeaderMap;

/// Whether a response for a resource last modified at `modified` may be a `304 Not Modified`.
pub fn not_modified(headers: &HeaderMap, modified: SystemTime) -> bool {
    if headers.contains_key(IF_NONE_MATCH) {
        return false;
    }
    let Some(since) = headers
        .get(IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        // An unparsable date is ignored, as CPython ignores it.
        return false;
    };
    whole_seconds(modified) <= since
}

/// `modified` truncated to whole seconds, as HTTP dates carry it.
pub fn whole_seconds(modified: SystemTime) -> SystemTime {
    let secs = modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).expect("valid header"));
        }
        map
    }

    #[test]
    fn if_modified_since_at_or_after_mtime_is_not_modified() {
        let mtime = UNIX_EPOCH + Duration::from_millis(1_700_000_000_900);
        let date = httpdate::fmt_http_date(whole_seconds(mtime));
        assert!(not_modified(
            &headers(&[("if-modified-since", &date)]),
            mtime
        ));
        let earlier = httpdate::fmt_http_date(whole_seconds(mtime) - Duration::from_secs(1));
        assert!(!not_modified(
            &headers(&[("if-modified-since", &earlier)]),
            mtime
        ));
    }

    #[test]
    fn if_none_match_disables_if_modified_since() {
        let mtime = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(mtime);
        assert!(!not_modified(
            &headers(&[("if-modified-since", &date), ("if-none-match", "\"x\"")]),
            mtime
        ));
    }

    #[test]
    fn garbage_date_is_ignored() {
        let mtime = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert!(!not_modified(
            &headers(&[("if-modified-since", "yesterday")]),
            mtime
        ));
    }
}
