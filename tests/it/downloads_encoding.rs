//! Content codings over real sockets: Accept-Encoding negotiation with q-values, every coding
//! decoded (flate2, brotli, zstd) and compared with the file, precompressed siblings chosen
//! and not chosen, `Vary`, ranges of encoded representations, listings, `--no-compress`, and
//! the compressed output kept for a settled file until it changes.

use std::path::Path;
use std::time::Duration;

use crate::support::{age, decode, request, sample_bytes, sample_text, Reply, Serveur};

/// `app.js` (200 kB of text, several chunks of the compressor's stream, an hour old), `tiny.txt` (100 bytes), `noise.bin` (compressible
/// size, incompressible type).
fn fixture() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = sample_text(200_000);
    std::fs::write(dir.path().join("app.js"), &text).expect("write");
    age(&dir.path().join("app.js"), 3600);
    std::fs::write(dir.path().join("tiny.txt"), sample_text(100)).expect("write");
    std::fs::write(dir.path().join("noise.bin"), sample_bytes(5000)).expect("write");
    (dir, text)
}

fn get(server: &Serveur, path: &str, headers: &[(&str, &str)]) -> Reply {
    request(server.addr, "GET", path, headers)
}

/// Writes `app.js.gz` etc.: the file compressed with `coding` at a higher level than serveur
/// uses on the fly (so the bytes tell which was sent), as a build
/// step would, `secs_old` seconds old.
fn precompress(dir: &Path, text: &[u8], coding: &str, secs_old: u64) -> Vec<u8> {
    use std::io::Write;
    let (suffix, bytes) = match coding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(text).expect("gzip");
            (".gz", e.finish().expect("gzip"))
        }
        "br" => {
            let mut out = Vec::new();
            let mut e = brotli::CompressorWriter::new(&mut out, 4096, 6, 22);
            e.write_all(text).expect("brotli");
            drop(e);
            (".br", out)
        }
        _ => (".zst", zstd::stream::encode_all(text, 9).expect("zstd")),
    };
    let path = dir.join(format!("app.js{suffix}"));
    std::fs::write(&path, &bytes).expect("write sibling");
    age(&path, secs_old);
    bytes
}

#[test]
fn every_coding_decodes_back_to_the_file_with_its_own_etag() {
    let (dir, text) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    let identity = get(&server, "/app.js", &[]);
    assert_eq!(identity.body, text);
    let mut tags = vec![identity.header("etag").to_owned()];
    for coding in ["gzip", "br", "zstd"] {
        let reply = get(&server, "/app.js", &[("accept-encoding", coding)]);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-encoding"), coding);
        assert_eq!(reply.header("vary"), "Accept-Encoding");
        assert_eq!(reply.header("content-type"), "text/javascript");
        assert_eq!(
            reply.header("content-length"),
            "",
            "streamed, length unknown"
        );
        assert!(
            reply.body.len() < text.len() / 2,
            "{coding} did not compress"
        );
        assert_eq!(decode(coding, &reply.body), text, "{coding}");
        // On-the-fly output is not sliceable: no Accept-Ranges, a weak tag per coding.
        assert_eq!(reply.header("accept-ranges"), "");
        let etag = reply.header("etag").to_owned();
        assert!(etag.starts_with("W/\"") && etag.ends_with(&format!("-{coding}\"")));
        tags.push(etag);
        // The weak tag still validates the same representation.
        let again = get(
            &server,
            "/app.js",
            &[
                ("accept-encoding", coding),
                ("if-none-match", &tags[tags.len() - 1]),
            ],
        );
        assert_eq!(again.status, 304);
        assert_eq!(again.header("vary"), "Accept-Encoding");
    }
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), 4);
}

#[test]
fn head_of_a_compressed_answer_has_the_headers_of_get() {
    let (dir, text) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    // Written just now, so its output is not kept: both answers are the compressor's.
    std::fs::write(dir.path().join("app.js"), &text).expect("write");
    let accept = [("accept-encoding", "br")];
    let got = get(&server, "/app.js", &accept);
    let head = request(server.addr, "HEAD", "/app.js", &accept);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    for name in [
        "content-encoding",
        "content-type",
        "content-length",
        "etag",
        "vary",
        "last-modified",
    ] {
        assert_eq!(head.header(name), got.header(name), "{name}");
    }
}

