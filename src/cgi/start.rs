//! How the CGI gateway starts a script for the driver ([`gateway::respond`](crate::gateway::respond)):
//! a `--cgi-max` turn (given up if the client leaves while waiting for it), the process
//! ([`spawn`](super::spawn)), and the request body copied to its stdin as it arrives.

use bytes::Bytes;
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;
use tokio::task::JoinHandle;

use super::running::{Ending, Running};
use super::spawn::spawn;
use super::Cgi;
use crate::gateway::log::GatewayKind;
use crate::gateway::{Gateway, Run, ScriptPath, Settings};
use crate::handler::Response;
use crate::metrics;
use crate::request::departure::Departure;
use crate::request::RequestBody;
use crate::response::error;
use crate::response::ClientLeft;

impl Gateway for Cgi {
    type Script = Running;
    const METERED: metrics::Gateway = metrics::Gateway::Cgi;

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn log_kind(&self) -> GatewayKind {
        GatewayKind::Cgi
    }

    fn nph(&self, script: &ScriptPath) -> bool {
        script
            .file
            .file_name()
            .is_some_and(|name| name.as_encoded_bytes().starts_with(b"nph-"))
    }

    /// Waits for a turn, and starts the script.
    async fn start(
        &self,
        run: Run<'_>,
        departure: &mut Departure<'_>,
    ) -> Result<Running, Response> {
        let permit = tokio::select! {
            permit = self.slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return Err(error(StatusCode::SERVICE_UNAVAILABLE)),
            },
            () = departure.wait() => {
                run.log.not_run("the client went away");
                return Err(ClientLeft::response());
            }
        };
        let (stdin, body) = run.input.into_stdio();
        let query = run.parts.uri.query().unwrap_or("");
        let mut child = match spawn(run.script, run.vars, &self.env, query, stdin) {
            Ok(child) => child,
            // A `%00` decoded into PATH_INFO or an argument: no environment or argv can hold it.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                return Err(error(StatusCode::BAD_REQUEST));
            }
            Err(e) => {
                run.log.say(&format!("could not be started: {e}"));
                return Err(error(StatusCode::BAD_GATEWAY));
            }
        };
        let feeder = body.and_then(|(first, body)| {
            let stdin = child.stdin.take()?;
            Some(feed(first, body, stdin))
        });
        let ends = if self.settings.ignore_client_abort {
            Ending::RunOn
        } else {
            Ending::Kill
        };
        Ok(Running::new(
            child,
            feeder,
            permit,
            self.settings.timeout,
            run.log,
            ends,
        ))
    }
}

/// Copies `body` into the script's `stdin` as it arrives, then closes it. A script that stops
/// reading (it exited, or wants no more) ends the copy; the rest of the body is left to the
/// connection layer.
fn feed(first: Option<Bytes>, mut body: RequestBody, mut stdin: ChildStdin) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Some(first) = first {
            if stdin.write_all(&first).await.is_err() {
                return;
            }
        }
        while let Some(Ok(chunk)) = body.chunk().await {
            if stdin.write_all(&chunk).await.is_err() {
                return;
            }
        }
        // End of input for the script; a script that already exited has no one to tell.
        let _ = stdin.shutdown().await;
    })
}
