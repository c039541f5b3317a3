//! The files serveur's own pages load, compiled into the binary and served under reserved
//! names starting with `.serveur-`: the upload form's script (with uploads on) and the rich
//! page's style sheet and script (with `--ui`). Each is a file of its own rather than inline
//! text so that a `Content-Security-Policy` of `script-src 'self'; style-src 'self'` allows it.
//!
//! An asset is answered at its name in any directory (`/docs/.serveur-ui.css` as well as
//! `/.serveur-ui.css`), and the rich page links it relative to itself: behind `--auth`, whoever
//! may read a listing may then read what it loads, where a root path could be private while
//! the folder is public (the plain page keeps its absolute link to the upload script).
//!
//! Caching: each asset's `ETag` is a hash of its bytes, and the pages link it as
//! `PATH?v=HASH`. A request naming the current hash gets `Cache-Control: public,
//! max-age=31536000, immutable` (those bytes never change under that URL); any other spelling
//! gets `no-cache`, so it is revalidated with the tag and a new binary is seen at once.

use std::time::SystemTime;

use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::conditional::{self, Verdict};
use super::etag::{fnv1a, push_hex};
use super::StaticFiles;
use crate::body::Body;
use crate::handler::Response;
use crate::safe_path::OWN_PREFIX;

/// One built-in file.
pub(super) struct Asset {
    /// Its file name, [`OWN_PREFIX`] (which no upload may take) first.
    pub name: &'static str,
    content_type: &'static str,
    bytes: &'static str,
    /// 64-bit FNV-1a of `bytes`, computed when the crate is compiled.
    hash: u64,
}

impl Asset {
    const fn new(name: &'static str, content_type: &'static str, bytes: &'static str) -> Self {
        Asset {
            name,
            content_type,
            bytes,
            hash: fnv1a(bytes.as_bytes()),
        }
    }

    /// Appends the URL a page links, relative to the page's directory: `NAME?v=HASH`.
    pub(super) fn push_url(&self, page: &mut String) {
        page.push_str(self.name);
        page.push_str("?v=");
        push_hex(page, self.hash);
    }

    /// The answer to a GET or HEAD of this asset, with `query` and the request's `headers`.
    fn respond(&self, query: Option<&str>, headers: &HeaderMap, head: bool) -> Response {
        let mut tag = String::with_capacity(18);
        tag.push('"');
        push_hex(&mut tag, self.hash);
        tag.push('"');
        let etag = HeaderValue::try_from(tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        let mut version = String::with_capacity(18);
        version.push_str("v=");
        push_hex(&mut version, self.hash);
        let cache = if query == Some(version.as_str()) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        // The bytes have no modification time of their own; "now" means an If-Modified-Since
        // never gets a 304, only a matching If-None-Match does.
        let status = match conditional::evaluate(headers, &etag, SystemTime::now()) {
            Verdict::Proceed => StatusCode::OK,
            Verdict::NotModified => StatusCode::NOT_MODIFIED,
            Verdict::Failed => StatusCode::PRECONDITION_FAILED,
        };
        let body = if head || status != StatusCode::OK {
            Body::empty()
        } else {
            Body::full(self.bytes)
        };
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(ETAG, etag);
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
        if status == StatusCode::OK {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
            headers.insert(CONTENT_LENGTH, HeaderValue::from(self.bytes.len()));
        }
        response
    }
}

/// The upload form's script: drag and drop, progress bars.
pub(super) const UPLOAD_SCRIPT: Asset = Asset::new(
    ".serveur-upload-form.js",
    "text/javascript; charset=utf-8",
    include_str!("upload_form.js"),
);

/// The rich page's style sheet.
pub(super) const UI_STYLE: Asset = Asset::new(
    ".serveur-ui.css",
    "text/css; charset=utf-8",
    include_str!("ui/ui.css"),
);

/// The rich page's script: the filter box and the delete buttons.
pub(super) const UI_SCRIPT: Asset = Asset::new(
    ".serveur-ui.js",
    "text/javascript; charset=utf-8",
    include_str!("ui/ui.js"),
);

/// The answer for `path` if its last segment names an asset `files` serves. A path whose last
/// segment does not start with [`OWN_PREFIX`] costs a search for its last `/` and one comparison,
/// and nothing when neither uploads nor `--ui` are on.
pub(super) fn respond(
    files: &StaticFiles,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    head: bool,
) -> Option<Response> {
    if !(files.uploads || files.ui) {
        return None;
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    if !name.starts_with(OWN_PREFIX) {
        return None;
    }
    let served: [(&Asset, bool); 3] = [
        (&UPLOAD_SCRIPT, files.uploads),
        (&UI_STYLE, files.ui),
        (&UI_SCRIPT, files.ui),
    ];
    served
        .into_iter()
        .find(|(asset, on)| *on && asset.name == name)
        .map(|(asset, _)| asset.respond(query, headers, head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_versioned_url_is_immutable_and_the_tag_revalidates() {
        let mut url = String::new();
        UI_STYLE.push_url(&mut url);
        let query = url.split_once('?').map(|(_, q)| q);
        let fresh = UI_STYLE.respond(query, &HeaderMap::new(), false);
        assert_eq!(fresh.status(), StatusCode::OK);
        assert!(fresh.headers()[CACHE_CONTROL]
            .to_str()
            .is_ok_and(|v| v.contains("immutable")));
        let bare = UI_STYLE.respond(None, &HeaderMap::new(), false);
        assert!(url.starts_with(".serveur-ui.css?v="), "relative: {url}");
        assert_eq!(bare.headers()[CACHE_CONTROL], "no-cache");
        let mut again = HeaderMap::new();
        again.insert(http::header::IF_NONE_MATCH, fresh.headers()[ETAG].clone());
        assert_eq!(
            UI_STYLE.respond(None, &again, false).status(),
            StatusCode::NOT_MODIFIED
        );
    }
}
