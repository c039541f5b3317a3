//! How many connections serveur opens to a FastCGI application without `--fastcgi-connections`:
//! learned from a real php-fpm's accept queue (`pm.max_children = 3`), followed as a
//! `pm = dynamic` php-fpm starts workers under load, told by an application
//! that answers `FCGI_MAX_CONNS`, the bound kept for a threaded application that answers without
//! a number or not at all (every request of a burst in flight at once), and the flag winning
//! over what the application says.

use std::time::{Duration, Instant};

use crate::fastcgi_apps::{
    open_connections, php_fpm_managed, php_site, responder, site_with, write, Site,
};
use crate::support::{get, get_concurrently};

/// A threaded application whose answer is `together` only when `n` requests are in it at once
/// (a barrier), `alone` if the barrier gives up first, and `warm` at once at `/app/warm`;
/// `values` its `VALUES` (None: it does not answer `FCGI_GET_VALUES`).
fn barrier_app(n: usize, values: Option<&str>) -> String {
    let values = values.map_or(String::new(), |v| format!("VALUES = {v}\n"));
    format!(
        r#"
import threading

{values}together = threading.Barrier({n}, timeout=20)

def app(params, stdin, aborted):
    if params["PATH_INFO"] == "/warm":
        yield b"Content-Type: text/plain\r\n\r\nwarm"
        return
    try:
        together.wait()
        word = b"together"
    except threading.BrokenBarrierError:
        word = b"alone"
    yield b"Content-Type: text/plain\r\n\r\n" + word
"#
    )
}

/// One request to the barrier application, so that the pool knows what it answers, then `n`
/// at once: each must have found the others there.
fn all_in_flight_at_once(site: &Site, n: usize) {
    assert_eq!(get(site.server.addr, "/app/warm").text(), "warm");
    let paths: Vec<String> = (0..n).map(|i| format!("/app/x?{i}")).collect();
    for (i, reply) in get_concurrently(site.server.addr, &paths)
        .iter()
        .enumerate()
    {
        assert_eq!(reply.status, 200, "request {i}: {}", reply.text());
        assert_eq!(reply.text(), "together", "request {i}");
    }
}

/// The limits serveur's log says it learned, in order.
fn limits_logged(site: &Site) -> Vec<usize> {
    site.server
        .log()
        .iter()
        .filter_map(|line| line.split(": at most ").nth(1))
        .map(|rest| {
            let number = rest.split(' ').next().expect("a number");
            number.parse().expect("a count")
        })
        .collect()
}

#[test]
fn the_pool_learns_php_fpm_s_worker_count_from_its_accept_queue() {
    let php = php_site(3, &[]);
    write(
        php.site.path(),
        "slow.php",
        "<?php usleep(30000); echo 'ok';",
    );
    let paths: Vec<String> = (0..8).map(|n| format!("/slow.php?{n}")).collect();
    // Bursts of 8 requests for 3 workers, until the pool has seen connections queue.
    for _ in 0..20 {
        for reply in get_concurrently(php.server.addr, &paths) {
            assert_eq!(reply.status, 200, "{}", reply.text());
            assert_eq!(reply.text(), "ok");
        }
        if limits_logged(&php).contains(&3) {
            break;
        }
    }
    let line = php
        .server
        .wait_for_log("queues new connections: at most 3 connections to it");
    assert!(line.contains("FastCGI unix:"), "{line}");
    let limits = limits_logged(&php);
    assert!(limits.iter().all(|n| *n <= 3), "{limits:?}");
    // php-fpm 8.2 was asked (each new connection), and nothing went wrong.
    assert!(
        !php.server.log().iter().any(|l| l.contains("\" 50")),
        "{:#?}",
        php.server.log()
    );
}

