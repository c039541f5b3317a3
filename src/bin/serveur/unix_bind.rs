//! `-b unix:PATH`: listening on a Unix-domain socket for a reverse proxy in front, with
//! `--unix-mode`, checked against the flags that mean nothing there.

use std::path::PathBuf;

/// A Unix-domain socket to listen on, and its file's permission bits.
#[derive(Debug)]
pub(crate) struct UnixBind {
    pub path: PathBuf,
    pub mode: u32,
}

/// The file's mode when `--unix-mode` is not given: its user and group, as php-fpm's
/// `listen.mode` (`serveur::BindOptions::unix_mode`).
pub(crate) const DEFAULT_MODE: u32 = 0o660;

/// `--unix-mode`: octal permission bits, as chmod takes them (`660`, `0666`).
pub(crate) fn parse_mode(text: &str) -> Result<u32, String> {
    match u32::from_str_radix(text, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(format!("'{text}' is not an octal mode from 000 to 777")),
    }
}

/// The socket `-b` names (`unix:PATH`), if it names one; `mode` is `--unix-mode`'s. Flags that
/// only make sense on TCP are refused beside it.
pub(crate) fn from_flags(
    bind: Option<&str>,
    mode: Option<u32>,
    reuse_port: bool,
    qr: bool,
) -> Result<Option<UnixBind>, String> {
    let Some(path) = bind.and_then(|b| b.strip_prefix("unix:")) else {
        if mode.is_some() {
            return Err("argument --unix-mode: only meaningful with -b unix:PATH".into());
        }
        return Ok(None);
    };
    if path.is_empty() {
        return Err("argument -b/--bind: 'unix:' needs a path (unix:/run/serveur.sock)".into());
    }
    if reuse_port {
        return Err("argument --reuse-port: not meaningful with -b unix:PATH".into());
    }
    if qr {
        return Err("argument --qr: a Unix socket has no URL to show (-b unix:PATH)".into());
    }
    Ok(Some(UnixBind {
        path: PathBuf::from(path),
        mode: mode.unwrap_or(DEFAULT_MODE),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_and_at_most_777() {
        assert_eq!(parse_mode("660"), Ok(0o660));
        assert_eq!(parse_mode("0666"), Ok(0o666));
        assert!(parse_mode("888").is_err());
        assert!(parse_mode("1777").is_err());
        assert!(parse_mode("rw").is_err());
    }

    #[test]
    fn a_unix_bind_refuses_tcp_only_flags_and_a_mode_needs_one() {
        let unix = from_flags(Some("unix:/run/s.sock"), None, false, false).expect("ok");
        let unix = unix.expect("a socket");
        assert_eq!(unix.path, PathBuf::from("/run/s.sock"));
        assert_eq!(unix.mode, DEFAULT_MODE);
        assert!(from_flags(Some("127.0.0.1"), None, true, true)
            .expect("tcp")
            .is_none());
        assert!(from_flags(Some("127.0.0.1"), Some(0o600), false, false).is_err());
        assert!(from_flags(None, Some(0o600), false, false).is_err());
        assert!(from_flags(Some("unix:"), None, false, false).is_err());
        assert!(from_flags(Some("unix:/s"), None, true, false).is_err());
        assert!(from_flags(Some("unix:/s"), None, false, true).is_err());
    }
}
