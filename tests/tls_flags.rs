//! The TLS flags: Python 3.14's errors for each mistake, the expired-certificate warning,
//! and `--tls-self-signed` (its names and the fingerprint it prints).

mod support;

use std::path::Path;

use rustls::version::TLS13;
use support::tls::{client, encrypt_key, fetch_tls, make_cert, openssl, site};
use support::{run_to_exit, serveur_command, Serveur};

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
    let connect = format!("127.0.0.1:{}", server.port());
    let pem = openssl(dir.path(), &["s_client", "-connect", &connect]);
    std::fs::write(dir.path().join("served.pem"), pem).expect("write");
    let fingerprint = String::from_utf8_lossy(&openssl(
        dir.path(),
        &[
            "x509",
            "-in",
            "served.pem",
            "-noout",
            "-fingerprint",
            "-sha256",
        ],
    ))
    .into_owned();
    assert_eq!(
        fingerprint.trim().rsplit('=').next(),
        Some(printed.as_str())
    );
    let names = String::from_utf8_lossy(&openssl(
        dir.path(),
        &[
            "x509",
            "-in",
            "served.pem",
            "-noout",
            "-ext",
            "subjectAltName",
        ],
    ))
    .into_owned();
    for name in [
        "DNS:localhost",
        "IP Address:127.0.0.1",
        "IP Address:0:0:0:0:0:0:0:1",
    ] {
        assert!(names.contains(name), "{name} in {names}");
    }
    // The served certificate really is that one: a client trusting it gets through.
    let got = fetch_tls(
        server.addr,
        &client(&dir.path().join("served.pem"), &[b"h2"], &[&TLS13]),
        "/a.txt",
    );
    assert_eq!(got.reply.text(), "hello\n");
}
