//! The library as another crate uses it: only `serveur::` items, handlers served by a real
//! `Server` on 127.0.0.1 port 0 and asked over real sockets, or called in-process with
//! hand-built requests where no connection is involved.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::library::{self, Running};
use crate::support::tls::{client, fetch_tls, make_cert};
use crate::support::{ask, body_text, get, raw_text, request, request_with_body, Reply};
use bytes::Bytes;
use rustls::version::TLS13;
use serveur::http::{Method, StatusCode};
use serveur::{
    by_method, response, Handler, Mount, Request, RequestExt, Response, StaticFiles, TlsConfig,
};

/// `handler` served by the library's `Server` on 127.0.0.1 port 0.
fn serve(handler: impl Handler) -> Running {
    library::serve(library::bind(), handler)
}

fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &'static [u8]) -> Reply {
    request_with_body(addr, "POST", path, headers, body)
}

/// A hook answering `name` as text.
fn named(name: &'static str) -> impl Fn(Request) -> std::future::Ready<Response> {
    move |_req| std::future::ready(response::text(name))
}

#[tokio::test]
async fn head_falls_back_to_get_without_a_body_unless_a_head_hook_exists() {
    let get_only = by_method().get(named("from get"));
    let head = ask(&get_only, "HEAD", "/").await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()["content-length"],
        "8",
        "GET's headers are kept"
    );
    assert_eq!(body_text(head).await, "");
}

#[test]
fn head_answers_the_length_get_or_the_head_hook_would_send_and_no_body() {
    let get_only = serve(by_method().get(named("from get")));
    let both = serve(
        by_method()
            .get(named("from get"))
            .head(|_req: Request| async { response::text("from head") }),
    );
    for (server, length) in [(&get_only, "8"), (&both, "9")] {
        let reply = request(server.addr, "HEAD", "/", &[]);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-length"), length);
        assert!(reply.body.is_empty());
    }
}

#[tokio::test]
async fn every_shortcut_and_a_method_by_name_reach_their_hook() {
    let all = by_method()
        .get(named("GET"))
        .post(named("POST"))
        .put(named("PUT"))
        .delete(named("DELETE"))
        .options(named("OPTIONS"))
        .patch(named("PATCH"))
        .method(
            Method::from_bytes(b"PROPFIND").expect("token"),
            named("PROPFIND"),
        );
    for method in [
        "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND",
    ] {
        assert_eq!(body_text(ask(&all, method, "/").await).await, method);
    }
    let reply = ask(&all, "TRACE", "/").await;
    assert_eq!(reply.status(), StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        reply.headers()["allow"],
        "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, PROPFIND"
    );
}

#[tokio::test]
async fn a_later_hook_for_the_same_method_replaces_the_earlier_one() {
    let handler = by_method().post(named("first")).post(named("second"));
    assert_eq!(body_text(ask(&handler, "POST", "/").await).await, "second");
    let refused = ask(&handler, "GET", "/").await;
    assert_eq!(
        refused.headers()["allow"],
        "POST",
        "no GET, so no HEAD either"
    );
}

