//! One FastCGI request on one pooled connection (FastCGI specification §5–§6): `FCGI_BEGIN_REQUEST`
//! with `FCGI_KEEP_CONN`, the meta-variables as `FCGI_PARAMS`, the request body as `FCGI_STDIN`
//! records written as it arrives while `FCGI_STDOUT` is read back and handed on as it arrives,
//! `FCGI_STDERR` to the log line by line, and `FCGI_END_REQUEST` ending it all. When the client
//! goes away the application gets `FCGI_ABORT_REQUEST` (§5.4), or under
//! `--ignore-client-abort` the request runs to its end, its output dropped; a request whose
//! client left while it waited for a connection is never sent.
//!
//! The exchange runs in a task of its own, so that it can finish (abort, then wait for the end
//! so the connection can be reused) after the handler's future or the response body is dropped.
//! The gateway's driver reads its output from a channel: [`Output`].

use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::pool::{Connection, Pool};
use super::record::{self, EndRequest, Kind, ProtocolError, Record, ROLE_RESPONDER};
use super::stderr::StderrLines;
use crate::gateway::input::Input;
use crate::gateway::log::ScriptLog;
use crate::gateway::{Failed, Script, Stop};
use crate::request::RequestBody;

/// Every request on a connection has this id: one request at a time per connection, as nginx
/// does (§3.3 allows multiplexing, which php-fpm does not implement).
const REQUEST_ID: u16 = 1;

/// How much of the application's output is read at a time.
const READ_CHUNK: usize = 64 * 1024;

/// How long an aborted request's `FCGI_END_REQUEST` is waited for, to keep its connection. An
/// application that honours `FCGI_ABORT_REQUEST` ends the request at once; php-fpm does not act
/// on it while a script runs, which may go on for minutes: its connection is closed
/// instead, which frees the pool's turn, and PHP stops the script at its next output (unless
/// `ignore_user_abort`), as behind nginx.
const ABORT_GRACE: Duration = Duration::from_secs(1);

/// Why the application gave no (complete) answer. The log has already said it in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// It could not be reached, broke the connection, or refused the request (`502`).
    Unavailable,
    /// It was too slow (`504`).
    TimedOut,
}

impl Failure {
    /// The answer to a request that failed so.
    fn status(self) -> StatusCode {
        match self {
            Failure::Unavailable => StatusCode::BAD_GATEWAY,
            Failure::TimedOut => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// What happens to a request whose client leaves before it has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnLeaving {
    /// The application gets `FCGI_ABORT_REQUEST`.
    Abort,
    /// It runs to its end, its output read and dropped (`--ignore-client-abort`).
    Finish,
}

/// The request body, as the application reads it on `FCGI_STDIN`.
pub(super) enum Stdin {
    /// No body.
    Empty,
    /// A body still arriving from the client, after its first chunk if that was read already
    /// (to answer `Expect: 100-continue` before the application can answer).
    Stream(Option<Bytes>, RequestBody),
    /// A body spooled to a file (a chunked one, whose length had to be known first).
    Spooled(tokio::fs::File),
}

impl From<Input> for Stdin {
    fn from(input: Input) -> Stdin {
        match input {
            Input::None => Stdin::Empty,
            Input::Stream(_, first, body) => Stdin::Stream(first, body),
            Input::Spooled(_, file) => Stdin::Spooled(tokio::fs::File::from_std(file)),
        }
    }
}

impl Stdin {
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        match self {
            Stdin::Empty => None,
            Stdin::Stream(first, body) => match first.take() {
                Some(first) => Some(Ok(first)),
                None => body.chunk().await,
            },
            Stdin::Spooled(file) => {
                let mut buf = BytesMut::with_capacity(READ_CHUNK);
                match file.read_buf(&mut buf).await {
                    Ok(0) => None,
                    Ok(_) => Some(Ok(buf.freeze())),
                    Err(e) => Some(Err(e)),
                }
            }
        }
    }
}

/// What the application writes on `FCGI_STDOUT`, as it arrives.
pub(crate) struct Output {
    rx: mpsc::Receiver<Result<Bytes, Failure>>,
    log: ScriptLog,
    /// Set when the gateway refused the answer (a broken header block): the exchange then
    /// says so, not that the client went away, when it finds the output dropped.
    refused: Arc<AtomicBool>,
}

impl Output {
    /// The next piece of output; `None` once the request has ended.
    pub(crate) async fn next(&mut self) -> Option<Result<Bytes, Failure>> {
        self.rx.recv().await
    }
}

/// Dropped, an `Output` tells its exchange that the client left: the request is aborted.
impl Script for Output {
    fn log(&self) -> &ScriptLog {
        &self.log
    }