#[test]
fn the_pool_follows_a_dynamic_php_fpm_as_it_starts_workers() {
    // Two workers at first, five at most: php-fpm starts more (one a second at first) while
    // none is idle, and the pool, which learns 2 first, tries one more a second later.
    let pm = "pm = dynamic\npm.max_children = 5\npm.start_servers = 2\n\
              pm.min_spare_servers = 1\npm.max_spare_servers = 3\n";
    let php = site_with("*.php", |run| php_fpm_managed(run, pm), &[]);
    write(
        php.site.path(),
        "slow.php",
        "<?php usleep(5000); echo 'ok';",
    );
    let paths: Vec<String> = (0..10).map(|n| format!("/slow.php?{n}")).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !limits_logged(&php).contains(&5) {
        assert!(
            Instant::now() < deadline,
            "never at 5: {:?}",
            limits_logged(&php)
        );
        for reply in get_concurrently(php.server.addr, &paths) {
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
    }
    let limits = limits_logged(&php);
    assert!(limits.iter().all(|n| *n <= 5), "{limits:?}");
    assert!(limits[0] < 5, "learned 5 at once: {limits:?}");
}

#[test]
fn an_application_that_gives_its_limit_gets_that_many_connections() {
    let app = r#"
import time

VALUES = {"FCGI_MAX_CONNS": "2", "FCGI_MPXS_CONNS": "0"}

def app(params, stdin, aborted):
    time.sleep(0.05)
    yield b"Content-Type: text/plain\r\n\r\n" + params["QUERY_STRING"].encode()
"#;
    let python = site_with("/app", |run| responder(run, app), &[]);
    // The first request asks; its answer sets the limit.
    assert_eq!(get(python.server.addr, "/app/x?first").text(), "first");
    python
        .server
        .wait_for_log("takes 2 requests at once (FCGI_GET_VALUES): at most 2 connections");
    python
        .app
        .wait_for_output("asked: FCGI_MAX_CONNS,FCGI_MAX_REQS,FCGI_MPXS_CONNS");
    let paths: Vec<String> = (0..10).map(|n| format!("/app/x?{n}")).collect();
    for (n, reply) in get_concurrently(python.server.addr, &paths)
        .iter()
        .enumerate()
    {
        assert_eq!(reply.status, 200, "request {n}: {}", reply.text());
        assert_eq!(reply.text(), n.to_string());
    }
    let counts = open_connections(&python.app);
    assert_eq!(counts.iter().max(), Some(&2), "{counts:?}");
}

#[test]
fn a_threaded_application_that_does_not_answer_gets_every_request_in_flight() {
    let python = site_with("/app", |run| responder(run, &barrier_app(12, None)), &[]);
    all_in_flight_at_once(&python, 12);
    assert!(
        limits_logged(&python).is_empty(),
        "{:#?}",
        python.server.log()
    );
}

#[test]
fn a_threaded_application_that_answers_as_php_fpm_does_gets_every_request_in_flight() {
    // php-fpm 8.2's whole answer: no limit, so the pool learns from the accept queue, and a
    // threaded application accepts every connection at once.
    let app = barrier_app(12, Some(r#"{"FCGI_MPXS_CONNS": "0"}"#));
    let python = site_with("/app", |run| responder(run, &app), &[]);
    all_in_flight_at_once(&python, 12);
    python.app.wait_for_output("asked: FCGI_MAX_CONNS");
    assert!(
        limits_logged(&python).is_empty(),
        "{:#?}",
        python.server.log()
    );
}

#[test]
fn an_explicit_connection_count_wins_over_what_the_application_says() {
    let app = barrier_app(4, Some(r#"{"FCGI_MAX_CONNS": "2"}"#));
    let python = site_with(
        "/app",
        |run| responder(run, &app),
        &["--fastcgi-connections", "4"],
    );
    all_in_flight_at_once(&python, 4);
    // Not even asked.
    assert!(
        !python.app.output().iter().any(|l| l.starts_with("asked:")),
        "{:#?}",
        python.app.output()
    );
    assert!(
        limits_logged(&python).is_empty(),
        "{:#?}",
        python.server.log()
    );
}
