//! The signals that stop a server: Ctrl+C (SIGINT) and SIGTERM. The binary needs to know which
//! one arrived, because CPython prints `Keyboard interrupt received, exiting.` only for Ctrl+C.

use std::future::Future;

use tokio::signal::unix::{signal, Signal, SignalKind};

/// Why a server was asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT, as from Ctrl+C.
    Interrupt,
    /// SIGTERM, as from `kill` or a service manager.
    Terminate,
}

/// Resolves when the process receives SIGINT or SIGTERM, saying which. The handlers are set
/// when this is called, not when the future is first polled: a signal arriving in between (a
/// server printing its startup line, its accept loop not yet started) would otherwise meet the
/// default action, which ends the process without the graceful stop, and leaves a Unix
/// socket's file behind. Call it within a Tokio runtime.
pub fn stop_signal() -> impl Future<Output = StopSignal> + Send {
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        tokio::select! {
            () = received(interrupt) => StopSignal::Interrupt,
            () = received(terminate) => StopSignal::Terminate,
        }
    }
}

/// Resolves at the signal; never, if its handler could not be set.
async fn received(handler: std::io::Result<Signal>) {
    match handler {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
