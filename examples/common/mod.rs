//! The command line shared by the examples, like `python -m http.server [PORT]`: the port comes
//! first (8000 without one), then the directory where there is one. Each example prints
//! CPython's startup line, from which the tests and `bench/hello.sh` read the port (0 picks a
//! free one).

#![allow(dead_code)] // each example uses the part it needs

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The first command-line argument as a port, 8000 without one.
pub(crate) fn port() -> io::Result<u16> {
    match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(io::Error::other),
        None => Ok(8000),
    }
}

/// The second command-line argument as a directory, `.` without one.
pub(crate) fn directory() -> PathBuf {
    std::env::args().nth(2).unwrap_or_else(|| ".".into()).into()
}

/// Prints `Serving HTTP on 127.0.0.1 port 8000 (http://127.0.0.1:8000/) ...`.
pub(crate) fn announce(addr: SocketAddr) {
    println!(
        "Serving HTTP on {} port {} (http://{addr}/) ...",
        addr.ip(),
        addr.port()
    );
}
