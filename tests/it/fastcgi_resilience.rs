//! The FastCGI gateway when things go wrong or get busy: php-fpm stopped (502), restarted (the
//! pool recovers), too slow (504), a hundred requests at once with four workers, twenty at once
//! on two connections, a client that leaves midway (the application is told); a non-PHP
//! application (Python WSGI under flup) at a path prefix; an application on a TCP port; several
//! `--fastcgi` routes in one server; an idle kept connection closed so that another server
//! sharing php-fpm gets its worker; and the flags' checks.

use std::time::{Duration, Instant};

use crate::fastcgi_apps::{
    flup, open_connections, php_site, responder, responder_on_tcp, site_with, write,
};
use crate::support::{get, get_concurrently, get_until, post, Serveur};

#[test]
fn a_stopped_php_fpm_is_a_502_with_a_log_line() {
    let mut php = php_site(1, &[]);
    assert_eq!(get(php.server.addr, "/vars.php").status, 200);
    php.app.stop();
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
    php.app.restart();
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
    let paths: Vec<String> = (0..100).map(|n| format!("/hello.php?n={n}")).collect();
    for (n, reply) in get_concurrently(php.server.addr, &paths).iter().enumerate() {
        assert_eq!(reply.status, 200, "request {n}: {}", reply.text());
        assert_eq!(reply.text(), format!("hello {n}"));
    }
}

#[test]
fn twenty_concurrent_requests_share_two_connections_when_the_pool_is_bound_to_two() {
    // Slow enough that the requests pile up behind the two connections.
    let app = r#"
import time

def app(params, stdin, aborted):
    time.sleep(0.1)
    yield b"Content-Type: text/plain\r\n\r\n" + params["QUERY_STRING"].encode()
"#;
    let python = site_with(
        "/app",
        |run| responder(run, app),
        &["--fastcgi-connections", "2"],
    );
    let (server, app) = (&python.server, &python.app);
    let paths: Vec<String> = (0..20).map(|n| format!("/app/slow?{n}")).collect();
    for (n, reply) in get_concurrently(server.addr, &paths).iter().enumerate() {
        assert_eq!(reply.status, 200, "request {n}: {}", reply.text());
        assert_eq!(reply.text(), n.to_string());
    }
    // Both connections were used, and never a third.
    let counts = open_connections(app);
    assert_eq!(counts.iter().max(), Some(&2), "{counts:?}");
}

#[test]
fn a_client_that_leaves_midway_aborts_its_request_at_the_application() {
    let app = r#"
def app(params, stdin, aborted):
    yield b"Content-Type: text/plain\r\n\r\n"
    if params["PATH_INFO"] == "/quick":
        yield b"quick"
        return
    # A dot every 50 ms for a minute, unless aborted.
    for _ in range(1200):
        if aborted.wait(0.05):
            return
        yield b"."
"#;
    // One connection: the next request can only have it once the aborted one has ended.
    let python = site_with(
        "/app",
        |run| responder(run, app),
        &["--fastcgi-connections", "1"],
    );
    let (server, app) = (&python.server, &python.app);
    // The first dots are a chunk each: `1`, CRLF, `.`, CRLF.
    let client = get_until(server.addr, "/app/stream", |seen| {
        seen.contains("\r\n.\r\n")
    });
    drop(client);
    let left = Instant::now();
    server.wait_for_log("aborted: the client went away");
    app.wait_for_output("aborted");
    assert!(
        left.elapsed() < Duration::from_secs(3),
        "{:?}",
        left.elapsed()
    );
    // The application ended the aborted request, so its connection carries the next one clean.
    assert_eq!(get(server.addr, "/app/quick").text(), "quick");
    assert_eq!(open_connections(app), [1], "{:#?}", app.output());
}

