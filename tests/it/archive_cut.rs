//! Folder downloads that do not end well: a client that leaves mid-archive stops the walk (the
//! server stops reading files), and an archive that fails on the way (an entry the server
//! cannot read, a file that shrinks while it is sent) is cut, never ended as if complete: its
//! chunked body lacks the last chunk, and the log names the entry and the reason.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::support::{
    dechunk, open_to_others, raw_request, read_bytes, sample_bytes, write_file, Serveur, WAIT,
};

/// A sparse file of `len` bytes at `path`.
fn sparse(path: &std::path::Path, len: u64) {
    File::create(path)
        .expect("create")
        .set_len(len)
        .expect("size");
}

/// Asks for `/FOLDER/?download=MODE` and reads `enough` bytes of the answer (head included),
/// leaving the rest in flight: the server's writer then waits on the client. Returns the
/// connection and the bytes read.
fn start_download(
    server: &Serveur,
    folder: &str,
    mode: &str,
    enough: usize,
) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(
        stream,
        "GET /{folder}/?download={mode} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut buf = vec![0; enough];
    stream
        .read_exact(&mut buf)
        .expect("the archive's first bytes");
    assert!(buf.starts_with(b"HTTP/1.1 200 OK\r\n"));
    (stream, buf)
}

/// Reads the rest of a response started by [`start_download`] and checks that it was cut: the
/// chunked body never reaches its last chunk.
fn assert_cut((mut stream, first): (TcpStream, Vec<u8>)) {
    let mut rest = first;
    stream.read_to_end(&mut rest).expect("read to the close");
    let head = rest
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head")
        + 4;
    let head_text = String::from_utf8_lossy(&rest[..head]).to_ascii_lowercase();
    assert!(
        head_text.contains("transfer-encoding: chunked"),
        "{head_text}"
    );
    let (_, complete) = dechunk(&rest[head..]);
    assert!(!complete, "the archive ended as if complete");
}

#[test]
fn a_client_leaving_mid_archive_stops_the_walk() {
    const FILES: u64 = 256;
    const FILE: u64 = 1 << 20;
    let site = tempfile::tempdir().expect("tempdir");
    fs::create_dir(site.path().join("many")).expect("mkdir");
    for i in 0..FILES {
        sparse(&site.path().join(format!("many/{i:03}.bin")), FILE);
    }
    let server = Serveur::start(site.path(), &["--archive"]);
    let before = read_bytes(server.pid());
    // ZIP stores the files: every byte read is a byte to send, so the writer keeps pace with
    // the client (gzip would squeeze the zeros and read on regardless).
    let (stream, _) = start_download(&server, "many", "zip", 1 << 20);
    stream.shutdown(Shutdown::Both).expect("leave");
    drop(stream);
    // Reading stops: two samples 200 ms apart agree, within the wait.
    let deadline = Instant::now() + WAIT;
    let mut last = read_bytes(server.pid());
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = read_bytes(server.pid());
        if now == last {
            break;
        }
        assert!(Instant::now() < deadline, "the server is still reading");
        last = now;
    }
    // ... long before the end of the tree (the socket buffers and the pipe hold a few MiB).
    let read = last - before;
    assert!(
        read < FILES * FILE / 4,
        "{read} bytes read of {}",
        FILES * FILE
    );
    // And the server serves on.
    assert_eq!(
        raw_request(server.addr, "GET", "/many/000.bin").status_line,
        "HTTP/1.1 200 OK"
    );
}

#[test]
fn an_entry_the_server_cannot_read_cuts_the_archive_and_is_logged() {
    let site = tempfile::tempdir().expect("tempdir");
    let www = site.path().join("www");
    // Sent first (names in order), so the archive is under way when the walk fails.
    fs::create_dir_all(www.join("folder")).expect("mkdir");
    fs::write(www.join("folder/a.bin"), sample_bytes(1 << 20)).expect("write");
    write_file(&www, "folder/locked.txt", "secret");
    open_to_others(&www.join("folder"));
    fs::set_permissions(
        www.join("folder/locked.txt"),
        fs::Permissions::from_mode(0o000),
    )
    .expect("chmod");
    let server = Serveur::start_unprivileged(&www, &["--archive"]);
    for (mode, name) in [("zip", "folder.zip"), ("tar.gz", "folder.tar.gz")] {
        assert_cut(start_download(&server, "folder", mode, 17));
        server.wait_for_log(&format!(
            "archive {name} cut: locked.txt: Permission denied"
        ));
    }
}

#[test]
fn a_folder_the_server_cannot_read_is_refused_before_it_starts() {
    let site = tempfile::tempdir().expect("tempdir");
    let www = site.path().join("www");
    write_file(&www, "locked/a.txt", "a");
    open_to_others(&www);
    fs::set_permissions(www.join("locked"), fs::Permissions::from_mode(0o311)).expect("chmod");
    let server = Serveur::start_unprivileged(&www, &["--archive"]);
    for mode in ["zip", "tar.gz"] {
        for method in ["GET", "HEAD"] {
            let reply = raw_request(server.addr, method, &format!("/locked/?download={mode}"));
            assert!(
                reply.status().starts_with("404"),
                "{method} {mode}: {}",
                reply.status()
            );
        }
    }
    server.wait_for_log("No permission to list directory");
}

#[test]
fn a_file_that_shrinks_while_it_is_sent_cuts_the_archive() {
    const BIG: u64 = 64 << 20;
    let site = tempfile::tempdir().expect("tempdir");
    fs::create_dir(site.path().join("folder")).expect("mkdir");
    let big = site.path().join("folder/big.bin");
    sparse(&big, BIG);
    let server = Serveur::start(site.path(), &["--archive"]);
    let download = start_download(&server, "folder", "zip", 1 << 16);
    // The writer waits on the client a few MiB in; the file loses its end meanwhile.
    File::options()
        .write(true)
        .open(&big)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    assert_cut(download);
    server.wait_for_log("archive folder.zip cut: big.bin: a file shrank while it was archived");
}
