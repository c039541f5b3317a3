//! The command line: CPython's `python -m http.server` flags with the same spellings and
//! meanings, then serveur's own under separate help headings. Parsing ends in a validated
//! [`Config`]; every mistake is one line on stderr and exit status 2, as argparse does.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use serveur::auth::Rules;
use serveur::fastcgi::{Address, Pattern};
use serveur::http::header::{HeaderName, HeaderValue};
use serveur::{LogFormat, MinRate, Protocol, TlsConfig};

use super::config_file::{self, Failure};
use super::ops_args::OpsArgs;
use super::shell_help;
use super::unix_bind::{self, UnixBind};

/// Serve a directory over HTTP: a fast, safe drop-in for `python -m http.server`.
#[derive(Parser, Debug)]
#[command(name = "serveur", version, about, max_term_width = 100)]
struct Args {
    /// Bind to this port
    #[arg(default_value_t = 8000)]
    port: u16,

    /// Bind to this address (default: all interfaces), or unix:PATH to listen on a Unix
    /// socket (for a reverse proxy in front)
    #[arg(short = 'b', long = "bind", value_name = "ADDRESS")]
    bind: Option<String>,

    /// Serve this directory (default: current directory)
    #[arg(short = 'd', long = "directory", value_name = "DIRECTORY")]
    directory: Option<PathBuf>,

