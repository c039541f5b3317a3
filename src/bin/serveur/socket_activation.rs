//! systemd's socket activation (`sd_listen_fds(3)`): when `LISTEN_PID` names this process,
//! `LISTEN_FDS` sockets were passed from file descriptor 3 on, and serveur serves on the first
//! instead of binding one (`-b` and the port are then ignored). The `listenfd` crate reads the
//! variables and takes the descriptor, so no `unsafe` is written here.

use std::net::TcpListener;

/// The listening TCP socket systemd passed, if any. Must run before any thread starts: the
/// crate removes `LISTEN_PID` and `LISTEN_FDS` from the environment (as `sd_listen_fds(3)`
/// does when asked to), so that no child process takes them for its own.
pub(crate) fn inherited_listener() -> Result<Option<TcpListener>, String> {
    // listenfd also takes sockets when LISTEN_PID is absent (for cargo-watch's proxying);
    // systemd always sets it, and a stray LISTEN_FDS in a user's shell must not make serveur
    // take a descriptor it was not given.
    if std::env::var_os("LISTEN_PID").is_none() {
        return Ok(None);
    }
    listenfd::ListenFd::from_env()
        .take_tcp_listener(0)
        .map_err(|e| {
            format!(
                "socket activation: {e} (serveur serves the first socket passed, which must be TCP)"
            )
        })
}
