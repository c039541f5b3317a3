//! The one driver of a request to a script, for CGI and FastCGI alike: where a script's header
//! block becomes a response. The request body is prepared (`413`, or `400` for a body that
//! cannot be read), the meta-variables made, the script started (by its [`Gateway`]), and then
//! nothing is answered before its header block is read and parsed (RFC 3875 §6), while the
//! client's departure is watched: a client gone by then gets no answer, and its script is
//! stopped. The parsed reply becomes the status line and header fields, a local redirect
//! (§6.2.2), or an error page; the rest of the output streams as the body, or is read and
//! dropped when no body is sent (HEAD, `204`, `304`).
//!
//! A gateway says only how a script is started ([`Gateway::start`]) and how its output travels
//! ([`Script`]): a process and its pipes for CGI, a request on a pooled connection for FastCGI.

use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{stream, StreamExt};
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::{Method, StatusCode};
use http_body::Frame;
use http_body_util::StreamBody;

use super::input::{Input, Refused};
use super::log::{GatewayKind, ScriptLog};
use super::reply::{bodiless, departure, redirect_locally, response};
use super::script_response::{parse, parse_nph, Malformed, ScriptReply};
use super::{MetaVars, ScriptPath};
use crate::body::Body;
use crate::handler::{Handler, Request, Response};
use crate::metrics::{self, InFlight, Metrics};
use crate::request::departure::Departure;
use crate::request::ConnectionInfo;
use crate::response::error;
use crate::response::{ClientLeft, ErrorMessage};
use crate::safe_path::Root;

/// How long the driver waits on a script's header block before it watches the client's
/// socket. The watch costs four system calls (a `dup`, two `epoll_ctl`, a `close`), 4 of the
/// 10 a PHP request through FastCGI made (strace -c), and most scripts answer well within this
/// (a PHP hello world under 32 clients in about 5 ms); a client that leaves is told at most this
/// much later.
const WATCH_AFTER: Duration = Duration::from_millis(100);

/// A way to run scripts: a handler that hands the driver the requests that name a script.
pub(crate) trait Gateway: Handler {
    /// A started script, as its output is read.
    type Script: Script;

    /// Which gateway the metrics count its scripts under.
    const METERED: metrics::Gateway;

    /// The settings both gateways have.
    fn settings(&self) -> &Settings;

    /// Which gateway the log lines about its scripts name.
    fn log_kind(&self) -> GatewayKind;

    /// Whether `script` writes a status line before its header fields (an `nph-` script,
    /// RFC 3875 §5).
    fn nph(&self, _script: &ScriptPath) -> bool {
        false
    }

    /// Starts `script` with its meta-variables and request body. The answer instead of the
    /// script's when it cannot start (a refusal, the client gone while waiting for a turn);
    /// `log` says why.
    fn start(
        &self,
        run: Run<'_>,
        departure: &mut Departure,
    ) -> impl Future<Output = Result<Self::Script, Response>> + Send;
}

/// The settings of a gateway that the driver reads: the same for both, as are their defaults.
#[derive(Clone)]
pub(crate) struct Settings {
    /// The tree of the scripts, the `DOCUMENT_ROOT`.
    pub root: Root,
    /// How long a script may run (CGI), or each step with the application may take (FastCGI).
    pub timeout: Duration,
    /// The longest request body a script gets; longer ones get `413`.
    pub max_body: u64,
    /// Whether scripts run on when their clients leave (`--ignore-client-abort`).
    pub ignore_client_abort: bool,
    /// Where scripts in flight and failures are counted, if anywhere.
    pub metrics: Option<Arc<Metrics>>,
}

impl Settings {
    /// The scripts of `dir`, 60 seconds, request bodies up to 1 GiB, stopped when their
    /// clients leave.
    pub(crate) fn new(dir: impl AsRef<Path>) -> io::Result<Settings> {
        Ok(Settings {
            root: Root::new(dir, false)?,
            timeout: Duration::from_secs(60),
            max_body: 1 << 30,
            ignore_client_abort: false,
            metrics: None,
        })
    }
}

