//! `serveur --hash-password`: reads a password and prints the argon2id hash to paste into an
//! `--auth` rule, so that no password needs to sit in a command line or a shell history. On a
//! terminal the password is asked twice without echo (rpassword); otherwise it is the first
//! line of standard input (`echo pw | serveur --hash-password`, for scripts).

use std::io::{BufRead, IsTerminal};

/// Does it all; the process's exit status.
pub(crate) fn run() -> i32 {
    let password = match read() {
        Ok(password) => password,
        Err(message) => {
            eprintln!("serveur: error: {message}");
            return 2;
        }
    };
    if password.is_empty() {
        eprintln!("serveur: error: the password is empty");
        return 2;
    }
    match serveur::auth::hash_password(&password) {
        Ok(hash) => {
            println!("{hash}");
            0
        }
        Err(e) => {
            eprintln!("serveur: error: cannot hash: {e}");
            1
        }
    }
}

fn read() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the two passwords differ".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
