//! Fuzzes the malformed-request rules: the guard's read windows (`unparsed`) fed arbitrary
//! reads, and CPython's verdict (`python_rules::judge`) on whatever head they say hyper
//! refused. No panic; a head found is bytes that were read, and every verdict is one of the
//! codes CPython and hyper give (400, 414, 431, 505).

#![no_main]

use libfuzzer_sys::fuzz_target;
use serveur::fuzzing::{malformed_verdict, unparsed_head};
use serveur::http::StatusCode;

const CODES: [StatusCode; 4] = [
    StatusCode::BAD_REQUEST,
    StatusCode::URI_TOO_LONG,
    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    StatusCode::HTTP_VERSION_NOT_SUPPORTED,
];

fuzz_target!(|data: &[u8]| {
    // Byte 0: hyper's code and how many reads; then each read is a length byte, a byte telling
    // whether hyper parsed one more request before it, and that many bytes.
    let Some((&control, mut rest)) = data.split_first() else {
        return;
    };
    let hyper_code = CODES[usize::from(control & 3)];
    let mut reads = Vec::new();
    let mut parsed = 0;
    while let [len, more, tail @ ..] = rest {
        parsed += usize::from(more & 1);
        let (bytes, tail) = tail.split_at(usize::from(*len).min(tail.len()));
        reads.push((bytes, parsed));
        rest = tail;
    }
    let all: Vec<u8> = reads.iter().flat_map(|(b, _)| b.iter().copied()).collect();
    let head = match unparsed_head(&reads, parsed) {
        Some(Some(head)) => {
            assert!(!head.is_empty());
            assert!(
                all.ends_with(&head),
                "a head that was not read last: {head:?}"
            );
            head
        }
        _ => data.to_vec(),
    };
    for head in [&head[..], data] {
        let code = malformed_verdict(head, hyper_code);
        assert!(CODES.contains(&code), "{code} for {head:?}");
    }
});