/// What a gateway starts a script with.
pub(crate) struct Run<'a> {
    /// The request, without its body.
    pub parts: &'a Parts,
    /// The script.
    pub script: &'a ScriptPath,
    /// Its meta-variables (RFC 3875 §4.1).
    pub vars: &'a MetaVars,
    /// Its request body.
    pub input: Input,
    /// Where to say what happens to it.
    pub log: ScriptLog,
}

/// A started script's output, as the driver reads it.
pub(crate) trait Script: Send + 'static {
    /// Where to say what happens to it.
    fn log(&self) -> &ScriptLog;

    /// Reads more of the output into `buf` while the header block is incomplete.
    fn read_head(&mut self, buf: &mut BytesMut) -> impl Future<Output = Result<(), Stop>> + Send;

    /// Says what follows the header block: a body of `length` bytes if the script gave one,
    /// of which `read` came with the header block.
    fn body_follows(&mut self, _read: usize, _length: Option<u64>) {}

    /// The next piece of the body; `None` at its end.
    fn read_body(&mut self) -> impl Future<Output = Option<Result<Bytes, Failed>>> + Send;

    /// The script's answer is refused: logs `why`, and stops the script (a CGI script is
    /// killed; a FastCGI request is aborted once its output is dropped).
    fn give_up(&mut self, why: &str);
}

/// Why the output stopped before a complete header block.
pub(crate) enum Stop {
    /// It ended; how the script ended, when known (`exit code 3`).
    Ended(Option<String>),
    /// It failed (logged already), answered with this status.
    Failed(Failed),
}

/// Output that failed (a `502` or a `504`), logged already.
#[derive(Debug)]
pub(crate) struct Failed(pub StatusCode);

/// Runs `script` for `req` on `gateway` and answers with what the script writes; under
/// metrics, counts it in flight until its response body ends, and as a failure when the
/// gateway itself answers `502` or `504` (its error page, not a status the script chose).
pub(crate) async fn respond<G: Gateway>(gateway: &G, req: Request, script: ScriptPath) -> Response {
    let Some(metrics) = &gateway.settings().metrics else {
        return run(gateway, req, script, None).await;
    };
    let in_flight = metrics.script_started(G::METERED);
    let response = run(gateway, req, script, Some(in_flight)).await;
    let failed = matches!(
        response.status(),
        StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT
    ) && response.extensions().get::<ErrorMessage>().is_some();
    if failed {
        metrics.script_failed(G::METERED);
    }
    response
}

/// [`respond`]'s work; `in_flight` lives as long as the script's response body.
async fn run<G: Gateway>(
    gateway: &G,
    req: Request,
    script: ScriptPath,
    in_flight: Option<InFlight>,
) -> Response {
    let (parts, body) = req.into_parts();
    let connection = body.shared_connection();
    let info = connection.as_deref();
    let log = ScriptLog::new(
        info.map(|i| i.log.clone()).unwrap_or_default(),
        info.map(ConnectionInfo::client),
        gateway.log_kind(),
        &script.script_name,
    );
    // Watched from the wait for a turn to the header block: a client gone by then gets no
    // answer, and its script no (more) turn.
    let settings = gateway.settings();
    let mut departure = departure(info, parts.version, settings.ignore_client_abort);
    let input = match Input::prepare(&parts.headers, body, settings.max_body).await {
        Ok(input) => input,
        Err(Refused::TooLarge) => return error(StatusCode::PAYLOAD_TOO_LARGE),
        Err(Refused::Broken(e)) => {
            log.not_run(&format!("the request body could not be read ({e})"));
            return error(StatusCode::BAD_REQUEST);
        }
    };
    let vars = MetaVars::new(&parts, info, &script, settings.root.dir(), input.length());
    let nph = gateway.nph(&script);
    let run = Run {
        parts: &parts,
        script: &script,
        vars: &vars,
        input,
        log,
    };
    let mut running = match gateway.start(run, &mut departure).await {
        Ok(running) => running,
        Err(refusal) => return refusal,
    };
    let read = tokio::select! {
        read = read_reply(&mut running, nph) => read,
        () = departure.wait_after(WATCH_AFTER) => {
            // Dropped, the script is stopped, and its log says why.
            drop(running);
            return ClientLeft::response();
        }
    };
    drop(departure);
    let (reply, first) = match read {
        Ok(reply) => reply,
        Err(failure) => return failure,
    };
    let head_only = parts.method == Method::HEAD;
    match reply {
        ScriptReply::Document(head) => {
            let length = head
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|l| l.to_str().ok()?.parse().ok());
            let bodiless = bodiless(head_only, head.status);
            let body = response_body(running, first, length, bodiless, in_flight);
            response(head, body)
        }
        ScriptReply::NoContentType => {
            running.give_up("sent no Content-Type (RFC 3875 §6.3.1)");
            error(StatusCode::INTERNAL_SERVER_ERROR)
        }
        ScriptReply::LocalRedirect { location, fallback } => {
            let first = if first.is_empty() {
                match running.read_body().await {
                    Some(Ok(chunk)) => chunk,
                    Some(Err(Failed(status))) => return error(status),
                    None => {
                        let log = running.log().clone();
                        drop(running);
                        let say = |why: &str| log.redirect_failed(why);
                        return redirect_locally(parts, connection, &location, gateway, say).await;
                    }
                }
            } else {
                first
            };
            // A body after all: a client redirect (§6.2.3).
            let bodiless = bodiless(head_only, fallback.status);
            response(
                fallback,
                response_body(running, first, None, bodiless, in_flight),
            )
        }
    }
}