    /// Conform to this HTTP version: HTTP/1.1 (keep-alive, the default) or HTTP/1.0 (one
    /// request per connection, as Python's default)
    #[arg(
        short = 'p',
        long = "protocol",
        value_name = "VERSION",
        default_value = "HTTP/1.1"
    )]
    protocol: String,

    /// Content type for files whose extension is unknown
    #[arg(
        long = "content-type",
        value_name = "TYPE",
        default_value = "application/octet-stream"
    )]
    content_type: String,

    /// Add a header to 200 (and 206) responses, as "Name: value" (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,

    /// Run as CGI server: scripts below /cgi-bin and /htbin run instead of being served
    #[arg(long)]
    cgi: bool,

    /// A URL directory whose files are CGI scripts, instead of /cgi-bin and /htbin
    /// (repeatable); "/" makes every executable file a script
    #[arg(long, value_name = "PATH", help_heading = "CGI (with --cgi)")]
    cgi_dir: Vec<String>,

    /// Also give scripts this variable of the server's environment (repeatable); they get
    /// only PATH, LANG, LC_ALL, LC_CTYPE, TZ and TMPDIR otherwise
    #[arg(long, value_name = "NAME", help_heading = "CGI (with --cgi)")]
    cgi_pass_env: Vec<String>,

    /// Largest request body given to a script, in bytes (K, M, G suffixes allowed); larger
    /// ones get 413 [default: 1G]
    #[arg(long, value_name = "BYTES", help_heading = "CGI (with --cgi)")]
    cgi_max_body: Option<String>,

    /// Seconds a script may run before it and its children are killed (504 if it had not
    /// answered) [default: 60]
    #[arg(long, value_name = "SECONDS", help_heading = "CGI (with --cgi)")]
    cgi_timeout: Option<f64>,

    /// Most scripts running at once; more requests wait for a turn [default: 32]
    #[arg(long, value_name = "N", help_heading = "CGI (with --cgi)")]
    cgi_max: Option<usize>,

    /// Accept uploads: PUT of a file, and POST of a form (the listing then shows one) to a
    /// directory; nothing is ever replaced, partial or executable
    #[arg(long, help_heading = "Uploads")]
    upload: bool,

    /// A URL directory where uploads are accepted, instead of everywhere (repeatable)
    #[arg(long, value_name = "PATH", help_heading = "Uploads")]
    upload_dir: Vec<String>,

    /// Let an upload replace an existing file (atomically); otherwise PUT gets 409 and a form
    /// upload stores "name (1).ext"
    #[arg(long, help_heading = "Uploads")]
    upload_overwrite: bool,

    /// Largest upload, in bytes (K, M, G suffixes allowed); larger ones get 413 [default: 1G]
    #[arg(long, value_name = "SIZE", help_heading = "Uploads")]
    upload_max: Option<String>,

    /// Let DELETE remove a file or an empty directory where uploads are accepted
    #[arg(long, help_heading = "Uploads")]
    allow_delete: bool,

    /// Let MKCOL (or the listing's form) make a directory where uploads are accepted
    #[arg(long, help_heading = "Uploads")]
    allow_mkdir: bool,

    /// --upload, --allow-delete and --allow-mkdir together, for a quick share on a LAN
    #[arg(long, help_heading = "Uploads")]
    allow_all: bool,
    /// Path to the TLS certificate chain file (PEM); serves HTTPS
    #[arg(long = "tls-cert", value_name = "PATH")]
    tls_cert: Option<PathBuf>,

    /// Path to the TLS key file (PEM: PKCS#8, PKCS#1 or SEC1; default: the key in --tls-cert)
    #[arg(long = "tls-key", value_name = "PATH")]
    tls_key: Option<PathBuf>,

    /// Path to the password file for an encrypted TLS key
    #[arg(long = "tls-password-file", value_name = "PATH")]
    tls_password_file: Option<PathBuf>,

    /// Serve HTTPS with a certificate made at start-up for localhost, 127.0.0.1, ::1 and the
    /// bind address, kept in memory; its SHA-256 fingerprint is printed
    #[arg(long, help_heading = "serveur options")]
    tls_self_signed: bool,

    /// Send requests matching PATTERN to the FastCGI application at ADDRESS (repeatable).
    /// PATTERN is an extension (*.php: those files, index.php as a directory index) or a path
    /// prefix (/app); ADDRESS is host:port or unix:/path
    #[arg(long, value_name = "PATTERN=ADDRESS", help_heading = "FastCGI")]
    fastcgi: Vec<String>,

    /// Seconds to wait on a FastCGI application (for a connection, or between two reads or
    /// writes) before answering 504
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60.0,
        help_heading = "FastCGI"
    )]
    fastcgi_timeout: f64,

    /// Connections open to each FastCGI application, kept between requests; by default up to
    /// 32, as many as the application serves at once (its FCGI_GET_VALUES answer, or learned
    /// from its accept queue: php-fpm's pm.max_children)
    #[arg(long, value_name = "N", help_heading = "FastCGI")]
    fastcgi_connections: Option<usize>,

    /// Let a CGI script or FastCGI request whose client leaves before its answer run on to its
    /// end (or its timeout), its output dropped; by default it is stopped at once (the script's
    /// process group killed, FCGI_ABORT_REQUEST sent). A client that half-closes its
    /// connection after its request counts as leaving
    #[arg(long, help_heading = "serveur options")]
    ignore_client_abort: bool,

    /// Follow symlinks whose target is outside the served directory
    #[arg(long, help_heading = "serveur options")]
    follow_symlinks: bool,

    /// Do not write the access log
    #[arg(short = 'q', long, help_heading = "serveur options")]
    quiet: bool,

    /// An access rule (repeatable): USER:PASSWORD@/PATH[:rw|:ro][,/PATH[:rw|:ro]...] for an
    /// account (PASSWORD a hash, or plain text for a quick test), @/PATH[:ro|:rw]... for
    /// anonymous access. The most specific path wins; once a rule exists, a path no rule
    /// opens is closed
    #[arg(long, value_name = "RULE", help_heading = "Access control")]
    auth: Vec<String>,

    /// Accounts from an Apache htpasswd file (bcrypt -B, SHA-crypt -5/-2, argon2id): each may
    /// read and write everywhere, unless an --auth rule names it (USER@/PATH:ro)
    #[arg(long, value_name = "FILE", help_heading = "Access control")]
    auth_file: Option<PathBuf>,

    /// Anyone may read everywhere; the rules then decide who may write
    #[arg(long, help_heading = "Access control")]
    auth_anon_read: bool,

    /// Start even though passwords would cross the network in clear (plain HTTP on an
    /// address other than loopback)
    #[arg(long, help_heading = "Access control")]
    auth_insecure_ok: bool,

    /// Read a password (without echo on a terminal, else one line of stdin), print its
    /// argon2id hash for an --auth rule, and exit
    #[arg(long, help_heading = "Access control")]
    hash_password: bool,

    /// Never compress responses: no on-the-fly zstd/br/gzip and no precompressed siblings
    /// (app.js.br, .zst, .gz); files are sent as they are, as Python sends them
    #[arg(long, help_heading = "Downloads")]
    no_compress: bool,

    /// Send "Cache-Control: VALUE" with files, listings and 304 answers (e.g. "no-cache" or
    /// "public, max-age=3600")
    #[arg(long, value_name = "VALUE", help_heading = "Downloads")]
    cache_control: Option<String>,

    /// Allow cross-origin reads from any origin: "Access-Control-Allow-Origin: *" on every
    /// answer, and CORS preflight OPTIONS requests granted
    #[arg(long, help_heading = "Downloads")]
    cors: bool,

    /// Offer each directory listing as JSON too, to "?format=json" or "Accept:
    /// application/json": [{"name", "type", "mtime", "size"}] as nginx's autoindex_format json
    #[arg(long, help_heading = "Downloads")]
    listing_json: bool,

    /// Let a whole directory be downloaded as one archive, made while it is sent:
    /// "?download=zip" or "?download=tar.gz" on the directory's URL
    #[arg(long, help_heading = "Downloads")]
    archive: bool,

    /// The rich directory page instead of Python's: breadcrumbs, a table of names, sizes and
    /// times sortable by links, a filter box, the README.md rendered below; implies
    /// --listing-json, --archive and --qr
    #[arg(long, help_heading = "Downloads")]
    ui: bool,

    /// Never offer folders as archives, even where another flag (--ui) turns them on
    #[arg(long, help_heading = "Downloads")]
    no_archive: bool,

    /// At start-up, after the usual line, print every URL the server can be reached at and a
    /// QR code of the first one on the LAN, for a phone's camera
    #[arg(long, help_heading = "serveur options")]
    qr: bool,

    /// Most connections open at once (default: half the open-file limit, raised to its hard
    /// limit at start); at it, idle ones are closed to make room, and only when all are busy
    /// do new ones wait
    #[arg(long, value_name = "N", help_heading = "Limits and timeouts")]
    max_connections: Option<usize>,

    /// Seconds a client has to send a request head; also closes idle keep-alive connections
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30.0,
        help_heading = "Limits and timeouts"
    )]
    header_timeout: f64,

    /// Least bytes per second a connection must move while the server waits on its client (a
    /// response not read, a request body not sent), over each --min-rate-window; 0 turns it off
    #[arg(
        long,
        value_name = "BYTES_PER_SEC",
        default_value_t = 500,
        help_heading = "Limits and timeouts"
    )]
    min_rate: u64,

    /// Seconds over which --min-rate is measured
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60.0,
        help_heading = "Limits and timeouts"
    )]
    min_rate_window: f64,

    /// Seconds a client has to complete the TLS handshake
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10.0,
        help_heading = "Limits and timeouts"
    )]
    handshake_timeout: f64,

    /// Seconds in-flight requests may run on after Ctrl+C or SIGTERM
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10.0,
        help_heading = "Limits and timeouts"
    )]
    shutdown_grace: f64,

    #[command(flatten)]
    ops: OpsArgs,
}

