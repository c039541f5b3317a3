//! Real FastCGI applications for the integration tests, each started in the foreground (on a
//! Unix socket in a temporary directory, or a TCP port the kernel picks) and stopped when
//! dropped: php-fpm (Debian's `php-fpm` package) with a pool configuration written here, a
//! Python WSGI responder served by PyPI's `flup`, and `responder.py`, a FastCGI responder in
//! Python's standard library that shows what the other two hide (connections, aborts) and sends
//! what they cannot (a bare `Location` header). A missing tool fails the test, with the package
//! to install.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use crate::support::{wait_for_line, Serveur, WAIT};

/// The php-fpm binary Debian installs (`/usr/sbin/php-fpm8.2` for Debian 12's `php-fpm`).
fn php_fpm_binary() -> PathBuf {
    let found = std::fs::read_dir("/usr/sbin").ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("php-fpm"))
            })
            .max()
    });
    found.unwrap_or_else(|| {
        panic!("php-fpm is missing: install Debian's php-fpm package (apt-get install php-fpm)")
    })
}

/// A running application, killed when dropped, with its output collected.
pub(crate) struct App {
    child: Option<Child>,
    listen: Listen,
    /// Where it listens, as `--fastcgi` names it: `unix:/path` or `127.0.0.1:PORT`.
    address: String,
    output: Arc<Mutex<Vec<String>>>,
    restart: Command,
}

/// How to tell that an application is ready, and where it listens.
enum Listen {
    /// On a Unix socket the test chose: ready once a connection there succeeds.
    Unix(PathBuf),
    /// Wherever its first line `listening on ADDRESS` says (the only way to learn a port the
    /// kernel picked, with no race for a free one): ready once it has printed it.
    Announced,
}

impl Listen {
    /// The application's address, once `output` shows it ready.
    fn ready(&self, output: &[String]) -> Option<String> {
        match self {
            Listen::Unix(socket) => UnixStream::connect(socket)
                .is_ok()
                .then(|| format!("unix:{}", socket.display())),
            Listen::Announced => output
                .iter()
                .find_map(|line| line.strip_prefix("listening on "))
                .map(str::to_owned),
        }
    }
}

impl App {
    /// The address to give `--fastcgi`.
    pub(crate) fn address(&self) -> String {
        self.address.clone()
    }

    /// Everything the application wrote on stdout and stderr so far.
    pub(crate) fn output(&self) -> Vec<String> {
        self.output.lock().expect("output lock").clone()
    }

    /// Waits until the application writes a line containing `needle`, and returns it.
    pub(crate) fn wait_for_output(&self, needle: &str) -> String {
        wait_for_line(needle, || self.output())
    }

    /// Stops the application with SIGTERM (php-fpm's master then stops its workers; a SIGKILL
    /// would leave them serving) and waits for it to exit.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            let _ = child.wait();
        }
        if let Listen::Unix(socket) = &self.listen {
            let _ = std::fs::remove_file(socket);
        }
    }

    /// Starts the application again at the same address, as after a restart.
    pub(crate) fn restart(&mut self) {
        self.stop();
        let (child, output, address) = spawn_and_wait(&mut self.restart, &self.listen);
        assert_eq!(address, self.address, "restarted elsewhere");
        self.child = Some(child);
        self.output = output;
    }
}

