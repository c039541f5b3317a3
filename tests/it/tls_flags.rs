//! The TLS flags: Python 3.14's errors for each mistake, the expired-certificate warning,
//! `--tls-self-signed` (its names, the bind address among them, the fingerprint it prints, its
//! validity, and nothing written to disk), and the HTTPS startup line without `-b`.

use std::path::Path;

use crate::support::tls::{client, encrypt_key, fetch_tls, make_cert, openssl, site};
use crate::support::{run_to_exit, serveur_command, Serveur};
use rustls::version::TLS13;

/// Runs the binary with `args` expecting it to refuse to start: returns (exit code, stderr).
/// A server that starts serving instead fails the test (see [`run_to_exit`]).
fn refused(args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = serveur_command();
    command
        .args(["-d", dir.path().to_str().expect("utf-8"), "-b", "127.0.0.1"])
        .args(args)
        .arg("0");
    let exit = run_to_exit(command);
    (exit.code, exit.stderr.trim().to_owned())
}

#[test]
fn every_tls_mistake_is_one_clear_line_and_exit_2() {
    let pki = tempfile::tempdir().expect("tempdir");
    let dir = pki.path();
    let (cert, key) = make_cert(dir, "rsa", "rsa:2048");
    let (_, other_key) = make_cert(dir, "other", "ec");
    encrypt_key(dir, "rsa.key", "enc.key", "right");
    std::fs::write(dir.join("wrong.txt"), "wrong").expect("write");
    let p = |path: &Path| path.to_str().expect("utf-8").to_owned();
    let (cert, key, other_key) = (p(&cert), p(&key), p(&other_key));
    let (enc, wrong) = (p(&dir.join("enc.key")), p(&dir.join("wrong.txt")));
    let missing = p(&dir.join("missing.pem"));
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--tls-key", &key], "--tls-key requires --tls-cert to be set".into()),
        (
            vec!["--tls-password-file", &wrong],
            "--tls-password-file requires --tls-cert to be set".into(),
        ),
        (
            vec!["--tls-cert", &missing],
            format!("cannot read the TLS certificate file {missing}: No such file or directory (os error 2)"),
        ),
        (
            vec!["--tls-cert", &cert, "--tls-key", &missing],
            format!("cannot read the TLS key file {missing}: No such file or directory (os error 2)"),
        ),
        (
            vec!["--tls-cert", &cert, "--tls-password-file", &missing],
            "Failed to read TLS password file: No such file or directory (os error 2)".into(),
        ),
        (vec!["--tls-cert", &cert], format!("no private key found in {cert}")),
        (
            vec!["--tls-cert", &cert, "--tls-key", &other_key],
            format!("the private key in {other_key} does not match the certificate in {cert}"),
        ),
        (
            vec!["--tls-cert", &cert, "--tls-key", &enc],
            format!("the private key in {enc} is encrypted and no password was given"),
        ),
        (
            vec!["--tls-cert", &cert, "--tls-key", &enc, "--tls-password-file", &wrong],
            format!("cannot decrypt the private key in {enc}: wrong password"),
        ),
        (
            vec!["--tls-cert", &cert, "--tls-key", &key, "--tls-self-signed"],
            "--tls-self-signed cannot be used with --tls-cert".into(),
        ),
    ];
    for (args, message) in cases {
        let (code, stderr) = refused(&args);
        assert_eq!(
            (code, stderr.as_str()),
            (2, format!("serveur: error: {message}").as_str()),
            "{args:?}"
        );
    }
}

#[test]
fn an_expired_certificate_is_served_with_a_warning() {
    let site = site();
    let pki = tempfile::tempdir().expect("tempdir");
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    let path = pki.path().join("expired.pem");
    std::fs::write(&path, cert.pem() + &key.serialize_pem()).expect("write");
    let server = Serveur::start(site.path(), &["--tls-cert", path.to_str().expect("utf-8")]);
    server.wait_for_log("serveur: warning: the TLS certificate expired on 2021-01-01");
}

/// `openssl x509 -in served.pem -noout ARGS` in `dir`, as text.
fn inspect_served(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["x509", "-in", "served.pem", "-noout"];
    all.extend_from_slice(args);
    String::from_utf8_lossy(&openssl(dir, &all)).into_owned()
}

/// Saves the certificate `server` presents in a real handshake as `served.pem` in `dir` (with
/// `openssl s_client`).
fn save_served(dir: &Path, server: &Serveur) {
    let pem = openssl(dir, &["s_client", "-connect", &server.addr.to_string()]);
    std::fs::write(dir.join("served.pem"), pem).expect("write");
}

