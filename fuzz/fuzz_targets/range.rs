//! Fuzzes `Range` planning (parse, clamp, sort, merge) against an arbitrary length, and
//! `If-Range`: every part lies within the file, parts are sorted, disjoint and not adjacent,
//! never more than the limit nor more bytes than the file; a weak `If-Range` never lets a range
//! apply (RFC 9110 §13.1.5) and the file's own strong tag always does.

#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use serveur::fuzzing::{range_allowed, range_parts, MAX_RANGE_PARTS};
use serveur::http::header::IF_RANGE;
use serveur::http::{HeaderMap, HeaderValue};

fuzz_target!(|data: &[u8]| {
    // Byte 0 picks the length's size (small files are where ranges meet their ends), byte 1
    // where the `Range` value ends and the `If-Range` value starts.
    let [kind, cut, rest @ ..] = data else {
        return;
    };
    let (len, text) = if kind & 1 == 1 && rest.len() >= 8 {
        let (n, text) = rest.split_at(8);
        (u64::from_le_bytes(n.try_into().expect("8 bytes")), text)
    } else if rest.len() >= 2 {
        (
            u64::from(u16::from_le_bytes([rest[0], rest[1]])),
            &rest[2..],
        )
    } else {
        return;
    };
    let (range, if_range) = text.split_at(usize::from(*cut).min(text.len()));

    if let Ok(value) = HeaderValue::from_bytes(range) {
        match range_parts(&value, len) {
            None => {}
            Some(parts) if parts.is_empty() => assert!(len > 0, "416 for an empty file"),
            Some(parts) => {
                assert!(parts.len() <= MAX_RANGE_PARTS, "{} parts", parts.len());
                let mut sent = 0u64;
                for (i, &(first, last)) in parts.iter().enumerate() {
                    assert!(first <= last && last < len, "{first}-{last} of {len}");
                    if i > 0 {
                        let previous_last = parts[i - 1].1;
                        assert!(first > previous_last + 1, "{parts:?} overlap or touch");
                    }
                    sent += last - first + 1;
                }
                assert!(sent <= len, "{sent} bytes of a {len}-byte file");
            }
        }
    }

    let etag = HeaderValue::from_static("\"5f3a-1b2c\"");
    let modified = UNIX_EPOCH + Duration::from_secs(len % (1 << 34));
    let mut same_tag = HeaderMap::new();
    same_tag.insert(IF_RANGE, etag.clone());
    assert!(range_allowed(&same_tag, &etag, modified));
    if let Ok(value) = HeaderValue::from_bytes(if_range) {
        let mut headers = HeaderMap::new();
        headers.insert(IF_RANGE, value.clone());
        let allowed = range_allowed(&headers, &etag, modified);
        assert!(
            !(allowed && value.as_bytes().starts_with(b"W/")),
            "weak {value:?} allowed"
        );
    }
});
