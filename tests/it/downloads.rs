//! Validators, conditional requests and byte ranges, over real sockets against the binary:
//! ETag and Last-Modified, the RFC 9110 §13.2.2 precedence table, single and multipart ranges
//! (parsed back with multer), 416, If-Range, HEAD, and `curl -C -` resuming a download.

use std::path::Path;
use std::process::Command;

use crate::support::{age, parse_byteranges, request, sample_bytes, Reply, Serveur};

/// A served directory: `data.bin` (3000 bytes of noise, modified an hour ago) and `empty.bin`.
fn fixture() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = sample_bytes(3000);
    std::fs::write(dir.path().join("data.bin"), &data).expect("write");
    age(&dir.path().join("data.bin"), 3600);
    std::fs::write(dir.path().join("empty.bin"), b"").expect("write");
    (dir, data)
}

fn get(server: &Serveur, path: &str, headers: &[(&str, &str)]) -> Reply {
    request(server.addr, "GET", path, headers)
}

#[test]
fn plain_get_carries_a_strong_etag_last_modified_and_accept_ranges() {
    let (dir, data) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    let reply = get(&server, "/data.bin", &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, data);
    let etag = reply.header("etag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(reply.header("accept-ranges"), "bytes");
    assert!(!reply.header("last-modified").is_empty());
    // Not compressible: the answer never varies by Accept-Encoding.
    assert_eq!(reply.header("vary"), "");
    // The same file gives the same tag; a rewrite gives another.
    assert_eq!(get(&server, "/data.bin", &[]).header("etag"), etag);
    std::fs::write(dir.path().join("data.bin"), &data[..10]).expect("rewrite");
    assert_ne!(get(&server, "/data.bin", &[]).header("etag"), etag);
}

#[test]
fn if_none_match_compares_weakly_and_answers_304_with_the_etag() {
    let (dir, _) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    let etag = get(&server, "/data.bin", &[]).header("etag").to_owned();
    let weak = format!("W/{etag}");
    let list = format!("\"other\", {weak}");
    for value in [etag.as_str(), weak.as_str(), list.as_str(), "*"] {
        let reply = get(&server, "/data.bin", &[("if-none-match", value)]);
        assert_eq!(reply.status, 304, "{value}");
        assert_eq!(reply.header("etag"), etag);
        assert!(reply.body.is_empty());
    }
    let reply = get(&server, "/data.bin", &[("if-none-match", "\"other\"")]);
    assert_eq!(reply.status, 200);
}

#[test]
fn conditional_headers_follow_the_rfc_9110_precedence_table() {
    let (dir, _) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    let (etag, weak, modified) = validators(&server);
    let past = "Thu, 01 Jan 2004 00:00:00 GMT";
    let future = "Fri, 01 Jan 2100 00:00:00 GMT";
    let table: Vec<(Vec<(&str, &str)>, u16)> = vec![
        // 1. If-Match: strong comparison; a failure wins over every later header.
        (vec![("if-match", &etag)], 200),
        (vec![("if-match", "*")], 200),
        (vec![("if-match", &weak)], 412),
        (
            vec![("if-match", "\"other\""), ("if-none-match", &etag)],
            412,
        ),
        (vec![("if-match", "\"other\""), ("range", "bytes=0-1")], 412),
        // 2. If-Unmodified-Since, only without If-Match.
        (vec![("if-unmodified-since", past)], 412),
        (vec![("if-unmodified-since", &modified)], 200),
        (vec![("if-unmodified-since", future)], 200),
        (
            vec![("if-match", &etag), ("if-unmodified-since", past)],
            200,
        ),
        // 3. If-None-Match: weak comparison, 304 for GET.
        (vec![("if-match", &etag), ("if-none-match", &etag)], 304),
        (
            vec![("if-unmodified-since", future), ("if-none-match", &weak)],
            304,
        ),
        (vec![("if-none-match", &etag), ("range", "bytes=0-1")], 304),
        // 4. If-Modified-Since, ignored when If-None-Match is present (CPython does the same).
        (vec![("if-modified-since", &modified)], 304),
        (vec![("if-modified-since", future)], 304),
        (vec![("if-modified-since", past)], 200),
        (vec![("if-modified-since", "not a date")], 200),
        (
            vec![
                ("if-none-match", "\"other\""),
                ("if-modified-since", future),
            ],
            200,
        ),
        (
            vec![("if-unmodified-since", past), ("if-modified-since", future)],
            412,
        ),
        // 5. If-Range decides between 206 and 200 after the rest passed.
        (
            vec![("if-modified-since", past), ("range", "bytes=0-1")],
            206,
        ),
        (vec![("if-range", &etag), ("range", "bytes=0-1")], 206),
        (vec![("if-range", "\"stale\""), ("range", "bytes=0-1")], 200),
    ];
    for (headers, expected) in table {
        let reply = get(&server, "/data.bin", &headers);
        assert_eq!(reply.status, expected, "{headers:?}");
    }
}

/// The ETag of `/data.bin`, its weak form, and its Last-Modified.
fn validators(server: &Serveur) -> (String, String, String) {
    let first = get(server, "/data.bin", &[]);
    let etag = first.header("etag").to_owned();
    let weak = format!("W/{etag}");
    (etag, weak, first.header("last-modified").to_owned())
}

#[test]
fn single_suffix_and_open_ranges_get_206_with_content_range() {
    let (dir, data) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    let cases = [
        ("bytes=0-499", 0, 499),
        ("bytes=-500", 2500, 2999),
        ("bytes=2900-", 2900, 2999),
        ("bytes=2990-9999", 2990, 2999),
        ("bytes=-99999", 0, 2999),
    ];
    for (range, start, end) in cases {
        let reply = get(&server, "/data.bin", &[("range", range)]);
        assert_eq!(reply.status, 206, "{range}");
        assert_eq!(
            reply.header("content-range"),
            format!("bytes {start}-{end}/3000")
        );
        assert_eq!(
            reply.header("content-length"),
            (end - start + 1).to_string()
        );
        assert_eq!(reply.body, data[start..=end], "{range}");
        assert_eq!(reply.header("content-type"), "application/octet-stream");
    }
}

#[test]
fn several_ranges_come_back_as_multipart_byteranges_coalesced_and_in_order() {
    let (dir, data) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    // 0-9 and 5-19 overlap, 20-29 is adjacent: one part. -100 is the last hundred bytes.
    let reply = get(
        &server,
        "/data.bin",
        &[("range", "bytes=2000-2099, 0-9, 5-19, 20-29, -100")],
    );
    assert_eq!(reply.status, 206);
    assert_eq!(reply.header("content-length"), reply.body.len().to_string());
    let parts = parse_byteranges(&reply);
    let expected = [(0, 29), (2000, 2099), (2900, 2999)];
    assert_eq!(parts.len(), expected.len());
    for ((content_type, content_range, bytes), (start, end)) in parts.iter().zip(expected) {
        assert_eq!(content_type, "application/octet-stream");
        assert_eq!(content_range, &format!("bytes {start}-{end}/3000"));
        assert_eq!(bytes.as_ref(), &data[start..=end]);
    }
}

#[test]
fn many_ranges_are_answered_whole_never_amplified() {
    let (dir, data) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    // 17 disjoint parts after merging: more than serveur cuts, so the file comes whole.
    let many: Vec<String> = (0..17).map(|i| format!("{0}-{0}", i * 100)).collect();
    let header = format!("bytes={}", many.join(","));
    let reply = get(&server, "/data.bin", &[("range", &header)]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, data);
    // The CVE-2011-3192 shape: the whole file asked for many times over is one part.
    let repeated = format!("bytes={}", vec!["0-"; 50].join(","));
    let reply = get(&server, "/data.bin", &[("range", &repeated)]);
    assert_eq!(reply.status, 206);
    assert_eq!(reply.body.len(), data.len());
}

#[test]
fn unsatisfiable_range_gets_416_with_the_length() {
    let (dir, _) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    for range in ["bytes=3000-", "bytes=5000-6000", "bytes=-0"] {
        let reply = get(&server, "/data.bin", &[("range", range)]);
        assert_eq!(reply.status, 416, "{range}");
        assert_eq!(reply.header("content-range"), "bytes */3000");
    }
}

#[test]
fn malformed_foreign_or_empty_file_ranges_get_the_whole_file() {
    let (dir, data) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    for range in ["bytes=9-1", "bytes=x-y", "lines=1-2", "bytes=1-2-3"] {
        let reply = get(&server, "/data.bin", &[("range", range)]);
        assert_eq!(reply.status, 200, "{range}");
        assert_eq!(reply.body, data);
    }
    let reply = get(&server, "/empty.bin", &[("range", "bytes=0-10")]);
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
}

#[test]
fn if_range_by_date_or_strong_etag_serves_the_range_else_the_whole_file() {
    let (dir, data) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    let (etag, weak, modified) = validators(&server);
    let cases = [
        (etag.as_str(), 206),
        (modified.as_str(), 206),
        (weak.as_str(), 200),
        ("\"other\"", 200),
        ("Thu, 01 Jan 2004 00:00:00 GMT", 200),
        ("Fri, 01 Jan 2100 00:00:00 GMT", 200),
    ];
    for (if_range, status) in cases {
        let reply = get(
            &server,
            "/data.bin",
            &[("range", "bytes=10-19"), ("if-range", if_range)],
        );
        assert_eq!(reply.status, status, "{if_range}");
        let expected = if status == 206 {
            &data[10..20]
        } else {
            &data[..]
        };
        assert_eq!(reply.body, expected);
    }
}

#[test]
fn if_range_by_date_is_ignored_for_a_file_changed_within_the_second() {
    let (dir, _) = fixture();
    std::fs::write(dir.path().join("fresh.bin"), sample_bytes(100)).expect("write");
    let server = Serveur::start(dir.path(), &[]);
    let modified = get(&server, "/fresh.bin", &[])
        .header("last-modified")
        .to_owned();
    let reply = get(
        &server,
        "/fresh.bin",
        &[("range", "bytes=0-9"), ("if-range", &modified)],
    );
    // A Last-Modified less than a second old is a weak validator (RFC 9110 §8.8.2.2).
    assert_eq!(reply.status, 200);
}

#[test]
fn head_answers_the_headers_get_would() {
    let (dir, _) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    for range in [None, Some("bytes=5-9"), Some("bytes=0-1,10-20")] {
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
        let got = get(&server, "/data.bin", &headers);
        let head = request(server.addr, "HEAD", "/data.bin", &headers);
        assert_eq!(head.status, got.status);
        assert!(head.body.is_empty());
        for name in [
            "content-length",
            "content-range",
            "etag",
            "last-modified",
            "accept-ranges",
        ] {
            assert_eq!(head.header(name), got.header(name), "{name} for {range:?}");
        }
        let multipart = head.header("content-type").starts_with("multipart/");
        assert!(multipart || head.header("content-type") == got.header("content-type"));
    }
}

#[test]
fn curl_resumes_a_download_with_continue_at() {
    let (dir, data) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("data.bin");
    std::fs::write(&target, &data[..1234]).expect("partial download");
    let status = curl(&target, &format!("http://{}/data.bin", server.addr));
    assert!(status.success(), "curl failed: {status}");
    assert_eq!(std::fs::read(&target).expect("read"), data);
    server.wait_for_log("\"GET /data.bin HTTP/1.1\" 206");
}

fn curl(target: &Path, url: &str) -> std::process::ExitStatus {
    Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "-C", "-", "-o"])
        .arg(target)
        .arg(url)
        .status()
        .expect("curl must be installed to run this test")
}