    async fn read_head(&mut self, buf: &mut BytesMut) -> Result<(), Stop> {
        match self.next().await {
            Some(Ok(chunk)) => {
                buf.extend_from_slice(&chunk);
                Ok(())
            }
            Some(Err(failure)) => Err(Stop::Failed(Failed(failure.status()))),
            None => Err(Stop::Ended(None)),
        }
    }

    async fn read_body(&mut self) -> Option<Result<Bytes, Failed>> {
        let next = self.next().await?;
        Some(next.map_err(|failure| Failed(failure.status())))
    }

    fn give_up(&mut self, why: &str) {
        self.log.say(why);
        self.refused.store(true, Ordering::Relaxed);
    }
}

/// Starts one request: `params` are the meta-variables, `stdin` the body; every read and write
/// on the application's connection (and the wait for one) may take at most `limit`.
pub(super) fn start<'a>(
    pool: Arc<Pool>,
    params: impl IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone,
    stdin: Stdin,
    limit: Duration,
    on_leaving: OnLeaving,
    log: ScriptLog,
) -> Output {
    let empty_body = matches!(stdin, Stdin::Empty);
    let head = request_head(params, empty_body);
    let (tx, rx) = mpsc::channel(4);
    let exchange_log = log.clone();
    let refused = Arc::new(AtomicBool::new(false));
    let leaving = Leaving(Arc::clone(&refused));
    tokio::spawn(async move {
        let mut exchange = Exchange {
            head,
            stdin,
            body_started: false,
            answered: false,
            tx,
            limit,
            on_leaving,
            leaving,
            log: exchange_log,
        };
        if let Err(failure) = exchange.run(&pool).await {
            let _ = exchange.tx.send(Err(failure)).await;
        }
    });
    Output { rx, log, refused }
}

/// `FCGI_BEGIN_REQUEST`, the `FCGI_PARAMS` stream, and for a request without a body the empty
/// `FCGI_STDIN` too: the whole request in one write.
fn request_head<'a>(
    params: impl IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone,
    empty_body: bool,
) -> Bytes {
    // Sized once: each pair is its name, its value and at most 8 bytes of lengths.
    let size: usize = (params.clone().into_iter())
        .map(|(n, v)| n.len() + v.len() + 8)
        .sum();
    let mut pairs = BytesMut::with_capacity(size);
    record::put_pairs(&mut pairs, params);
    let mut head = BytesMut::with_capacity(pairs.len() + 64);
    record::put_begin_request(&mut head, REQUEST_ID, ROLE_RESPONDER, true);
    record::put_stream(&mut head, Kind::Params, REQUEST_ID, &pairs);
    record::put_stream_end(&mut head, Kind::Params, REQUEST_ID);
    if empty_body {
        record::put_stream_end(&mut head, Kind::Stdin, REQUEST_ID);
    }
    head.freeze()
}

/// How an exchange on a connection failed.
enum Broken {
    /// The connection failed (closed, reset): worth one retry if nothing was consumed.
    Io(io::Error),
    /// Anything else: the application's fault or its slowness.
    Final(Failure, String),
}

impl From<ProtocolError> for Broken {
    fn from(e: ProtocolError) -> Broken {
        Broken::Final(Failure::Unavailable, format!("protocol error: {e}"))
    }
}

/// How an exchange ended.
enum Ended {
    /// `FCGI_END_REQUEST` arrived; the connection may be reused if the request was sent whole.
    Complete(EndRequest, bool),
    /// The client went away; the application can be told so if the request was sent whole.
    ClientGone(bool),
}

struct Exchange {
    head: Bytes,
    stdin: Stdin,
    body_started: bool,
    answered: bool,
    tx: mpsc::Sender<Result<Bytes, Failure>>,
    limit: Duration,
    on_leaving: OnLeaving,
    leaving: Leaving,
    log: ScriptLog,
}

/// Why an exchange's output was dropped: its client left, or the gateway refused the answer.
struct Leaving(Arc<AtomicBool>);

impl Leaving {
    fn why(&self) -> &'static str {
        if self.0.load(Ordering::Relaxed) {
            "the gateway refused the answer"
        } else {
            "the client went away"
        }
    }
}

