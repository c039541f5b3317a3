//! The binary starts, prints CPython's startup line and serves a file.

use crate::support::{get, Serveur};

#[test]
fn serves_a_file_and_prints_the_startup_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "hello\n").expect("write");
    let server = Serveur::start(dir.path(), &[]);
    assert_eq!(
        server.startup_line,
        format!(
            "Serving HTTP on 127.0.0.1 port {0} (http://127.0.0.1:{0}/) ...",
            server.port()
        )
    );
    let reply = get(server.addr, "/a.txt");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "hello\n");
    assert_eq!(reply.header("content-type"), "text/plain");
    server.wait_for_log("\"GET /a.txt HTTP/1.1\" 200 6");
}