/// What the server will do, every value checked.
#[derive(Debug)]
pub(crate) struct Config {
    /// The address to listen on; `None` for every interface (or a Unix socket).
    pub bind: Option<SocketAddr>,
    /// The Unix socket to listen on instead (`-b unix:PATH`).
    pub unix: Option<UnixBind>,
    /// The port when `bind` is `None`.
    pub port: u16,
    /// The directory served.
    pub directory: PathBuf,
    /// The HTTP/1 version spoken.
    pub protocol: Protocol,
    /// The content type of unknown extensions.
    pub content_type: HeaderValue,
    /// Headers added to 200 responses.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Whether symlinks may lead outside the directory.
    pub follow_symlinks: bool,
    /// Whether the access log is off.
    pub quiet: bool,
    /// The access log's shape (`--log-format`).
    pub log_format: LogFormat,
    /// The file the access log goes to (`--log-file`), instead of stderr.
    pub log_file: Option<PathBuf>,
    /// Whether responses may be compressed.
    pub compress: bool,
    /// The `Cache-Control` value, if any.
    pub cache_control: Option<HeaderValue>,
    /// Whether CORS is on.
    pub cors: bool,
    /// Whether listings are offered as JSON too (`--listing-json`).
    pub listing_json: bool,
    /// Whether directories may be downloaded as archives (`--archive`, not `--no-archive`).
    pub archive: bool,
    /// Whether listings are the rich page (`--ui`).
    pub ui: bool,
    /// Whether the start-up lists every URL and a QR code (`--qr`).
    pub show_addresses: bool,
    /// The connection cap (`None`: the library's default, from the open-file limit).
    pub max_connections: Option<usize>,
    /// The request-head timeout.
    pub header_timeout: Duration,
    /// The minimum rate of a connection waiting on its client.
    pub min_rate: MinRate,
    /// The grace period on stop.
    pub shutdown_grace: Duration,
    /// The CGI gateway, with `--cgi`.
    pub cgi: Option<CgiConfig>,
    /// HTTPS, when a certificate was given or made.
    pub tls: Option<Tls>,
    /// The TLS handshake timeout.
    pub handshake_timeout: Duration,
    /// The FastCGI applications, in the order given.
    pub fastcgi: Vec<(Pattern, Address)>,
    /// How long to wait on a FastCGI application.
    pub fastcgi_timeout: Duration,
    /// The connection bound for each FastCGI application, if given (else learned).
    pub fastcgi_connections: Option<usize>,
    /// Whether scripts run on when their client leaves (`--ignore-client-abort`).
    pub ignore_client_abort: bool,
    /// Uploads, with `--upload` or `--allow-all`.
    pub upload: Option<UploadConfig>,
    /// Access control, when any rule was given.
    pub auth: Option<AuthConfig>,
    /// Whether the port may be shared with other processes (`--reuse-port`).
    pub reuse_port: bool,
    /// Where the metrics page is served (`--metrics-path`), if anywhere.
    pub metrics_path: Option<String>,
}

