//! `--metrics-path`: the page read by Prometheus's reference parser (Python's
//! `prometheus_client`, which must be installed: `.ci/run`), its counters checked against the
//! requests a test made, the path refused at start-up when a file has it, and the server
//! without the flag answering that path as before.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{
    dechunk, python_with_input, raw_request, raw_to_script, run_to_exit, write_file, write_script,
    RawReply, Serveur,
};

/// What `metrics/parse.py` understood: each family's type, and the samples by their name and
/// labels written `name{a="x",b="y"}` (labels sorted), as the page spells them.
struct Page {
    types: HashMap<String, String>,
    samples: HashMap<String, f64>,
}

impl Page {
    fn value(&self, sample: &str) -> f64 {
        *self
            .samples
            .get(sample)
            .unwrap_or_else(|| panic!("no {sample} in {:?}", self.samples.keys()))
    }
}

/// Parses `text` with `prometheus_client.parser`; fails the test if python3 or the parser is
/// missing, or if the parser refuses the page.
fn parse(text: &[u8]) -> Page {
    let output = python_with_input(
        "tests/it/metrics/parse.py",
        text,
        "`pip install prometheus-client`",
    );
    let parsed: serde_json::Value = serde_json::from_slice(&output).expect("JSON");
    let types = parsed["types"]
        .as_object()
        .expect("types")
        .iter()
        .map(|(name, kind)| (name.clone(), kind.as_str().expect("type").to_owned()))
        .collect();
    let samples = parsed["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|sample| {
            let mut labels: Vec<String> = sample[1]
                .as_object()
                .expect("labels")
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().expect("label value")))
                .collect();
            labels.sort();
            let name = sample[0].as_str().expect("name");
            let key = if labels.is_empty() {
                name.to_owned()
            } else {
                format!("{name}{{{}}}", labels.join(","))
            };
            (key, sample[2].as_f64().expect("value"))
        })
        .collect();
    Page { types, samples }
}

fn site(dir: &Path) {
    write_file(dir, "a.txt", "hello\n");
    write_script(
        dir,
        "cgi-bin/ok.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok\\n'\n",
    );
    // Ends before any header block: the gateway's own 502.
    write_script(dir, "cgi-bin/fails.sh", "#!/bin/sh\nexit 3\n");
}

