//! The routing of paths to the application, and the client against a scripted FastCGI
//! application written with the record codec: connection reuse, the retry after an
//! application restart, `FCGI_ABORT_REQUEST` when the client leaves, and what reaches the log.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use super::client::{self, Output, Stdin};
use super::record::{self, EndRequest, Kind, Record};
use super::*;
use crate::access_log::{AccessLog, ReadableLog};
use crate::gateway::log::{GatewayKind, ScriptLog};

#[test]
fn patterns_are_an_extension_or_a_prefix() {
    assert_eq!("*.php".parse(), Ok(Pattern::Extension(".php".into())));
    assert_eq!("/app".parse(), Ok(Pattern::Prefix("/app".into())));
    for bad in ["php", "*.", "*.a/b", "app", "**.php"] {
        assert!(bad.parse::<Pattern>().is_err(), "{bad}");
    }
}

fn names(script: Option<ScriptPath>) -> Option<(String, String)> {
    script.map(|s| {
        (
            String::from_utf8_lossy(&s.script_name).into_owned(),
            String::from_utf8_lossy(&s.path_info).into_owned(),
        )
    })
}

/// What `pattern` routes below `dir`: a path's `SCRIPT_NAME` and `PATH_INFO`, if it is the
/// application's.
fn router(dir: &std::path::Path, pattern: &str) -> impl Fn(&str) -> Option<(String, String)> {
    let fcgi = FastCgi::new(
        dir,
        pattern.parse().expect("pattern"),
        "unix:/nowhere".parse().expect("address"),
    )
    .expect("handler");
    move |path| names(fcgi.script(&UrlPath::parse(path)))
}

fn pair(name: &str, info: &str) -> Option<(String, String)> {
    Some((name.to_owned(), info.to_owned()))
}

#[test]
fn extension_routes_split_at_the_script_and_use_index_php_last() {
    let dir = tempfile::tempdir().expect("tempdir");
    for file in [
        "a.php",
        "d/index.php",
        "both/index.php",
        "both/index.html",
        "t.txt",
    ] {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, "").expect("write");
    }
    let at = router(dir.path(), "*.php");
    assert_eq!(at("/a.php"), pair("/a.php", ""));
    assert_eq!(at("/a.php/x/y/"), pair("/a.php", "/x/y/"));
    assert_eq!(at("/%61.php/x"), pair("/a.php", "/x"));
    assert_eq!(at("/d/"), pair("/d/index.php", ""));
    assert_eq!(at("/both/"), None, "index.html comes first");
    assert_eq!(at("/d"), None, "the files add the slash");
    assert_eq!(at("/t.txt"), None);
    assert_eq!(at("/missing.php"), None);
    assert_eq!(at("/../../a.php"), pair("/a.php", ""));
}

#[test]
fn prefix_routes_give_the_prefix_as_script_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let at = router(dir.path(), "/app");
    assert_eq!(at("/app"), pair("/app", ""));
    assert_eq!(at("/app/"), pair("/app", "/"));
    assert_eq!(at("/app/x%20y/z"), pair("/app", "/x y/z"));
    assert_eq!(at("/x/../app/q"), pair("/app", "/q"));
    assert_eq!(at("/apple"), None);
    assert_eq!(at("/"), None);
}

/// A scripted FastCGI application on a Unix socket in a temporary directory.
struct FakeApp {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    listener: UnixListener,
}

impl FakeApp {
    fn new() -> FakeApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("app.sock");
        let listener = UnixListener::bind(&socket).expect("bind");
        FakeApp {
            _dir: dir,
            socket,
            listener,
        }
    }

    fn pool(&self) -> Arc<Pool> {
        Pool::new(Address::Unix(self.socket.clone()), 4, false)
    }
}

/// Reads one request (up to its empty `FCGI_STDIN`); `None` if the connection closes first.
async fn read_request(stream: &mut UnixStream, buf: &mut BytesMut) -> Option<Vec<Record>> {
    let mut records = Vec::new();
    loop {
        match record::decode(buf).expect("valid records") {
            Some(r) => {
                let end = r.kind == Kind::Stdin as u8 && r.content.is_empty();
                records.push(r);
                if end {
                    return Some(records);
                }
            }
            None => {
                if stream.read_buf(buf).await.expect("read") == 0 {
                    return None;
                }
            }
        }
    }
}

/// Answers with `stdout`, `stderr` and `app_status`, keeping the connection.
async fn answer(stream: &mut UnixStream, stdout: &[u8], stderr: &[u8], app_status: u32) {
    let mut out = BytesMut::new();
    record::put_stream(&mut out, Kind::Stderr, 1, stderr);
    record::put_stream(&mut out, Kind::Stdout, 1, stdout);
    record::put_stream_end(&mut out, Kind::Stdout, 1);
    let end = EndRequest {
        app_status,
        protocol_status: record::REQUEST_COMPLETE,
    };
    record::put_end_request(&mut out, 1, end);
    stream.write_all(&out).await.expect("write");
}

fn start(pool: &Arc<Pool>, log: AccessLog) -> Output {
    let application = GatewayKind::FastCgi(pool.address().to_string().into());
    let log = ScriptLog::new(log, None, application, b"/x");
    let params: [(&[u8], &[u8]); 1] = [(b"SCRIPT_NAME", b"/x")];
    client::start(
        Arc::clone(pool),
        params,
        Stdin::Empty,
        Duration::from_secs(5),
        client::OnLeaving::Abort,
        log,
    )
}

async fn collect(mut output: Output) -> Bytes {
    let mut all = BytesMut::new();
    while let Some(chunk) = output.next().await {
        all.extend_from_slice(&chunk.expect("no failure"));
    }
    all.freeze()
}

