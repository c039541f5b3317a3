//! Checking HTTP Basic credentials (RFC 7617) against the accounts. The slow part, a hash
//! verification, runs on a blocking thread (`spawn_blocking`) so that an argon2 check never
//! stalls the connections the runtime thread serves, and at most one per core at a time, so
//! that a flood of guesses costs bounded CPU. An unknown user gets a real hash verified too
//! (the slowest configured kind), so the time of an answer does not tell whether a user
//! exists. Credentials that passed are kept in a small cache keyed by an HMAC of the header
//! (a random key per process, so the cache holds no password or plain digest of one), for
//! some minutes: a keep-alive client sends the same header with every request, and argon2 per
//! request would cost tens of milliseconds each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use http::HeaderValue;
use ring::hmac;
use tokio::sync::Semaphore;

use super::credential::Credential;
use super::rules::Rules;

/// Longest `Authorization` value looked at: RFC 7617's user-id and password have no limit,
/// but a header of kilobytes is not someone logging in.
const MAX_HEADER: usize = 1024;

/// How many verified credentials are kept, and how long each.
const CACHE_ENTRIES: usize = 1024;
const CACHE_TTL: Duration = Duration::from_secs(300);

/// What a request's `Authorization` field says.
#[derive(Debug)]
pub(crate) enum Checked {
    /// Not Basic (`Bearer …`): not ours to judge; the request counts as anonymous.
    OtherScheme,
    /// Valid credentials of this user.
    User(Arc<str>),
    /// A wrong password or an unknown user (a hash was verified either way).
    Wrong(String),
    /// Not decodable as RFC 7617 credentials: bad base64, no colon, not UTF-8, too long.
    Malformed(&'static str),
}

/// A cached verification: the user, and when its header was verified.
type Verified = (Arc<str>, Instant);

/// Verifies credentials against [`Rules`]' accounts, with the cache.
pub(crate) struct Verifier {
    rules: Arc<Rules>,
    key: hmac::Key,
    cache: Mutex<HashMap<[u8; 32], Verified>>,
    /// One permit per core: the hash verifications allowed to run at once.
    running: Arc<Semaphore>,
    /// Verified for unknown users.
    dummy: Option<Credential>,
}

impl Verifier {
    pub(crate) fn new(rules: Arc<Rules>) -> Result<Verifier, String> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .map_err(|_| "no random numbers for the credentials cache".to_owned())?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let dummy = rules.any_credential().cloned();
        Ok(Verifier {
            rules,
            key,
            cache: Mutex::new(HashMap::new()),
            running: Arc::new(Semaphore::new(cores)),
            dummy,
        })
    }

    /// The cached user for this exact header, if it was verified lately.
    pub(crate) fn cached(&self, header: &HeaderValue) -> Option<Arc<str>> {
        let cache = self.cache.lock().ok()?;
        match cache.get(&self.tag(header)) {
            Some((user, since)) if since.elapsed() < CACHE_TTL => Some(Arc::clone(user)),
            _ => None,
        }
    }

    /// Checks `header` (not found in the cache): decodes it, verifies the password.
    pub(crate) async fn check(&self, header: &HeaderValue) -> Checked {
        let (user, password) = match decode(header.as_bytes()) {
            Ok(Some(pair)) => pair,
            Ok(None) => return Checked::OtherScheme,
            Err(reason) => return Checked::Malformed(reason),
        };
        let account = self.rules.account(&user);
        let (credential, known) = match (account, &self.dummy) {
            (Some((_, account)), _) => (account.credential.clone(), true),
            (None, Some(dummy)) => (dummy.clone(), false),
            (None, None) => return Checked::Wrong(user),
        };
        let verified = {
            // Waiting for a permit is what bounds the CPU of a flood of guesses.
            let Ok(_permit) = self.running.acquire().await else {
                return Checked::Wrong(user);
            };
            let password = password.clone();
            tokio::task::spawn_blocking(move || credential.verify(&password))
                .await
                .unwrap_or(false)
        };
        match account {
            Some((name, _)) if verified && known => {
                self.remember(header, Arc::clone(name));
                Checked::User(Arc::clone(name))
            }
            _ => Checked::Wrong(user),
        }
    }

    /// The cache's key for `header`: its HMAC-SHA-256.
    fn tag(&self, header: &HeaderValue) -> [u8; 32] {
        let mut tag = [0; 32];
        tag.copy_from_slice(hmac::sign(&self.key, header.as_bytes()).as_ref());
        tag
    }

    fn remember(&self, header: &HeaderValue, user: Arc<str>) {
        let tag = self.tag(header);
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, (_, since)| since.elapsed() < CACHE_TTL);
        }
        if cache.len() >= CACHE_ENTRIES {
            // Still full of live entries: start over rather than grow; those clients pay one
            // verification each again.
            cache.clear();
        }
        cache.insert(tag, (user, Instant::now()));
    }
}

/// `Basic <base64 of user:password>` → the pair; `Ok(None)` for another scheme. RFC 7617 §2:
/// the scheme is case-insensitive, the user-id cannot hold a colon (the first one splits),
/// and with `charset="UTF-8"` both are UTF-8.
fn decode(header: &[u8]) -> Result<Option<(String, String)>, &'static str> {
    if header.len() > MAX_HEADER {
        return Err("credentials too long");
    }
    let header = header.trim_ascii();
    let Some(space) = header.iter().position(|&b| b == b' ') else {
        return if header.eq_ignore_ascii_case(b"basic") {
            Err("no credentials after Basic")
        } else {
            Ok(None)
        };
    };
    let (scheme, token) = (&header[..space], header[space..].trim_ascii());
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| "credentials are not base64")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "credentials are not UTF-8")?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or("no colon between user and password")?;
    Ok(Some((user.to_owned(), password.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn basic_credentials_decode_and_malformed_ones_are_named() {
        // RFC 7617 §2's example: Aladdin / open sesame.
        let pair = decode(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==").expect("decode");
        assert_eq!(pair, Some(("Aladdin".into(), "open sesame".into())));
        assert_eq!(
            decode(b"bAsIc  QWxhZGRpbjpvcGVuIHNlc2FtZQ==").expect("case"),
            pair
        );
        // A password may hold colons: the first one splits.
        let colons = decode(b"Basic YTpiOmM=").expect("colons");
        assert_eq!(colons, Some(("a".into(), "b:c".into())));
        assert_eq!(decode(b"Bearer abc"), Ok(None));
        assert_eq!(decode(b"Basic !!!"), Err("credentials are not base64"));
        assert_eq!(
            decode(b"Basic YWxpY2U="),
            Err("no colon between user and password")
        );
        assert_eq!(decode(b"Basic /w=="), Err("credentials are not UTF-8"));
        assert_eq!(decode(b"Basic"), Err("no credentials after Basic"));
        assert!(decode(&[b'A'; 2000]).is_err());
    }
}
