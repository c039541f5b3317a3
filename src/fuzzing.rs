//! Thin entry points into the parsers that read outside bytes, for the cargo-fuzz targets in
//! `fuzz/` (a crate of its own, so it can only call what is public). This module exists only
//! with the `fuzzing` feature, which only `fuzz/Cargo.toml` turns on: the library's documented
//! API never includes it. Each function calls the parser the server uses, unchanged, and
//! returns plain types (`http`'s, std's) so that none of the internal types become public.

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, StatusCode};

use crate::auth::Rules;
use crate::gateway::script_response::{self, ResponseHead, ScriptReply};
use crate::safe_path::UrlPath;
use crate::server::malformed::python_rules;
use crate::server::malformed::unparsed::{Refused, Windows};
use crate::static_files::{conditional, encoding, negotiate, range};
use crate::upload::names;

/// A request path as every handler reads it (`UrlPath::of_request`: leading slashes collapsed,
/// then CPython's `translate_path` rules); resolve it with [`Root::resolve`](crate::safe_path::Root::resolve).
pub fn url_path(request_path: &str) -> UrlPath {
    UrlPath::of_request(request_path)
}

/// What a script's header block asks for, as `gateway::respond` would act on it.
#[derive(Debug)]
pub enum ScriptAnswer {
    /// More bytes are needed.
    Incomplete,
    /// The block cannot be used (the script gets a 502).
    Malformed(String),
    /// A document without `Content-Type` (the script gets a 502).
    NoContentType,
    /// A head to send: `local_redirect` is the path of a §6.2.2 local redirect, whose
    /// fallback head this is.
    Head {
        /// The status to send.
        status: StatusCode,
        /// The reason phrase the script gave.
        reason: Option<String>,
        /// The header fields to send.
        headers: HeaderMap,
        /// The local path to serve instead, for a local redirect.
        local_redirect: Option<String>,
        /// The bytes the block took.
        consumed: usize,
    },
}

/// Reads a CGI/FastCGI header block (`nph`: an `nph-` script's status line and fields).
pub fn script_answer(buf: &[u8], nph: bool) -> ScriptAnswer {
    let head = |head: ResponseHead, local_redirect, consumed| ScriptAnswer::Head {
        status: head.status,
        reason: head.reason,
        headers: head.headers,
        local_redirect,
        consumed,
    };
    let parsed = if nph {
        script_response::parse_nph(buf).map(|p| p.map(|(h, n)| head(h, None, n)))
    } else {
        script_response::parse(buf).map(|p| {
            p.map(|(reply, n)| match reply {
                ScriptReply::Document(h) => head(h, None, n),
                ScriptReply::LocalRedirect { location, fallback } => {
                    head(fallback, Some(location), n)
                }
                ScriptReply::NoContentType => ScriptAnswer::NoContentType,
            })
        })
    };
    match parsed {
        Ok(Some(answer)) => answer,
        Ok(None) => ScriptAnswer::Incomplete,
        Err(e) => ScriptAnswer::Malformed(e.0),
    }
}

/// The most parts a `Range` answer may have.
pub const MAX_RANGE_PARTS: usize = range::MAX_PARTS;

/// What a `Range` header gets from a `len`-byte file: `None` for the whole file (200), an
/// empty list for 416, else the parts as inclusive `(first, last)` byte positions (206).
pub fn range_parts(value: &HeaderValue, len: u64) -> Option<Vec<(u64, u64)>> {
    match range::plan(value, len) {
        range::Plan::Whole => None,
        range::Plan::Unsatisfiable => Some(Vec::new()),
        range::Plan::Parts(parts) => Some(parts.iter().map(|p| (p.start, p.end)).collect()),
    }
}

/// Whether `headers`' `If-Range` lets a `Range` apply to a file with `etag` and `modified`.
pub fn range_allowed(headers: &HeaderMap, etag: &HeaderValue, modified: SystemTime) -> bool {
    conditional::range_allowed(headers, etag, modified)
}

/// The coding a response made on the fly gets for `headers`' `Accept-Encoding`: `Ok(Some)` a
/// coding token, `Ok(None)` identity, `Err(())` 406 (nothing acceptable).
#[allow(clippy::result_unit_err)]
pub fn negotiated_coding(headers: &HeaderMap) -> Result<Option<&'static str>, ()> {
    let Some(accepted) = encoding::Accepted::from_headers(headers) else {
        return Ok(None);
    };
    match negotiate::on_the_fly(&accepted) {
        negotiate::Choice::OnTheFly(coding) | negotiate::Choice::Stored(coding, _) => {
            Ok(Some(coding.token()))
        }
        negotiate::Choice::Identity { .. } => Ok(None),
        negotiate::Choice::NotAcceptable => Err(()),
    }
}

/// An upload's request path read into the names it would store, or why it is refused.
pub fn upload_names(path: &str) -> Result<Vec<Vec<u8>>, &'static str> {
    names::Target::parse(path).map(|target| target.segments)
}

/// Whether `name` may be stored as one file or directory name (the upload form's file names).
pub fn upload_name_allowed(name: &[u8]) -> bool {
    names::check(name).is_ok()
}

/// CPython's verdict on a head hyper refused with `hyper_code`: the status code.
pub fn malformed_verdict(head: &[u8], hyper_code: StatusCode) -> StatusCode {
    python_rules::judge(head, hyper_code).code
}

/// The bytes read on a connection, as `(chunk, requests parsed so far)`, then the head the
/// malformed-request guard finds refused after `parsed` requests: `None` if none, `Some(None)`
/// if it cannot tell where it starts, else its bytes.
pub fn unparsed_head(reads: &[(&[u8], usize)], parsed: usize) -> Option<Option<Vec<u8>>> {
    let mut windows = Windows::default();
    for (bytes, parsed) in reads {
        windows.record(bytes, *parsed);
    }
    match windows.refused(parsed)? {
        Refused::Head(head) => Some(Some(head)),
        Refused::Unknown => Some(None),
    }
}

/// The paths `--auth` rules grant once all of `rules` are added, or the first error.
pub fn auth_rule_paths(rules: &[&str]) -> Result<Vec<UrlPath>, String> {
    let mut all = Rules::new();
    for rule in rules {
        all.add_rule(rule)?;
    }
    Ok(all.granted_paths().cloned().collect())
}

/// The paths an htpasswd file's accounts are granted (everywhere: `/`), or its error.
pub fn htpasswd_paths(text: &str) -> Result<Vec<UrlPath>, String> {
    let mut rules = Rules::new();
    rules.add_htpasswd_text(text)?;
    Ok(rules.granted_paths().cloned().collect())
}