#[tokio::test]
async fn sequential_requests_share_one_kept_connection() {
    let app = FakeApp::new();
    let pool = app.pool();
    let server = tokio::spawn(async move {
        let (mut stream, _) = app.listener.accept().await.expect("accept");
        let mut buf = BytesMut::new();
        let mut served = 0;
        while let Some(records) = read_request(&mut stream, &mut buf).await {
            let begin = record::BeginRequest::parse(&records[0].content).expect("begin");
            assert!(begin.keep_conn, "FCGI_KEEP_CONN asked");
            served += 1;
            answer(&mut stream, b"Content-Type: text/plain\r\n\r\nok", b"", 0).await;
        }
        served
    });
    for _ in 0..3 {
        let body = collect(start(&pool, AccessLog::off())).await;
        assert_eq!(&body[..], b"Content-Type: text/plain\r\n\r\nok");
    }
    drop(pool);
    assert_eq!(server.await.expect("app"), 3);
}

#[tokio::test]
async fn a_kept_connection_the_application_closed_is_retried_on_a_new_one() {
    let app = FakeApp::new();
    let pool = app.pool();
    let server = tokio::spawn(async move {
        let mut buf = BytesMut::new();
        let (mut first, _) = app.listener.accept().await.expect("accept");
        read_request(&mut first, &mut buf).await.expect("request 1");
        answer(&mut first, b"Content-Type: a/b\n\none", b"", 0).await;
        // The second request arrives on the kept connection, which the "restarted"
        // application then closes without a word.
        read_request(&mut first, &mut buf).await.expect("request 2");
        drop(first);
        let (mut second, _) = app.listener.accept().await.expect("accept again");
        let mut buf = BytesMut::new();
        read_request(&mut second, &mut buf)
            .await
            .expect("request 2 again");
        answer(&mut second, b"Content-Type: a/b\n\ntwo", b"", 0).await;
    });
    assert!(collect(start(&pool, AccessLog::off()))
        .await
        .ends_with(b"one"));
    assert!(collect(start(&pool, AccessLog::off()))
        .await
        .ends_with(b"two"));
    server.await.expect("app");
}

#[tokio::test]
async fn a_client_that_goes_away_aborts_the_request() {
    let app = FakeApp::new();
    let pool = app.pool();
    let (aborted_tx, aborted_rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(async move {
        let (mut stream, _) = app.listener.accept().await.expect("accept");
        let mut buf = BytesMut::new();
        read_request(&mut stream, &mut buf).await.expect("request");
        let mut out = BytesMut::new();
        record::put_stream(&mut out, Kind::Stdout, 1, b"Content-Type: a/b\n\npart");
        stream.write_all(&out).await.expect("write");
        loop {
            if let Some(r) = record::decode(&mut buf).expect("valid") {
                let _ = aborted_tx.send(r.kind == Kind::AbortRequest as u8);
                answer(&mut stream, b"", b"", 0).await;
                return;
            }
            assert_ne!(stream.read_buf(&mut buf).await.expect("read"), 0);
        }
    });
    let mut output = start(&pool, AccessLog::off());
    assert!(output.next().await.expect("output").is_ok());
    drop(output);
    let aborted = tokio::time::timeout(Duration::from_secs(5), aborted_rx)
        .await
        .expect("in time")
        .expect("a record");
    assert!(aborted, "FCGI_ABORT_REQUEST sent");
    server.await.expect("app");
}

#[tokio::test]
async fn stderr_lines_and_a_failing_status_are_logged() {
    let app = FakeApp::new();
    let pool = app.pool();
    tokio::spawn(async move {
        let (mut stream, _) = app.listener.accept().await.expect("accept");
        let mut buf = BytesMut::new();
        read_request(&mut stream, &mut buf).await.expect("request");
        answer(&mut stream, b"Content-Type: a/b\n\n", b"one\ntw", 0).await;
        read_request(&mut stream, &mut buf).await.expect("request");
        answer(&mut stream, b"Content-Type: a/b\n\n", b"o\n", 3).await;
    });
    let lines = ReadableLog::default();
    let log = AccessLog::to_writer(lines.clone());
    collect(start(&pool, log.clone())).await;
    collect(start(&pool, log.clone())).await;
    let text = lines.logged_by(&log);
    let name = format!("] FastCGI {} /x: ", pool.address());
    for said in ["one", "tw", "o", "application exited with status 3"] {
        assert!(text.contains(&format!("{name}{said}\n")), "{text}");
    }
}

#[tokio::test]
async fn an_application_that_is_not_listening_is_a_failure() {
    let app = FakeApp::new();
    let pool = Pool::new(Address::Unix(app.socket.with_extension("gone")), 1, false);
    let mut output = start(&pool, AccessLog::off());
    assert_eq!(
        output.next().await.expect("a failure"),
        Err(client::Failure::Unavailable)
    );
}

#[tokio::test]
async fn an_application_that_does_not_speak_fastcgi_is_a_logged_failure() {
    let app = FakeApp::new();
    let pool = app.pool();
    tokio::spawn(async move {
        let (mut stream, _) = app.listener.accept().await.expect("accept");
        let mut buf = BytesMut::new();
        read_request(&mut stream, &mut buf).await.expect("request");
        stream
            .write_all(b"HTTP/1.1 200 OK\r\n\r\n")
            .await
            .expect("write");
    });
    let lines = ReadableLog::default();
    let log = AccessLog::to_writer(lines.clone());
    let mut output = start(&pool, log.clone());
    assert_eq!(
        output.next().await.expect("a failure"),
        Err(client::Failure::Unavailable)
    );
    let text = lines.logged_by(&log);
    let said = format!(
        "] FastCGI {} /x: protocol error: FastCGI version 72 (expected 1)",
        pool.address()
    );
    assert!(text.contains(&said), "{text}");
}
