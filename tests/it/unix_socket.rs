//! `-b unix:PATH`, a Unix-domain socket for a reverse proxy in front, through the real binary:
//! curl over the socket (files, a listing, TLS), the byte stream read raw (pipelined files,
//! copied and by `sendfile`), the socket file's mode, its removal on SIGTERM and SIGINT, a
//! stale file replaced, a live socket and a regular file refused, what a CGI script sees, a
//! `--config` file naming the socket, nginx in front (`proxy_pass http://unix:…:`), and the
//! library's `Server::bind_unix` with what a handler is told about the connection.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serveur::{response, Request, RequestExt, Response, Server};

use crate::support::library;
use crate::support::{
    raw_unix, read_responses, run_to_exit, running_as_root, sample_bytes, serveur_command,
    write_file, write_script, RawReply, Serveur, WAIT,
};

/// A served tree (`a.txt`, a subdirectory) and, beside it, a directory for the socket.
fn site() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), "www/a.txt", "alpha");
    write_file(dir.path(), "www/sub/b.txt", "beta");
    std::fs::create_dir(dir.path().join("run")).expect("mkdir");
    let socket = dir.path().join("run/serveur.sock");
    (dir, socket)
}

/// curl over the socket; fails the test when curl is missing or fails.
fn curl(socket: &Path, args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--unix-socket"])
        .arg(socket)
        .args(args)
        .output()
        .expect("curl must be installed to run this test");
    assert!(
        output.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn curl_gets_a_file_and_a_listing_and_the_log_names_the_client_unix() {
    let (dir, socket) = site();
    let server = Serveur::start_unix(&dir.path().join("www"), &socket, &[]);
    assert_eq!(
        server.startup_line,
        format!("Serving HTTP on unix:{} ...", socket.display())
    );
    assert_eq!(server.unix.as_deref(), Some(socket.as_path()));
    assert_eq!(curl(&socket, &["http://localhost/a.txt"]), "alpha");
    let listing = curl(&socket, &["http://localhost/"]);
    assert!(listing.contains("<a href=\"a.txt\">a.txt</a>"), "{listing}");
    assert!(listing.contains("<a href=\"sub/\">sub/</a>"), "{listing}");
    // nginx's `$remote_addr` for a Unix-socket client.
    let line = server.wait_for_log("\"GET /a.txt HTTP/1.1\" 200 5");
    assert!(line.starts_with("unix: - - ["), "{line}");
}

#[test]
fn the_byte_stream_carries_pipelined_files_copied_then_by_sendfile() {
    let (dir, socket) = site();
    let www = dir.path().join("www");
    let files = [
        ("small.bin", sample_bytes(1000)),
        ("mid.bin", sample_bytes(200_000)),
        ("large.bin", sample_bytes(3 * 1024 * 1024 + 5)),
    ];
    for (name, data) in &files {
        std::fs::write(www.join(name), data).expect("write");
    }
    let server = Serveur::start_unix(&www, &socket, &["-q"]);
    let pipeline = || {
        let mut stream = UnixStream::connect(server.unix.as_ref().expect("unix")).expect("connect");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut requests = Vec::new();
        for (name, _) in files.iter().chain(files.iter().rev()) {
            requests
                .extend_from_slice(format!("GET /{name} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        }
        stream.write_all(&requests).expect("write");
        let replies = read_responses(&mut stream, 2 * files.len());
        for ((name, data), reply) in files.iter().chain(files.iter().rev()).zip(&replies) {
            assert_eq!(reply.status_line, "HTTP/1.1 200 OK", "{name}");
            assert!(reply.body == *data, "{name}: body differs");
        }
    };
    // The first connection copies files; it sent one worth `sendfile`, so the second is
    // vectored and sends the large ones with `sendfile` to the Unix socket.
    pipeline();
    pipeline();
    // Byte for byte, a 404 as CPython writes it, and the connection closed as asked.
    let reply = RawReply::parse(&raw_unix(
        &socket,
        b"GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ));
    assert_eq!(reply.status_line, "HTTP/1.1 404 File not found");
    assert_eq!(reply.header("Connection"), Some("close"));
}

#[test]
fn the_socket_file_is_0660_by_default_whatever_the_umask_and_unix_mode_sets_it() {
    let (dir, socket) = site();
    let www = dir.path().join("www");
    // umask 077 would make the socket 0700; the mode is set after the bind, whatever it is.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("umask 077; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_serveur"))
        .arg("-d")
        .arg(&www)
        .arg("-b")
        .arg(format!("unix:{}", socket.display()));
    let server = Serveur::spawn(command);
    assert!(std::fs::symlink_metadata(&socket)
        .expect("stat")
        .file_type()
        .is_socket());
    assert_eq!(mode(&socket), 0o660);
    drop(server);
    let other = dir.path().join("run/other.sock");
    let _server = Serveur::start_unix(&www, &other, &["--unix-mode", "0606"]);
    assert_eq!(mode(&other), 0o606);
}

#[test]
fn the_proxy_s_group_gets_in_through_a_set_group_id_directory_and_others_do_not() {
    // README's set-up: a directory of the proxy's group (here `nogroup`, 65534), set-group-ID,
    // so the socket made in it belongs to that group; its `0660` lets the group in.
    assert!(
        running_as_root(),
        "this test needs root (CI runs as root): it connects as other users"
    );
    let (dir, _) = site();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let run = dir.path().join("proxied");
    std::fs::create_dir(&run).expect("mkdir");
    std::os::unix::fs::chown(&run, None, Some(65534)).expect("chown");
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o2750)).expect("chmod");
    let socket = run.join("serveur.sock");
    let _server = Serveur::start_unix(&dir.path().join("www"), &socket, &[]);
    let meta = std::fs::symlink_metadata(&socket).expect("stat");
    assert_eq!(
        (std::os::unix::fs::MetadataExt::gid(&meta), mode(&socket)),
        (65534, 0o660)
    );
    let curl_as = |id: &str| {
        Command::new("setpriv")
            .args([
                &format!("--reuid={id}"),
                &format!("--regid={id}"),
                "--clear-groups",
            ])
            .args(["curl", "--silent", "--unix-socket"])
            .arg(&socket)
            .arg("http://localhost/a.txt")
            .output()
            .expect("setpriv (util-linux) and curl must be installed to run this test")
    };
    let proxy = curl_as("65534");
    assert!(proxy.status.success(), "{proxy:?}");
    assert_eq!(proxy.stdout, b"alpha");
    // Anyone else: connect(2) is refused (EACCES), curl's "couldn't connect" (7).
    assert_eq!(curl_as("65533").status.code(), Some(7));
}

#[test]
fn the_socket_file_is_removed_on_sigterm_and_on_sigint() {
    let (dir, socket) = site();
    for signal in ["TERM", "INT"] {
        let mut server = Serveur::start_unix(&dir.path().join("www"), &socket, &[]);
        assert_eq!(curl(&socket, &["http://localhost/a.txt"]), "alpha");
        server.signal(signal);
        assert_eq!(server.wait_exit(), 0, "{signal}");
        assert!(!socket.exists(), "socket left after SIG{signal}");
    }
    // Sent the moment the startup line appears, before the accept loop may have started: the
    // handlers are set before the socket is made, so the stop is still graceful.
    for _ in 0..5 {
        let mut server = Serveur::start_unix(&dir.path().join("www"), &socket, &[]);
        server.signal("TERM");
        assert_eq!(server.wait_exit(), 0);
        assert!(!socket.exists(), "socket left after an early SIGTERM");
    }
}

#[test]
fn a_stale_socket_is_replaced_and_a_live_one_refused() {
    let (dir, socket) = site();
    let www = dir.path().join("www");
    // A crash leaves the file, with nothing listening behind it.
    let mut crashed = Serveur::start_unix(&www, &socket, &[]);
    crashed.signal("KILL");
    assert_eq!(crashed.wait_exit(), -1);
    assert!(socket.exists());
    let server = Serveur::start_unix(&www, &socket, &[]);
    assert_eq!(curl(&socket, &["http://localhost/a.txt"]), "alpha");
    // A second server on the same path leaves the first one's socket alone.
    let mut command = serveur_command();
    command
        .arg("-d")
        .arg(&www)
        .arg("-b")
        .arg(format!("unix:{}", socket.display()));
    let exit = run_to_exit(command);
    assert_eq!(exit.code, 1, "{}", exit.stderr);
    assert_eq!(
        exit.stderr.trim_end(),
        format!(
            "serveur: error: cannot listen on unix:{}: a server is listening on this socket",
            socket.display()
        )
    );
    assert_eq!(curl(&socket, &["http://localhost/a.txt"]), "alpha");
    drop(server);
}

#[test]
fn a_regular_file_at_the_path_is_refused_and_kept() {
    let (dir, _) = site();
    let notes = dir.path().join("run/notes.txt");
    std::fs::write(&notes, "keep me").expect("write");
    let mut command = serveur_command();
    command
        .arg("-d")
        .arg(dir.path().join("www"))
        .arg("-b")
        .arg(format!("unix:{}", notes.display()));
    let exit = run_to_exit(command);
    assert_eq!(exit.code, 1, "{}", exit.stderr);
    assert_eq!(
        exit.stderr.trim_end(),
        format!(
            "serveur: error: cannot listen on unix:{}: the path exists and is not a socket; \
             not replacing it",
            notes.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&notes).expect("read"), "keep me");
}

#[test]
fn flags_that_need_tcp_or_a_unix_socket_are_refused_beside_the_other() {
    for (args, message) in [
        (
            &["-b", "unix:/tmp/x.sock", "--reuse-port"][..],
            "argument --reuse-port: not meaningful with -b unix:PATH",
        ),
        (
            &["-b", "127.0.0.1", "--unix-mode", "600"][..],
            "argument --unix-mode: only meaningful with -b unix:PATH",
        ),
        (
            &["-b", "unix:/tmp/x.sock", "--unix-mode", "800"][..],
            "'800' is not an octal mode from 000 to 777",
        ),
    ] {
        let mut command = serveur_command();
        command.args(args);
        let exit = run_to_exit(command);
        assert_eq!(exit.code, 2, "{args:?}: {}", exit.stderr);
        assert!(exit.stderr.contains(message), "{args:?}: {}", exit.stderr);
    }
}

#[test]
fn a_cgi_script_sees_remote_addr_unix_and_the_scheme_s_port() {
    let (dir, socket) = site();
    let www = dir.path().join("www");
    write_script(
        &www,
        "cgi-bin/env.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n\
         echo \"REMOTE_ADDR=$REMOTE_ADDR\"\necho \"REMOTE_PORT=${REMOTE_PORT-unset}\"\n\
         echo \"SERVER_PORT=$SERVER_PORT\"\necho \"SERVER_NAME=$SERVER_NAME\"\n",
    );
    let _server = Serveur::start_unix(&www, &socket, &["--cgi"]);
    assert_eq!(
        curl(&socket, &["http://proxied.example/cgi-bin/env.sh"]),
        "REMOTE_ADDR=unix:\nREMOTE_PORT=unset\nSERVER_PORT=80\nSERVER_NAME=proxied.example\n"
    );
}

#[test]
fn failed_logins_over_the_socket_are_slowed_as_one_client() {
    let (dir, socket) = site();
    let server = Serveur::start_unix(&dir.path().join("www"), &socket, &["--auth", "alice:pw@/"]);
    // alice:nope. Behind a proxy every client is the proxy: throttled together, never not at all.
    let wrong = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                  Authorization: Basic YWxpY2U6bm9wZQ==\r\n\r\n";
    let mut last = Duration::ZERO;
    for _ in 0..7 {
        let start = std::time::Instant::now();
        let reply = RawReply::parse(&raw_unix(&socket, wrong));
        assert_eq!(reply.status(), "401 Wrong user or password for 'alice'");
        last = start.elapsed();
    }
    assert!(
        last >= Duration::from_millis(450),
        "the 7th failure took {last:?}"
    );
    let line = server.wait_for_log("failed logins from this address in a minute");
    assert!(line.starts_with("unix: - - ["), "{line}");
}

#[test]
fn tls_over_a_unix_socket_is_served() {
    let (dir, socket) = site();
    let server = Serveur::start_unix(&dir.path().join("www"), &socket, &["--tls-self-signed"]);
    assert_eq!(
        server.startup_line,
        format!("Serving HTTPS on unix:{} ...", socket.display())
    );
    assert_eq!(
        curl(&socket, &["--insecure", "https://localhost/a.txt"]),
        "alpha"
    );
    let http2 = curl(
        &socket,
        &[
            "--insecure",
            "--http2",
            "-w",
            "%{http_version}",
            "-o",
            "/dev/null",
            "https://localhost/",
        ],
    );
    assert_eq!(http2, "2");
}

#[test]
fn a_config_file_names_the_socket_and_its_mode() {
    let (dir, socket) = site();
    let config = dir.path().join("serveur.toml");
    std::fs::write(
        &config,
        format!(
            "bind = \"unix:{}\"\nunix-mode = \"640\"\ndirectory = \"{}\"\n",
            socket.display(),
            dir.path().join("www").display()
        ),
    )
    .expect("write");
    let mut command = serveur_command();
    command.arg("--config").arg(&config);
    let _server = Serveur::spawn(command);
    assert_eq!(mode(&socket), 0o640);
    assert_eq!(curl(&socket, &["http://localhost/sub/b.txt"]), "beta");
}

/// A handler telling what it knows of its connection.
async fn who(req: Request) -> Response {
    let info = req.connection().expect("a connection");
    response::text(format!(
        "peer_addr={:?} local_addr={:?} unix={:?}",
        req.peer_addr(),
        req.local_addr(),
        info.unix_socket()
    ))
}

#[test]
fn the_library_binds_a_unix_socket_and_tells_handlers_there_is_no_address() {
    let (_dir, socket) = site();
    let server = Server::bind_unix(&socket).expect("bind");
    assert_eq!(server.unix_path(), Some(socket.as_path()));
    assert_eq!(
        server.local_addr().expect_err("no address").kind(),
        std::io::ErrorKind::Unsupported
    );
    let running = library::serve(server, serveur::by_method().get(who));
    assert_eq!(mode(&socket), 0o660);
    let reply = RawReply::parse(&raw_unix(
        &socket,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ));
    assert_eq!(
        String::from_utf8_lossy(&reply.body),
        format!("peer_addr=None local_addr=None unix=Some({socket:?})")
    );
    running.wait_for_log("unix: - - [");
    // The stop removes the file.
    drop(running);
    assert!(!socket.exists());
}

#[test]
fn nginx_in_front_proxies_to_the_socket() {
    let (dir, socket) = site();
    let _server = Serveur::start_unix(&dir.path().join("www"), &socket, &[]);
    let nginx = Nginx::start(dir.path(), &socket);
    let reply = crate::support::get(nginx.addr, "/sub/b.txt");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "beta");
}

/// nginx in the foreground (as `shared/bench/anchors/nginx.sh` runs it) on 127.0.0.1, proxying
/// every request to `socket` with README's snippet; stopped when dropped.
struct Nginx {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl Nginx {
    fn start(scratch: &Path, socket: &Path) -> Nginx {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let scratch = scratch.join("nginx");
        std::fs::create_dir_all(scratch.join("tmp")).expect("mkdir");
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {s}/nginx.pid;\nerror_log stderr warn;\n\
             events {{}}\nhttp {{\n access_log off;\n client_body_temp_path {s}/tmp;\n \
             proxy_temp_path {s}/tmp;\n fastcgi_temp_path {s}/tmp;\n uwsgi_temp_path {s}/tmp;\n \
             scgi_temp_path {s}/tmp;\n server {{\n  listen 127.0.0.1:{port};\n  location / {{\n   \
             proxy_pass http://unix:{sock}:;\n   proxy_set_header Host $host;\n   \
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n   \
             proxy_set_header X-Forwarded-Proto $scheme;\n  }}\n }}\n}}\n",
            s = scratch.display(),
            sock = socket.display(),
        );
        std::fs::write(scratch.join("nginx.conf"), conf).expect("write");
        // One process, no worker switching to another user: it connects as the test's user.
        let child = Command::new("nginx")
            .args(["-e", "stderr", "-c"])
            .arg(scratch.join("nginx.conf"))
            .arg("-p")
            .arg(&scratch)
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("nginx must be installed to run this test");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = std::time::Instant::now() + WAIT;
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nginx does not listen"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Nginx { child, addr }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
