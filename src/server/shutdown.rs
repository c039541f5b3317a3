//! The signals that stop a server: Ctrl+C (SIGINT) and SIGTERM. The binary needs to know which
//! one arrived, because CPython prints `Keyboard interrupt received, exiting.` only for Ctrl+C.

/// Why a server was asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT, as from Ctrl+C.
    Interrupt,
    /// SIGTERM, as from `kill` or a service manager.
    Terminate,
}

/// Resolves when the process receives SIGINT or SIGTERM, saying which.
pub async fn stop_signal() -> StopSignal {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => StopSignal::Interrupt,
        _ = terminate => StopSignal::Terminate,
    }
}
