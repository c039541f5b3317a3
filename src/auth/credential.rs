//! One account's password as configured: a hash in one of the formats people already have
//! (Apache `htpasswd -B` bcrypt, `-5`/`-2` SHA-crypt, an argon2id PHC string such as
//! `serveur --hash-password` prints), or plain text for a quick test. Weak formats are refused
//! when the configuration is read, with a line naming the safe ones.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use subtle::ConstantTimeEq;

/// What a refused hash is told: the formats to use instead.
const SAFE_FORMATS: &str = "use bcrypt (htpasswd -B), SHA-crypt (htpasswd -5) or argon2id \
                            (serveur --hash-password)";

/// A configured password.
#[derive(Clone)]
pub(crate) enum Credential {
    /// `$2y$`/`$2b$`/`$2a$`: bcrypt.
    Bcrypt(String),
    /// `$5$`: SHA-256-crypt.
    Sha256Crypt(String),
    /// `$6$`: SHA-512-crypt.
    Sha512Crypt(String),
    /// `$argon2id$…`: a PHC string.
    Argon2id(String),
    /// Anything else: the password itself (start-up warns).
    Plain(String),
}

/// The kind only: a password or hash never reaches a debug print (`Config` is printed whole).
impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::Bcrypt(_) => "Bcrypt(..)",
            Credential::Sha256Crypt(_) => "Sha256Crypt(..)",
            Credential::Sha512Crypt(_) => "Sha512Crypt(..)",
            Credential::Argon2id(_) => "Argon2id(..)",
            Credential::Plain(_) => "Plain(..)",
        })
    }
}

impl Credential {
    /// Reads a configured password: a recognised hash, or plain text. Weak or unknown hash
    /// formats (`$apr1$`, `{SHA}`, `$1$`, DES crypt cannot be told from plain text and is
    /// taken as such) are refused with the reason.
    pub(crate) fn parse(text: &str) -> Result<Credential, String> {
        let refuse = |name: &str| {
            Err(format!(
                "{name} hashes are too weak to accept; {SAFE_FORMATS}"
            ))
        };
        if text.starts_with("$apr1$") {
            return refuse("MD5-apr1 ($apr1$)");
        }
        if text.starts_with("$1$") {
            return refuse("MD5-crypt ($1$)");
        }
        if text.starts_with("{SHA}") {
            return refuse("unsalted SHA-1 ({SHA})");
        }
        if ["$2y$", "$2b$", "$2a$"].iter().any(|p| text.starts_with(p)) {
            return Ok(Credential::Bcrypt(text.to_owned()));
        }
        if text.starts_with("$5$") {
            return Ok(Credential::Sha256Crypt(text.to_owned()));
        }
        if text.starts_with("$6$") {
            return Ok(Credential::Sha512Crypt(text.to_owned()));
        }
        if text.starts_with("$argon2id$") {
            return match PasswordHash::new(text) {
                Ok(_) => Ok(Credential::Argon2id(text.to_owned())),
                Err(e) => Err(format!("malformed argon2id hash: {e}")),
            };
        }
        if text.starts_with("$argon2") {
            return Err(format!(
                "only the argon2id variant is accepted; {SAFE_FORMATS}"
            ));
        }
        Ok(Credential::Plain(text.to_owned()))
    }

    /// Whether this is a plain-text password (start-up warns about it).
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self, Credential::Plain(_))
    }

    /// Whether `password` is this credential's. Slow by design for the hashes (run it on a
    /// blocking thread); a constant-time comparison for plain text, so its timing says
    /// nothing about how much of a guess was right.
    pub(crate) fn verify(&self, password: &str) -> bool {
        match self {
            Credential::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            Credential::Sha256Crypt(hash) => sha_crypt::sha256_check(password, hash).is_ok(),
            Credential::Sha512Crypt(hash) => sha_crypt::sha512_check(password, hash).is_ok(),
            Credential::Argon2id(hash) => PasswordHash::new(hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            }),
            // Lengths differ in the clear (`ct_eq` on slices says so at once): the length of a
            // test password is the least of what plain text gives away.
            Credential::Plain(plain) => bool::from(plain.as_bytes().ct_eq(password.as_bytes())),
        }
    }
}

/// An argon2id PHC string for `password` (argon2's default parameters, a random 16-byte
/// salt): what `serveur --hash-password` prints.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| "no random numbers for a salt".to_owned())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_formats_are_refused_naming_the_safe_ones() {
        for weak in [
            "$apr1$abc$def",
            "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
            "$1$ab$cd",
        ] {
            let message = Credential::parse(weak).expect_err(weak);
            assert!(message.contains("htpasswd -B"), "{message}");
            assert!(message.contains("--hash-password"), "{message}");
        }
    }

    #[test]
    fn an_argon2id_hash_made_here_verifies_its_password_only() {
        let hash = hash_password("s3cret").expect("hash");
        let credential = Credential::parse(&hash).expect("parse");
        assert!(matches!(credential, Credential::Argon2id(_)));
        assert!(credential.verify("s3cret"));
        assert!(!credential.verify("s3cret "));
    }

    #[test]
    fn bcrypt_and_sha_crypt_hashes_verify() {
        let bcrypt = bcrypt::hash("pw", 4)
            .expect("bcrypt")
            .replacen("$2b$", "$2y$", 1);
        assert!(Credential::parse(&bcrypt).expect("parse").verify("pw"));
        assert!(!Credential::parse(&bcrypt).expect("parse").verify("pW"));
        let sha512 =
            sha_crypt::sha512_simple("pw", &sha_crypt::Sha512Params::new(5000).expect("rounds"))
                .expect("sha512");
        let sha256 =
            sha_crypt::sha256_simple("pw", &sha_crypt::Sha256Params::new(5000).expect("rounds"))
                .expect("sha256");
        for hash in [sha512, sha256] {
            assert!(Credential::parse(&hash).expect("parse").verify("pw"));
            assert!(!Credential::parse(&hash).expect("parse").verify("px"));
        }
    }

    #[test]
    fn plain_text_is_compared_whole() {
        let plain = Credential::parse("hunter2").expect("parse");
        assert!(plain.is_plain());
        assert!(plain.verify("hunter2"));
        assert!(!plain.verify("hunter"));
        assert!(!plain.verify("hunter22"));
    }
}