/// The access rules, checked.
#[derive(Debug)]
pub(crate) struct AuthConfig {
    /// The accounts and paths.
    pub rules: Rules,
    /// Whether passwords will cross the network in clear (`--auth-insecure-ok` allowed it).
    pub in_clear: bool,
}

/// The upload flags, checked.
#[derive(Debug)]
pub(crate) struct UploadConfig {
    /// Where uploads are accepted, as URL paths.
    pub dirs: Vec<String>,
    /// Whether an upload may replace a file.
    pub overwrite: bool,
    /// The largest upload.
    pub max_body: u64,
    /// Whether DELETE is allowed.
    pub delete: bool,
    /// Whether MKCOL is allowed.
    pub mkdir: bool,
}

/// The CGI flags, checked.
#[derive(Debug)]
pub(crate) struct CgiConfig {
    /// The CGI directories as URL paths.
    pub dirs: Vec<String>,
    /// Server variables passed on to scripts.
    pub pass_env: Vec<String>,
    /// The request body limit.
    pub max_body: u64,
    /// How long a script may run.
    pub timeout: Duration,
    /// How many scripts run at once.
    pub max_running: usize,
}

/// The certificate served, and whether it was made at start-up (its fingerprint is shown).
#[derive(Debug)]
pub(crate) struct Tls {
    /// The loaded or generated configuration.
    pub config: TlsConfig,
    /// Whether it is `--tls-self-signed`.
    pub self_signed: bool,
}

