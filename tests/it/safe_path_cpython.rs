//! Differential check of `UrlPath::parse` against CPython 3.13's own
//! `SimpleHTTPRequestHandler.translate_path` (issue 19): thousands of request paths built from
//! the pieces that matter (`.`, `..`, slashes, `%2e`, `%2f`, `%00`, `%ff`, `?`, `#`, stray `%`,
//! UTF-8 and broken UTF-8 escapes), every byte a request target can carry (visible ASCII:
//! hyper refuses the rest), read by both; the segments and the trailing slash must agree.
//!
//! One documented difference is allowed for: a percent-escape that is not UTF-8 (`%FF`).
//! CPython's `unquote` then falls back to `errors='replace'` (U+FFFD); serveur keeps the byte,
//! so a file whose name is not UTF-8 can be served (README, differences table). On those
//! inputs serveur's segments, decoded the same lossy way, must equal CPython's.

use std::io::Write;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serveur::safe_path::UrlPath;

use crate::support::python313;

/// How many paths one run compares.
const PATHS: usize = 5_000;

/// CPython's reading of each path (one per line, hex-encoded): the segments and the trailing
/// slash, as hex of their UTF-8 (lone surrogates passed through, as `open` would see them),
/// and whether its first decoding (`errors='surrogatepass'`, so an encoded lone surrogate
/// passes) held.
const CPYTHON: &str = r#"
import sys, urllib.parse
from http.server import SimpleHTTPRequestHandler
h = object.__new__(SimpleHTTPRequestHandler)
h.directory = '/R'
for line in sys.stdin:
    path = bytes.fromhex(line.strip()).decode('ascii')
    try:
        urllib.parse.unquote(path.split('?', 1)[0].split('#', 1)[0], errors='surrogatepass')
        strict = 1
    except UnicodeDecodeError:
        strict = 0
    out = h.translate_path(path)
    assert out.startswith('/R'), out
    rel = out[2:]
    words = [w.encode('utf-8', 'surrogatepass').hex() for w in rel.split('/') if w]
    print(strict, int(rel.endswith('/')), ','.join(words) or '-')
"#;

/// A request path: pieces a path traversal or a decoder could trip on, glued at random.
fn request_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_owned()),
        Just("//".to_owned()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("%2e".to_owned()),
        Just("%2E%2e".to_owned()),
        Just("%2f".to_owned()),
        Just("%2F".to_owned()),
        Just("%5c".to_owned()),
        Just("\\".to_owned()),
        Just("%".to_owned()),
        Just("%z".to_owned()),
        Just("%00".to_owned()),
        Just("%20".to_owned()),
        Just("%ff".to_owned()),
        Just("%c3%a9".to_owned()),
        Just("%c3".to_owned()),
        Just("%ed%a0%80".to_owned()),
        Just("%e2%82".to_owned()),
        Just("?".to_owned()),
        Just("#".to_owned()),
        Just(";".to_owned()),
        Just("a".to_owned()),
        Just("b.txt".to_owned()),
        (0u8..=255).prop_map(|b| format!("%{b:02x}")),
        "[!-~]{1,3}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

/// serveur's reading in CPython's output shape (`strict` aside).
fn serveur_reading(path: &str, lossy: bool) -> String {
    let url = UrlPath::parse(path);
    let words: Vec<String> = url
        .segments()
        .iter()
        .map(|segment| {
            let bytes = if lossy {
                String::from_utf8_lossy(segment).into_owned().into_bytes()
            } else {
                segment.clone()
            };
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        })
        .collect();
    let words = if words.is_empty() {
        "-".to_owned()
    } else {
        words.join(",")
    };
    format!("{} {words}", u8::from(url.has_trailing_slash()))
}

#[test]
fn url_paths_read_as_cpython_translate_path_reads_them() {
    let mut runner = TestRunner::default();
    let strategy = request_path();
    let paths: Vec<String> = (0..PATHS)
        .map(|_| {
            let path = strategy.new_tree(&mut runner).expect("a path").current();
            format!("/{path}")
        })
        .collect();
    let mut python = Command::new(python313())
        .args(["-c", CPYTHON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start CPython");
    let input: String = paths
        .iter()
        .map(|p| p.bytes().map(|b| format!("{b:02x}")).collect::<String>() + "\n")
        .collect();
    let mut stdin = python.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = python.wait_with_output().expect("CPython's answers");
    writer.join().expect("writer").expect("write the paths");
    assert!(output.status.success(), "CPython failed");
    let answers = String::from_utf8(output.stdout).expect("ASCII");
    let answers: Vec<&str> = answers.lines().collect();
    assert_eq!(answers.len(), PATHS, "one answer per path");
    let (mut strict, mut mismatches) = (0, Vec::new());
    for (path, answer) in paths.iter().zip(&answers) {
        let (flag, cpython) = answer.split_once(' ').expect("strict flag");
        let lossy = flag == "0";
        strict += usize::from(!lossy);
        let ours = serveur_reading(path, lossy);
        if ours != cpython {
            mismatches.push(format!("{path:?}: CPython {cpython}, serveur {ours}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {PATHS} paths read differently:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
    // Both kinds of input were compared, not only one.
    assert!(
        strict > PATHS / 4 && strict < PATHS,
        "{strict} strict of {PATHS}"
    );
}
