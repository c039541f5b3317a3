//! The FastCGI gateway in front of a real php-fpm (a pool configuration written per test, a
//! Unix socket in a temporary directory): what PHP sees, and what it answers; and in front of
//! `responder.py` for the one answer PHP cannot give, a local redirect.

use crate::support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::fastcgi_apps::{json, php_site, responder, site_with, write};
use crate::support::{get, post, request, WAIT};

#[test]
fn php_gets_the_cgi_meta_variables_with_script_name_and_path_info_split() {
    let php = php_site(2, &[]);
    let reply = request(
        php.server.addr,
        "GET",
        "/vars.php/extra/path?a=1&b=two",
        &[("x-custom-header", "hello")],
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), "application/json");
    let vars = json(&reply.text());
    let root = std::fs::canonicalize(php.site.path()).expect("canonical root");
    assert_eq!(vars["SCRIPT_NAME"], "/vars.php");
    assert_eq!(vars["PATH_INFO"], "/extra/path");
    assert_eq!(vars["QUERY_STRING"], "a=1&b=two");
    assert_eq!(vars["REQUEST_METHOD"], "GET");
    assert_eq!(vars["REQUEST_URI"], "/vars.php/extra/path?a=1&b=two");
    assert_eq!(
        vars["SCRIPT_FILENAME"],
        root.join("vars.php").to_str().expect("utf-8")
    );
    assert_eq!(vars["DOCUMENT_ROOT"], root.to_str().expect("utf-8"));
    assert_eq!(vars["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(vars["SERVER_PORT"], php.server.port().to_string());
    assert_eq!(vars["SERVER_PROTOCOL"], "HTTP/1.1");
    assert_eq!(vars["HTTP_X_CUSTOM_HEADER"], "hello");
    assert_eq!(vars["HTTP_HOST"], php.server.addr.to_string());
    assert_eq!(vars["GATEWAY_INTERFACE"], "CGI/1.1");
    php.server
        .wait_for_log("\"GET /vars.php/extra/path?a=1&b=two HTTP/1.1\" 200");
}

#[test]
fn index_php_is_a_directory_index_and_php_source_is_never_served() {
    let php = php_site(1, &[]);
    let reply = get(php.server.addr, "/sub/");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "sub index");
    let reply = get(php.server.addr, "/sub/index.php");
    assert_eq!(reply.text(), "sub index");
    // Every spelling of the script's path runs it; none shows its source.
    for path in ["/vars.php", "/%76ars.php", "//vars.php", "/sub/../vars.php"] {
        let reply = get(php.server.addr, path);
        assert_eq!(reply.status, 200, "{path}");
        assert!(!reply.text().contains("<?php"), "{path} served the source");
    }
    assert_eq!(get(php.server.addr, "/plain.txt").text(), "just text\n");
    assert_eq!(get(php.server.addr, "/missing.php").status, 404);
    let redirect = get(php.server.addr, "/sub");
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), "/sub/");
}

#[test]
fn get_query_and_post_form_reach_get_and_post() {
    let php = php_site(1, &[]);
    write(
        php.site.path(),
        "form.php",
        "<?php header('Content-Type: application/json');\n\
         echo json_encode(['get' => $_GET, 'post' => $_POST, 'method' => $_SERVER['REQUEST_METHOD']]);",
    );
    let reply = get(php.server.addr, "/form.php?name=caf%C3%A9&n=1");
    let v = json(&reply.text());
    assert_eq!(v["get"]["name"], "café");
    assert_eq!(v["get"]["n"], "1");
    let reply = post(
        php.server.addr,
        "/form.php?q=x",
        "application/x-www-form-urlencoded",
        "user=ann&note=a+b%26c",
    );
    let v = json(&reply.text());
    assert_eq!(v["method"], "POST");
    assert_eq!(v["get"]["q"], "x");
    assert_eq!(v["post"]["user"], "ann");
    assert_eq!(v["post"]["note"], "a b&c");
}

#[test]
fn multipart_upload_reaches_files_whole() {
    let php = php_site(1, &[]);
    write(
        php.site.path(),
        "upload.php",
        "<?php header('Content-Type: application/json');\n\
         $f = $_FILES['doc'];\n\
         echo json_encode(['title' => $_POST['title'], 'name' => $f['name'], 'size' => $f['size'],\n\
           'error' => $f['error'], 'md5' => md5_file($f['tmp_name'])]);",
    );
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let boundary = "xYzZy-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nReport\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"r.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let reply = post(
        php.server.addr,
        "/upload.php",
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let v = json(&reply.text());
    assert_eq!(v["title"], "Report");
    assert_eq!(v["name"], "r.bin");
    assert_eq!(v["error"], 0);
    assert_eq!(v["size"], 3_000_000);
    let md5 = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(&content)?;
            child.wait_with_output()
        })
        .expect("md5sum");
    let md5 = String::from_utf8_lossy(&md5.stdout);
    assert_eq!(v["md5"], md5.split(' ').next().expect("digest"));
}

