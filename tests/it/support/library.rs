//! The library's own `Server` run in the test process, as another crate would run it: on its
//! own thread and runtime, on 127.0.0.1 port 0, its access log captured for the test to read,
//! and stopped gracefully when the test lets go of it.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serveur::{AccessLog, Handler, Server};

use super::WAIT;

/// A handler served by [`serve`], stopped gracefully when dropped.
pub(crate) struct Running {
    /// The address it listens on (`0.0.0.0:0` on a Unix socket, which has none).
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<u8>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

/// An access-log writer the test can read.
struct SharedLog(Arc<Mutex<Vec<u8>>>);

impl Write for SharedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A `Server` bound to 127.0.0.1 port 0, for the test to configure (TLS, limits) before
/// [`serve`].
pub(crate) fn bind() -> Server {
    Server::bind(([127, 0, 0, 1], 0).into()).expect("bind")
}

/// Serves `handler` with `server` (its access log replaced by one the test reads) until the
/// returned [`Running`] is dropped.
pub(crate) fn serve(server: Server, handler: impl Handler) -> Running {
    let log = Arc::new(Mutex::new(Vec::new()));
    let server = server.access_log(AccessLog::to_writer(SharedLog(Arc::clone(&log))));
    let addr = match server.unix_path() {
        Some(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        None => server.local_addr().expect("local addr"),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(server.serve_until(handler, async {
            let _ = stopped.await;
        }))
    });
    Running {
        addr,
        log,
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Running {
    /// Waits until the access log contains `needle`.
    pub(crate) fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let log = String::from_utf8_lossy(&self.log.lock().expect("log lock")).into_owned();
            if log.contains(needle) {
                return;
            }
            assert!(Instant::now() < deadline, "no {needle:?} in log:\n{log}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let served = thread.join().expect("server thread");
            if !std::thread::panicking() {
                served.expect("serve_until returns Ok after a stop");
            }
        }
    }
}
