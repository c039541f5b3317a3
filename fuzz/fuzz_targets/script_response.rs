//! Fuzzes the script header block parser (CGI and FastCGI responses, `nph-` status lines): any
//! bytes give "incomplete", "malformed" or a head whose status is a final HTTP status (2xx-5xx,
//! RFC 9110 §15) and whose fields are valid and end-to-end, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serveur::fuzzing::{script_answer, ScriptAnswer};
use serveur::http::HeaderValue;

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
];

fuzz_target!(|data: &[u8]| {
    // The first byte says which parser: an nph- script's or a plain CGI/FastCGI one's.
    let Some((&flag, block)) = data.split_first() else {
        return;
    };
    let nph = flag & 1 == 1;
    let ScriptAnswer::Head {
        status,
        reason,
        headers,
        local_redirect,
        consumed,
    } = script_answer(block, nph)
    else {
        return;
    };
    assert!(
        (200..600).contains(&status.as_u16()),
        "status {status} is not a final status (nph: {nph})"
    );
    assert!(consumed <= block.len());
    if let Some(reason) = reason {
        assert!(
            !reason.contains(['\r', '\n']),
            "reason {reason:?} breaks the status line"
        );
    }
    for (name, value) in &headers {
        assert!(HeaderValue::from_bytes(value.as_bytes()).is_ok());
        assert!(
            !HOP_BY_HOP.contains(&name.as_str()),
            "hop-by-hop field {name} kept"
        );
        assert!(
            nph || name != "status",
            "the CGI Status field was sent as a header"
        );
    }
    if let Some(location) = local_redirect {
        assert!(location.starts_with('/') && !location.starts_with("//"));
    }
});
