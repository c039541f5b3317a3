//! One request through the FastCGI gateway: the request body prepared as for CGI (a chunked
//! one spooled so that `CONTENT_LENGTH` is known, RFC 3875 §4.1.2), the meta-variables sent,
//! then nothing answered before the application's header block is read with the CGI rules
//! (`Status:`, `Location:`, local redirect), after which its output streams to the client.
//! Failures are Python-style error pages: `502` when the application cannot be reached or
//! answers wrongly, `504` when it is too slow; the log says which and why.

use std::sync::Arc;

use bytes::{Buf, BytesMut};
use http::{Method, StatusCode};

use super::client::{self, Failure, OnLeaving, Output, Stdin};
use super::log::RequestLog;
use super::FastCgi;
use crate::body::Body;
use crate::cgi::stdin::{Input, Refused};
use crate::gateway::{
    bodiless, departure, parse, redirect_locally, response, MetaVars, ScriptPath, ScriptReply,
};
use crate::handler::{Request, Response};
use crate::response::error;
use crate::response::ClientLeft;

/// Runs `script` for `req` on `fcgi`'s application and answers with what it writes.
pub(super) async fn run(fcgi: &FastCgi, req: Request, script: ScriptPath) -> Response {
    let (parts, body) = req.into_parts();
    let connection = body.shared_connection();
    let info = connection.as_deref();
    let log = RequestLog {
        log: info.map(|i| i.log.clone()).unwrap_or_default(),
        client: info.map(|i| i.peer.ip()),
        application: Arc::clone(&fcgi.pool),
        script: script.script_name.clone(),
    };
    let input = match Input::prepare(&parts.headers, body, fcgi.max_body).await {
        Ok(input) => input,
        Err(Refused::TooLarge) => return error(StatusCode::PAYLOAD_TOO_LARGE),
        Err(Refused::Broken(e)) => {
            log.say(&format!(
                "not sent: the request body could not be read ({e})"
            ));
            return error(StatusCode::BAD_REQUEST);
        }
    };
    let vars = MetaVars::new(&parts, info, &script, fcgi.root.dir(), input.length());
    let params: Vec<(&str, &[u8])> = vars.iter().collect();
    let stdin = match input {
        Input::None => Stdin::Empty,
        Input::Stream(_, first, body) => Stdin::Stream(first, body),
        Input::Spooled(_, file) => Stdin::Spooled(tokio::fs::File::from_std(file)),
    };
    let on_leaving = if fcgi.ignore_client_abort {
        OnLeaving::Finish
    } else {
        OnLeaving::Abort
    };
    let limit = fcgi.timeout;
    let mut output = client::start(
        fcgi.pool.clone(),
        &params,
        stdin,
        limit,
        on_leaving,
        log.clone(),
    );
    // Watched until the header block: a client gone by then gets no answer, and the request is
    // aborted (the exchange sees its output dropped, and says so in the log).
    let mut departure = departure(info, parts.version, fcgi.ignore_client_abort);
    let mut buf = BytesMut::new();
    let (reply, used) = loop {
        match parse(&buf) {
            Ok(Some(done)) => break done,
            Ok(None) => {}
            Err(malformed) => {
                log.say(&format!("sent a malformed header block ({})", malformed.0));
                return error(StatusCode::BAD_GATEWAY);
            }
        }
        let next = tokio::select! {
            next = output.next() => next,
            () = departure.wait() => return ClientLeft::response(),
        };
        match next {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            Some(Err(failure)) => return failed(failure),
            None => {
                log.say("ended its output before a complete header block");
                return error(StatusCode::BAD_GATEWAY);
            }
        }
    };
    drop(departure);
    buf.advance(used);
    let first = buf.freeze();
    let head_only = parts.method == Method::HEAD;
    match reply {
        ScriptReply::Document(head) => {
            let bodiless = bodiless(head_only, head.status);
            response(head, response_body(output, first, bodiless))
        }
        ScriptReply::NoContentType => {
            // RFC 3875 §6.3.1; an application that breaks the protocol is a bad gateway.
            log.say("sent no Content-Type (RFC 3875 §6.3.1)");
            error(StatusCode::BAD_GATEWAY)
        }
        ScriptReply::LocalRedirect { location, fallback } => {
            let first = if first.is_empty() {
                match output.next().await {
                    Some(Ok(chunk)) => chunk,
                    Some(Err(failure)) => return failed(failure),
                    None => {
                        return redirect_locally(parts, connection, &location, fcgi, |why| {
                            log.say(why)
                        })
                        .await
                    }
                }
            } else {
                first
            };
            // A body after all: a client redirect (§6.2.3).
            response(fallback, response_body(output, first, head_only))
        }
    }
}

/// The response body: the output after the header block. When none is sent (HEAD, 204, 304)
/// the application still runs to its end (aborting it midway could leave its work half done),
/// its output read and dropped.
fn response_body(mut output: Output, first: bytes::Bytes, bodiless: bool) -> Body {
    if bodiless {
        tokio::spawn(async move { while let Some(Ok(_)) = output.next().await {} });
        return Body::empty();
    }
    output.into_body(first)
}

fn failed(failure: Failure) -> Response {
    match failure {
        Failure::Unavailable => error(StatusCode::BAD_GATEWAY),
        Failure::TimedOut => error(StatusCode::GATEWAY_TIMEOUT),
    }
}