/// Parses the process's arguments (and the `--config` file, and `SERVEUR_*` variables), or
/// exits: 0 after `--help`, `--version`, `--completions`, `--man` and `--print-config`, 2 after
/// an error.
pub(crate) fn parse() -> Config {
    let command = config_file::with_env(Args::command());
    let (matches, provenance) = match config_file::matches(&command, std::env::args_os().collect())
    {
        Ok(parsed) => parsed,
        Err(Failure::Clap(e)) => clap_failure(e),
        Err(Failure::File(message)) => fail(&message),
    };
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| clap_failure(e));
    if let Some(shell) = args.ops.completions {
        exit_after(shell_help::completions(shell, command));
    }
    if args.ops.man {
        exit_after(shell_help::man(command));
    }
    if args.hash_password {
        std::process::exit(super::hash_password::run());
    }
    let print_config = args.ops.print_config;
    let config = match validate(args) {
        Ok(config) => config,
        Err(message) => fail(&provenance.blame(&message)),
    };
    if print_config {
        print!("{}", config_file::print(&command, &matches));
        std::process::exit(0);
    }
    config
}

/// Exits after `--help`/`--version` (0, clap's output) or a mistake (2, one line).
fn clap_failure(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    fail(&config_file::first_line(&e))
}

/// Exits 0 once a printout is written, 1 if stdout failed (a closed pipe).
fn exit_after(written: std::io::Result<()>) -> ! {
    match written {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("serveur: error: {e}");
            std::process::exit(1);
        }
    }
}

/// Prints `message` as ONE line (control characters the user typed, such as a newline in a
/// value, are shown escaped) and exits with argparse's status 2.
fn fail(message: &str) -> ! {
    let one_line: String = message
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    eprintln!("serveur: error: {one_line}");
    std::process::exit(2);
}

fn validate(args: Args) -> Result<Config, String> {
    let cgi = cgi_config(&args)?;
    let upload = upload_config(&args)?;
    // Under `--cgi-dir /` any file may run as a script, so every upload would be refused (no
    // upload becomes code): say so at start-up rather than at each request.
    let tree_wide_cgi = cgi
        .as_ref()
        .is_some_and(|c| c.dirs.iter().any(|d| d == "/"));
    if upload.is_some() && tree_wide_cgi {
        return Err(
            "argument --upload: not allowed with --cgi-dir /, where any uploaded \
                    file could run as a script"
                .into(),
        );
    }
    let directory = match args.directory.clone() {
        Some(dir) => dir,
        None => std::env::current_dir().map_err(|e| format!("current directory: {e}"))?,
    };
    if !directory.is_dir() {
        return Err(format!(
            "argument -d/--directory: {} is not a directory",
            directory.display()
        ));
    }
    if args.ignore_client_abort && !args.cgi && args.fastcgi.is_empty() {
        return Err(
            "argument --ignore-client-abort: only meaningful with --cgi or --fastcgi".into(),
        );
    }
    let unix = unix_bind::from_flags(
        args.bind.as_deref(),
        args.ops.unix_mode,
        args.ops.reuse_port,
        args.qr,
    )?;
    let bind = args
        .bind
        .as_deref()
        .filter(|_| unix.is_none())
        .map(|host| resolve(host, args.port))
        .transpose()?;
    let protocol = match args.protocol.as_str() {
        "HTTP/1.1" => Protocol::Http11,
        "HTTP/1.0" => Protocol::Http10,
        other => {
            return Err(format!(
                "argument -p/--protocol: '{other}' is not HTTP/1.0 or HTTP/1.1"
            ))
        }
    };
    let content_type = HeaderValue::from_str(&args.content_type).map_err(|_| {
        format!(
            "argument --content-type: invalid type '{}'",
            args.content_type
        )
    })?;
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<_, _>>()?;
    let cache_control = args
        .cache_control
        .as_deref()
        .map(|v| {
            HeaderValue::from_str(v.trim())
                .map_err(|_| format!("argument --cache-control: invalid value '{v}'"))
        })
        .transpose()?;
    let unix_bound = unix.is_some();
    let tls = tls(&args, bind, unix_bound)?;
    let auth = auth_rules(&args, bind, unix_bound, tls.is_some())?;
    if args.quiet && args.ops.log_file.is_some() {
        return Err("argument --log-file: not allowed with -q/--quiet".into());
    }
    let log_format = args
        .ops
        .log_format
        .parse()
        .map_err(|e| format!("argument --log-format: {e}"))?;
    Ok(Config {
        auth,
        tls,
        handshake_timeout: seconds(args.handshake_timeout, "--handshake-timeout")?,
        bind,
        unix,
        port: args.port,
        protocol,
        content_type,
        headers,
        follow_symlinks: args.follow_symlinks,
        quiet: args.quiet,
        log_format,
        log_file: args.ops.log_file.clone(),
        compress: !args.no_compress,
        cache_control,
        cors: args.cors,
        // --ui offers what its page links: the JSON listing and the folder downloads (unless
        // --no-archive), and tells where the share can be reached.
        listing_json: args.listing_json || args.ui,
        archive: (args.archive || args.ui) && !args.no_archive,
        ui: args.ui,
        // (--qr is refused on a Unix socket; --ui there shows no addresses.)
        show_addresses: (args.qr || args.ui) && !unix_bound,
        max_connections: args.max_connections,
        header_timeout: seconds(args.header_timeout, "--header-timeout")?,
        min_rate: MinRate {
            bytes_per_sec: args.min_rate,
            window: match seconds(args.min_rate_window, "--min-rate-window")? {
                window if window.is_zero() => {
                    return Err("argument --min-rate-window: must be more than 0".into())
                }
                window => window,
            },
        },
        shutdown_grace: seconds(args.shutdown_grace, "--shutdown-grace")?,
        fastcgi: args
            .fastcgi
            .iter()
            .map(|f| fastcgi_route(f))
            .collect::<Result<_, _>>()?,
        fastcgi_timeout: seconds(args.fastcgi_timeout, "--fastcgi-timeout")?,
        fastcgi_connections: match args.fastcgi_connections {
            Some(0) => return Err("argument --fastcgi-connections: must be at least 1".into()),
            n => n,
        },
        ignore_client_abort: args.ignore_client_abort,
        cgi,
        upload,
        reuse_port: args.ops.reuse_port,
        metrics_path: args
            .ops
            .metrics_path
            .as_deref()
            .map(|path| super::metrics_path::checked(path, &directory))
            .transpose()?,
        directory,
    })
}