#[test]
fn a_settled_files_compressed_output_is_kept_and_made_anew_once_the_file_changes() {
    let (dir, text) = fixture();
    // Output is kept only for a file whose last change is two seconds old (small_files).
    std::thread::sleep(Duration::from_millis(2100));
    let server = Serveur::start(dir.path(), &[]);
    let accept = [("accept-encoding", "br")];
    let first = get(&server, "/app.js", &accept);
    assert_eq!(
        first.header("content-length"),
        "",
        "streamed by the compressor"
    );
    assert_eq!(decode("br", &first.body), text);
    // The kept output: the same bytes and tag, with its length, for HEAD too.
    let second = get(&server, "/app.js", &accept);
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("etag"), first.header("etag"));
    assert_eq!(
        second.header("content-length"),
        second.body.len().to_string()
    );
    let head = request(server.addr, "HEAD", "/app.js", &accept);
    assert_eq!(
        head.header("content-length"),
        second.header("content-length")
    );
    // Each coding is compressed, and kept, on its own.
    let gzip = get(&server, "/app.js", &[("accept-encoding", "gzip")]);
    assert_eq!(gzip.header("content-length"), "");
    assert_eq!(decode("gzip", &gzip.body), text);
    // Changed in place, same length: the new bytes are compressed, never the old output sent.
    let changed: Vec<u8> = text.iter().map(|b| b.to_ascii_uppercase()).collect();
    assert_ne!(changed, text);
    std::fs::write(dir.path().join("app.js"), &changed).expect("write");
    let third = get(&server, "/app.js", &accept);
    assert_eq!(decode("br", &third.body), changed);
    assert_eq!(third.header("content-length"), "");
    assert_ne!(third.header("etag"), first.header("etag"));
}

#[test]
fn q_values_and_identity_rules_choose_the_coding() {
    let (dir, _) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    let cases = [
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip;q=1.0, br;q=0.5", "gzip"),
        ("gzip;q=0.5, br;q=0.9, zstd;q=0", "br"),
        ("*", "zstd"),
        ("*;q=0.5, zstd;q=0", "br"),
        ("gzip;q=0.5, identity", ""),
        ("deflate", ""),
        ("identity", ""),
        ("", ""),
    ];
    for (accept, coding) in cases {
        let reply = get(&server, "/app.js", &[("accept-encoding", accept)]);
        assert_eq!(reply.status, 200, "{accept}");
        assert_eq!(reply.header("content-encoding"), coding, "{accept:?}");
        assert_eq!(reply.header("vary"), "Accept-Encoding");
    }
    for accept in ["deflate, identity;q=0", "*;q=0"] {
        let reply = get(&server, "/app.js", &[("accept-encoding", accept)]);
        assert_eq!(reply.status, 406, "{accept}");
    }
}

#[test]
fn small_and_incompressible_files_are_sent_as_they_are_without_vary() {
    let (dir, _) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    for path in ["/tiny.txt", "/noise.bin"] {
        let reply = get(&server, path, &[("accept-encoding", "gzip, br, zstd")]);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-encoding"), "", "{path}");
        assert_eq!(reply.header("vary"), "", "{path}");
    }
    // A compressible file asked without Accept-Encoding still says it varies.
    assert_eq!(
        get(&server, "/app.js", &[]).header("vary"),
        "Accept-Encoding"
    );
}

#[test]
fn fresh_precompressed_siblings_are_served_as_stored() {
    let (dir, text) = fixture();
    let server = Serveur::start(dir.path(), &[]);
    for coding in ["gzip", "br", "zstd"] {
        // Newer than app.js: valid.
        let stored = precompress(dir.path(), &text, coding, 60);
        let reply = get(&server, "/app.js", &[("accept-encoding", coding)]);
        assert_eq!(reply.header("content-encoding"), coding);
        assert_eq!(
            reply.body, stored,
            "{coding}: the sibling's bytes, untouched"
        );
        assert_eq!(reply.header("content-length"), stored.len().to_string());
        assert_eq!(reply.header("content-type"), "text/javascript");
        assert_eq!(reply.header("accept-ranges"), "bytes");
        let etag = reply.header("etag");
        assert!(etag.starts_with('"') && etag.ends_with(&format!("-{coding}\"")));
        assert_eq!(decode(coding, &reply.body), text);
    }
    // With all three present, the client's weights choose, then the server's order.
    let reply = get(&server, "/app.js", &[("accept-encoding", "gzip, br")]);
    assert_eq!(reply.header("content-encoding"), "br");
    // A sibling the client accepts wins over compressing a preferred coding on the fly.
    std::fs::remove_file(dir.path().join("app.js.zst")).expect("rm");
    std::fs::remove_file(dir.path().join("app.js.br")).expect("rm");
    let reply = get(
        &server,
        "/app.js",
        &[("accept-encoding", "zstd, gzip;q=0.5")],
    );
    assert_eq!(reply.header("content-encoding"), "gzip");
    assert!(!reply.header("etag").starts_with("W/"));
}

#[test]
fn stale_or_escaping_precompressed_siblings_are_ignored() {
    let (dir, text) = fixture();
    // Older than app.js: left behind by an edit, never served.
    let stale = precompress(dir.path(), &text, "gzip", 7200);
    let server = Serveur::start(dir.path(), &[]);
    let reply = get(&server, "/app.js", &[("accept-encoding", "gzip")]);
    assert_eq!(reply.header("content-encoding"), "gzip");
    assert_ne!(reply.body, stale);
    assert!(
        reply.header("etag").starts_with("W/"),
        "compressed on the fly"
    );
    assert_eq!(decode("gzip", &reply.body), text);
    // A sibling that is a symlink out of the root is refused like any other such path.
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("secret.br");
    std::fs::write(&secret, b"not the file").expect("write");
    std::os::unix::fs::symlink(&secret, dir.path().join("app.js.br")).expect("symlink");
    let reply = get(&server, "/app.js", &[("accept-encoding", "br")]);
    assert_eq!(reply.header("content-encoding"), "br");
    assert_eq!(decode("br", &reply.body), text);
}

