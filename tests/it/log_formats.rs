//! `--log-format combined|json` read by real readers (goaccess parses the combined log with no
//! failed line; Python's `json` module parses every JSON line and checks its fields' types),
//! and `--log-file` reopened on SIGHUP under load with no line lost or repeated.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{
    get, raw, request, run_to_exit, serveur_command, wait_for_line, Serveur, WAIT,
};

fn site() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("a.txt"), "hello, world\n").expect("write");
    std::fs::create_dir(tmp.path().join("sub")).expect("mkdir");
    tmp
}

/// The lines of `path`, once it holds at least `count` whole lines (failing after [`WAIT`]).
fn wait_for_lines(path: &Path, count: usize) -> Vec<String> {
    let lines = || {
        std::fs::read_to_string(path)
            .map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + WAIT;
    while lines().len() < count {
        assert!(
            Instant::now() < deadline,
            "{} has {} lines, not {count}: {:#?}",
            path.display(),
            lines().len(),
            lines()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    lines()
}

/// Requests of every kind the log must carry: 200 with a referer and a user agent holding
/// quotes and a backslash, HEAD, 404, 304, a range (206), a redirect (301), and a request
/// hyper refuses before parsing it (400, a control character in a field). Returns how many.
fn varied_requests(server: &Serveur) -> usize {
    let addr = server.addr;
    let agent = r#"Mozilla/5.0 (X11; "quoted") \back"#;
    let ok = request(
        addr,
        "GET",
        "/a.txt?q=1",
        &[
            ("User-Agent", agent),
            ("Referer", "http://example.test/from"),
        ],
    );
    assert_eq!(ok.status, 200);
    assert_eq!(request(addr, "HEAD", "/a.txt", &[]).status, 200);
    assert_eq!(get(addr, "/missing").status, 404);
    let etag = ok.header("etag").to_owned();
    assert_eq!(
        request(addr, "GET", "/a.txt", &[("If-None-Match", &etag)]).status,
        304
    );
    assert_eq!(
        request(addr, "GET", "/a.txt", &[("Range", "bytes=0-4")]).status,
        206
    );
    assert_eq!(get(addr, "/sub").status, 301);
    let refused = raw(
        addr,
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n",
    );
    assert!(refused.starts_with(b"HTTP/1.1 400"), "{refused:?}");
    7
}

#[test]
fn goaccess_reads_the_combined_log_with_no_failed_line() {
    let tmp = site();
    let log = tmp.path().join("access.log");
    let server = Serveur::start(
        tmp.path(),
        &[
            "--log-format",
            "combined",
            "--log-file",
            log.to_str().expect("utf-8"),
        ],
    );
    let count = varied_requests(&server);
    let lines = wait_for_lines(&log, count);
    assert_eq!(lines.len(), count, "{lines:#?}");
    // nginx's escaping keeps the user agent inside its quotes; the time is `$time_local`'s.
    let first = &lines[0];
    assert!(first.starts_with("127.0.0.1 - - ["), "{first}");
    assert!(
        first.ends_with(
            r#"] "GET /a.txt?q=1 HTTP/1.1" 200 13 "http://example.test/from" "Mozilla/5.0 (X11; \x22quoted\x22) \x5Cback""#
        ),
        "{first}"
    );
    let stamp = first.split(['[', ']']).nth(1).expect("time");
    chrono::DateTime::parse_from_str(stamp, "%d/%b/%Y:%H:%M:%S %z")
        .unwrap_or_else(|e| panic!("{stamp}: {e}"));
    assert!(lines
        .iter()
        .any(|l| l.contains(r#""GET /a.txt HTTP/1.1" 400 "#)));
    // The other lines (`code 404, message File not found`) went to stderr, not the file.
    server.wait_for_log("code 404, message File not found");
    assert!(!lines.iter().any(|l| l.contains("code 404")));

    let report = tmp.path().join("report.json");
    let goaccess = Command::new("goaccess")
        .arg(&log)
        .args(["--log-format=COMBINED", "--no-global-config", "-o"])
        .arg(&report)
        .output()
        .expect("run goaccess (Debian package goaccess)");
    assert!(goaccess.status.success(), "{goaccess:?}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    let general = &report["general"];
    assert_eq!(general["failed_requests"], 0, "{general}");
    assert_eq!(general["valid_requests"], count, "{general}");
}

/// Python's `json` module parses each line and checks the types promised in README.
const CHECK_JSON: &str = r#"
import datetime, json, sys
access = {"time": str, "client": str, "method": (str, type(None)), "target": (str, type(None)),
          "protocol": (str, type(None)), "status": int, "bytes": int, "duration": float,
          "user": (str, type(None)), "referer": (str, type(None)),
          "user_agent": (str, type(None)), "tls": bool}
other = {"time": str, "client": (str, type(None)), "user": (str, type(None)), "message": str}
counts = {"access": 0, "other": 0}
for line in open(sys.argv[1]):
    obj = json.loads(line)
    kind = "other" if "message" in obj else "access"
    fields = other if kind == "other" else access
    assert set(obj) == set(fields), (set(obj), line)
    for name, types in fields.items():
        assert isinstance(obj[name], types) and not (types is int and isinstance(obj[name], bool)), (name, line)
    datetime.datetime.fromisoformat(obj["time"])
    counts[kind] += 1
print(counts["access"], counts["other"])
"#;

#[test]
fn json_lines_parse_with_pythons_json_module_and_have_the_promised_types() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &["--log-format", "json"]);
    let count = varied_requests(&server);
    // A target and a user agent a naive writer would break the line with.
    let agent = "tab\there, quote \" backslash \\ and é";
    request(
        server.addr,
        "GET",
        "/sub/?x=%22\\",
        &[("User-Agent", agent)],
    );
    let last = server.wait_for_log(r#""target":"/sub/?x=%22\\""#);
    let object: serde_json::Value = serde_json::from_str(&last).expect(&last);
    assert_eq!(object["user_agent"], agent);
    assert_eq!(object["method"], "GET");
    assert_eq!(object["protocol"], "HTTP/1.1");
    assert_eq!(object["status"], 200);
    assert_eq!(object["tls"], false);
    assert!(object["duration"].as_f64().is_some_and(|ms| ms >= 0.0));
    server.wait_for_log(r#""status":400"#);

    let lines = server.log().join("\n") + "\n";
    let file = tmp.path().join("log.json");
    std::fs::write(&file, &lines).expect("write");
    let mut python = Command::new("python3");
    python.args(["-c", CHECK_JSON]).arg(&file);
    let checked = run_to_exit(python);
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    let (access, other) = checked.stdout.trim().split_once(' ').expect("two counts");
    assert_eq!(access, (count + 1).to_string(), "{lines}");
    // `code 404, message …`, `code 400, …`: CPython's extra lines, as objects of their own.
    assert!(other.parse::<usize>().expect("count") >= 2, "{lines}");
}

#[test]
fn json_lines_say_when_the_request_came_over_tls() {
    let tmp = site();
    let server = Serveur::start(tmp.path(), &["--log-format", "json", "--tls-self-signed"]);
    let url = format!("https://127.0.0.1:{}/a.txt", server.port());
    let curl = Command::new("curl")
        .args([
            "-sk",
            "-o",
            "/dev/null",
            "-e",
            "https://example.test/",
            &url,
        ])
        .status()
        .expect("run curl");
    assert!(curl.success());
    let line = server.wait_for_log(r#""target":"/a.txt""#);
    let object: serde_json::Value = serde_json::from_str(&line).expect(&line);
    assert_eq!(object["tls"], true, "{line}");
    assert_eq!(object["referer"], "https://example.test/", "{line}");
}

#[test]
fn sighup_reopens_the_log_file_and_no_line_is_lost_or_repeated() {
    let tmp = site();
    let log = tmp.path().join("access.log");
    let rotated = tmp.path().join("access.log.1");
    let server = Serveur::start(tmp.path(), &["--log-file", log.to_str().expect("utf-8")]);
    let addr = server.addr;
    for i in 0..50 {
        get(addr, &format!("/a.txt?before={i}"));
    }
    wait_for_lines(&log, 50);

    // Load from two clients while the file is renamed and the server told to reopen it.
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..2)
        .map(|client| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut sent = 0;
                while !stop.load(Ordering::Relaxed) && sent < 2000 {
                    get(addr, &format!("/a.txt?load={client}-{sent}"));
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    std::fs::rename(&log, &rotated).expect("rename");
    server.signal("HUP");
    let deadline = Instant::now() + WAIT;
    while !log.exists() {
        assert!(Instant::now() < deadline, "the log file was not reopened");
        std::thread::sleep(Duration::from_millis(10));
    }
    for i in 0..50 {
        get(addr, &format!("/a.txt?after={i}"));
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let loaded: usize = load.into_iter().map(|t| t.join().expect("load")).sum();
    assert!(loaded > 0);

    let total = 100 + loaded;
    let deadline = Instant::now() + WAIT;
    let read = |path: &Path| -> Vec<String> {
        std::fs::read_to_string(path)
            .expect("read log")
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let (old, new) = loop {
        let (old, new) = (read(&rotated), read(&log));
        if old.len() + new.len() >= total || Instant::now() >= deadline {
            break (old, new);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Every request once, in one file or the other.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for line in old.iter().chain(&new) {
        let query = line
            .split_once("/a.txt?")
            .and_then(|(_, rest)| rest.split_once(' '))
            .map(|(query, _)| query.to_owned())
            .unwrap_or_else(|| panic!("not an access line: {line}"));
        *seen.entry(query).or_default() += 1;
    }
    assert_eq!(seen.len(), total, "lines lost");
    assert!(seen.values().all(|&n| n == 1), "lines repeated");
    // Written before the rename: the old file; asked after the new file appeared: the new one.
    assert!(old.iter().filter(|l| l.contains("?before=")).count() == 50);
    assert!(new.iter().filter(|l| l.contains("?after=")).count() == 50);
    // Python's line, in the file as on stderr.
    assert!(old[0].starts_with("127.0.0.1 - - ["), "{}", old[0]);
    assert!(old[0].ends_with("\"GET /a.txt?before=0 HTTP/1.1\" 200 13"));
}

#[test]
fn the_log_file_is_created_0640_and_the_startup_line_stays_on_stdout() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = site();
    let log = tmp.path().join("new.log");
    let server = Serveur::start(tmp.path(), &["--log-file", log.to_str().expect("utf-8")]);
    server.assert_serving_on_loopback();
    get(server.addr, "/a.txt");
    wait_for_lines(&log, 1);
    let mode = std::fs::metadata(&log).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
    // Python's format keeps every line together: the error's extra line goes to the file too.
    get(server.addr, "/missing");
    let lines = wait_for_lines(&log, 3);
    assert!(
        lines[1].ends_with("code 404, message File not found"),
        "{lines:?}"
    );
    assert!(!server.log().iter().any(|l| l.contains("GET /")));
}

#[test]
fn sighup_without_a_log_file_stops_the_server_as_it_stops_pythons() {
    let tmp = site();
    for args in [&[][..], &["-q"][..]] {
        // Under `nohup` (or any parent ignoring SIGHUP) the ignored disposition is inherited,
        // and Python would not stop either: coreutils' env gives the server the default one.
        let mut command = Command::new("env");
        command
            .arg("--default-signal=HUP")
            .arg(env!("CARGO_BIN_EXE_serveur"))
            .arg("-d")
            .arg(tmp.path())
            .args(["-b", "127.0.0.1"])
            .args(args)
            .arg("0");
        let mut server = Serveur::spawn(command);
        server.signal("HUP");
        // SIGHUP's default action: the process ends by the signal, with no exit code.
        assert_eq!(server.wait_exit(), -1, "{args:?}");
    }
}

#[test]
fn log_settings_come_from_the_environment_and_bad_ones_are_refused() {
    let tmp = site();
    let mut command = serveur_command();
    command
        .env("SERVEUR_LOG_FORMAT", "combined")
        .arg("-d")
        .arg(tmp.path())
        .args(["-b", "127.0.0.1", "0"]);
    let server = Serveur::spawn(command);
    get(server.addr, "/a.txt");
    let line = wait_for_line("\"GET /a.txt HTTP/1.1\" 200 13 \"-\"", || server.log());
    assert!(line.contains("] \"GET"), "{line}");

    for (args, message) in [
        (
            vec!["--log-format", "xml"],
            "invalid value 'xml' for '--log-format <FORMAT>'",
        ),
        (
            vec!["-q", "--log-file", "x.log"],
            "argument --log-file: not allowed with -q/--quiet",
        ),
    ] {
        let mut command = serveur_command();
        command.args(&args).arg("0");
        let exit = run_to_exit(command);
        assert_eq!(exit.code, 2, "{args:?}: {}", exit.stderr);
        assert!(exit.stderr.contains(message), "{args:?}: {}", exit.stderr);
    }
    let mut command = serveur_command();
    command
        .args(["-b", "127.0.0.1", "--log-file"])
        .arg(tmp.path().join("no/such/dir/a.log"))
        .arg("0");
    let exit = run_to_exit(command);
    assert_eq!(exit.code, 1, "{}", exit.stderr);
    assert!(
        exit.stderr.contains("cannot open the log file"),
        "{}",
        exit.stderr
    );
}

#[test]
fn the_verified_user_is_in_the_combined_and_json_lines() {
    let tmp = site();
    // `alice:secret`, checked by access control; the identity field is Common Log Format's.
    let basic = ("Authorization", "Basic YWxpY2U6c2VjcmV0");
    for (format, needle) in [
        ("combined", "127.0.0.1 - alice ["),
        ("json", r#""user":"alice""#),
    ] {
        let server = Serveur::start(
            tmp.path(),
            &["--log-format", format, "--auth", "alice:secret@/"],
        );
        assert_eq!(request(server.addr, "GET", "/a.txt", &[basic]).status, 200);
        assert_eq!(get(server.addr, "/a.txt").status, 401);
        let line = server.wait_for_log(needle);
        assert!(line.contains("/a.txt"), "{line}");
        server.wait_for_log(if format == "json" {
            r#""status":401,"#
        } else {
            "\" 401 "
        });
    }
}