impl Exchange {
    async fn run(&mut self, pool: &Arc<Pool>) -> Result<(), Failure> {
        let abort = self.on_leaving == OnLeaving::Abort;
        let mut conn = tokio::select! {
            conn = self.connect(pool.get()) => conn?,
            // Gone while waiting for a connection: its turn goes to the next request.
            () = self.tx.closed(), if abort => {
                self.log.not_run("the client went away");
                return Ok(());
            }
        };
        let mut ended = self.exchange(&mut conn).await;
        if let Err(Broken::Io(_)) = &ended {
            // A kept connection the application closed meanwhile (a restart), or a new one it
            // closed on reading `FCGI_GET_VALUES` (never asked again): nothing of this request
            // reached it, so it is sent again, once, on a new connection.
            let refused_asking = conn.asked_in_vain();
            if refused_asking {
                conn.never_ask();
            }
            if (conn.reused() || refused_asking) && !self.body_started && !self.answered {
                conn = self.connect(pool.replace(conn)).await?;
                ended = self.exchange(&mut conn).await;
            }
        }
        match ended {
            Ok(Ended::Complete(end, reusable)) => self.complete(conn, end, reusable),
            Ok(Ended::ClientGone(abortable)) => {
                self.log.say(&format!("aborted: {}", self.leaving.why()));
                if abortable && self.abort(&mut conn).await {
                    self.release(conn);
                }
                Ok(())
            }
            Err(Broken::Io(e)) => {
                Err(self.fail(Failure::Unavailable, &format!("connection failed: {e}")))
            }
            Err(Broken::Final(failure, why)) => Err(self.fail(failure, &why)),
        }
    }

