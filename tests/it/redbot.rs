//! REDbot (<https://redbot.org>, `pip install redbot`), the HTTP linter, run against the real
//! binary: a text file (compressed on the fly), a precompressed one, a binary file, a listing
//! and a 404, with the default flags and with `--cache-control` and `--cors`. Every note is
//! written to stderr, which `.ci/run` shows (`--nocapture`) so that it stays in CI's log when
//! the test passes; any note REDbot classes as BAD or WARN fails the test, except the warnings
//! listed in [`ACCEPTED_WARNINGS`] with the reason. REDbot must be installed: without it the
//! test fails.

use std::process::Command;

use crate::support::{age, sample_bytes, sample_text, Serveur};

/// The paths linted, each with what it stands for.
const TARGETS: [(&str, &str); 5] = [
    ("/app.js", "text file, compressed on the fly"),
    ("/style.css", "text file with a precompressed .gz sibling"),
    ("/data.bin", "binary file"),
    ("/docs/", "directory listing"),
    ("/missing.txt", "404"),
];

/// REDbot warnings that are the operator's choice, not a defect.
const ACCEPTED_WARNINGS: [(&str, &str); 1] = [(
    "FRESHNESS_HEURISTIC",
    "no Cache-Control unless --cache-control is given, as python -m http.server",
)];

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(root.join("app.js"), sample_text(20_000)).expect("write");
    let css = sample_text(8_000);
    std::fs::write(root.join("style.css"), &css).expect("write");
    age(&root.join("style.css"), 600);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &css).expect("gzip");
    std::fs::write(root.join("style.css.gz"), gz.finish().expect("gzip")).expect("write");
    std::fs::write(root.join("data.bin"), sample_bytes(50_000)).expect("write");
    std::fs::create_dir(root.join("docs")).expect("mkdir");
    for i in 0..30 {
        std::fs::write(root.join(format!("docs/chapter-{i:02}.html")), "<p>x</p>").expect("write");
    }
    dir
}

/// Runs REDbot on `url`, writes every note to `log`, and returns the problems (BAD, and WARN
/// not accepted).
fn lint(url: &str, what: &str, log: &mut String) -> Vec<String> {
    let output = Command::new("redbot")
        .args(["-o", "har", url])
        .output()
        .expect("REDbot must be installed for this test: pip install redbot");
    assert!(
        output.status.success(),
        "redbot failed on {url}: {output:?}"
    );
    let har: serde_json::Value = serde_json::from_slice(&output.stdout).expect("HAR JSON");
    let entries = har["log"]["entries"].as_array().expect("entries");
    assert!(!entries.is_empty(), "REDbot fetched nothing from {url}");
    log.push_str(&format!("== REDbot on {url} ({what})\n"));
    let mut bad = Vec::new();
    for entry in entries {
        let status = &entry["response"]["status"];
        log.push_str(&format!("   response status {status}\n"));
        for note in entry["_red_messages"].as_array().expect("messages") {
            let level = note["level"].as_str().unwrap_or("?");
            let id = note["note_id"].as_str().unwrap_or("?");
            let line = format!("{level:5} {id} {}", note["summary"].as_str().unwrap_or("?"));
            log.push_str(&format!("   {line}\n"));
            let accepted = ACCEPTED_WARNINGS.iter().any(|(warning, _)| *warning == id);
            if level == "BAD" || (level == "WARN" && !accepted) {
                bad.push(format!("{url}: {line}"));
            }
        }
    }
    bad
}

fn lint_all(args: &[&str]) {
    let dir = fixture();
    let server = Serveur::start(dir.path(), args);
    let mut log = format!("serveur {args:?}\n");
    let mut bad = Vec::new();
    for (path, what) in TARGETS {
        bad.extend(lint(
            &format!("http://{}{path}", server.addr),
            what,
            &mut log,
        ));
    }
    // One print per run, so that parallel tests do not interleave their reports.
    eprintln!("{log}");
    assert!(bad.is_empty(), "REDbot found problems:\n{}", bad.join("\n"));
}

#[test]
fn redbot_finds_no_problem_with_default_flags() {
    lint_all(&[]);
}

#[test]
fn redbot_finds_no_problem_with_cache_control_and_cors() {
    lint_all(&["--cache-control", "max-age=60", "--cors"]);
}
