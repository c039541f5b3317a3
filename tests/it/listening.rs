//! Where the listening socket comes from, beyond `-b` and a port: systemd's socket activation
//! (driven by the real `systemd-socket-activate`, which listens, then execs serveur on the first
//! connection with the socket as file descriptor 3; TCP or a Unix socket), and `--reuse-port` (two real serveur
//! processes on one port, both answering).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{get, serveur_command, RawReply, Serveur, WAIT};

/// A port free a moment ago on 127.0.0.1, for a listener that cannot take port 0.
fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind");
    probe.local_addr().expect("addr").port()
}

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "alpha").expect("write");
    dir
}

#[test]
fn a_socket_passed_by_systemd_is_served_and_named_in_the_startup_line() {
    let site = site();
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut command = Command::new("systemd-socket-activate");
    // serveur's own -b and port would bind elsewhere: the passed socket wins over them.
    command
        .args(["-l", &addr.to_string(), env!("CARGO_BIN_EXE_serveur"), "-d"])
        .arg(site.path())
        .args(["-b", "127.0.0.1", "0"]);
    // serveur starts (and prints its startup line) only when the first client connects, so
    // the client runs beside the start: it retries until systemd-socket-activate listens.
    let client = std::thread::spawn(move || {
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "nothing listens on {addr}");
            std::thread::sleep(Duration::from_millis(10));
        }
        get(addr, "/a.txt")
    });
    let server = Serveur::spawn(command);
    let reply = client.join().expect("client");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "alpha");
    assert_eq!(
        server.startup_line,
        format!("Serving HTTP on 127.0.0.1 port {port} (http://127.0.0.1:{port}/) ...")
    );
    server.wait_for_log("\"GET /a.txt HTTP/1.1\" 200 5");
}

#[test]
fn a_unix_socket_passed_by_systemd_is_served_and_named_in_the_startup_line() {
    let sockets = tempfile::tempdir().expect("tempdir");
    let path = sockets.path().join("serveur.sock");
    let shown = path.display().to_string();
    let connect_to = path.clone();
    let mut server = served_through_systemd(&shown, move || UnixStream::connect(&connect_to));
    // The socket is systemd's: serveur leaves its file for the socket unit to remove.
    server.signal("TERM");
    assert_eq!(server.wait_exit(), 0);
    assert!(path.exists());
}

#[test]
fn an_abstract_unix_socket_passed_by_systemd_is_served_and_named_with_its_at() {
    use std::os::linux::net::SocketAddrExt;
    // Unique per run: abstract names are shared by the whole machine.
    let name = format!("serveur-test-{}", std::process::id());
    let address = std::os::unix::net::SocketAddr::from_abstract_name(&name).expect("name");
    served_through_systemd(&format!("@{name}"), move || {
        UnixStream::connect_addr(&address)
    });
}

