//! Shared by the integration tests: start the real `serveur` binary on 127.0.0.1 port 0
//! ([`server`]), talk to it over real sockets ([`client`], [`tls`]), watch the processes it
//! runs ([`process`]), build the trees it serves ([`fixture`]), or run the library's `Server`
//! in the test process ([`library`]). The common helpers are re-exported here, so a test
//! imports them as `crate::support::{get, Serveur}`.

use std::time::Duration;

pub(crate) mod client;
pub(crate) mod fixture;
pub(crate) mod library;
pub(crate) mod process;
pub(crate) mod server;
pub(crate) mod tls;

pub(crate) use client::*;
pub(crate) use fixture::*;
pub(crate) use process::*;
pub(crate) use server::*;

/// How long any single wait in a test may take before the test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(10);