#[test]
fn a_chunked_request_body_gets_a_content_length_for_php() {
    let php = php_site(1, &[]);
    write(
        php.site.path(),
        "echo.php",
        "<?php echo $_SERVER['CONTENT_LENGTH'], ':', file_get_contents('php://input');",
    );
    let answer = support::raw_to_script(
        php.server.addr,
        b"POST /echo.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
          Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("11:hello world"), "{answer}");
}

#[test]
fn status_and_headers_set_by_php_are_sent() {
    let php = php_site(1, &[]);
    write(
        php.site.path(),
        "redirect.php",
        "<?php header('Location: /elsewhere?x=1'); header('X-Extra: yes');",
    );
    write(
        php.site.path(),
        "missing.php",
        "<?php http_response_code(404); echo 'no such thing';",
    );
    write(
        php.site.path(),
        "teapot.php",
        "<?php header('HTTP/1.1 418 I am a teapot'); echo 'short and stout';",
    );
    let reply = get(php.server.addr, "/redirect.php");
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location"), "/elsewhere?x=1");
    assert_eq!(reply.header("x-extra"), "yes");
    let reply = get(php.server.addr, "/missing.php");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.text(), "no such thing");
    let reply = get(php.server.addr, "/teapot.php");
    assert_eq!(reply.status, 418);
    assert_eq!(reply.text(), "short and stout");
    let head = request(php.server.addr, "HEAD", "/missing.php", &[]);
    assert_eq!(head.status, 404);
    assert!(head.body.is_empty());
}

/// PHP does not send a local redirect (RFC 3875 §6.2.2: `Location` alone): with
/// `header('Location: …')` it adds `Status: 302` (see `status_and_headers_set_by_php_are_sent`)
/// and its default `Content-Type`.
#[test]
fn a_bare_local_location_is_served_in_place_once_and_never_loops() {
    let app = r#"
def app(params, stdin, aborted):
    target = {"/moved": "/other.txt", "/loop": "/app/loop", "/with-body": "/other.txt"}
    yield b"Location: " + target[params["PATH_INFO"]].encode() + b"\r\n\r\n"
    if params["PATH_INFO"] == "/with-body":
        yield b"see /other.txt"
"#;
    let python = site_with("/app", |run| responder(run, app), &[]);
    let (server, app) = (&python.server, &python.app);
    write(python.site.path(), "other.txt", "the other file\n");

    let reply = get(server.addr, "/app/moved");
    assert_eq!(reply.status, 200, "{} {:#?}", reply.text(), app.output());
    assert_eq!(reply.text(), "the other file\n");
    assert_eq!(reply.header("content-type"), "text/plain");
    assert_eq!(reply.header("location"), "");
    server.wait_for_log("\"GET /app/moved HTTP/1.1\" 200 15");

    // The redirected request may not redirect again: one turn of the loop, then a 500.
    let reply = get(server.addr, "/app/loop");
    assert_eq!(reply.status, 500);
    server.wait_for_log("local redirect to /app/loop refused: only one is followed");

    // With a body after the header block, it is a client redirect (§6.2.3).
    let reply = get(server.addr, "/app/with-body");
    assert_eq!(reply.status, 302);
    assert_eq!(reply.header("location"), "/other.txt");
    assert_eq!(reply.text(), "see /other.txt");
}

/// An application's broken header blocks get CGI's answers and log lines (one driver reads
/// both gateways' header blocks), each naming the application and the script, and none saying
/// `killed`: there is no process to kill.
#[test]
fn broken_header_blocks_get_the_cgi_answers_and_log_lines_naming_the_application() {
    let app = r#"
def app(params, stdin, aborted):
    yield {
        "/no-type": b"X-A: b\r\n\r\nbody",
        "/garbage": b"this is not a header\r\n\r\n",
        "/short": b"Content-Type: text/plain\r\n",
    }[params["PATH_INFO"]]
"#;
    let python = site_with("/app", |run| responder(run, app), &[]);
    let (server, app) = (&python.server, &python.app);
    let name = format!("FastCGI {} /app: ", app.address());
    let cases = [
        (
            "/app/no-type",
            500,
            "sent no Content-Type (RFC 3875 §6.3.1)",
        ),
        ("/app/garbage", 502, "sent a malformed header block ("),
        (
            "/app/short",
            502,
            "ended its output before a complete header block",
        ),
    ];
    for (path, status, said) in cases {
        let reply = get(server.addr, path);
        assert_eq!(reply.status, status, "{path}: {:#?}", app.output());
        assert!(reply
            .text()
            .contains(&format!("<p>Error code: {status}</p>")));
        let line = server.wait_for_log(&format!("{name}{said}"));
        assert!(!line.contains("killed"), "{line}");
    }
    let ended = server.wait_for_log("complete header block");
    assert!(ended.ends_with("complete header block"), "{ended}");
}

