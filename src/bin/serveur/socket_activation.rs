//! systemd's socket activation (`sd_listen_fds(3)`): when `LISTEN_PID` names this process,
//! `LISTEN_FDS` sockets were passed from file descriptor 3 on, and serveur serves on the first
//! instead of binding one (`-b` and the port are then ignored): a TCP socket
//! (`ListenStream=8000`) or a Unix-domain one (`ListenStream=/run/serveur.sock`). The
//! `listenfd` crate reads the variables and takes the descriptor, so no `unsafe` is written
//! here.

use std::net::TcpListener;
use std::os::unix::net::UnixListener;

/// A listening socket systemd passed.
pub(crate) enum Inherited {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// The listening socket systemd passed, if any. Must run before any thread starts: the
/// crate removes `LISTEN_PID` and `LISTEN_FDS` from the environment (as `sd_listen_fds(3)`
/// does when asked to), so that no child process takes them for its own.
pub(crate) fn inherited_listener() -> Result<Option<Inherited>, String> {
    // listenfd also takes sockets when LISTEN_PID is absent (for cargo-watch's proxying);
    // systemd always sets it, and a stray LISTEN_FDS in a user's shell must not make serveur
    // take a descriptor it was not given.
    if std::env::var_os("LISTEN_PID").is_none() {
        return Ok(None);
    }
    let mut passed = listenfd::ListenFd::from_env();
    // A descriptor of the wrong kind is left in place by `take_*`, so the second may try it.
    let taken = match passed.take_tcp_listener(0) {
        Ok(tcp) => Ok(tcp.map(Inherited::Tcp)),
        Err(_) => passed
            .take_unix_listener(0)
            .map(|unix| unix.map(Inherited::Unix)),
    };
    taken.map_err(|e| {
        format!(
            "socket activation: {e} (serveur serves the first socket passed, which must be a \
             TCP or Unix stream socket)"
        )
    })
}
