//! The `serveur` binary: parses Python's command line into a [`cli::Config`], composes the
//! handlers from the library's public API, prints CPython's startup line and serves until
//! Ctrl+C or SIGTERM (SIGHUP reopens the log file, `logging.rs`).

mod addresses;
mod cli;
mod config_file;
mod hash_password;
mod logging;
mod metrics_path;
mod ops_args;
mod shell_help;
mod socket_activation;
mod unix_bind;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use serveur::auth::Auth;
use serveur::fastcgi::Pattern;
use serveur::metrics::{Handled, Labelled, Metrics, Page};
use serveur::safe_path::{Root, UrlPath};
use serveur::{
    stop_signal, BindOptions, Cgi, FastCgi, Handler, Server, SharedHandler, StaticFiles,
    StopSignal, Upload,
};
use socket_activation::Inherited;

fn main() -> ExitCode {
    // Before any thread: taking systemd's socket changes the environment.
    let inherited = match socket_activation::inherited_listener() {
        Ok(inherited) => inherited,
        Err(message) => {
            eprintln!("serveur: error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let config = cli::parse();
    raise_descriptor_limit();
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("serveur: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config, inherited)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("serveur: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Raises the soft limit on open files to the hard one, as nginx's `worker_rlimit_nofile` and
/// lighttpd's `server.max-fds` do: the default connection limit follows from it
/// (`Server::max_connections`), and the common soft limit of 1024 would allow few connections.
/// Failing (a hard limit the kernel will not grant) leaves the soft limit, and so a lower
/// default, which the server's log then states.
fn raise_descriptor_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

/// One worker thread per core the process may run on: a server pinned to one core (as the
/// benchmarks pin it) gets the single-threaded scheduler, which has no cross-thread overhead.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores)
            .enable_all()
            .build()
    }
}

async fn run(config: cli::Config, inherited: Option<Inherited>) -> Result<(), String> {
    let mut files = StaticFiles::new(&config.directory)
        .map_err(|e| format!("cannot serve {}: {e}", config.directory.display()))?
        .follow_symlinks(config.follow_symlinks)
        .default_content_type(config.content_type.clone())
        .compress(config.compress)
        .cors(config.cors)
        .listing_json(config.listing_json)
        .archive(config.archive)
        .ui(config.ui);
    if let Some(value) = &config.cache_control {
        files = files.cache_control(value.clone());
    }
    for (name, value) in &config.headers {
        files = files.extra_header(name.clone(), value.clone());
    }
    if let Some(upload) = &config.upload {
        files = files
            .uploads(true)
            .upload_directories(&upload.dirs)
            .deletes(upload.delete);
    }
    // Only under --metrics-path: the counters, given to the server and every handler, and
    // each handler labelling its answers (`serveur::metrics::Labelled`).
    let metrics = config
        .metrics_path
        .as_ref()
        .map(|_| Arc::new(Metrics::new()));
    let metered = metrics.is_some();
    if let Some(metrics) = &metrics {
        files = files.metrics(Arc::clone(metrics));
    }
    // Python's own case, the files alone: served as their own type rather than behind a
    // `SharedHandler`, whose boxed future cost an allocation a request (~270 instructions of
    // a 1 KiB file's, callgrind).
    if config.cgi.is_none() && config.upload.is_none() && config.fastcgi.is_empty() && !metered {
        return guard_and_serve(config, inherited, None, files).await;
    }
    let mut handler = match &config.cgi {
        Some(cgi) => compose_cgi(&config, cgi, files, metrics.as_ref())?,
        // The files label their own answers (`StaticFiles::metrics`).
        None => SharedHandler::new(files),
    };
    if let Some(upload) = &config.upload {
        handler = compose_upload(&config, upload, handler, metered)?;
    }
    // Each FastCGI route in front of the rest, the first given tried first: a request that
    // names none of its scripts goes on to the next, and finally to CGI or the files. So a
    // `*.php` file is never served as a file: its path always reaches the application.
    for (pattern, address) in config.fastcgi.iter().rev() {
        let mut fastcgi = FastCgi::new(&config.directory, pattern.clone(), address.clone())
            .map_err(|e| format!("cannot serve {}: {e}", config.directory.display()))?
            .follow_symlinks(config.follow_symlinks)
            .timeout(config.fastcgi_timeout)
            .ignore_client_abort(config.ignore_client_abort)
            .fallback(handler);
        // Given, the bound is the pool's size; otherwise the pool learns it (up to 32).
        if let Some(connections) = config.fastcgi_connections {
            fastcgi = fastcgi.max_connections(connections);
        }
        handler = match &metrics {
            Some(metrics) => labelled(fastcgi.metrics(Arc::clone(metrics)), Handled::FastCgi, true),
            None => SharedHandler::new(fastcgi),
        };
    }
    // In front of every handler, so no file, script or application answers its path; behind
    // access control, whose rules judge it as any path. Not one more boxed layer: the page
    // goes to access control or the server as its own type.
    match (&config.metrics_path, metrics) {
        (Some(path), Some(metrics)) => {
            let page = Page::new(path.clone(), Arc::clone(&metrics), handler);
            guard_and_serve(config, inherited, Some(metrics), page).await
        }
        _ => guard_and_serve(config, inherited, None, handler).await,
    }
}

/// Access control in front of `handler` when `--auth` asks for it (outermost: no request
/// reaches a script, an application, a file or the metrics unless the rules let it), then
/// [`serve`].
async fn guard_and_serve(
    config: cli::Config,
    inherited: Option<Inherited>,
    metrics: Option<Arc<Metrics>>,
    handler: impl Handler,
) -> Result<(), String> {
    let Some(auth) = &config.auth else {
        return serve(config, inherited, metrics, handler).await;
    };
    if auth.rules.has_plain_passwords() {
        eprintln!(
            "serveur: warning: a password is given in plain text; for more than a quick \
             test use a hash (serveur --hash-password)"
        );
    }
    if auth.in_clear {
        eprintln!("serveur: warning: passwords cross the network in clear (--auth-insecure-ok)");
    }
    let root = Root::new(&config.directory, config.follow_symlinks)
        .map_err(|e| format!("cannot serve {}: {e}", config.directory.display()))?;
    let auth = Auth::new(root, auth.rules.clone(), handler)
        .map_err(|e| format!("cannot start access control: {e}"))?;
    let guarded = labelled(auth, Handled::Auth, metrics.is_some());
    serve(config, inherited, metrics, guarded).await
}

/// Listens, prints the startup line and serves `handler` until Ctrl+C or SIGTERM.
async fn serve(
    config: cli::Config,
    inherited: Option<Inherited>,
    metrics: Option<Arc<Metrics>>,
    handler: impl Handler,
) -> Result<(), String> {
    // Set before the socket exists: a signal from then on stops serveur gracefully (and
    // removes a Unix socket's file), even one sent as the startup line appears.
    let signal = stop_signal();
    let explicit_bind = config.bind.is_some() || inherited.is_some();
    let server = listen(&config, inherited)?;
    // A Unix socket has no address: its path is said instead.
    let listening = match server.unix_path() {
        Some(path) => Listening::Unix(format!("unix:{}", path.display())),
        None => Listening::Tcp(server.local_addr().map_err(|e| e.to_string())?),
    };
    let log = logging::access_log(&config)?;
    let server = server
        .protocol(config.protocol)
        .access_log(log)
        .header_timeout(config.header_timeout)
        .min_rate(config.min_rate)
        .shutdown_grace(config.shutdown_grace)
        .handshake_timeout(config.handshake_timeout);
    let server = match config.max_connections {
        Some(max) => server.max_connections(max),
        None => server,
    };
    let server = match metrics {
        Some(metrics) => server.metrics(metrics),
        None => server,
    };
    let server = match &config.tls {
        Some(tls) => {
            if let Some(warning) = tls.config.validity_warning() {
                eprintln!("serveur: warning: {warning}");
            }
            server.tls(tls.config.clone())
        }
        None => server,
    };

    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!("{}", startup_line(explicit_bind, &listening, scheme));
    if let Some(tls) = config.tls.as_ref().filter(|tls| tls.self_signed) {
        println!(
            "Self-signed certificate, SHA-256 fingerprint {}",
            tls.config.fingerprint()
        );
    }
    if let (true, Listening::Tcp(local)) = (config.show_addresses, listening) {
        match addresses::report(local, scheme) {
            Ok(lines) => print!("{lines}"),
            Err(e) => eprintln!("serveur: warning: cannot list the network interfaces: {e}"),
        }
    }
    let stop = async {
        if signal.await == StopSignal::Interrupt {
            println!("\nKeyboard interrupt received, exiting.");
        }
    };
    server
        .serve_until(handler, stop)
        .await
        .map_err(|e| e.to_string())
}

/// The socket systemd passed, else `-b` and the port bound (with `--reuse-port`'s option), or
/// `-b unix:PATH` (with `--unix-mode`'s).
fn listen(config: &cli::Config, inherited: Option<Inherited>) -> Result<Server, String> {
    let passed = match inherited {
        Some(Inherited::Tcp(listener)) => Some(Server::from_std(listener)),
        Some(Inherited::Unix(listener)) => Some(Server::from_std_unix(listener)),
        None => None,
    };
    if let Some(passed) = passed {
        return passed.map_err(|e| format!("socket activation: {e}"));
    }
    if let Some(unix) = &config.unix {
        let options = BindOptions::default().unix_mode(unix.mode);
        return Server::bind_unix_with(&unix.path, options)
            .map_err(|e| format!("cannot listen on unix:{}: {e}", unix.path.display()));
    }
    let options = BindOptions::default().reuse_port(config.reuse_port);
    let bound = match config.bind {
        Some(addr) => Server::bind_with(addr, options),
        None => Server::bind_all_with(config.port, options),
    };
    bound.map_err(|e| {
        let host = config
            .bind
            .map_or_else(|| "0.0.0.0".to_owned(), |a| a.ip().to_string());
        format!("cannot listen on {host} port {}: {e}", config.port)
    })
}

/// `--cgi`: one [`Cgi`] handler in front, which runs the scripts of the CGI directories and
/// hands every other request to the static files. One handler rather than a `Mount` because
/// the CGI directory can be `/` (a script is then any executable file, decided per request),
/// and because POST outside the scripts gets CPython's CGI message. The static files hide the
/// CGI directories, so no path (symlinks included) serves a script's source.
fn compose_cgi(
    config: &cli::Config,
    cgi: &cli::CgiConfig,
    mut files: StaticFiles,
    metrics: Option<&Arc<Metrics>>,
) -> Result<SharedHandler, String> {
    let gateway = Cgi::new(&config.directory)
        .map_err(|e| format!("cannot serve {}: {e}", config.directory.display()))?
        .follow_symlinks(config.follow_symlinks)
        .directories(&cgi.dirs)
        .pass_env(&cgi.pass_env)
        .timeout(cgi.timeout)
        .max_body(cgi.max_body)
        .max_running(cgi.max_running)
        .ignore_client_abort(config.ignore_client_abort);
    for dir in gateway.script_dirs() {
        files = files.hide(dir);
    }
    Ok(match metrics {
        Some(metrics) => {
            let gateway = gateway.metrics(Arc::clone(metrics)).fallback(files);
            labelled(gateway, Handled::Cgi, true)
        }
        None => SharedHandler::new(gateway.fallback(files)),
    })
}

/// `--upload`: an [`Upload`] handler in front of CGI and the files (behind FastCGI, whose
/// scripts answer their own paths), refusing any write that a gateway would run: into a CGI
/// directory, or a name a `--fastcgi` route would send to its application.
fn compose_upload(
    config: &cli::Config,
    upload: &cli::UploadConfig,
    rest: SharedHandler,
    metered: bool,
) -> Result<SharedHandler, String> {
    let cgi_dirs: Vec<UrlPath> = config
        .cgi
        .iter()
        .flat_map(|cgi| cgi.dirs.iter().map(|dir| UrlPath::parse(dir)))
        .collect();
    let routes: Vec<Pattern> = config.fastcgi.iter().map(|(p, _)| p.clone()).collect();
    let runs_code = move |url: &UrlPath| {
        let segments = url.segments();
        cgi_dirs
            .iter()
            .any(|dir| segments.starts_with(dir.segments()))
            || routes.iter().any(|route| match route {
                // Compared without case: refusing `X.PHP` too costs nothing.
                Pattern::Extension(ext) => segments.last().is_some_and(|name| {
                    name.len() >= ext.len()
                        && name[name.len() - ext.len()..].eq_ignore_ascii_case(ext.as_bytes())
                }),
                Pattern::Prefix(prefix) => segments.starts_with(UrlPath::parse(prefix).segments()),
            })
    };
    let handler = Upload::new(&config.directory)
        .map_err(|e| format!("cannot serve {}: {e}", config.directory.display()))?
        .directories(&upload.dirs)
        .overwrite(upload.overwrite)
        .max_body(upload.max_body)
        .allow_delete(upload.delete)
        .allow_mkdir(upload.mkdir)
        .refuse_code(runs_code)
        .fallback(rest);
    Ok(labelled(handler, Handled::Upload, metered))
}

/// `handler` shared, its answers labelled `handled` for the metrics when `metered` (and only
/// then: a label costs a little per request).
fn labelled(handler: impl Handler, handled: Handled, metered: bool) -> SharedHandler {
    if metered {
        SharedHandler::new(Labelled::new(handler, handled))
    } else {
        SharedHandler::new(handler)
    }
}

/// What the server listens on, as the startup line says it.
enum Listening {
    Tcp(SocketAddr),
    /// `unix:PATH`.
    Unix(String),
}

/// CPython's `Serving HTTP on HOST port PORT (http://HOST:PORT/) ...` (`HTTPS` and `https`
/// under TLS, as Python 3.14), the host bracketed in the URL only when it is IPv6. Without `-b`
/// CPython binds `0.0.0.0`; serveur listens on every
/// interface too (dual-stack) and prints the same line. On a Unix socket, which has neither
/// host, port nor URL, `Serving HTTP on unix:PATH ...`: the same start, so that a reader of
/// the line still finds the protocol and where to connect.
fn startup_line(explicit_bind: bool, listening: &Listening, scheme: &str) -> String {
    let word = scheme.to_ascii_uppercase();
    let local = match listening {
        Listening::Tcp(local) => local,
        Listening::Unix(path) => return format!("Serving {word} on {path} ..."),
    };
    let host = if explicit_bind {
        local.ip().to_string()
    } else {
        "0.0.0.0".to_owned()
    };
    let url_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let port = local.port();
    format!("Serving {word} on {host} port {port} ({scheme}://{url_host}:{port}/) ...")
}
