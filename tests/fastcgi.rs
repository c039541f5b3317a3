//! The FastCGI gateway against real applications: php-fpm (a pool configuration written per
//! test, a Unix socket in a temporary directory) and a Python WSGI program under flup.

mod fastcgi_apps;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use fastcgi_apps::{flup, php_fpm, App};
use support::{get, post, request, Serveur, WAIT};

/// A site with PHP scripts, its php-fpm, and serveur in front of both.
struct Php {
    site: tempfile::TempDir,
    _run: tempfile::TempDir,
    fpm: App,
    server: Serveur,
}

const SERVER_VARS: &str = r#"<?php
header('Content-Type: application/json');
echo json_encode($_SERVER);
"#;

fn php_site(workers: usize, extra_args: &[&str]) -> Php {
    let site = tempfile::tempdir().expect("site");
    let run = tempfile::tempdir().expect("run dir");
    write(site.path(), "vars.php", SERVER_VARS);
    write(site.path(), "sub/index.php", "<?php echo 'sub index';");
    write(site.path(), "plain.txt", "just text\n");
    let fpm = php_fpm(run.path(), workers);
    let route = format!("*.php={}", fpm.address());
    let mut args = vec!["--fastcgi", route.as_str()];
    args.extend_from_slice(extra_args);
    let server = Serveur::start(site.path(), &args);
    Php {
        site,
        _run: run,
        fpm,
        server,
    }
}

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

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
    let answer = support::raw_text(
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

#[test]
fn a_stopped_php_fpm_is_a_502_with_a_log_line() {
    let mut php = php_site(1, &[]);
    assert_eq!(get(php.server.addr, "/vars.php").status, 200);
    php.fpm.stop();
    let reply = get(php.server.addr, "/vars.php");
    assert_eq!(reply.status, 502);
    assert!(reply.text().contains("Error code: 502"), "{}", reply.text());
    let line = php.server.wait_for_log("cannot connect");
    assert!(line.contains("FastCGI unix:"), "{line}");
    php.server.wait_for_log("\"GET /vars.php HTTP/1.1\" 502");
}

#[test]
fn the_pool_recovers_when_php_fpm_restarts() {
    let mut php = php_site(2, &[]);
    for _ in 0..3 {
        assert_eq!(get(php.server.addr, "/vars.php").status, 200);
    }
    php.fpm.restart();
    for _ in 0..3 {
        let reply = get(php.server.addr, "/vars.php");
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    assert!(
        !php.server.log().iter().any(|l| l.contains("\" 502")),
        "{:#?}",
        php.server.log()
    );
}

#[test]
fn a_slow_script_is_a_504_after_the_fastcgi_timeout() {
    let php = php_site(1, &["--fastcgi-timeout", "1"]);
    write(php.site.path(), "slow.php", "<?php sleep(4); echo 'late';");
    let started = Instant::now();
    let reply = get(php.server.addr, "/slow.php");
    assert_eq!(reply.status, 504);
    assert!(started.elapsed() < Duration::from_secs(3));
    php.server.wait_for_log("timed out after 1s");
}

#[test]
fn a_hundred_concurrent_requests_all_succeed_with_few_workers() {
    let php = php_site(4, &[]);
    write(
        php.site.path(),
        "hello.php",
        "<?php echo 'hello ', $_GET['n'];",
    );
    let addr = php.server.addr;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|n| scope.spawn(move || (n, get(addr, &format!("/hello.php?n={n}")))))
            .collect();
        for handle in handles {
            let (n, reply) = handle.join().expect("request thread");
            assert_eq!(reply.status, 200, "request {n}: {}", reply.text());
            assert_eq!(reply.text(), format!("hello {n}"));
        }
    });
}

#[test]
fn a_python_wsgi_application_under_flup_is_served_at_a_prefix() {
    let site = tempfile::tempdir().expect("site");
    let run = tempfile::tempdir().expect("run dir");
    std::fs::write(site.path().join("static.txt"), "static\n").expect("write");
    let app = flup(
        run.path(),
        "def app(environ, start_response):\n\
         \x20   body = environ['wsgi.input'].read(int(environ.get('CONTENT_LENGTH') or 0))\n\
         \x20   text = '|'.join([environ['REQUEST_METHOD'], environ['SCRIPT_NAME'],\n\
         \x20                    environ['PATH_INFO'], environ['QUERY_STRING']]) + '|'\n\
         \x20   start_response('201 Made', [('Content-Type', 'text/plain'), ('X-App', 'flup')])\n\
         \x20   return [text.encode() + body]\n",
    );
    let route = format!("/app={}", app.address());
    let server = Serveur::start(site.path(), &["--fastcgi", &route]);
    let reply = get(server.addr, "/app/hello/world?x=1");
    assert_eq!(reply.status, 201, "{} {:#?}", reply.text(), app.output());
    assert_eq!(reply.header("x-app"), "flup");
    assert_eq!(reply.text(), "GET|/app|/hello/world|x=1|");
    let reply = post(server.addr, "/app/form", "text/plain", "posted body");
    assert_eq!(reply.text(), "POST|/app|/form||posted body");
    assert_eq!(get(server.addr, "/static.txt").text(), "static\n");
    // Sequential requests share one kept connection: flup answers them all.
    for _ in 0..5 {
        assert_eq!(get(server.addr, "/app/").status, 201);
    }
}

#[test]
fn fastcgi_flags_are_checked() {
    let site = tempfile::tempdir().expect("site");
    for bad in ["php", "*.php", "*.php=nowhere", "app=unix:/x"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_serveur"))
            .args(["-d"])
            .arg(site.path())
            .args(["--fastcgi", bad, "0"])
            .output()
            .expect("run serveur");
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with("serveur: error: argument --fastcgi:"),
            "{bad}: {stderr}"
        );
    }
}
