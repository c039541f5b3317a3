//! `--qr`: after CPython's startup line (first, unchanged), every URL the server can be
//! reached at and a QR code of the first, read back by a real decoder (ZXing, through
//! `startup_addresses/decode_qr.py`, which rasterises the printed blocks as a dark terminal
//! shows them). Without the flag, stdout is CPython's line alone.

use std::process::Command;

use crate::support::{python_with_input, raw, Serveur};

/// Everything `server` printed on stdout after its startup line, once Ctrl+C has stopped it.
/// A connection is served first: the server then waits for Ctrl+C (a signal sent before would
/// find no handler yet and kill it).
fn stdout_until_interrupt(server: &Serveur) -> Vec<String> {
    raw(server.addr, b"GET / HTTP/1.0\r\n\r\n");
    server.signal("INT");
    server.wait_for_log("stdout: Keyboard interrupt received, exiting.");
    server
        .log()
        .iter()
        .filter_map(|line| line.strip_prefix("stdout: ").map(str::to_owned))
        .collect()
}

/// The text of the QR code drawn in `lines`, decoded by ZXing; fails the test when python3 or
/// its zxing-cpp package is missing, or when nothing decodes.
fn decode_qr(lines: &[String]) -> String {
    let output = python_with_input(
        "tests/it/startup_addresses/decode_qr.py",
        lines.join("\n").as_bytes(),
        "`pip install zxing-cpp`",
    );
    String::from_utf8(output).expect("utf-8").trim().to_owned()
}

/// Splits what `--qr` printed into the URLs and the QR code's lines, checking the frame
/// around them ("Reachable at:", "QR code of FIRST-URL:", Ctrl+C's two lines at the end).
fn urls_and_drawing(lines: &[String]) -> (Vec<String>, Vec<String>) {
    assert_eq!(lines.first().map(String::as_str), Some("Reachable at:"));
    let urls: Vec<String> = lines[1..]
        .iter()
        .map_while(|line| line.strip_prefix("  ").map(str::to_owned))
        .collect();
    assert!(!urls.is_empty(), "{lines:#?}");
    assert_eq!(lines[1 + urls.len()], format!("QR code of {}:", urls[0]));
    let drawing = &lines[2 + urls.len()..];
    assert_eq!(
        drawing[drawing.len() - 2..],
        ["", "Keyboard interrupt received, exiting."]
    );
    (urls, drawing[..drawing.len() - 2].to_vec())
}

#[test]
fn bound_to_loopback_the_one_url_is_listed_and_drawn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(dir.path(), &["--qr"]);
    let port = server.port();
    assert_eq!(
        server.startup_line,
        format!("Serving HTTP on 127.0.0.1 port {port} (http://127.0.0.1:{port}/) ...")
    );
    let (urls, drawing) = urls_and_drawing(&stdout_until_interrupt(&server));
    assert_eq!(urls, [format!("http://127.0.0.1:{port}/")]);
    assert_eq!(decode_qr(&drawing), urls[0]);
}

#[test]
fn under_tls_the_urls_are_https() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start(dir.path(), &["--qr", "--tls-self-signed"]);
    let port = server.port();
    assert_eq!(
        server.startup_line,
        format!("Serving HTTPS on 127.0.0.1 port {port} (https://127.0.0.1:{port}/) ...")
    );
    let lines = stdout_until_interrupt(&server);
    // The certificate's fingerprint line, then the addresses.
    assert!(lines[0].starts_with("Self-signed certificate, SHA-256 fingerprint "));
    let (urls, drawing) = urls_and_drawing(&lines[1..]);
    assert_eq!(urls, [format!("https://127.0.0.1:{port}/")]);
    assert_eq!(decode_qr(&drawing), urls[0]);
}

/// The machine's IPv4 addresses other than loopback, from `hostname -I` (which leaves out
/// loopback and IPv6 link-local addresses): an account independent of serveur's.
fn lan_ipv4_addresses() -> Vec<String> {
    let output = Command::new("hostname")
        .arg("-I")
        .output()
        .expect("hostname (Debian's hostname package) must be installed");
    assert!(output.status.success(), "hostname -I failed");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .split_whitespace()
        .filter(|ip| !ip.contains(':'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn bound_to_every_ipv4_interface_each_address_is_listed_lan_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing outside contacts it: the test connects only to its loopback address.
    let server = Serveur::start_with(dir.path(), "0.0.0.0", &["--qr"]);
    let port = server.port();
    assert_eq!(
        server.startup_line,
        format!("Serving HTTP on 0.0.0.0 port {port} (http://0.0.0.0:{port}/) ...")
    );
    let (urls, drawing) = urls_and_drawing(&stdout_until_interrupt(&server));
    let lan: Vec<String> = lan_ipv4_addresses()
        .iter()
        .map(|ip| format!("http://{ip}:{port}/"))
        .collect();
    let loopback = format!("http://127.0.0.1:{port}/");
    assert!(urls.contains(&loopback), "{urls:#?}");
    // Every LAN address, before the loopback ones; nothing IPv6 on an IPv4 socket.
    let (printed_lan, rest) = urls.split_at(lan.len());
    let mut printed_sorted = printed_lan.to_vec();
    printed_sorted.sort();
    let mut lan_sorted = lan.clone();
    lan_sorted.sort();
    assert_eq!(printed_sorted, lan_sorted, "{urls:#?}");
    assert!(
        rest.iter().all(|url| url.starts_with("http://127.")),
        "{urls:#?}"
    );
    assert_eq!(decode_qr(&drawing), urls[0]);
}

#[test]
fn without_the_flag_stdout_is_python_line_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serveur::start_with(dir.path(), "0.0.0.0", &[]);
    let port = server.port();
    assert_eq!(
        server.startup_line,
        format!("Serving HTTP on 0.0.0.0 port {port} (http://0.0.0.0:{port}/) ...")
    );
    assert_eq!(
        stdout_until_interrupt(&server),
        ["", "Keyboard interrupt received, exiting."]
    );
}
