//! Entity tags (RFC 9110 §8.8.3) made from a file's identity: inode, size and modification time
//! to the nanosecond, so any change of the bytes on disk (or a replacement by rename) changes
//! the tag, with no need to read the file. Each representation gets its own tag: identity
//! `"i-s-m"`, a precompressed sibling `"i-s-m-br"` (the sibling's own identity), and on-the-fly
//! output `W/"i-s-m-gzip"`, weak because the compressor's exact bytes are not promised
//! (nginx weakens its tags the same way when it gzips).

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use http::HeaderValue;

use super::encoding::{Coding, Encoding};

/// The `ETag` of the representation `coding` whose bytes (identity or stored) or source
/// (on the fly) are described by `metadata`. Formatted once per response.
pub(crate) fn of(metadata: &Metadata, coding: Coding) -> HeaderValue {
    let mut tag = String::with_capacity(64);
    if matches!(coding, Coding::OnTheFly(_)) {
        tag.push_str("W/");
    }
    tag.push('"');
    push_hex(&mut tag, metadata.ino());
    tag.push('-');
    push_hex(&mut tag, metadata.size());
    tag.push('-');
    // `{:x}` of the signed seconds, as the tag has always been written (two's complement for
    // a time before 1970).
    push_hex(&mut tag, metadata.mtime() as u64);
    tag.push('.');
    push_hex(&mut tag, metadata.mtime_nsec() as u64);
    if let Some(encoding) = coding.encoding() {
        tag.push('-');
        tag.push_str(encoding.token());
    }
    tag.push('"');
    // Only hex digits, quotes, `W/`, `-`, `.` and coding names: always a valid header value.
    HeaderValue::try_from(tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// The `ETag` of a file's own bytes, as a download of it carries: what an upload's `If-Match`
/// names.
pub(crate) fn of_file(metadata: &Metadata) -> HeaderValue {
    of(metadata, Coding::Identity)
}

/// `tag` for a page whose entries depend on who asks (a listing behind access control): the
/// viewer's mark is added, so one user's copy is never revalidated as another's (a browser
/// shared by two accounts would otherwise get a 304 for a page that differs between them).
/// The mark is a 64-bit FNV-1a of the user name, stable across restarts as the tag is.
pub(crate) fn for_viewer(tag: &HeaderValue, user: Option<&str>) -> HeaderValue {
    let mut mark = String::from("v");
    push_hex(&mut mark, fnv1a(user.unwrap_or("").as_bytes()));
    marked(tag, &mark)
}

/// The mark for a page that shows more than its directory's metadata tells (the rich listing
/// and the JSON: each entry's size and time, the README), added to the directory's tag with
/// [`marked`]: the page's length and CRC-32. Made once per page rendered (a kept page keeps
/// it). A CRC rather than FNV-1a: the page of 10,000 entries is megabytes, which FNV reads a
/// byte at a time (5% of such a listing's instructions, callgrind) and crc32fast with SIMD; the
/// length and the directory's own tag around it leave a changed page with the same tag a chance
/// of one in 2³² at most.
pub(crate) fn content_mark(page: &[u8]) -> String {
    let mut mark = String::from("c");
    push_hex(&mut mark, page.len() as u64);
    mark.push('.');
    push_hex(&mut mark, u64::from(crc32fast::hash(page)));
    mark
}

/// 64-bit FNV-1a; a `const fn`, so that the built-in assets' hashes are part of the binary.
pub(super) const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// `tag` with `-mark` added inside its quotes: the tag of another representation made from the
/// same source (the JSON listing of a directory, `"…-json"`).
pub(crate) fn marked(tag: &HeaderValue, mark: &str) -> HeaderValue {
    let bytes = tag.as_bytes();
    let mut marked = String::with_capacity(bytes.len() + mark.len() + 1);
    marked.push_str(std::str::from_utf8(&bytes[..bytes.len() - 1]).unwrap_or("\"0"));
    marked.push('-');
    marked.push_str(mark);
    marked.push('"');
    HeaderValue::try_from(marked).unwrap_or_else(|_| tag.clone())
}

/// `value` in lower-case hex without leading zeros, as `{:x}` writes it: by hand because
/// `core::fmt` made the tag cost 1,400 instructions per response (callgrind), a 16th of a
/// whole small-file request.
pub(super) fn push_hex(out: &mut String, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut shift = (60 - value.leading_zeros().min(60) / 4 * 4) as i32;
    while shift >= 0 {
        out.push(char::from(DIGITS[((value >> shift) & 0xf) as usize]));
        shift -= 4;
    }
}

/// The coding an entity tag of ours names by its suffix (`"…-br"` → br), for an `If-Range`
/// that resumes a precompressed download. Weak tags never qualify (If-Range compares strongly).
pub(crate) fn stored_coding(tag: &[u8]) -> Option<Encoding> {
    let inner = tag.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    Encoding::ALL.into_iter().find(|e| {
        let token = e.token().as_bytes();
        inner.len() > token.len()
            && inner.ends_with(token)
            && inner[inner.len() - token.len() - 1] == b'-'
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewer_mark_tells_users_apart_and_keeps_the_tag_valid() {
        let tag = HeaderValue::from_static("\"1f-2a-5f.0\"");
        let alice = for_viewer(&tag, Some("alice"));
        let anonymous = for_viewer(&tag, None);
        assert_ne!(alice, anonymous);
        assert_eq!(alice, for_viewer(&tag, Some("alice")), "stable");
        let text = alice.to_str().expect("text");
        assert!(
            text.starts_with("\"1f-2a-5f.0-v") && text.ends_with('"'),
            "{text}"
        );
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // The FNV test suite's values for "" and "a".
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn hex_is_written_as_format_writes_it() {
        for value in [
            0,
            1,
            0xf,
            0x10,
            0xabc,
            u64::from(u32::MAX),
            u64::MAX,
            1 << 63,
        ] {
            let mut out = String::new();
            push_hex(&mut out, value);
            assert_eq!(out, format!("{value:x}"));
        }
    }

    #[test]
    fn each_representation_has_its_own_tag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "x").expect("write");
        let meta = std::fs::metadata(&path).expect("stat");
        let identity = of(&meta, Coding::Identity);
        let stored = of(&meta, Coding::Stored(Encoding::Brotli));
        let fly = of(&meta, Coding::OnTheFly(Encoding::Gzip));
        assert!(identity.as_bytes().starts_with(b"\"") && identity.as_bytes().ends_with(b"\""));
        assert!(stored.as_bytes().ends_with(b"-br\""));
        assert!(fly.as_bytes().starts_with(b"W/\"") && fly.as_bytes().ends_with(b"-gzip\""));
        assert_ne!(identity, stored);
        assert_eq!(stored_coding(stored.as_bytes()), Some(Encoding::Brotli));
        assert_eq!(stored_coding(identity.as_bytes()), None);
        assert_eq!(stored_coding(fly.as_bytes()), None);
    }
}