#[test]
fn an_unhooked_method_gets_pythons_501_page_and_log_line() {
    let server = serve(by_method().get(named("hi")));
    let reply = request(server.addr, "PUT", "/x", &[]);
    assert_eq!(reply.status, 501);
    assert_eq!(reply.header("allow"), "GET, HEAD");
    assert_eq!(reply.header("content-type"), "text/html;charset=utf-8");
    assert!(reply
        .text()
        .contains("<p>Error code explanation: 501 - Server does not support this operation.</p>"));
    let status_line = raw_text(server.addr, b"PUT /x HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(status_line.starts_with("HTTP/1.1 501 Unsupported method ('PUT')\r\n"));
    server.wait_for_log("code 501, message Unsupported method ('PUT')");
    server.wait_for_log("\"PUT /x HTTP/1.1\" 501 ");
}

#[test]
fn request_helpers_see_the_decoded_path_query_and_both_addresses() {
    let server = serve(by_method().get(|req: Request| async move {
        let pairs: Vec<String> = req.query_pairs().map(|(k, v)| format!("{k}={v}")).collect();
        response::text(format!(
            "{}|{}|{}|{}|{}",
            req.decoded_path(),
            pairs.join(","),
            req.peer_addr()
                .map_or("none".into(), |a| a.ip().to_string()),
            req.local_addr().map_or("none".into(), |a| a.to_string()),
            req.is_tls(),
        ))
    }));
    let reply = get(server.addr, "/caf%C3%A9/a%20b?x=1&name=J%C3%BCrgen+K&x=2");
    assert_eq!(
        reply.text(),
        format!(
            "/café/a b|x=1,name=Jürgen K,x=2|127.0.0.1|{}|false",
            server.addr
        )
    );
}

#[test]
fn the_connection_stays_known_after_the_body_is_read_or_replaced() {
    let server = serve(by_method().post(|mut req: Request| async move {
        let read = req.body_bytes(100).await.unwrap_or_default();
        let after_read = req.peer_addr();
        *req.body_mut() = serveur::RequestBody::full(read.clone()).with_connection_of(req.body());
        let after_replace = req.peer_addr();
        *req.body_mut() = serveur::RequestBody::full(read);
        let replaced_alone = req.peer_addr();
        response::text(format!(
            "{after_read:?} {after_replace:?} {replaced_alone:?}"
        ))
    }));
    let reply = post(server.addr, "/", &[], b"hello");
    let peer = reply
        .text()
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(peer.starts_with("Some(127.0.0.1:"), "{}", reply.text());
    assert_eq!(reply.text(), format!("{peer} {peer} None"));
}

#[test]
fn body_bytes_reads_up_to_the_limit_and_answers_413_past_it() {
    let server = serve(by_method().post(|mut req: Request| async move {
        match req.body_bytes(10).await {
            Ok(body) => response::bytes("application/octet-stream", body),
            Err(answer) => answer,
        }
    }));
    let reply = post(server.addr, "/", &[], b"0123456789");
    assert_eq!((reply.status, reply.text().as_str()), (200, "0123456789"));

    let reply = post(server.addr, "/", &[], b"0123456789A");
    assert_eq!(reply.status, 413);
    assert!(reply.text().contains("<p>Message: Content Too Large.</p>"));
    server.wait_for_log("code 413, message Content Too Large");

    // Chunked: no length announced, the limit is found while reading.
    let chunked = raw_text(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n6789AB\r\n0\r\n\r\n",
    );
    assert!(
        chunked.starts_with("HTTP/1.1 413 Content Too Large\r\n"),
        "{chunked}"
    );
}

#[test]
fn a_body_cut_short_by_the_client_gets_400() {
    let server = serve(by_method().post(|mut req: Request| async move {
        match req.body_bytes(1000).await {
            Ok(_) => response::text("whole"),
            Err(answer) => answer,
        }
    }));
    let reply = raw_text(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly this",
    );
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
}

/// Answers the form's fields as `name=value` lines, files as `name=file_name:type:value`.
async fn echo_form(mut req: Request) -> Response {
    match req.form(1024).await {
        Ok(form) => {
            let lines: Vec<String> = form
                .fields()
                .iter()
                .map(|field| match &field.file_name {
                    Some(file) => format!(
                        "{}={file}:{}:{}",
                        field.name,
                        field.content_type.as_deref().unwrap_or("-"),
                        String::from_utf8_lossy(&field.value)
                    ),
                    None => format!("{}={}", field.name, field.text().unwrap_or("<binary>")),
                })
                .collect();
            response::text(lines.join("\n"))
        }
        Err(answer) => answer,
    }
}

#[test]
fn form_reads_multipart_text_and_file_fields_and_refuses_other_bodies() {
    let server = serve(by_method().post(echo_form));
    let multipart: &[u8] = b"--b0und\r\n\
        Content-Disposition: form-data; name=\"who\"\r\n\r\n\
        Ada\r\n\
        --b0und\r\n\
        Content-Disposition: form-data; name=\"notes\"; filename=\"notes.txt\"\r\n\
        Content-Type: text/plain\r\n\r\n\
        line 1\r\nline 2\r\n\
        --b0und--\r\n";
    let ct = [("content-type", "multipart/form-data; boundary=b0und")];
    let reply = post(server.addr, "/", &ct, multipart);
    assert_eq!(
        reply.text(),
        "who=Ada\nnotes=notes.txt:text/plain:line 1\r\nline 2"
    );

    let urlencoded = [(
        "content-type",
        "application/x-www-form-urlencoded; charset=UTF-8",
    )];
    let reply = post(server.addr, "/", &urlencoded, b"a=1&b=%C3%A9t%C3%A9&a=2");
    assert_eq!(reply.text(), "a=1\nb=été\na=2");
    let reply = post(server.addr, "/", &[], b"no=type");
    assert_eq!(
        reply.text(),
        "no=type",
        "no Content-Type is read as urlencoded"
    );

    let reply = post(
        server.addr,
        "/",
        &[("content-type", "application/json")],
        b"{}",
    );
    assert_eq!(reply.status, 415);
    let reply = post(server.addr, "/", &ct, b"--other\r\n\r\nnothing here");
    assert_eq!(reply.status, 400);
    assert!(
        reply.text().contains("Malformed form data"),
        "{}",
        reply.text()
    );
    let reply = post(
        server.addr,
        "/",
        &[("content-type", "multipart/form-data")],
        b"x",
    );
    assert_eq!(reply.status, 400, "multipart without a boundary");
}

#[test]
fn json_and_streamed_bodies_arrive_whole() {
    let server = serve(
        by_method()
            .get(|_req: Request| async {
                let chunks = (1..=3).map(|n| Ok(Bytes::from(format!("chunk {n}\n"))));
                response::stream("text/plain", futures_util::stream::iter(chunks))
            })
            .post(|_req: Request| async { response::json(r#"{"ok":true}"#) }),
    );
    let streamed = get(server.addr, "/");
    assert_eq!(streamed.text(), "chunk 1\nchunk 2\nchunk 3\n");
    assert_eq!(streamed.header("transfer-encoding"), "chunked");
    let json = post(server.addr, "/", &[], b"");
    assert_eq!(json.header("content-type"), "application/json");
    assert_eq!(json.text(), r#"{"ok":true}"#);
}

#[test]
fn a_stream_that_fails_cuts_the_response_short() {
    let server = serve(by_method().get(|_req: Request| async {
        use futures_util::StreamExt;
        let first = futures_util::stream::iter([Ok(Bytes::from_static(b"first part\n"))]);
        // The failure comes later, as a disk error in the middle of a file would.
        let failure = futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(std::io::Error::other("disk gone"))
        });
        response::stream("text/plain", first.chain(failure))
    }));
    let reply = raw_text(server.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(reply.contains("first part\n"), "{reply}");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(!reply.contains("\r\n0\r\n\r\n"), "no last chunk: {reply}");
}

#[test]
fn an_api_under_a_prefix_and_files_for_the_rest_is_three_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("index.html"), "<h1>site</h1>").expect("write");
    let files = StaticFiles::new(dir.path()).expect("dir");
    let api = by_method().get(|req: Request| async move {
        response::json(format!(r#"{{"path":"{}"}}"#, req.decoded_path()))
    });
    let server = serve(Mount::new(files).at("/api", api));

    assert_eq!(get(server.addr, "/").text(), "<h1>site</h1>");
    assert_eq!(
        get(server.addr, "/api/v1/x").text(),
        r#"{"path":"/api/v1/x"}"#
    );
    assert_eq!(get(server.addr, "/%61pi").text(), r#"{"path":"/api"}"#);
    assert_eq!(get(server.addr, "/apix").status, 404);
}

#[tokio::test]
async fn the_first_matching_prefix_wins_even_when_a_later_one_is_longer() {
    let shadowed = Mount::new(by_method().get(named("fallback")))
        .at("/api", by_method().get(named("api")))
        .at("/api/v2", by_method().get(named("v2")));
    for path in ["/api/v2/users", "/api/v2", "/api/v1"] {
        assert_eq!(body_text(ask(&shadowed, "GET", path).await).await, "api");
    }

    // Added the other way round, the longer prefix is tried first.
    let ordered = Mount::new(by_method().get(named("fallback")))
        .at("/api/v2", by_method().get(named("v2")))
        .at("/api", by_method().get(named("api")));
    for (path, handler) in [
        ("/api/v2/users", "v2"),
        ("/api/v2", "v2"),
        ("/api/v20", "api"),
        ("/api/v1", "api"),
        ("/apiv2", "fallback"),
    ] {
        assert_eq!(
            body_text(ask(&ordered, "GET", path).await).await,
            handler,
            "{path}"
        );
    }
}

#[tokio::test]
async fn redirect_answers_the_status_and_location_with_an_empty_body() {
    for code in [
        StatusCode::MOVED_PERMANENTLY,
        StatusCode::SEE_OTHER,
        StatusCode::PERMANENT_REDIRECT,
    ] {
        let answer = response::redirect(code, "/next/?q=a%20b");
        assert_eq!(answer.status(), code);
        assert_eq!(answer.headers()["location"], "/next/?q=a%20b");
        assert_eq!(answer.headers()["content-length"], "0");
        assert_eq!(body_text(answer).await, "");
    }
}

#[tokio::test]
async fn redirect_to_a_path_with_a_line_break_encodes_it_and_never_splits_the_header() {
    let answer = response::redirect(StatusCode::FOUND, "/next\r\nSet-Cookie: x=1");
    assert_eq!(answer.status(), StatusCode::FOUND);
    assert_eq!(answer.headers()["location"], "/next%0D%0ASet-Cookie:%20x=1");
    assert!(answer.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn redirect_to_a_url_that_cannot_be_a_header_is_pythons_500_page() {
    let answer = response::redirect(StatusCode::FOUND, "https://example.org/\r\nSet-Cookie: x=1");
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(answer.headers().get("location").is_none());
    assert!(answer.headers().get("set-cookie").is_none());
    assert_eq!(answer.headers()["content-type"], "text/html;charset=utf-8");
    assert!(body_text(answer).await.contains("<p>Error code: 500</p>"));
}

#[test]
fn is_tls_is_true_for_requests_that_came_over_tls_http1_and_h2() {
    let pki = tempfile::tempdir().expect("tempdir");
    let (cert, key) = make_cert(pki.path(), "ec", "ec");
    let config = TlsConfig::from_pem_files(&cert, Some(&key), None).expect("config");
    let server = library::serve(
        library::bind().tls(config),
        by_method()
            .get(|req: Request| async move { response::text(format!("is_tls={}", req.is_tls())) }),
    );
    for alpn in [&b"http/1.1"[..], b"h2"] {
        let got = fetch_tls(server.addr, &client(&cert, &[alpn], &[&TLS13]), "/");
        assert_eq!(got.alpn.as_deref(), Some(alpn));
        assert_eq!(got.reply.text(), "is_tls=true");
    }
}

#[test]
fn a_stop_closes_an_idle_kept_alive_connection_at_once_not_at_the_grace_period() {
    use std::io::{Read, Write};
    let server = serve(by_method().get(named("hi")));
    let mut idle = std::net::TcpStream::connect(server.addr).expect("connect");
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut answer = [0u8; 1024];
    let n = idle.read(&mut answer).expect("read");
    assert!(answer[..n].ends_with(b"hi"), "answered before the stop");
    idle.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let stopped = std::time::Instant::now();
    // Stops the server (10 s grace period) and waits for `serve_until` to return.
    drop(server);
    assert!(
        stopped.elapsed() < Duration::from_secs(3),
        "the stop waited {:?} for an idle connection",
        stopped.elapsed()
    );
    assert_eq!(
        idle.read(&mut answer).expect("read after stop"),
        0,
        "closed"
    );
}

#[test]
fn a_server_made_from_a_blocking_std_listener_serves_on_it() {
    // As a socket from systemd or a parent arrives: already listening, and blocking.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = serveur::Server::from_std(listener).expect("from_std");
    assert_eq!(server.local_addr().expect("addr"), addr);
    let _running = library::serve(server, by_method().get(named("from std")));
    for _ in 0..3 {
        assert_eq!(get(addr, "/").text(), "from std");
    }
}

#[test]
fn bind_with_reuse_port_lets_two_servers_share_a_port() {
    let options = serveur::BindOptions::default().reuse_port(true);
    let first = serveur::Server::bind_with(([127, 0, 0, 1], 0).into(), options).expect("bind");
    let addr = first.local_addr().expect("addr");
    let second = serveur::Server::bind_with(addr, options).expect("second bind on the port");
    // Without the option the port is taken.
    assert!(serveur::Server::bind(addr).is_err());
    let _first = library::serve(first, by_method().get(named("one")));
    let _second = library::serve(second, by_method().get(named("two")));
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        seen.insert(get(addr, "/").text());
        if seen.len() == 2 {
            return;
        }
    }
    panic!("only {seen:?} answered in 200 connections");
}
