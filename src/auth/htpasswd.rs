//! Apache `htpasswd` files: `user:hash` lines, `#` comments and blank lines ignored. Each hash
//! goes through [`Credential::parse`], so a file with an `$apr1$` or `{SHA}` line is refused
//! with its line number rather than served with a weak hash.

use std::path::Path;

use super::credential::Credential;
use super::rules::Rules;

impl Rules {
    /// Adds the accounts of the htpasswd file at `path` (`--auth-file`): each may read and
    /// write everywhere unless an `--auth` rule names it with paths of its own.
    pub fn add_htpasswd(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        self.add_htpasswd_text(&text)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    pub(crate) fn add_htpasswd_text(&mut self, text: &str) -> Result<(), String> {
        for (number, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |e: String| format!("line {}: {e}", number + 1);
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| at("expected USER:HASH".into()))?;
            if user.is_empty() {
                return Err(at("the user name is empty".into()));
            }
            let credential =
                Credential::parse(hash).map_err(|e| at(format!("user {user:?}: {e}")))?;
            if credential.is_plain() {
                // htpasswd -p writes plain text; a file is where people keep real passwords.
                return Err(at(format!(
                    "user {user:?}: not a hash this server reads; use bcrypt (htpasswd -B), \
                     SHA-crypt (htpasswd -5) or argon2id (serveur --hash-password)"
                )));
            }
            self.add_file_account(user, credential).map_err(at)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::rules::Right;
    use crate::safe_path::UrlPath;

    #[test]
    fn accounts_are_read_and_comments_skipped() {
        let bcrypt = bcrypt::hash("pw", 4).expect("bcrypt");
        let mut rules = Rules::new();
        rules
            .add_htpasswd_text(&format!("# teachers\n\nalice:{bcrypt}\r\n"))
            .expect("read");
        assert_eq!(
            rules.right(Some("alice"), &UrlPath::parse("/any")),
            Right::Write
        );
        assert!(rules
            .account("alice")
            .is_some_and(|(_, a)| a.credential.verify("pw")));
    }

    #[test]
    fn weak_and_plain_lines_are_refused_with_their_line_number() {
        for (text, said) in [
            ("ok:$2y$04$abcdefghijklmnopqrstuu\nbad:$apr1$x$y", "line 2"),
            ("bad:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "SHA-1"),
            ("bad:plaintext", "not a hash"),
            ("nocolon", "USER:HASH"),
        ] {
            let message = Rules::new().add_htpasswd_text(text).expect_err(text);
            assert!(message.contains(said), "{message}");
        }
    }
}
