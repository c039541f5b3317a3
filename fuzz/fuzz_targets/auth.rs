//! Fuzzes the `--auth` rule parser (one rule a line) and the htpasswd parser: no panic; every
//! path a rule grants is made of real segments (none empty, `.`, `..`, or holding `/`), so a
//! rule can never name a place above the root; an htpasswd account is granted the root only.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serveur::fuzzing::{auth_rule_paths, htpasswd_paths};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let rules: Vec<&str> = text.lines().collect();
    if let Ok(paths) = auth_rule_paths(&rules) {
        for path in paths {
            for segment in path.segments() {
                assert!(
                    !matches!(segment.as_slice(), b"" | b"." | b".."),
                    "{rules:?} granted the segment {segment:?}"
                );
                assert!(!segment.contains(&b'/'));
            }
        }
    }
    if let Ok(paths) = htpasswd_paths(&text) {
        assert!(
            paths.iter().all(|p| p.segments().is_empty()),
            "{text:?}: {paths:?}"
        );
    }
});
