//! Fuzzes a whole form upload: the `multipart/form-data` framing (`multer`) and what serveur
//! does with each part (`upload::multipart`: names, temporary files, the commit, `mkdir`),
//! through the public `Upload` handler on a real directory. The input's first line is the
//! boundary, the rest the body. Whatever the bytes, the answer is not a server error, no
//! temporary file is left behind, nothing appears outside the upload directory, and every entry
//! made is a plain file or directory (never a symlink) with a name the file system stores as
//! it is.

#![no_main]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serveur::http::{header, Method};
use serveur::{Handler, Request, RequestBody, Upload};

/// The upload directory and the untouchable sibling beside it, made once per process.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    upload: Upload,
    dir: PathBuf,
    outside: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let base =
            std::env::temp_dir().join(format!("serveur-fuzz-form-upload-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let (dir, outside) = (base.join("uploads"), base.join("outside"));
        fs::create_dir_all(&dir).expect("upload dir");
        fs::create_dir_all(&outside).expect("outside dir");
        fs::write(outside.join("secret.txt"), "secret").expect("outside file");
        let upload = Upload::new(&dir)
            .expect("upload handler")
            .allow_mkdir(true)
            .max_body(64 * 1024);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Fixture {
            runtime,
            upload,
            dir,
            outside,
        }
    })
}

/// Every entry below `dir`, checked as it is found.
fn check_tree(dir: &Path, input: &[u8]) {
    for entry in fs::read_dir(dir).expect("read the upload dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        let name = name.as_encoded_bytes();
        assert!(
            !name.starts_with(b".serveur-upload-"),
            "{input:?} left a temporary file {name:?}"
        );
        assert!(
            !name.iter().any(|&b| b == b'\\' || b < 0x20 || b == 0x7f),
            "{input:?} stored the name {name:?}"
        );
        let kind = entry.file_type().expect("file type");
        assert!(!kind.is_symlink(), "{input:?} made a symlink {name:?}");
        if kind.is_dir() {
            check_tree(&entry.path(), input);
        } else {
            assert!(kind.is_file(), "{input:?} made {name:?}, not a file");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let (boundary, body) = match data.iter().position(|&b| b == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (&b"B"[..], data),
    };
    let content_type = [b"multipart/form-data; boundary=", boundary].concat();
    let Ok(content_type) = header::HeaderValue::from_bytes(&content_type) else {
        return;
    };
    let request: Request = serveur::http::Request::builder()
        .method(Method::POST)
        .uri("/")
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT, "application/json")
        .body(RequestBody::full(body.to_vec()))
        .expect("request");
    let response = fixture.runtime.block_on(fixture.upload.handle(request));
    assert!(
        !response.status().is_server_error(),
        "{data:?} got {}",
        response.status()
    );
    check_tree(&fixture.dir, data);
    let outside: Vec<_> = fs::read_dir(&fixture.outside)
        .expect("outside dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        outside,
        ["secret.txt"],
        "{data:?} wrote beside the upload dir"
    );
    // The next input starts from an empty directory.
    for entry in fs::read_dir(&fixture.dir).expect("upload dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            fs::remove_dir_all(&path).expect("clean up a directory");
        } else {
            fs::remove_file(&path).expect("clean up a file");
        }
    }
});
