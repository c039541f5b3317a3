//! Running one script for one request and turning what it writes into the response (RFC 3875
//! §6): nothing is sent before the script's header block is read, so its `Status:` and
//! `Location:` decide the status line; the body then streams as the script writes it. Every
//! failure is a Python-style error page plus a log line naming the script.

use bytes::{Buf, Bytes, BytesMut};
use futures_util::stream;
use http::header::CONTENT_LENGTH;
use http::{Method, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tokio::time::Instant;

use super::running::{describe, Ending, HeadError, Running, ScriptLog};
use super::spawn::spawn;
use super::stdin::{feed, Input, Refused};
use super::Cgi;
use crate::body::Body;
use crate::gateway::{
    bodiless, departure, parse, parse_nph, redirect_locally, response, MetaVars, ResponseHead,
    ScriptPath, ScriptReply,
};
use crate::handler::{Request, Response};
use crate::request::departure::Departure;
use crate::request::ConnectionInfo;
use crate::response::error;
use crate::response::ClientLeft;

/// Runs `script` for `req` and answers with what it writes.
pub(super) async fn run(cgi: &Cgi, req: Request, script: ScriptPath) -> Response {
    let (parts, body) = req.into_parts();
    let connection = body.shared_connection();
    // Watched from the wait for a turn to the header block: a client gone by then gets no
    // answer, and its script no (more) turn.
    let mut departure = departure(
        connection.as_deref(),
        parts.version,
        cgi.ignore_client_abort,
    );
    let info = connection.as_deref();
    let mut running = match start(cgi, &parts, info, body, &script, &mut departure).await {
        Ok(running) => running,
        Err(refusal) => return refusal,
    };
    let nph = script
        .file
        .file_name()
        .is_some_and(|name| name.as_encoded_bytes().starts_with(b"nph-"));
    let read = tokio::select! {
        read = read_reply(&mut running, nph, cgi.timeout) => read,
        () = departure.wait() => {
            // Dropped, the script is killed with its process group, and the log says why.
            drop(running);
            return ClientLeft::response();
        }
    };
    drop(departure);
    let (reply, leftover) = match read {
        Ok(reply) => reply,
        Err(failure) => return failure,
    };
    let head_only = parts.method == Method::HEAD;
    match reply {
        ScriptReply::Document(head) => respond(head, leftover, running, head_only),
        ScriptReply::NoContentType => {
            running.kill_because("sent no Content-Type (RFC 3875 §6.3.1); killed");
            error(StatusCode::INTERNAL_SERVER_ERROR)
        }
        ScriptReply::LocalRedirect { location, fallback } => {
            running.body_follows(leftover, None);
            match running.read_more().await {
                Some(Ok(body)) => respond(fallback, body, running, head_only),
                Some(Err(e)) => {
                    running.kill_because(&format!("output could not be read ({e}); killed"));
                    error(StatusCode::BAD_GATEWAY)
                }
                None => {
                    drop(running);
                    let log = log_for(connection.as_deref());
                    let say = |why: &str| log(&format!("CGI {why}"));
                    redirect_locally(parts, connection, &location, cgi, say).await
                }
            }
        }
    }
}

/// Reads the request body as the script will get it, waits for a turn, and starts the script.
async fn start(
    cgi: &Cgi,
    parts: &http::request::Parts,
    info: Option<&ConnectionInfo>,
    body: crate::RequestBody,
    script: &ScriptPath,
    departure: &mut Departure<'_>,
) -> Result<Running, Response> {
    let log = ScriptLog {
        log: info.map(|i| i.log.clone()).unwrap_or_default(),
        client: info.map(|i| i.peer.ip()),
        name: String::from_utf8_lossy(&script.script_name).into_owned(),
    };
    let input = match Input::prepare(&parts.headers, body, cgi.max_body).await {
        Ok(input) => input,
        Err(Refused::TooLarge) => return Err(error(StatusCode::PAYLOAD_TOO_LARGE)),
        Err(Refused::Broken(e)) => {
            log.say(&format!(
                "not started: the request body could not be read ({e})"
            ));
            return Err(error(StatusCode::BAD_REQUEST));
        }
    };
    let vars = MetaVars::new(parts, info, script, cgi.root.dir(), input.length());
    let permit = tokio::select! {
        permit = cgi.slots.clone().acquire_owned() => match permit {
            Ok(permit) => permit,
            Err(_) => return Err(error(StatusCode::SERVICE_UNAVAILABLE)),
        },
        () = departure.wait() => {
            log.say("not started: the client went away");
            return Err(ClientLeft::response());
        }
    };
    let (stdin, body) = input.into_stdio();
    let query = parts.uri.query().unwrap_or("");
    let mut child = match spawn(script, &vars, &cgi.env, query, stdin) {
        Ok(child) => child,
        // A `%00` decoded into PATH_INFO or an argument: no environment or argv can hold it.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return Err(error(StatusCode::BAD_REQUEST));
        }
        Err(e) => {
            log.say(&format!("could not be started: {e}"));
            return Err(error(StatusCode::BAD_GATEWAY));
        }
    };
    let feeder = body.and_then(|(first, body)| {
        let stdin = child.stdin.take()?;
        Some(feed(first, body, stdin))
    });
    let deadline = Instant::now() + cgi.timeout;
    let ends = if cgi.ignore_client_abort {
        Ending::RunOn
    } else {
        Ending::Kill
    };
    Ok(Running::new(child, feeder, permit, deadline, log, ends))
}

