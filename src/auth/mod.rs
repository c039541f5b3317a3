//! Access control: [`Auth`] stands in front of another handler and lets a request through
//! only if its user may do what its method asks at its path. Users log in with HTTP Basic
//! authentication (RFC 7617); [`Rules`] say who may read (GET, HEAD, OPTIONS, listings) and
//! who may write (every other method) where. Paths are judged as the handlers behind will
//! read them (`safe_path`'s decoded segments, so `%2e%2e`, `//` and `%2F` spell nothing new)
//! and, when they exist, by where their symlinks really lead: a link in an open folder to a
//! closed one opens nothing.
//!
//! The handlers behind learn the user and what the user may read from one request extension
//! (`request::Access`): `RequestExt::user`, the CGI and FastCGI `REMOTE_USER`, the listing's
//! filter. The response carries the user back for the access line.

mod credential;
pub(crate) mod htpasswd;
pub(crate) mod rules;
mod throttle;
mod verify;

use std::io;
use std::sync::Arc;
use std::time::Instant;

use http::header::{ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, StatusCode};

use crate::handler::{Handler, Request, Response};
use crate::request::{Access, LoggedUser, ReadCheck, RequestExt};
use crate::response::{error, error_with};
use crate::safe_path::{RealPath, Root, UrlPath};

pub use credential::hash_password;
use rules::Right;
pub use rules::Rules;
use throttle::{Throttle, Turn};
use verify::{Checked, Verifier};

/// The challenge of every 401: RFC 7617 §2.1, credentials read as UTF-8.
const CHALLENGE: &str = "Basic realm=\"serveur\", charset=\"UTF-8\"";

/// Access control in front of `next`.
///
/// ```no_run
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use serveur::auth::{Auth, Rules};
/// let mut rules = Rules::new().anon_read(true);
/// rules.add_rule("teacher:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA@/:rw")?;
/// let files = serveur::StaticFiles::new("public")?;
/// let root = serveur::safe_path::Root::new("public", false)?;
/// let site = Auth::new(root, rules, files)?;
/// # Ok(()) }
/// ```
pub struct Auth<H> {
    next: H,
    gate: Arc<Gate>,
}

/// What judges requests, shared with the listings of the requests it let through.
struct Gate {
    rules: Arc<Rules>,
    root: Root,
    verifier: Verifier,
    throttle: Throttle,
}

impl<H: Handler> Auth<H> {
    /// Guards `next`, which serves the directory `root` (where symlinks are looked at: give
    /// it the `follow_symlinks` the handler behind has, since a link out of the root can only
    /// be judged by its own path), with `rules`.
    pub fn new(root: Root, rules: Rules, next: H) -> io::Result<Auth<H>> {
        let rules = Arc::new(rules);
        let verifier = Verifier::new(Arc::clone(&rules)).map_err(io::Error::other)?;
        let gate = Gate {
            rules,
            root,
            verifier,
            throttle: Throttle::default(),
        };
        Ok(Auth {
            next,
            gate: Arc::new(gate),
        })
    }
}

impl Gate {
    /// Whether `user` has `need` at `url`, by its spelling and by where it really leads.
    fn allows(&self, user: Option<&str>, url: &UrlPath, need: Right) -> bool {
        if self.rules.right(user, url) < need {
            return false;
        }
        match self.root.real_path(url) {
            RealPath::AsSpelled | RealPath::Outside => true,
            RealPath::Below(real) => self.rules.right(user, &real) >= need,
            RealPath::Unknown => false,
        }
    }

    /// The user `header` logs in, or the answer refusing it.
    async fn log_in(
        &self,
        header: &HeaderValue,
        req: &Request,
    ) -> Result<Option<Arc<str>>, Response> {
        if let Some(user) = self.verifier.cached(header) {
            return Ok(Some(user));
        }
        // On a Unix socket every client's `peer` is the same placeholder (`0.0.0.0`): they are
        // throttled together, as clients behind a proxy on TCP share its address.
        let peer = req.connection().map(|info| info.peer.ip());
        let log = |line: String| {
            if let Some(info) = req.connection() {
                info.log.message_about(Some(info.client()), line);
            }
        };
        if let Some(ip) = peer {
            match self.throttle.turn(ip, Instant::now()) {
                Turn::After(wait) if wait.is_zero() => {}
                Turn::After(wait) => tokio::time::sleep(wait).await,
                Turn::Refused(wait) => {
                    let mut response = error(StatusCode::TOO_MANY_REQUESTS);
                    let seconds = wait.as_secs().max(1);
                    response
                        .headers_mut()
                        .insert(RETRY_AFTER, HeaderValue::from(seconds));
                    return Err(response);
                }
            }
        }
        match self.verifier.check(header).await {
            Checked::User(user) => Ok(Some(user)),
            Checked::OtherScheme => Ok(None),
            Checked::Malformed(reason) => Err(challenge(reason)),
            Checked::Wrong(user) => {
                if let Some(ip) = peer {
                    let failures = self.throttle.failed(ip, Instant::now());
                    if failures > throttle::FREE_FAILURES {
                        log(format!(
                            "auth: {failures} failed logins from this address in a minute; \
                             its attempts are slowed"
                        ));
                    }
                }
                let user = crate::py_repr::py_repr(&user);
                Err(challenge(&format!("Wrong user or password for {user}")))
            }
        }
    }
}

impl ReadCheck for Gate {
    fn may_read(&self, user: Option<&str>, url: &UrlPath) -> bool {
        self.allows(user, url, Right::Read)
    }
}

/// 401 with the challenge, and `message` in the log.
fn challenge(message: &str) -> Response {
    let mut response = error_with(
        StatusCode::UNAUTHORIZED,
        message,
        "No permission -- see authorization schemes",
    );
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
    response
}

impl<H: Handler> Handler for Auth<H> {
    async fn handle(&self, mut req: Request) -> Response {
        let gate = &self.gate;
        // A CORS preflight never carries credentials (Fetch, CORS-preflight request): it is
        // answered as any OPTIONS is, which tells only the methods allowed, and the request
        // that follows it is judged as usual.
        if req.method() == Method::OPTIONS
            && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD)
        {
            return self.next.handle(req).await;
        }
        let need = match *req.method() {
            Method::GET | Method::HEAD | Method::OPTIONS => Right::Read,
            _ => Right::Write,
        };
        let user = match req.headers().get(AUTHORIZATION) {
            None => None,
            Some(header) => match gate.log_in(header, &req).await {
                Ok(user) => user,
                Err(refusal) => return refusal,
            },
        };
        if !gate.rules.everywhere(user.as_deref(), need) {
            let url = UrlPath::of_request(req.uri().path());
            if !gate.allows(user.as_deref(), &url, need) {
                return match user {
                    None => challenge("Authentication required"),
                    Some(_) => error(StatusCode::FORBIDDEN),
                };
            }
        }
        // Only what a handler behind could need: an anonymous request that may read
        // everything carries nothing (no extension map is allocated).
        let reads = (!gate.rules.everywhere(user.as_deref(), Right::Read))
            .then(|| Arc::clone(gate) as Arc<dyn ReadCheck>);
        if user.is_some() || reads.is_some() {
            req.extensions_mut().insert(Access {
                user: user.clone(),
                reads,
            });
        }
        let mut response = self.next.handle(req).await;
        if let Some(user) = user {
            response.extensions_mut().insert(LoggedUser(user));
        }
        response
    }
}