/// Saves the certificate `server` presents ([`save_served`]), checks that its subjectAltName
/// lists every one of `names`, and that a client trusting that certificate alone gets
/// `/a.txt`: it really is the one served.
fn check_served_certificate(dir: &Path, server: &Serveur, names: &[&str]) {
    save_served(dir, server);
    let listed = inspect_served(dir, &["-ext", "subjectAltName"]);
    for name in names {
        assert!(listed.contains(name), "{name} in {listed}");
    }
    let got = fetch_tls(
        server.addr,
        &client(&dir.join("served.pem"), &[b"h2"], &[&TLS13]),
        "/a.txt",
    );
    assert_eq!(got.reply.text(), "hello\n");
}

#[test]
fn self_signed_covers_local_names_and_prints_its_fingerprint() {
    let site = site();
    let server = Serveur::start(site.path(), &["--tls-self-signed"]);
    assert!(server
        .startup_line
        .starts_with("Serving HTTPS on 127.0.0.1 port "));
    let printed = server.wait_for_log("stdout: Self-signed certificate, SHA-256 fingerprint ");
    let printed = printed.rsplit(' ').next().expect("fingerprint").to_owned();

    let dir = tempfile::tempdir().expect("tempdir");
    let names = [
        "DNS:localhost",
        "IP Address:127.0.0.1",
        "IP Address:0:0:0:0:0:0:0:1",
    ];
    check_served_certificate(dir.path(), &server, &names);
    let fingerprint = inspect_served(dir.path(), &["-fingerprint", "-sha256"]);
    assert_eq!(
        fingerprint.trim().rsplit('=').next(),
        Some(printed.as_str())
    );
}

#[test]
fn self_signed_is_valid_from_a_day_before_start_up_for_365_days() {
    use std::time::{Duration, SystemTime};
    use x509_cert::der::Decode;
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    let site = site();
    let started = SystemTime::now();
    let server = Serveur::start(site.path(), &["--tls-self-signed"]);
    let listening = SystemTime::now();

    let dir = tempfile::tempdir().expect("tempdir");
    save_served(dir.path(), &server);
    let der = openssl(
        dir.path(),
        &["x509", "-in", "served.pem", "-outform", "DER"],
    );
    let cert = x509_cert::Certificate::from_der(&der).expect("a DER certificate");
    let validity = cert.tbs_certificate.validity;
    let (not_before, not_after) = (
        validity.not_before.to_system_time(),
        validity.not_after.to_system_time(),
    );
    // Made between `started` and `listening`, in whole seconds (so up to 1 s earlier).
    assert!(
        not_before + DAY + Duration::from_secs(1) >= started && not_before + DAY <= listening,
        "notBefore {} is not a day before start-up",
        validity.not_before
    );
    assert_eq!(
        not_after
            .duration_since(not_before)
            .expect("notAfter after notBefore"),
        365 * DAY,
        "valid {} to {}",
        validity.not_before,
        validity.not_after
    );
}

/// Every path below `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut paths = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read_dir") {
            let path = entry.expect("entry").path();
            let relative = path.strip_prefix(dir).expect("below dir");
            paths.push(relative.to_string_lossy().into_owned());
            if path.is_dir() && !path.is_symlink() {
                pending.push(path);
            }
        }
    }
    paths.sort();
    paths
}

#[test]
fn self_signed_names_the_bind_address_and_writes_nothing_to_disk() {
    let site = site();
    let before = tree(site.path());
    // The working directory, HOME and TMPDIR: where a certificate could be left behind.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let mut command = serveur_command();
    command
        .current_dir(elsewhere.path())
        .env("HOME", elsewhere.path())
        .env("TMPDIR", elsewhere.path())
        .arg("-d")
        .arg(site.path())
        .args(["-b", "127.0.0.2", "--tls-self-signed", "0"]);
    let mut server = Serveur::spawn(command);
    assert!(
        server
            .startup_line
            .starts_with("Serving HTTPS on 127.0.0.2 port "),
        "{}",
        server.startup_line
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let names = [
        "IP Address:127.0.0.2",
        "DNS:localhost",
        "IP Address:127.0.0.1",
    ];
    check_served_certificate(dir.path(), &server, &names);

    server.signal("TERM");
    assert_eq!(server.wait_exit(), 0);
    assert_eq!(tree(site.path()), before, "written to the served directory");
    assert_eq!(tree(elsewhere.path()), Vec::<String>::new());
}

#[test]
fn without_bind_the_https_startup_line_names_0_0_0_0_as_python_does() {
    let site = site();
    let pki = tempfile::tempdir().expect("tempdir");
    let (cert, key) = make_cert(pki.path(), "ec", "ec");
    let mut command = serveur_command();
    command
        .arg("-d")
        .arg(site.path())
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .arg("0");
    let server = Serveur::spawn(command);
    assert_eq!(
        server.startup_line,
        format!(
            "Serving HTTPS on 0.0.0.0 port {0} (https://0.0.0.0:{0}/) ...",
            server.port()
        )
    );
    let got = fetch_tls(server.addr, &client(&cert, &[b"h2"], &[&TLS13]), "/a.txt");
    assert_eq!(got.reply.text(), "hello\n");
}