/// `systemd-socket-activate -l LISTEN serveur …`, then a GET over the Unix socket `connect`
/// reaches (retried until systemd listens): the startup line names `unix:LISTEN`, the file is
/// served, the log's client is `unix:`. The server is handed back running.
fn served_through_systemd(
    listen: &str,
    connect: impl Fn() -> std::io::Result<UnixStream> + Send + 'static,
) -> Serveur {
    let site = site();
    let mut command = Command::new("systemd-socket-activate");
    command
        .args(["-l", listen, env!("CARGO_BIN_EXE_serveur"), "-d"])
        .arg(site.path())
        .args(["-b", "127.0.0.1", "0"]);
    // serveur starts only when the first client connects: the client runs beside the start.
    let client = std::thread::spawn(move || {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(stream) = connect() {
                break stream;
            }
            assert!(Instant::now() < deadline, "nothing listens");
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let server = Serveur::spawn(command);
    let mut stream = client.join().expect("client");
    assert_eq!(
        server.startup_line,
        format!("Serving HTTP on unix:{listen} ...")
    );
    stream
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    let reply = RawReply::parse(&answer);
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
    assert_eq!(reply.body, b"alpha");
    server.wait_for_log("unix: - - [");
    server
}

#[test]
fn a_socket_that_is_not_a_stream_is_refused_with_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("serveur.sock");
    let mut command = Command::new("systemd-socket-activate");
    // A datagram socket: serveur starts at the first datagram.
    command.args(["--datagram", "-l"]).arg(&path).args([
        env!("CARGO_BIN_EXE_serveur"),
        "-b",
        "127.0.0.1",
        "0",
    ]);
    let mut child = crate::support::spawn_piped(&mut command);
    let sender = std::os::unix::net::UnixDatagram::unbound().expect("datagram socket");
    // One deadline for the socket to appear and serveur to start on it and exit.
    let deadline = Instant::now() + WAIT;
    let mut sent = false;
    let status = loop {
        if !sent {
            sent = sender.send_to(b"x", &path).is_ok();
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serveur did not exit (sent: {sent})");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    assert!(sent, "{stderr}");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "serveur: error: socket activation: fd 3 is not a valid unix stream socket \
             (serveur serves the first socket passed, which must be a TCP or Unix stream socket)"
        ),
        "{stderr}"
    );
}

#[test]
fn two_processes_with_reuse_port_share_a_port_and_both_answer() {
    let site = site();
    let first = Serveur::start(site.path(), &["--reuse-port"]);
    let port = first.port().to_string();
    let mut command = serveur_command();
    command
        .arg("-d")
        .arg(site.path())
        .args(["-b", "127.0.0.1", "--reuse-port", &port]);
    let second = Serveur::spawn(command);
    assert_eq!(second.port(), first.port());
    // Linux spreads new connections between the two sockets by a hash of each connection's
    // addresses: a few dozen connections reach both, 200 bound the wait.
    let served = |server: &Serveur| server.log().iter().any(|l| l.contains("GET /a.txt"));
    for _ in 0..200 {
        assert_eq!(get(first.addr, "/a.txt").text(), "alpha");
        if served(&first) && served(&second) {
            return;
        }
    }
    // The access lines are written by a thread: give the last ones a moment.
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        served(&first) && served(&second),
        "first: {:?}\nsecond: {:?}",
        first.log(),
        second.log()
    );
}

#[test]
fn without_reuse_port_a_second_process_cannot_take_the_port() {
    let site = site();
    let first = Serveur::start(site.path(), &["--reuse-port"]);
    let mut command = serveur_command();
    command
        .arg("-d")
        .arg(site.path())
        .args(["-b", "127.0.0.1", &first.port().to_string()]);
    let exit = crate::support::run_to_exit(command);
    assert_eq!(exit.code, 1, "{exit:?}");
    assert!(exit.stderr.contains("Address already in use"), "{exit:?}");
}

/// `systemd-analyze verify` on `contrib/systemd/`'s units, with `/usr/bin/serveur` replaced by
/// the binary under test (the package installs it there; `contrib/deb/check-installed` verifies
/// the installed units, man page included), the socket unit changed by `edit_socket`. Fails on
/// any output: verify exits 0 on an unknown setting, only warning.
fn verify_units(edit_socket: impl Fn(&str) -> String) {
    let units = tempfile::tempdir().expect("tempdir");
    let contrib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd");
    let read = |name: &str| std::fs::read_to_string(contrib.join(name)).expect("read unit");
    let service =
        read("serveur.service").replace("/usr/bin/serveur", env!("CARGO_BIN_EXE_serveur"));
    assert!(service.contains(env!("CARGO_BIN_EXE_serveur")), "{service}");
    std::fs::write(units.path().join("serveur.service"), service).expect("write");
    let socket = edit_socket(&read("serveur.socket"));
    std::fs::write(units.path().join("serveur.socket"), socket).expect("write");
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(units.path().join("serveur.socket"))
        .arg(units.path().join("serveur.service"))
        .output()
        .expect("systemd-analyze (Debian's systemd) must be installed to run this test");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    assert_eq!(said, "", "systemd-analyze verify has something to say");
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify_as_shipped() {
    verify_units(str::to_owned);
}

#[test]
fn the_systemd_socket_unit_passes_verify_on_its_unix_socket() {
    verify_units(|socket| {
        let unix = socket
            .replace("\nListenStream=8000\n", "\n#ListenStream=8000\n")
            .replace("#ListenStream=/run", "ListenStream=/run")
            .replace("#SocketGroup=", "SocketGroup=")
            .replace("#SocketMode=", "SocketMode=");
        assert!(
            unix.contains("\nListenStream=/run/serveur.sock\n"),
            "{unix}"
        );
        assert!(!unix.contains("\nListenStream=8000"), "{unix}");
        unix
    });
}