#[test]
fn a_sibling_in_a_subdirectory_or_symlinked_inside_the_root_is_served() {
    let (dir, text) = fixture();
    let sub = dir.path().join("js/lib");
    std::fs::create_dir_all(&sub).expect("mkdir");
    std::fs::rename(dir.path().join("app.js"), sub.join("app.js")).expect("move");
    let stored = precompress(&sub, &text, "gzip", 60);
    // The sibling is a link to a file elsewhere in the root.
    std::fs::rename(sub.join("app.js.gz"), dir.path().join("app.gz")).expect("move");
    std::os::unix::fs::symlink("../../app.gz", sub.join("app.js.gz")).expect("symlink");
    let server = Serveur::start(dir.path(), &[]);
    let reply = get(&server, "/js/lib/app.js", &[("accept-encoding", "gzip")]);
    assert_eq!(reply.header("content-encoding"), "gzip");
    assert_eq!(reply.body, stored, "the linked sibling's bytes");
}

#[test]
fn ranges_come_from_identity_unless_if_range_names_the_stored_coding() {
    let (dir, text) = fixture();
    let stored = precompress(dir.path(), &text, "br", 60);
    let server = Serveur::start(dir.path(), &[]);
    let accept = ("accept-encoding", "br");
    // A plain Range: identity bytes at identity offsets, whatever the client accepts.
    let reply = get(&server, "/app.js", &[accept, ("range", "bytes=100-199")]);
    assert_eq!(reply.status, 206);
    assert_eq!(reply.header("content-encoding"), "");
    assert_eq!(reply.header("vary"), "Accept-Encoding");
    assert_eq!(reply.body, text[100..200]);
    // Resuming the br download it started: the If-Range tag names the stored br.
    let full = get(&server, "/app.js", &[accept]);
    let etag = full.header("etag").to_owned();
    assert_eq!(full.body, stored);
    let reply = get(
        &server,
        "/app.js",
        &[accept, ("range", "bytes=10-"), ("if-range", &etag)],
    );
    assert_eq!(reply.status, 206);
    assert_eq!(reply.header("content-encoding"), "br");
    assert_eq!(
        reply.header("content-range"),
        format!("bytes 10-{}/{}", stored.len() - 1, stored.len())
    );
    assert_eq!(reply.body, stored[10..]);
    // Compressed on the fly: never sliced; the Range is ignored when identity is refused.
    let reply = get(
        &server,
        "/app.js",
        &[
            ("accept-encoding", "gzip, identity;q=0"),
            ("range", "bytes=0-9"),
        ],
    );
    assert_eq!(reply.status, 200);
    assert_eq!(decode("gzip", &reply.body), text);
}

#[test]
fn listing_has_directory_validators_and_is_compressed() {
    let (dir, _) = fixture();
    let sub = dir.path().join("many");
    std::fs::create_dir(&sub).expect("mkdir");
    for i in 0..40 {
        std::fs::write(sub.join(format!("file-number-{i:03}.txt")), "x").expect("write");
    }
    let server = Serveur::start(dir.path(), &[]);
    let plain = get(&server, "/many/", &[]);
    assert_eq!(plain.status, 200);
    let etag = plain.header("etag").to_owned();
    assert!(etag.starts_with('"'));
    assert!(!plain.header("last-modified").is_empty());
    assert_eq!(plain.header("vary"), "Accept-Encoding");
    for coding in ["gzip", "br", "zstd"] {
        let reply = get(&server, "/many/", &[("accept-encoding", coding)]);
        assert_eq!(reply.header("content-encoding"), coding);
        assert_eq!(decode(coding, &reply.body), plain.body);
    }
    let reply = get(&server, "/many/", &[("if-none-match", &etag)]);
    assert_eq!(reply.status, 304);
    // A new entry changes the directory, so the listing's tag.
    std::fs::write(sub.join("new.txt"), "x").expect("write");
    let reply = get(&server, "/many/", &[("if-none-match", &etag)]);
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("new.txt"));
}

#[test]
fn no_compress_sends_every_file_as_it_is() {
    let (dir, text) = fixture();
    precompress(dir.path(), &text, "gzip", 60);
    let server = Serveur::start(dir.path(), &["--no-compress"]);
    let reply = get(&server, "/app.js", &[("accept-encoding", "gzip, br, zstd")]);
    assert_eq!(reply.header("content-encoding"), "");
    assert_eq!(reply.header("vary"), "");
    assert_eq!(reply.body, text);
    let listing = get(&server, "/", &[("accept-encoding", "gzip")]);
    assert_eq!(listing.header("content-encoding"), "");
}