/// The page, scraped until the server has seen every earlier connection close (the scrape's
/// own is then the only one open); the scrapes it took.
fn scrape_when_quiet(server: &Serveur) -> (RawReply, Page, u32) {
    let deadline = Instant::now() + crate::support::WAIT;
    let mut scrapes = 0;
    loop {
        let reply = raw_request(server.addr, "GET", "/metrics");
        scrapes += 1;
        assert_eq!(reply.status(), "200 OK");
        let page = parse(&reply.body);
        if page.value("serveur_connections_open") == 1.0 {
            return (reply, page, scrapes);
        }
        assert!(Instant::now() < deadline, "connections never closed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn known_requests_are_counted_exactly_by_a_page_prometheus_parses() {
    let dir = tempfile::tempdir().expect("tempdir");
    site(dir.path());
    let before = SystemTime::now().duration_since(UNIX_EPOCH).expect("now");
    let server = Serveur::start(dir.path(), &["--cgi", "--metrics-path", "/metrics"]);
    let replies = [
        raw_request(server.addr, "GET", "/a.txt"),
        raw_request(server.addr, "GET", "/nope"),
        raw_request(server.addr, "GET", "/cgi-bin/ok.sh"),
        raw_request(server.addr, "GET", "/cgi-bin/fails.sh"),
        raw_request(server.addr, "HEAD", "/a.txt"),
    ];
    let statuses: Vec<&str> = replies.iter().map(|r| &r.status()[..3]).collect();
    assert_eq!(statuses, ["200", "404", "200", "502", "200"]);
    // The body bytes, without HTTP/1.1's chunk framing (the CGI script's output has no length).
    let sent: usize = replies
        .iter()
        .map(|r| match r.header("transfer-encoding") {
            Some("chunked") => dechunk(&r.body).0.len(),
            _ => r.body.len(),
        })
        .sum();

    let (reply, page, scrapes) = scrape_when_quiet(&server);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let types = |name: &str| page.types.get(name).map(String::as_str);
    assert_eq!(types("serveur_requests"), Some("counter"));
    assert_eq!(types("serveur_request_duration_seconds"), Some("histogram"));
    assert_eq!(types("serveur_connections_open"), Some("gauge"));
    assert_eq!(types("serveur_cgi_in_flight"), Some("gauge"));
    assert_eq!(types("process_start_time_seconds"), Some("gauge"));

    // Exactly these series, the earlier scrapes counted as the metrics handler's.
    let requests: HashMap<&str, f64> = page
        .samples
        .iter()
        .filter(|(name, _)| name.starts_with("serveur_requests_total"))
        .map(|(name, value)| (name.as_str(), *value))
        .collect();
    let mut expected = HashMap::from([
        (
            r#"serveur_requests_total{code="2xx",handler="static"}"#,
            2.0,
        ),
        (
            r#"serveur_requests_total{code="4xx",handler="static"}"#,
            1.0,
        ),
        (r#"serveur_requests_total{code="2xx",handler="cgi"}"#, 1.0),
        (r#"serveur_requests_total{code="5xx",handler="cgi"}"#, 1.0),
    ]);
    let earlier_scrapes = f64::from(scrapes - 1);
    if scrapes > 1 {
        expected.insert(
            r#"serveur_requests_total{code="2xx",handler="metrics"}"#,
            earlier_scrapes,
        );
    }
    assert_eq!(requests, expected);
    assert_eq!(page.value("serveur_cgi_failures_total"), 1.0);
    assert_eq!(page.value("serveur_cgi_in_flight"), 0.0);
    assert_eq!(page.value("serveur_fastcgi_failures_total"), 0.0);
    assert_eq!(page.value("serveur_fastcgi_in_flight"), 0.0);
    assert_eq!(
        page.value("serveur_connections_total"),
        5.0 + f64::from(scrapes)
    );
    // The GET and the HEAD of a.txt both looked in the cache (fresh, it is not kept yet).
    let lookups = page.value("serveur_small_file_cache_hits_total")
        + page.value("serveur_small_file_cache_misses_total");
    assert_eq!(lookups, 2.0);

    // The body bytes the test received, and the earlier scrapes' pages (the HEAD sent none).
    let answered = 5.0 + earlier_scrapes;
    assert_eq!(
        page.value("serveur_request_duration_seconds_count"),
        answered
    );
    let bucket = |le: &str| {
        page.value(&format!(
            r#"serveur_request_duration_seconds_bucket{{le="{le}"}}"#
        ))
    };
    assert_eq!(bucket("+Inf"), answered);
    let bounds = ["0.001", "0.01", "0.1", "1", "10", "60", "+Inf"];
    let cumulative: Vec<f64> = bounds.iter().map(|le| bucket(le)).collect();
    assert!(
        cumulative.windows(2).all(|w| w[0] <= w[1]),
        "{cumulative:?}"
    );
    let sum = page.value("serveur_request_duration_seconds_sum");
    assert!(
        sum > 0.0 && sum < crate::support::WAIT.as_secs_f64() * answered,
        "{sum}"
    );
    let bytes = page.value("serveur_response_bytes_total");
    if scrapes == 1 {
        assert_eq!(bytes, sent as f64);
    } else {
        assert!(
            bytes > sent as f64,
            "{bytes} after {sent} and earlier scrapes"
        );
    }

    let started = page.value("process_start_time_seconds");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("now");
    assert!(
        (before.as_secs_f64() - 1.0..=now.as_secs_f64()).contains(&started),
        "{started}"
    );
    let version = concat!(
        r#"serveur_build_info{version=""#,
        env!("CARGO_PKG_VERSION"),
        r#""}"#
    );
    assert_eq!(page.value(version), 1.0);
}

#[test]
fn head_gets_the_length_without_the_page_and_other_methods_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    site(dir.path());
    let server = Serveur::start(dir.path(), &["--metrics-path", "/metrics"]);
    let head = raw_request(server.addr, "HEAD", "/metrics");
    assert_eq!(head.status(), "200 OK");
    assert!(
        head.body.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&head.body)
    );
    let length: usize = head
        .header("content-length")
        .expect("content-length")
        .parse()
        .expect("number");
    assert!(length > 1000, "{length}");
    // POST is not the page's: the files answer it as they would any path (CPython's 501).
    let post = raw_request(server.addr, "POST", "/metrics");
    assert_eq!(post.status(), "501 Unsupported method ('POST')");
    // A longer path is not the page either.
    assert_eq!(
        raw_request(server.addr, "GET", "/metrics/x").status(),
        "404 File not found"
    );
    let page = parse(&raw_request(server.addr, "GET", "/metrics").body);
    assert_eq!(
        page.value(r#"serveur_requests_total{code="2xx",handler="metrics"}"#),
        1.0
    );
    assert_eq!(
        page.value(r#"serveur_requests_total{code="4xx",handler="static"}"#),
        1.0
    );
    assert_eq!(
        page.value(r#"serveur_requests_total{code="5xx",handler="static"}"#),
        1.0
    );
}

#[test]
fn a_path_that_exists_in_the_tree_or_is_not_a_path_is_refused_at_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    site(dir.path());
    for (path, says) in [
        ("/a.txt", "exists in the served directory"),
        ("/cgi-bin", "exists in the served directory"),
        ("/%61.txt", "exists in the served directory"),
        ("/", "exists in the served directory"),
        ("metrics", "is not an absolute URL path"),
        ("/metrics?x", "is not an absolute URL path"),
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_serveur"));
        command
            .arg("-d")
            .arg(dir.path())
            .args(["-b", "127.0.0.1", "--metrics-path", path, "0"]);
        let exit = run_to_exit(command);
        assert_eq!(exit.code, 2, "{path}: {exit:?}");
        assert_eq!(exit.stderr.lines().count(), 1, "{path}: {exit:?}");
        assert!(
            exit.stderr
                .starts_with("serveur: error: argument --metrics-path:")
                && exit.stderr.contains(says),
            "{path}: {exit:?}"
        );
    }
}

#[test]
fn without_the_flag_the_path_is_a_file_or_pythons_404_as_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(dir.path(), &[]);
    let missing = raw_request(server.addr, "GET", "/metrics");
    assert_eq!(missing.status(), "404 File not found");
    assert!(!String::from_utf8_lossy(&missing.body).contains("serveur_"));
    write_file(dir.path(), "metrics", "my own file\n");
    let file = raw_request(server.addr, "GET", "/metrics");
    assert_eq!(file.status(), "200 OK");
    assert_eq!(file.body, b"my own file\n");
}

#[test]
fn the_page_is_behind_access_control_and_fastcgi_failures_are_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(dir.path(), "x.php", "<?php echo 1;");
    // An address where no application listens: every request to it is the gateway's 502.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let route = format!("*.php={}", closed.local_addr().expect("addr"));
    drop(closed);
    let server = Serveur::start(
        dir.path(),
        &[
            "--fastcgi",
            &route,
            "--auth",
            "alice:secret@/:rw",
            "--metrics-path",
            "/metrics",
        ],
    );
    let as_alice = |path: &str| {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\
             Connection: close\r\n\r\n"
        );
        RawReply::parse(raw_to_script(server.addr, request.as_bytes()).as_bytes())
    };
    let anonymous = raw_request(server.addr, "GET", "/metrics");
    assert_eq!(&anonymous.status()[..3], "401");
    assert!(!String::from_utf8_lossy(&anonymous.body).contains("serveur_"));
    assert_eq!(&as_alice("/x.php").status()[..3], "502");
    let page = parse(&as_alice("/metrics").body);
    let requests = |labels: &str| page.value(&format!("serveur_requests_total{{{labels}}}"));
    assert_eq!(requests(r#"code="4xx",handler="auth""#), 1.0);
    assert_eq!(requests(r#"code="5xx",handler="fastcgi""#), 1.0);
    assert_eq!(page.value("serveur_fastcgi_failures_total"), 1.0);
    assert_eq!(page.value("serveur_fastcgi_in_flight"), 0.0);
    assert_eq!(page.value("serveur_cgi_failures_total"), 0.0);
}

#[test]
fn a_script_in_flight_is_counted_and_answers_around_it_keep_their_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    site(dir.path());
    // Answers its header block, then holds its body until the test removes the file.
    let gate = dir.path().join("gate");
    std::fs::write(&gate, "").expect("gate");
    write_script(
        dir.path(),
        "cgi-bin/slow.sh",
        &format!(
            "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n\
             i=0; while [ -e {gate:?} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n\
             echo done\n",
        ),
    );
    let server = Serveur::start(dir.path(), &["--cgi", "--metrics-path", "/metrics"]);
    let addr = server.addr;
    let slow = std::thread::spawn(move || raw_request(addr, "GET", "/cgi-bin/slow.sh"));
    let deadline = Instant::now() + crate::support::WAIT;
    let mut scrapes = 0.0;
    loop {
        let page = parse(&raw_request(server.addr, "GET", "/metrics").body);
        scrapes += 1.0;
        if page.value("serveur_cgi_in_flight") == 1.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the script never counted as in flight"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Answered on the same threads while the script's request waits on its body.
    for _ in 0..10 {
        assert_eq!(raw_request(server.addr, "GET", "/a.txt").status(), "200 OK");
    }
    std::fs::remove_file(&gate).expect("open the gate");
    let reply = slow.join().expect("slow request");
    assert!(String::from_utf8_lossy(&reply.body).contains("done"));
    let (_, page, more) = scrape_when_quiet(&server);
    let requests = |labels: &str| page.value(&format!("serveur_requests_total{{{labels}}}"));
    assert_eq!(page.value("serveur_cgi_in_flight"), 0.0);
    assert_eq!(requests(r#"code="2xx",handler="static""#), 10.0);
    assert_eq!(requests(r#"code="2xx",handler="cgi""#), 1.0);
    assert_eq!(
        requests(r#"code="2xx",handler="metrics""#),
        scrapes + f64::from(more - 1)
    );
}