/// The `--auth*` flags as rules (`None`: no access control). Passwords must not cross the
/// network in clear: accounts on plain HTTP are refused unless the address is loopback or a
/// Unix socket (the bytes never leave the machine) or `--auth-insecure-ok` says so.
fn auth_rules(
    args: &Args,
    bind: Option<SocketAddr>,
    unix: bool,
    tls: bool,
) -> Result<Option<AuthConfig>, String> {
    let mut rules = Rules::new().anon_read(args.auth_anon_read);
    if let Some(file) = &args.auth_file {
        rules
            .add_htpasswd(file)
            .map_err(|e| format!("argument --auth-file: {e}"))?;
    }
    for rule in &args.auth {
        rules
            .add_rule(rule)
            .map_err(|e| format!("argument --auth: {e}"))?;
    }
    if rules.is_empty() {
        if args.auth_insecure_ok {
            return Err(
                "argument --auth-insecure-ok: only meaningful with --auth or --auth-file".into(),
            );
        }
        return Ok(None);
    }
    let loopback = unix || bind.is_some_and(|addr| addr.ip().is_loopback());
    let in_clear = rules.has_accounts() && !tls && !loopback;
    if in_clear && !args.auth_insecure_ok {
        return Err(
            "passwords would cross the network in clear: serve over TLS (--tls-self-signed \
                    or --tls-cert), bind to loopback (-b 127.0.0.1) or a Unix socket (-b \
                    unix:PATH), or pass --auth-insecure-ok"
                .into(),
        );
    }
    Ok(Some(AuthConfig { rules, in_clear }))
}