/// Reads the script's header block (a status line too for `nph-` scripts): what it asks for,
/// and the body bytes read with it; or the error page when the script fails first.
async fn read_reply(
    running: &mut Running,
    nph: bool,
    timeout: std::time::Duration,
) -> Result<(ScriptReply, Bytes), Response> {
    let mut buf = BytesMut::new();
    let head = if nph {
        running
            .read_head(&mut buf, |b| {
                parse_nph(b).map(|done| done.map(|(head, n)| (ScriptReply::Document(head), n)))
            })
            .await
    } else {
        running.read_head(&mut buf, parse).await
    };
    let failure = match head {
        Ok(Ok((reply, used))) => {
            buf.advance(used);
            return Ok((reply, buf.freeze()));
        }
        Ok(Err(malformed)) => {
            running.kill_because(&format!(
                "sent a malformed header block ({}); killed",
                malformed.0
            ));
            StatusCode::BAD_GATEWAY
        }
        Err(HeadError::TimedOut) => {
            let secs = timeout.as_secs_f64();
            running.kill_because(&format!("timed out after {secs}s; killed"));
            StatusCode::GATEWAY_TIMEOUT
        }
        Err(HeadError::Ended(status)) => {
            let how = status.map_or_else(|| "did not exit".to_owned(), describe);
            running.log.say(&format!(
                "ended its output before a complete header block ({how})"
            ));
            StatusCode::BAD_GATEWAY
        }
        Err(HeadError::Read(e)) => {
            running.kill_because(&format!("output could not be read ({e}); killed"));
            StatusCode::BAD_GATEWAY
        }
    };
    Err(error(failure))
}

/// A way to write a line about this request to the server's log (nowhere without a server).
fn log_for(connection: Option<&ConnectionInfo>) -> impl Fn(&str) {
    let info = connection.cloned();
    move |what: &str| {
        if let Some(info) = &info {
            info.log.message(Some(info.peer.ip()), what.to_owned());
        }
    }
}

/// The response: `head`, then `first` and the rest of stdout as the body. For HEAD (and a
/// `204` or `304`) the script still runs to its end, its output read and dropped.
fn respond(head: ResponseHead, first: Bytes, mut running: Running, head_only: bool) -> Response {
    let length = head
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|l| l.to_str().ok()?.parse().ok());
    running.body_follows(first, length);
    let bodiless = bodiless(head_only, head.status);
    let body = StreamBody::new(stream::unfold(running, |mut running| async move {
        let read = running.read_more().await?;
        if let Err(e) = &read {
            if e.kind() == std::io::ErrorKind::TimedOut {
                running.kill_because("timed out while writing its body; killed");
            }
        }
        Some((read.map(Frame::data), running))
    }));
    if bodiless {
        tokio::spawn(async move {
            let mut body = std::pin::pin!(body);
            while let Some(Ok(_)) = body.frame().await {}
        });
        return response(head, Body::empty());
    }
    response(head, Body::stream(body))
}