/// Reads the header block (a status line too for an `nph-` script): what the script asks for,
/// and the body bytes read with it; or the error page when the script fails first.
async fn read_reply<S: Script>(
    script: &mut S,
    nph: bool,
) -> Result<(ScriptReply, Bytes), Response> {
    let mut buf = BytesMut::new();
    loop {
        let parsed = if nph {
            parse_nph(&buf).map(|done| done.map(|(head, n)| (ScriptReply::Document(head), n)))
        } else {
            parse(&buf)
        };
        match parsed {
            Ok(Some((reply, used))) => {
                buf.advance(used);
                return Ok((reply, buf.freeze()));
            }
            Ok(None) => {}
            Err(Malformed(why)) => {
                script.give_up(&format!("sent a malformed header block ({why})"));
                return Err(error(StatusCode::BAD_GATEWAY));
            }
        }
        match script.read_head(&mut buf).await {
            Ok(()) => {}
            Err(Stop::Ended(how)) => {
                let how = how.map(|how| format!(" ({how})")).unwrap_or_default();
                script.log().say(&format!(
                    "ended its output before a complete header block{how}"
                ));
                return Err(error(StatusCode::BAD_GATEWAY));
            }
            Err(Stop::Failed(Failed(status))) => return Err(error(status)),
        }
    }
}

/// The response body: `first`, then the rest of the output. When none is sent (`bodiless`) the
/// script still runs to its end (stopping it midway could leave its work half done), its
/// output read and dropped. The script counts as in flight (`in_flight`) until then.
fn response_body<S: Script>(
    mut script: S,
    first: Bytes,
    length: Option<u64>,
    bodiless: bool,
    in_flight: Option<InFlight>,
) -> Body {
    script.body_follows(first.len(), length);
    if bodiless {
        tokio::spawn(async move {
            while let Some(Ok(_)) = script.read_body().await {}
            drop(in_flight);
        });
        return Body::empty();
    }
    let first = (!first.is_empty()).then_some(Ok(first));
    // The script (and its place in flight) is the state: it moves in and out of each read's
    // future, and is dropped with the stream.
    let rest = stream::unfold((script, in_flight), |(mut script, in_flight)| async move {
        let next = script.read_body().await?;
        Some((next, (script, in_flight)))
    });
    let frames = stream::iter(first).chain(rest).map(|next| {
        // A failure midway ends the body with an error: the client sees a truncated response.
        next.map(Frame::data).map_err(|Failed(status)| {
            std::io::Error::other(format!("the script's output failed ({status})"))
        })
    });
    Body::stream(StreamBody::new(frames))
}
