//! `--config FILE`, `SERVEUR_*` variables and `--print-config`, through the real binary: a
//! command line printed as a file serves the same when the file is read back, the command
//! line and the environment override a file, and every mistake in a file is one line naming
//! the file, line, column and key, with exit status 2.

use std::path::Path;

use crate::support::{get, run_to_exit, serveur_command, write_script, Exit, Serveur};

/// A tree with a file and a CGI script printing its own marker.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "alpha").expect("write");
    write_script(
        dir.path(),
        "cgi-bin/hi.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nfrom the script'\n",
    );
    dir
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Exit {
    let mut command = serveur_command();
    command.args(args).envs(env.iter().copied());
    run_to_exit(command)
}

/// `serveur ARGS --print-config`, which must succeed.
fn print_config(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut all = args.to_vec();
    all.push("--print-config");
    let exit = run(&all, env);
    assert_eq!(exit.code, 0, "{exit:?}");
    assert!(exit.stderr.is_empty(), "{exit:?}");
    exit.stdout
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("serveur.toml");
    std::fs::write(&path, text).expect("write config");
    path.to_str().expect("utf-8 path").to_owned()
}

#[test]
fn a_printed_command_line_read_back_serves_the_same() {
    let site = site();
    let root = site.path().to_str().expect("utf-8 path");
    let printed = print_config(
        &[
            "--cgi",
            "-b",
            "127.0.0.1",
            "-d",
            root,
            "-H",
            "X-A: 1",
            "-H",
            "X-B: two words",
            "--max-connections",
            "50",
            "0",
        ],
        &[],
    );
    // Given settings are keys, with TOML's types; defaults are there, commented out.
    for line in [
        "port = 0",
        "bind = \"127.0.0.1\"",
        "cgi = true",
        "header = [\"X-A: 1\", \"X-B: two words\"]",
        "max-connections = 50",
        "# protocol = \"HTTP/1.1\"",
        "# header-timeout = 30",
    ] {
        assert!(printed.lines().any(|l| l == line), "{line} in {printed}");
    }
    // What does something once is no setting.
    for action in [
        "print-config",
        "config",
        "completions",
        "man",
        "hash-password",
    ] {
        let as_key = format!("{action} =");
        assert!(
            !printed.lines().any(|l| l.starts_with(&as_key)),
            "{printed}"
        );
    }
    let config = tempfile::tempdir().expect("tempdir");
    let file = write_config(config.path(), &printed);

    // The file alone: printed again, it is the same file (nothing lost or added) ...
    assert_eq!(print_config(&["--config", &file], &[]), printed);
    // ... and it serves as the command line did: bound where it said, the headers on files,
    // the CGI script run rather than sent.
    let mut command = serveur_command();
    command.args(["--config", &file]);
    let server = Serveur::spawn(command);
    server.assert_serving_on_loopback();
    let file_reply = get(server.addr, "/a.txt");
    assert_eq!(file_reply.text(), "alpha");
    assert_eq!(file_reply.header("x-a"), "1");
    assert_eq!(file_reply.header("x-b"), "two words");
    assert_eq!(get(server.addr, "/cgi-bin/hi.sh").text(), "from the script");
}

