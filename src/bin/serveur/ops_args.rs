//! The flags for running serveur for real rather than for a quick share: a configuration file
//! and its printout, shell completions and the man page, a port shared between processes, and
//! the access log's format and file, and the metrics page.
//! They sit in one struct flattened into the command line, so their help comes after every
//! other group's.

use std::path::PathBuf;

use clap_complete::Shell;

/// `--config`, `--print-config`, `--completions`, `--man`, `--reuse-port`, `--unix-mode`,
/// `--log-format`, `--log-file`, `--metrics-path`.
#[derive(clap::Args, Debug)]
pub(crate) struct OpsArgs {
    /// Read settings from this TOML file, whose keys are the long flags' names (bind = "::",
    /// cgi = true, header = ["X-A: 1"], port = 8080); flags on the command line and SERVEUR_*
    /// environment variables (SERVEUR_BIND, SERVEUR_MAX_CONNECTIONS...) override it
    #[arg(long, value_name = "FILE", help_heading = "Configuration")]
    pub config: Option<PathBuf>,

    /// Print the effective settings as a --config file (defaults commented out) and exit
    #[arg(long, help_heading = "Configuration")]
    pub print_config: bool,

    /// Print a completion script for SHELL and exit
    #[arg(long, value_name = "SHELL", help_heading = "Configuration")]
    pub completions: Option<Shell>,

    /// Print the man page (roff) and exit
    #[arg(long, help_heading = "Configuration")]
    pub man: bool,

    /// Let other processes listen on the same address and port (SO_REUSEPORT), each started
    /// with --reuse-port: the kernel spreads connections between them
    #[arg(long, help_heading = "serveur options")]
    pub reuse_port: bool,

    /// The permission bits of the socket file under -b unix:PATH, in octal, whatever the
    /// umask (default: 660, its user and group; connecting needs write permission)
    #[arg(long, value_name = "MODE", value_parser = super::unix_bind::parse_mode, help_heading = "serveur options")]
    pub unix_mode: Option<u32>,

    /// The access log's lines: python (CPython's), combined (Apache/nginx's, for log tools;
    /// the other lines then go to stderr) or json (one object per line)
    #[arg(
        long,
        value_name = "FORMAT",
        default_value = "python",
        value_parser = ["python", "combined", "json"],
        help_heading = "Logs"
    )]
    pub log_format: String,

    /// Append the access log to this file (made 0640) rather than stderr, and open it again
    /// on SIGHUP (logrotate's postrotate)
    #[arg(long, value_name = "PATH", help_heading = "Logs")]
    pub log_file: Option<PathBuf>,

    /// Serve the server's metrics in Prometheus's text format at this path (GET and HEAD,
    /// e.g. /metrics), which must not exist in the directory; --auth rules apply to it as to
    /// any path
    #[arg(long, value_name = "/PATH", help_heading = "serveur options")]
    pub metrics_path: Option<String>,
}