/// The upload flags, which mean something only with `--upload` (or `--allow-all`).
fn upload_config(args: &Args) -> Result<Option<UploadConfig>, String> {
    if !args.upload && !args.allow_all {
        let given = [
            (!args.upload_dir.is_empty(), "--upload-dir"),
            (args.upload_overwrite, "--upload-overwrite"),
            (args.upload_max.is_some(), "--upload-max"),
            (args.allow_delete, "--allow-delete"),
            (args.allow_mkdir, "--allow-mkdir"),
        ];
        return match given.iter().find(|(given, _)| *given) {
            Some((_, flag)) => Err(format!("argument {flag}: only meaningful with --upload")),
            None => Ok(None),
        };
    }
    if let Some(bad) = args.upload_dir.iter().find(|d| !d.starts_with('/')) {
        return Err(format!(
            "argument --upload-dir: '{bad}' does not start with /"
        ));
    }
    let max_body = args.upload_max.as_deref().unwrap_or("1G");
    Ok(Some(UploadConfig {
        dirs: if args.upload_dir.is_empty() {
            vec!["/".into()]
        } else {
            args.upload_dir.clone()
        },
        overwrite: args.upload_overwrite,
        max_body: bytes(max_body)
            .ok_or_else(|| format!("argument --upload-max: '{max_body}' is not a size"))?,
        delete: args.allow_delete || args.allow_all,
        mkdir: args.allow_mkdir || args.allow_all,
    }))
}

/// The `--cgi-*` flags, which mean something only with `--cgi`.
fn cgi_config(args: &Args) -> Result<Option<CgiConfig>, String> {
    if !args.cgi {
        let given = [
            (!args.cgi_dir.is_empty(), "--cgi-dir"),
            (!args.cgi_pass_env.is_empty(), "--cgi-pass-env"),
            (args.cgi_max_body.is_some(), "--cgi-max-body"),
            (args.cgi_timeout.is_some(), "--cgi-timeout"),
            (args.cgi_max.is_some(), "--cgi-max"),
        ];
        return match given.iter().find(|(given, _)| *given) {
            Some((_, flag)) => Err(format!("argument {flag}: only meaningful with --cgi")),
            None => Ok(None),
        };
    }
    if let Some(bad) = args.cgi_dir.iter().find(|d| !d.starts_with('/')) {
        return Err(format!("argument --cgi-dir: '{bad}' does not start with /"));
    }
    let max_running = args.cgi_max.unwrap_or(32);
    if max_running == 0 {
        return Err("argument --cgi-max: must be at least 1".into());
    }
    let dirs = if args.cgi_dir.is_empty() {
        vec!["/cgi-bin".into(), "/htbin".into()]
    } else {
        args.cgi_dir.clone()
    };
    let max_body = args.cgi_max_body.as_deref().unwrap_or("1G");
    let timeout = seconds(args.cgi_timeout.unwrap_or(60.0), "--cgi-timeout")?;
    if timeout.is_zero() {
        // Every script would be killed before it could answer: each request a 504.
        return Err("argument --cgi-timeout: must be more than 0".into());
    }
    Ok(Some(CgiConfig {
        dirs,
        pass_env: args.cgi_pass_env.clone(),
        max_body: bytes(max_body)
            .ok_or_else(|| format!("argument --cgi-max-body: '{max_body}' is not a size"))?,
        timeout,
        max_running,
    }))
}

