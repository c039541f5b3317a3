//! The shell's help, checked by the real tools: bash loads the completion script and completes
//! with it, fish completes with its own, zsh parses its own, groff renders the man page without
//! a warning; and `--help` lists the new group after Python's flags and the others. Each tool
//! missing fails the test (CI installs them: `.ci/run`).

use std::process::Command;

use crate::support::{run_to_exit, serveur_command, Exit};

fn serveur(args: &[&str]) -> Exit {
    let mut command = serveur_command();
    command.args(args);
    let exit = run_to_exit(command);
    assert_eq!(exit.code, 0, "{args:?}: {exit:?}");
    assert!(exit.stderr.is_empty(), "{args:?}: {exit:?}");
    exit
}

/// `completions SHELL` written to a file in `dir`, its path.
fn script(dir: &tempfile::TempDir, shell: &str) -> String {
    let path = dir.path().join(format!("serveur.{shell}"));
    std::fs::write(&path, serveur(&["--completions", shell]).stdout).expect("write script");
    path.to_str().expect("utf-8 path").to_owned()
}

/// Runs `program args` (a shell), which must succeed quietly on stderr; its stdout.
fn shell(program: &str, args: &[&str]) -> String {
    let mut command = Command::new(program);
    command.args(args);
    let exit = run_to_exit(command);
    assert_eq!(exit.code, 0, "{program} {args:?}: {exit:?}");
    assert!(exit.stderr.is_empty(), "{program} {args:?}: {exit:?}");
    exit.stdout
}

#[test]
fn bash_loads_the_completion_script_and_completes_flags_and_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = script(&dir, "bash");
    let out = shell(
        "bash",
        &[
            "-c",
            r#"source "$1"
complete -p serveur
COMP_WORDS=(serveur --reu); COMP_CWORD=1; COMP_LINE="serveur --reu"; COMP_POINT=${#COMP_LINE}
_serveur serveur --reu serveur; printf 'flag:%s\n' "${COMPREPLY[@]}"
COMP_WORDS=(serveur --completions f); COMP_CWORD=2; COMP_LINE="serveur --completions f"
COMP_POINT=${#COMP_LINE}; _serveur serveur f --completions; printf 'value:%s\n' "${COMPREPLY[@]}""#,
            "bash",
            &script,
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "complete -o bashdefault -o default -o nosort -F _serveur serveur",
            "flag:--reuse-port",
            "value:fish"
        ],
        "{out}"
    );
}

#[test]
fn fish_completes_and_zsh_parses_their_scripts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fish = script(&dir, "fish");
    shell("fish", &["--no-execute", &fish]);
    let completed = shell(
        "fish",
        &[
            "-c",
            "source $argv[1]; complete -C 'serveur --print-c'",
            &fish,
        ],
    );
    assert!(
        completed.starts_with("--print-config\tPrint the effective settings"),
        "{completed}"
    );
    let zsh = script(&dir, "zsh");
    shell("zsh", &["--no-exec", &zsh]);
    let defined = shell(
        "zsh",
        &[
            "-c",
            "source \"$1\" 2>/dev/null; whence -w _serveur",
            "zsh",
            &zsh,
        ],
    );
    assert_eq!(defined.trim(), "_serveur: function", "{defined}");
}

#[test]
fn the_man_page_renders_without_a_warning_and_lists_every_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("serveur.1");
    std::fs::write(&page, serveur(&["--man"]).stdout).expect("write page");
    let page = page.to_str().expect("utf-8 path");
    // -ww: every warning; -z: render, print nothing.
    let mut groff = Command::new("groff");
    groff.args(["-man", "-Tutf8", "-ww", "-z", page]);
    let exit = run_to_exit(groff);
    assert_eq!(exit.code, 0, "{exit:?}");
    assert!(exit.stderr.is_empty(), "groff warned: {}", exit.stderr);
    let mut man = Command::new("man");
    man.args(["-l", page]).env("MANWIDTH", "100");
    let exit = run_to_exit(man);
    assert_eq!(exit.code, 0, "{exit:?}");
    for needle in [
        "serveur",
        "--bind",
        "--cgi-dir",
        "--config",
        "--reuse-port",
        "--man",
    ] {
        assert!(exit.stdout.contains(needle), "{needle} in {}", exit.stdout);
    }
}

#[test]
fn help_lists_configuration_after_pythons_flags_and_the_other_groups() {
    let help = serveur(&["--help"]).stdout;
    let at = |needle: &str| help.find(needle).unwrap_or_else(|| panic!("{needle}"));
    let configuration = at("Configuration:");
    for earlier in [
        "-b, --bind",
        "--tls-cert",
        "Limits and timeouts:",
        "--shutdown-grace",
    ] {
        assert!(at(earlier) < configuration, "{earlier}");
    }
    for flag in [
        "--config <FILE>",
        "--print-config",
        "--completions <SHELL>",
        "--man",
    ] {
        assert!(at(flag) > configuration, "{flag}");
    }
    // --reuse-port is a listening option, among serveur's own.
    let ours = at("serveur options:");
    let reuse = at("--reuse-port");
    assert!(ours < reuse && reuse < at("Access control:"), "{help}");
}
