//! Fuzzes `Accept-Encoding` negotiation (one or more header lines): no panic, a coding chosen
//! is one the header gives a weight above 0 (by name or through `*`), and 406 only comes when
//! the header refuses identity (by name or through `*`).
//!
//! The check reads the header its own way (RFC 9110 §12.4.2 and §12.5.3 written out plainly)
//! rather than calling the server's parser.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serveur::fuzzing::negotiated_coding;
use serveur::http::header::ACCEPT_ENCODING;
use serveur::http::{HeaderMap, HeaderValue};

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, as a number.
fn qvalue(text: &str) -> Option<f64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits_ok = frac.len() <= 3 && frac.bytes().all(|b| b.is_ascii_digit());
    let ok = match int {
        "0" => digits_ok,
        "1" => digits_ok && frac.bytes().all(|b| b == b'0'),
        _ => false,
    };
    ok.then(|| {
        format!("{int}.{frac}0")
            .parse()
            .expect("a qvalue is a number")
    })
}

/// The weight of the last well-formed member naming one of `names` (case-insensitively).
fn weight(members: &[(String, Option<f64>)], names: &[&str]) -> Option<f64> {
    members
        .iter()
        .rev()
        .find(|(coding, q)| q.is_some() && names.iter().any(|n| coding.eq_ignore_ascii_case(n)))
        .and_then(|(_, q)| *q)
}

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    let mut members = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let Ok(value) = HeaderValue::from_bytes(line) else {
            return;
        };
        for member in String::from_utf8_lossy(line).split(',') {
            let mut parts = member.split(';');
            let coding = parts
                .next()
                .unwrap_or_default()
                .trim_matches([' ', '\t'])
                .to_owned();
            let mut q = Some(1.0);
            for param in parts {
                let param = param.trim_matches([' ', '\t']);
                if let Some(text) = param
                    .strip_prefix("q=")
                    .or_else(|| param.strip_prefix("Q="))
                {
                    q = qvalue(text);
                }
            }
            members.push((coding, q));
        }
        headers.append(ACCEPT_ENCODING, value);
    }
    match negotiated_coding(&headers) {
        Ok(Some(token)) => {
            let names: &[&str] = if token == "gzip" {
                &["gzip", "x-gzip"]
            } else {
                &[token]
            };
            let q = weight(&members, names).or_else(|| weight(&members, &["*"]));
            assert!(q.is_some_and(|q| q > 0.0), "{token} chosen for {members:?}");
        }
        Ok(None) => {}
        Err(()) => {
            let q = weight(&members, &["identity"]).or_else(|| weight(&members, &["*"]));
            assert_eq!(q, Some(0.0), "406 for {members:?}");
        }
    }
});
