//! Fuzzes the upload name rules (`upload::names`): an upload's request path, and a form part's
//! file name. A name that passes is one the file system stores as it is: not empty, not `.` or
//! `..`, at most 255 bytes, no `/`, `\`, NUL or other control character. The multipart framing
//! itself is `multer`'s; what serveur adds on top of it is these rules.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serveur::fuzzing::{upload_name_allowed, upload_names};

fn assert_storable(name: &[u8], input: &[u8]) {
    assert!(!name.is_empty(), "{input:?}: an empty name passed");
    assert!(name != b"." && name != b"..", "{input:?}: {name:?} passed");
    assert!(
        name.len() <= 255,
        "{input:?}: a {}-byte name passed",
        name.len()
    );
    assert!(
        !name
            .iter()
            .any(|&b| b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f),
        "{input:?}: {name:?} holds a separator or a control character"
    );
}

fuzz_target!(|data: &[u8]| {
    if upload_name_allowed(data) {
        assert_storable(data, data);
    }
    if let Ok(segments) = upload_names(&String::from_utf8_lossy(data)) {
        for segment in &segments {
            assert_storable(segment, data);
        }
    }
});