#[test]
fn the_command_line_then_the_environment_override_the_file() {
    let config = tempfile::tempdir().expect("tempdir");
    let file = write_config(
        config.path(),
        "bind = \"127.0.0.1\"\nheader = [\"X-File: 1\"]\nmax-connections = 5\nport = 8123\n",
    );
    let printed = print_config(
        &["--config", &file, "-H", "X-Cli: 1", "9000"],
        &[
            ("SERVEUR_MAX_CONNECTIONS", "7"),
            ("SERVEUR_HEADER", "X-Env: 1"),
        ],
    );
    // The command line's list replaces the file's (and the environment's), as a single value
    // would; the environment beats the file.
    for line in [
        "port = 9000",
        "bind = \"127.0.0.1\"",
        "header = [\"X-Cli: 1\"]",
        "max-connections = 7",
    ] {
        assert!(printed.lines().any(|l| l == line), "{line} in {printed}");
    }
    // A variable can turn off a flag the file turns on (the command line has no --no-cgi).
    let file = write_config(config.path(), "cgi = true\nquiet = true\n");
    let printed = print_config(&["--config", &file], &[("SERVEUR_CGI", "false")]);
    assert!(printed.lines().any(|l| l == "quiet = true"), "{printed}");
    assert!(
        !printed.lines().any(|l| l.starts_with("cgi =")),
        "{printed}"
    );
    // With no file, a variable alone is a setting too.
    let printed = print_config(&[], &[("SERVEUR_CGI", "true"), ("SERVEUR_PORT", "8124")]);
    assert!(printed.lines().any(|l| l == "cgi = true"), "{printed}");
    assert!(printed.lines().any(|l| l == "port = 8124"), "{printed}");
}

#[test]
fn a_mistake_in_the_file_is_one_line_naming_file_line_column_and_key() {
    let config = tempfile::tempdir().expect("tempdir");
    let missing_dir = config.path().join("gone");
    let cases: &[(String, &str)] = &[
        ("port = \"x\"\n".into(), ":1:8: port: invalid value 'x'"),
        (
            "quiet = true\ncgi-dirs = [\"/x\"]\n".into(),
            ":2:1: unknown key 'cgi-dirs'",
        ),
        (
            "cgi = \"yes\"\n".into(),
            ":1:7: cgi: expected true or false",
        ),
        (
            "\n\ncontent-type = [\"a\", \"b\"]\n".into(),
            ":3:16: content-type: expected one value, not an array",
        ),
        (
            "max-connections = -3\n".into(),
            ":1:19: max-connections: invalid value '-3'",
        ),
        (
            "[cgi]\nx = 1\n".into(),
            ":1:1: cgi: expected a value, not a table",
        ),
        ("protocol =\n".into(), ":1:11: "),
        ("help = true\n".into(), ":1:1: unknown key 'help'"),
        (
            "config = \"other.toml\"\n".into(),
            ":1:1: unknown key 'config'",
        ),
        (
            "cgi = true\nheader = [\"NoColon\"]\n".into(),
            ":2:1: header: argument -H/--header: 'NoColon'",
        ),
        (
            format!("directory = {:?}\n", missing_dir.to_str().expect("utf-8")),
            ":1:1: directory: argument -d/--directory:",
        ),
    ];
    for (text, mention) in cases {
        let file = write_config(config.path(), text);
        // Should a case start a server, it is on loopback, and the test fails at its end.
        let exit = run(&["--config", &file, "-b", "127.0.0.1"], &[]);
        assert_eq!(exit.code, 2, "{text:?}: {exit:?}");
        assert!(exit.stdout.is_empty(), "{text:?}: {exit:?}");
        let lines: Vec<&str> = exit.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{text:?}: {exit:?}");
        let expected = format!("serveur: error: {file}{mention}");
        assert!(lines[0].starts_with(&expected), "{text:?}: {lines:?}");
    }
    // A file that cannot be read names itself.
    let gone = config.path().join("nope.toml");
    let gone = gone.to_str().expect("utf-8 path");
    let exit = run(&["--config", gone], &[]);
    assert_eq!(exit.code, 2, "{exit:?}");
    assert_eq!(
        exit.stderr,
        format!("serveur: error: {gone}: No such file or directory (os error 2)\n")
    );
}

#[test]
fn a_bad_environment_variable_is_refused_like_a_bad_flag() {
    let exit = run(&["--print-config"], &[("SERVEUR_MAX_CONNECTIONS", "many")]);
    assert_eq!(exit.code, 2, "{exit:?}");
    assert!(
        exit.stderr
            .starts_with("serveur: error: invalid value 'many' for '--max-connections <N>'"),
        "{exit:?}"
    );
}