impl App {
    fn start(mut command: Command, listen: Listen) -> App {
        let (child, output, address) = spawn_and_wait(&mut command, &listen);
        App {
            child: Some(child),
            listen,
            address,
            output,
            restart: command,
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn_and_wait(
    command: &mut Command,
    listen: &Listen,
) -> (Child, Arc<Mutex<Vec<String>>>, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let output = Arc::new(Mutex::new(Vec::new()));
    for pipe in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().expect("output lock").push(line);
            }
        });
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = output.lock().expect("output lock").clone();
        if let Some(address) = listen.ready(&lines) {
            return (child, output, address);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{command:?} exited with {status}: {lines:#?}");
        }
        assert!(
            Instant::now() < deadline,
            "{command:?} never listened: {lines:#?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Starts php-fpm in the foreground with `workers` static workers, its socket in `dir`, its
/// error log on stderr.
pub(crate) fn php_fpm(dir: &Path, workers: usize) -> App {
    php_fpm_managed(dir, &format!("pm = static\npm.max_children = {workers}\n"))
}

/// [`php_fpm`] with its process manager's lines (`pm = dynamic`, `pm.max_children = 5`, …).
pub(crate) fn php_fpm_managed(dir: &Path, pm: &str) -> App {
    let socket = dir.join("php-fpm.sock");
    let config = dir.join("php-fpm.conf");
    std::fs::write(
        &config,
        format!(
            "[global]\n\
             error_log = /proc/self/fd/2\n\
             daemonize = no\n\
             pid = {dir}/php-fpm.pid\n\
             [test]\n\
             listen = {socket}\n\
             {pm}\
             catch_workers_output = yes\n\
             php_admin_value[upload_max_filesize] = 8M\n\
             php_admin_value[post_max_size] = 16M\n\
             php_admin_value[output_buffering] = 0\n",
            dir = dir.display(),
            socket = socket.display(),
        ),
    )
    .expect("write php-fpm.conf");
    let mut command = Command::new(php_fpm_binary());
    command.arg("-F").arg("-y").arg(&config);
    if rustix::process::geteuid().is_root() {
        command.arg("-R");
    }
    App::start(command, Listen::Unix(socket))
}

/// Starts a WSGI application under flup's FastCGI server; the script must fail when `flup` is
/// missing, and names the package.
pub(crate) fn flup(dir: &Path, wsgi_app: &str) -> App {
    let socket = dir.join("flup.sock");
    let script = dir.join("flup_app.py");
    std::fs::write(
        &script,
        format!(
            "import sys\n\
             try:\n\
             \x20   from flup.server.fcgi import WSGIServer\n\
             except ImportError:\n\
             \x20   sys.exit('flup is missing: pip install flup')\n\
             {wsgi_app}\n\
             WSGIServer(app, bindAddress=sys.argv[1]).run()\n"
        ),
    )
    .expect("write flup app");
    let mut command = Command::new("python3");
    command.arg(&script).arg(&socket);
    App::start(command, Listen::Unix(socket))
}

/// Starts `responder.py` on a Unix socket in `dir`, answering with `app`: Python source that
/// defines `app(params, stdin, aborted)`, a generator of raw CGI output (see responder.py).
pub(crate) fn responder(dir: &Path, app: &str) -> App {
    let socket = dir.join("responder.sock");
    start_responder(dir, app, &format!("unix:{}", socket.display()))
}

/// [`responder`] on a TCP port of 127.0.0.1 the kernel picks.
pub(crate) fn responder_on_tcp(dir: &Path, app: &str) -> App {
    start_responder(dir, app, "127.0.0.1:0")
}

/// Ready when it says so even on a Unix socket: a connection to probe it would show in its
/// counts.
fn start_responder(dir: &Path, app: &str, address: &str) -> App {
    let script = dir.join("responder.py");
    std::fs::write(&script, include_str!("responder.py")).expect("write responder.py");
    std::fs::write(dir.join("app.py"), app).expect("write app.py");
    let mut command = Command::new("python3");
    command.arg(&script).arg(address);
    App::start(command, Listen::Announced)
}

/// The responder's count of open connections each time it accepted one.
pub(crate) fn open_connections(app: &App) -> Vec<usize> {
    app.output()
        .iter()
        .filter_map(|line| line.strip_prefix("open connections: "))
        .map(|count| count.parse().expect("a count"))
        .collect()
}

/// A site, an application, and serveur in front of both. Dropped in the order of the fields:
/// serveur first, since flup, stopped, waits for the connections kept to it to close.
pub(crate) struct Site {
    /// serveur, with `--fastcgi` to the application.
    pub server: Serveur,
    /// The application.
    pub app: App,
    /// The site's directory.
    pub site: tempfile::TempDir,
    _run: tempfile::TempDir,
}

/// A site with nothing in it yet, the application `start` starts in a directory of its own,
/// and serveur with `--fastcgi PATTERN=` the application, then `extra_args`.
pub(crate) fn site_with(
    pattern: &str,
    start: impl FnOnce(&Path) -> App,
    extra_args: &[&str],
) -> Site {
    let site = tempfile::tempdir().expect("site");
    let run = tempfile::tempdir().expect("run dir");
    let app = start(run.path());
    let route = format!("{pattern}={}", app.address());
    let mut args = vec!["--fastcgi", route.as_str()];
    args.extend_from_slice(extra_args);
    let server = Serveur::start(site.path(), &args);
    Site {
        server,
        app,
        site,
        _run: run,
    }
}

const SERVER_VARS: &str = r#"<?php
header('Content-Type: application/json');
echo json_encode($_SERVER);
"#;

/// A site with `vars.php` (which answers `$_SERVER` as JSON), `sub/index.php` and
/// `plain.txt`, php-fpm with `workers` workers for `*.php`, and serveur with `extra_args`.
pub(crate) fn php_site(workers: usize, extra_args: &[&str]) -> Site {
    let php = site_with("*.php", |run| php_fpm(run, workers), extra_args);
    write(php.site.path(), "vars.php", SERVER_VARS);
    write(php.site.path(), "sub/index.php", "<?php echo 'sub index';");
    write(php.site.path(), "plain.txt", "just text\n");
    php
}

/// Writes `text` at `dir/relative`, creating its directories.
pub(crate) fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// `text` read as JSON, or the test fails showing it.
pub(crate) fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