#[test]
fn a_python_wsgi_application_under_flup_is_served_at_a_prefix() {
    let app = "def app(environ, start_response):\n\
         \x20   body = environ['wsgi.input'].read(int(environ.get('CONTENT_LENGTH') or 0))\n\
         \x20   text = '|'.join([environ['REQUEST_METHOD'], environ['SCRIPT_NAME'],\n\
         \x20                    environ['PATH_INFO'], environ['QUERY_STRING']]) + '|'\n\
         \x20   start_response('201 Made', [('Content-Type', 'text/plain'), ('X-App', 'flup')])\n\
         \x20   return [text.encode() + body]\n";
    let python = site_with("/app", |run| flup(run, app), &[]);
    let (server, app) = (&python.server, &python.app);
    write(python.site.path(), "static.txt", "static\n");
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
fn an_application_at_host_port_is_reached_over_tcp_on_one_kept_connection() {
    let app = r#"
def app(params, stdin, aborted):
    yield b"Content-Type: text/plain\r\n\r\n"
    yield (params["PATH_INFO"] + " " + params["QUERY_STRING"]).encode()
"#;
    let python = site_with("/app", |run| responder_on_tcp(run, app), &[]);
    let (server, app) = (&python.server, &python.app);
    assert!(app.address().starts_with("127.0.0.1:"), "{}", app.address());
    for n in 0..3 {
        let reply = get(server.addr, &format!("/app/hello?{n}"));
        assert_eq!(reply.status, 200, "{} {:#?}", reply.text(), app.output());
        assert_eq!(reply.text(), format!("/hello {n}"));
    }
    assert_eq!(open_connections(app), [1], "{:#?}", app.output());
}

#[test]
fn each_fastcgi_route_reaches_its_application_and_the_first_given_takes_an_overlap() {
    let run = tempfile::tempdir().expect("run dir");
    let python = flup(
        run.path(),
        "def app(environ, start_response):\n\
         \x20   start_response('200 OK', [('Content-Type', 'text/plain')])\n\
         \x20   return [('flup ' + environ['PATH_INFO']).encode()]\n",
    );
    let app_route = format!("/app={}", python.address());
    // Two workers: each server keeps a connection to php-fpm, which ties up a worker.
    let php = php_site(2, &["--fastcgi", &app_route]);
    write(
        php.site.path(),
        "app/both.php",
        "<?php echo 'php ', $_SERVER['SCRIPT_NAME'];",
    );
    let php_route = format!("*.php={}", php.app.address());
    let app_first = Serveur::start(
        php.site.path(),
        &["--fastcgi", &app_route, "--fastcgi", &php_route],
    );
    for server in [&php.server, &app_first] {
        assert_eq!(get(server.addr, "/app/hello").text(), "flup /hello");
        assert_eq!(get(server.addr, "/sub/").text(), "sub index");
        assert_eq!(get(server.addr, "/plain.txt").text(), "just text\n");
        // An extension route takes only the files it finds: the prefix route gets the rest.
        assert_eq!(get(server.addr, "/app/none.php").text(), "flup /none.php");
    }
    // `/app/both.php` is both routes' (the file exists): the route given first runs it.
    assert_eq!(
        get(php.server.addr, "/app/both.php").text(),
        "php /app/both.php"
    );
    assert_eq!(
        get(app_first.addr, "/app/both.php").text(),
        "flup /both.php"
    );
}

#[test]
fn an_idle_kept_connection_is_closed_so_another_server_gets_the_worker() {
    // One php-fpm worker, shared by two servers. The first keeps its connection after a
    // request, which ties the worker to it; the second's request waits in php-fpm's queue
    // until the first closes that connection for being idle (two to four seconds).
    let php = php_site(1, &[]);
    let php_route = format!("*.php={}", php.app.address());
    let other = Serveur::start(
        php.site.path(),
        &["--fastcgi", &php_route, "--fastcgi-timeout", "15"],
    );
    assert_eq!(get(php.server.addr, "/sub/").text(), "sub index");
    let asked = Instant::now();
    let reply = get(other.addr, "/sub/");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "sub index");
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "{:?}",
        asked.elapsed()
    );
    // And the first server, whose connection was closed, opens another.
    assert_eq!(get(php.server.addr, "/sub/").text(), "sub index");
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