/// `1048576`, `512K`, `10M`, `1G` (powers of 1024).
fn bytes(text: &str) -> Option<u64> {
    let (digits, shift) = match text.as_bytes().last()?.to_ascii_uppercase() {
        b'K' => (&text[..text.len() - 1], 10),
        b'M' => (&text[..text.len() - 1], 20),
        b'G' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// The TLS flags, checked as Python 3.14 checks them (same messages), then loaded.
fn tls(args: &Args, bind: Option<SocketAddr>, unix: bool) -> Result<Option<Tls>, String> {
    let Some(cert) = &args.tls_cert else {
        if args.tls_key.is_some() {
            return Err("--tls-key requires --tls-cert to be set".to_owned());
        }
        if args.tls_password_file.is_some() {
            return Err("--tls-password-file requires --tls-cert to be set".to_owned());
        }
        if !args.tls_self_signed {
            return Ok(None);
        }
        // The bind address, and the name it was given by (`-b myhost.lan`), if any.
        let mut extra: Vec<String> = bind
            .map(|addr| addr.ip())
            .filter(|ip| !ip.is_unspecified())
            .map(|ip| ip.to_string())
            .into_iter()
            .collect();
        // A Unix socket's path is no name a certificate could hold.
        let named = args.bind.as_deref().filter(|_| !unix);
        if let Some(host) = named.map(|b| b.trim_matches(['[', ']'])) {
            if host.parse::<IpAddr>().is_err() {
                extra.push(host.to_owned());
            }
        }
        let config = TlsConfig::self_signed(&extra).map_err(|e| e.to_string())?;
        return Ok(Some(Tls {
            config,
            self_signed: true,
        }));
    };
    if args.tls_self_signed {
        return Err("--tls-self-signed cannot be used with --tls-cert".to_owned());
    }
    // Python reads the password file as UTF-8 and strips it.
    let password = args
        .tls_password_file
        .as_ref()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|text| text.trim().to_owned())
                .map_err(|e| format!("Failed to read TLS password file: {e}"))
        })
        .transpose()?;
    let config = TlsConfig::from_pem_files(cert, args.tls_key.as_deref(), password.as_deref())
        .map_err(|e| e.to_string())?;
    Ok(Some(Tls {
        config,
        self_signed: false,
    }))
}

/// `-b` takes an IP address or a host name, resolved as CPython's `getaddrinfo` would.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("argument -b/--bind: cannot resolve '{host}'"))
}

/// `-H "Name: value"`: split on the first colon, both sides stripped, as CPython 3.15 does.
fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let bad = || format!("argument -H/--header: '{text}' is not of the form 'Name: value'");
    let (name, value) = text.split_once(':').ok_or_else(bad)?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
    Ok((name, value))
}

/// `--fastcgi *.php=unix:/run/php/php-fpm.sock`: split at the first `=`.
fn fastcgi_route(text: &str) -> Result<(Pattern, Address), String> {
    let bad = |why: String| format!("argument --fastcgi: {why}");
    let (pattern, address) = text
        .split_once('=')
        .ok_or_else(|| bad(format!("'{text}' is not PATTERN=ADDRESS")))?;
    Ok((pattern.parse().map_err(bad)?, address.parse().map_err(bad)?))
}

fn seconds(value: f64, flag: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("argument {flag}: '{value}' is not a number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_flag_splits_on_first_colon_and_strips() {
        let (name, value) = parse_header(" X-Test :  a: b ").expect("valid");
        assert_eq!(name, "x-test");
        assert_eq!(value, "a: b");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": empty name").is_err());
    }

    #[test]
    fn fastcgi_routes_are_a_pattern_and_an_address() {
        assert_eq!(
            fastcgi_route("*.php=unix:/run/php.sock"),
            Ok((
                Pattern::Extension(".php".into()),
                Address::Unix("/run/php.sock".into())
            ))
        );
        assert_eq!(
            fastcgi_route("/app=127.0.0.1:9000"),
            Ok((
                Pattern::Prefix("/app".into()),
                Address::Tcp("127.0.0.1:9000".into())
            ))
        );
        for bad in ["*.php", "php=unix:/x", "*.php=9000", "*.=unix:/x"] {
            assert!(fastcgi_route(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn body_sizes_take_binary_suffixes() {
        assert_eq!(bytes("10"), Some(10));
        assert_eq!(bytes("2k"), Some(2048));
        assert_eq!(bytes("1G"), Some(1 << 30));
        assert_eq!(bytes("x"), None);
        assert_eq!(bytes(""), None);
    }

    #[test]
    fn bind_accepts_bracketed_ipv6() {
        assert_eq!(
            resolve("[::1]", 80).expect("valid"),
            "[::1]:80".parse().expect("literal")
        );
    }
}
