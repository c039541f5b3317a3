//! Listening on a Unix-domain socket (`-b unix:PATH`), for a reverse proxy on the same
//! machine: the socket file made with the mode asked for, a stale one (left by a crash: nothing
//! listens on it) replaced, anything else at the path refused, and the file removed when the
//! server is done with it ([`SocketFile`]).

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};

use super::listener::BACKLOG;

/// The socket file a server made, removed when dropped (a clean stop, or a bind that failed
/// half-way) if the path still names that file: a second server that replaced it keeps its own.
#[derive(Debug)]
pub(super) struct SocketFile {
    path: PathBuf,
    /// The file's device, inode and change time once made: a removed file's inode number is
    /// soon given to the next, so the time tells them apart.
    id: FileId,
}

type FileId = (u64, u64, i64, i64);

fn file_id(meta: &fs::Metadata) -> FileId {
    (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = fs::symlink_metadata(&self.path).is_ok_and(|m| file_id(&m) == self.id);
        if ours {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Binds a listening Unix-domain socket at `path` whose file has the permission bits `mode`.
pub(super) fn bind(path: &Path, mode: u32) -> io::Result<(UnixListener, SocketFile)> {
    let address = SockAddr::unix(path)?;
    clear_stale(path, &address)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&address)?;
    // Before `listen`: until then a client's `connect` is refused, so none gets in while the
    // file has the mode the umask gave it. (`fchmod` on a socket does not change its file.)
    let moded = fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o777));
    let made = moded.and_then(|()| fs::symlink_metadata(path));
    let meta = match made {
        Ok(meta) => meta,
        Err(e) => {
            // Our file: nothing else could have been made at the path since the bind.
            let _ = fs::remove_file(path);
            return Err(e);
        }
    };
    let file = SocketFile {
        path: path.to_owned(),
        id: file_id(&meta),
    };
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok((socket.into(), file))
}

/// Removes a socket file nothing listens on (a crashed server's); refuses a socket a server
/// listens on, and anything that is not a socket (a regular file is never deleted for a
/// mistyped path).
fn clear_stale(path: &Path, address: &SockAddr) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket; not replacing it",
        ));
    }
    // Non-blocking: a server whose queue is full would make a blocking `connect` wait.
    let probe = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    probe.set_nonblocking(true)?;
    match probe.connect(address) {
        Ok(()) => Err(in_use()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(in_use()),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
        Err(e) => Err(e),
    }
}

fn in_use() -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrInUse,
        "a server is listening on this socket",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_gets_its_mode_and_is_removed_when_its_file_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sock");
        let (listener, file) = bind(&path, 0o640).expect("bind");
        let meta = fs::symlink_metadata(&path).expect("stat");
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
        // A second bind finds a listener and leaves it be.
        let second = bind(&path, 0o640).expect_err("in use");
        assert_eq!(second.kind(), io::ErrorKind::AddrInUse);
        drop(file);
        assert!(!path.exists());
        drop(listener);
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_regular_file_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sock");
        // A crash leaves the file with no listener behind it.
        drop(UnixListener::bind(&path).expect("bind"));
        assert!(path.exists());
        let (_listener, _file) = bind(&path, 0o600).expect("stale socket replaced");
        let regular = dir.path().join("notes.txt");
        fs::write(&regular, "keep me").expect("write");
        let refused = bind(&regular, 0o600).expect_err("regular file");
        assert_eq!(refused.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&regular).expect("read"), "keep me");
    }

    #[test]
    fn a_file_replaced_by_another_server_is_left_to_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sock");
        let (first, file) = bind(&path, 0o600).expect("bind");
        drop(first);
        let (_second, _its_file) = bind(&path, 0o600).expect("rebind over the stale file");
        drop(file);
        assert!(path.exists(), "the second server's socket stays");
    }
}