#[test]
fn an_application_whose_answer_is_refused_is_aborted_for_that_reason() {
    // A broken header block, then the application waits (for the abort, or 30 s).
    let app = r#"
def app(params, stdin, aborted):
    yield b"this is not a header\r\n\r\n"
    if aborted.wait(30):
        return
    yield b"late"
"#;
    let python = site_with("/app", |run| responder(run, app), &[]);
    let (server, app) = (&python.server, &python.app);
    assert_eq!(get(server.addr, "/app/x").status, 502);
    app.wait_for_output("aborted");
    let line = server.wait_for_log("aborted: ");
    assert!(
        line.ends_with("aborted: the gateway refused the answer"),
        "{line}"
    );
    assert!(
        !server.log().iter().any(|l| l.contains("went away")),
        "{:#?}",
        server.log()
    );
}

/// A local redirect is routed from the top, as the client's own request would be: a CGI
/// script sending a visitor to `/vars.php` gets PHP's answer, never the static files' copy of
/// the source (the static files come after both gateways).
#[test]
fn a_cgi_local_redirect_to_a_php_path_runs_php_and_never_shows_its_source() {
    let php = php_site(1, &["--cgi"]);
    support::write_script(
        php.site.path(),
        "cgi-bin/go.sh",
        "#!/bin/sh\nprintf 'Location: /vars.php?from=cgi\\n\\n'\n",
    );
    let reply = get(php.server.addr, "/cgi-bin/go.sh");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(!reply.text().contains("<?php"), "the source was served");
    let vars = json(&reply.text());
    assert_eq!(vars["SCRIPT_NAME"], "/vars.php");
    assert_eq!(vars["QUERY_STRING"], "from=cgi");
    assert_eq!(vars["REQUEST_METHOD"], "GET");
}

#[test]
fn a_bodiless_answer_lets_the_script_run_to_its_end() {
    let php = php_site(1, &[]);
    write(
        php.site.path(),
        "nocontent.php",
        "<?php http_response_code(204); echo str_repeat('x', 100000); flush(); usleep(200000);\n\
         file_put_contents(__DIR__ . '/' . $_GET['f'], \"done\\n\");",
    );
    let reply = get(php.server.addr, "/nocontent.php?f=get.txt");
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    let reply = request(php.server.addr, "HEAD", "/nocontent.php?f=head.txt", &[]);
    assert_eq!(reply.status, 204);
    for file in ["get.txt", "head.txt"] {
        assert_eq!(support::wait_for_file(&php.site.path().join(file)), "done");
    }
    php.server
        .wait_for_log("\"HEAD /nocontent.php?f=head.txt HTTP/1.1\" 204");
    assert!(
        !php.server.log().iter().any(|l| l.contains("aborted")),
        "{:#?}",
        php.server.log()
    );
}

#[test]
fn php_errors_and_error_log_reach_the_server_log() {
    let php = php_site(1, &[]);
    write(
        php.site.path(),
        "warn.php",
        "<?php error_log('something odd'); echo 'done';",
    );
    let reply = get(php.server.addr, "/warn.php");
    assert_eq!(reply.text(), "done");
    let line = php.server.wait_for_log("something odd");
    assert!(line.contains("FastCGI unix:"), "{line}");
    assert!(line.contains("/warn.php"), "{line}");
}

#[test]
fn a_twenty_mib_response_streams_through() {
    let php = php_site(1, &[]);
    write(
        php.site.path(),
        "big.php",
        "<?php header('Content-Type: application/octet-stream');\n\
         $block = str_repeat('0123456789abcdef', 65536);\n\
         for ($i = 0; $i < 20; $i++) { echo $block; flush(); }",
    );
    let reply = get(php.server.addr, "/big.php");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), 20 << 20);
    assert!(reply
        .body
        .chunks(16)
        .all(|chunk| chunk == b"0123456789abcdef"));
    php.server
        .wait_for_log(&format!("\"GET /big.php HTTP/1.1\" 200 {}", 20 << 20));
}

#[test]
fn output_reaches_the_client_before_the_script_ends() {
    let php = php_site(1, &[]);
    let flag = php.site.path().join("go");
    write(
        php.site.path(),
        "slow_stream.php",
        &format!(
            "<?php echo 'first|'; flush();\n\
             for ($i = 0; $i < 500 && !file_exists('{flag}'); $i++) usleep(20000);\n\
             echo file_exists('{flag}') ? 'second' : 'never released';",
            flag = flag.display()
        ),
    );
    let addr = php.server.addr;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let body = runtime.block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        let req = http::Request::builder()
            .uri("/slow_stream.php")
            .header("host", "x")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let mut response = sender.send_request(req).await.expect("response");
        let first = tokio::time::timeout(WAIT, response.body_mut().frame())
            .await
            .expect("first bytes in time")
            .expect("a frame")
            .expect("data");
        let mut body = first.into_data().expect("data").to_vec();
        assert_eq!(body, b"first|");
        std::fs::write(&flag, "").expect("release the script");
        let rest = response.into_body().collect().await.expect("rest");
        body.extend_from_slice(&rest.to_bytes());
        body
    });
    assert_eq!(String::from_utf8_lossy(&body), "first|second");
}