    /// A connection from `attempt` (a free one, or a new one), in time.
    async fn connect(
        &self,
        attempt: impl std::future::Future<Output = io::Result<Connection>>,
    ) -> Result<Connection, Failure> {
        match timeout(self.limit, attempt).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(self.fail(Failure::Unavailable, &format!("cannot connect: {e}"))),
            Err(_) => Err(self.fail(Failure::TimedOut, "no connection in time")),
        }
    }

    fn fail(&self, failure: Failure, why: &str) -> Failure {
        self.log.say(why);
        failure
    }

    fn complete(&self, conn: Connection, end: EndRequest, reusable: bool) -> Result<(), Failure> {
        if let Some(refusal) = end.refusal() {
            return Err(self.fail(Failure::Unavailable, &format!("request refused: {refusal}")));
        }
        if end.app_status != 0 {
            self.log.say(&format!(
                "application exited with status {}",
                end.app_status
            ));
        }
        if reusable {
            self.release(conn);
        }
        Ok(())
    }

    /// Gives `conn` back to the pool after a complete request, logging what the pool learned.
    fn release(&self, conn: Connection) {
        if let Some(learned) = conn.release() {
            self.log.say(&learned);
        }
    }

    /// Sends the request and forwards the response until `FCGI_END_REQUEST` or the client's
    /// departure.
    async fn exchange(&mut self, conn: &mut Connection) -> Result<Ended, Broken> {
        let (mut reader, mut writer, answer) = conn.split();
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let mut stderr = StderrLines::default();
        let (limit, tx) = (self.limit, self.tx.clone());
        let head = if answer.asks() {
            // On a new connection the application is first asked its limits (see `capacity`):
            // its answer, or the lack of one, comes back before the response.
            let mut asked = BytesMut::with_capacity(self.head.len() + 64);
            record::put_get_values(&mut asked);
            asked.extend_from_slice(&self.head);
            asked.freeze()
        } else {
            self.head.clone()
        };
        let mut send = pin!(send_request(
            &mut writer,
            head,
            &mut self.stdin,
            &mut self.body_started,
            limit
        ));
        // `sending` until the request is written; `sent` if all of it was.
        let (mut sending, mut sent) = (true, false);
        // Whether the client left and the request goes on without it (`OnLeaving::Finish`).
        let mut unheard = false;
        let (on_leaving, log, leaving) = (self.on_leaving, &self.log, &self.leaving);
        let ended = loop {
            let record = tokio::select! {
                done = &mut send, if sending => {
                    sending = false;
                    match done {
                        Ok(()) => sent = true,
                        // The application stopped reading (it may have answered already, and
                        // may close): what it wrote is still read; the connection will not
                        // be reused.
                        Err(Broken::Io(_)) => {}
                        Err(final_failure) => return Err(final_failure),
                    }
                    continue;
                }
                _ = tx.closed(), if !unheard => {
                    if aborts(on_leaving, log, leaving) {
                        break Ended::ClientGone(sent);
                    }
                    unheard = true;
                    continue;
                }
                record = read_record(&mut reader, &mut buf, limit) => record?,
            };
            if let Some(learned) = answer.record(&record) {
                log.say(&learned);
            }
            if record.request_id == REQUEST_ID {
                self.answered = true;
            }
            match Kind::from_byte(record.kind) {
                _ if record.request_id != REQUEST_ID => {} // management records (§4)
                Some(Kind::Stdout) => {
                    let content = record.content;
                    if !unheard && !content.is_empty() && tx.send(Ok(content)).await.is_err() {
                        if aborts(on_leaving, log, leaving) {
                            break Ended::ClientGone(sent);
                        }
                        unheard = true;
                    }
                }
                Some(Kind::Stderr) => stderr.push(&record.content, log),
                Some(Kind::EndRequest) => {
                    // An application may end a request before reading all of its body (§6.1);
                    // the rest was not sent, so the connection is not in a state to reuse.
                    break Ended::Complete(EndRequest::parse(&record.content)?, sent);
                }
                _ => {}
            }
        };
        stderr.flush(log);
        Ok(ended)
    }

    /// Tells the application the client left and waits (for [`ABORT_GRACE`]) for its
    /// `FCGI_END_REQUEST`, so that the connection can be reused; false if that did not happen
    /// in time.
    async fn abort(&self, conn: &mut Connection) -> bool {
        let (mut reader, mut writer, _) = conn.split();
        let limit = self.limit.min(ABORT_GRACE);
        let mut out = BytesMut::new();
        record::put_abort_request(&mut out, REQUEST_ID);
        if write(&mut writer, &out, limit).await.is_err() {
            return false;
        }
        let mut buf = BytesMut::new();
        loop {
            match read_record(&mut reader, &mut buf, limit).await {
                Ok(r) if r.kind == Kind::EndRequest as u8 && r.request_id == REQUEST_ID => {
                    return true
                }
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }
}

/// The client left: whether to end the exchange and abort the request (which the caller
/// logs), or else to let it run to its end (logged here).
fn aborts(on_leaving: OnLeaving, log: &ScriptLog, leaving: &Leaving) -> bool {
    if on_leaving == OnLeaving::Finish {
        log.say(&format!("goes on: {}", leaving.why()));
    }
    on_leaving == OnLeaving::Abort
}

/// Writes the request head, then the body as `FCGI_STDIN` records as it arrives, then the
/// empty record that ends it.
async fn send_request(
    writer: &mut (impl AsyncWrite + Unpin),
    head: Bytes,
    stdin: &mut Stdin,
    body_started: &mut bool,
    limit: Duration,
) -> Result<(), Broken> {
    write(writer, &head, limit).await?;
    if matches!(stdin, Stdin::Empty) {
        return Ok(());
    }
    let mut out = BytesMut::new();
    while let Some(chunk) = stdin.next().await {
        let chunk = chunk.map_err(|e| {
            Broken::Final(
                Failure::Unavailable,
                format!("request body could not be read: {e}"),
            )
        })?;
        *body_started = true;
        out.clear();
        record::put_stream(&mut out, Kind::Stdin, REQUEST_ID, &chunk);
        write(writer, &out, limit).await?;
    }
    out.clear();
    record::put_stream_end(&mut out, Kind::Stdin, REQUEST_ID);
    write(writer, &out, limit).await
}

async fn write(
    writer: &mut (impl AsyncWrite + Unpin),
    bytes: &[u8],
    limit: Duration,
) -> Result<(), Broken> {
    match timeout(limit, writer.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Broken::Io(e)),
        Err(_) => Err(timed_out(limit, "sending the request")),
    }
}

/// The next record, reading more bytes into `buf` as needed.
async fn read_record(
    reader: &mut (impl AsyncRead + Unpin),
    buf: &mut BytesMut,
    limit: Duration,
) -> Result<Record, Broken> {
    loop {
        if let Some(record) = record::decode(buf)? {
            return Ok(record);
        }
        buf.reserve(READ_CHUNK);
        match timeout(limit, reader.read_buf(buf)).await {
            Ok(Ok(0)) => {
                return Err(Broken::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the application closed the connection",
                )))
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(Broken::Io(e)),
            Err(_) => return Err(timed_out(limit, "waiting for the response")),
        }
    }
}

fn timed_out(limit: Duration, doing: &str) -> Broken {
    Broken::Final(
        Failure::TimedOut,
        format!("timed out after {}s {doing}", limit.as_secs_f64()),
    )
}
