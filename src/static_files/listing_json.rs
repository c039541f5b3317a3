//! The directory listing for programs (`--listing-json`): a JSON array with one object per
//! entry, in the shape of nginx's `autoindex_format json` (`name`, `type`, `mtime` as an
//! RFC 1123 date, `size` for files), plus `"symlink"` as a type, which nginx (it follows links)
//! never writes. Entries are sorted and filtered as on the HTML page; names that are not UTF-8
//! are shown with U+FFFD, as the page shows them.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::SystemTime;

use http::header::ACCEPT;
use http::HeaderMap;

use super::listing;
use super::listing_cache::Unseen;
use crate::access_log::push_decimal;
use crate::safe_path::TEMP_PREFIX;

/// Whether a request for a directory asks for the JSON listing: `?format=json`, or an `Accept`
/// that names `application/json` (with a non-zero q-value). Browsers never name it, so they
/// keep getting the page.
pub(super) fn wanted(query: Option<&str>, headers: &HeaderMap) -> bool {
    let by_query = query.is_some_and(|query| {
        form_urlencoded::parse(query.as_bytes())
            .any(|(key, value)| key == "format" && value == "json")
    });
    by_query
        || headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(names_json)
}

/// Whether one `Accept` media range is `application/json` and not refused with `q=0`.
fn names_json(range: &str) -> bool {
    let mut parts = range.split(';').map(str::trim);
    let media = parts.next().unwrap_or("");
    media.eq_ignore_ascii_case("application/json")
        && !parts.any(|param| {
            param
                .strip_prefix("q=")
                .or_else(|| param.strip_prefix("Q="))
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        })
}

/// One listed entry, its fields gathered before sorting; its name and sort key are ranges of
/// shared buffers (no allocation per entry).
struct Entry {
    name: Range<usize>,
    key: Range<usize>,
    kind: &'static str,
    /// Only for files (nginx writes no size for directories).
    size: Option<u64>,
    modified: Option<SystemTime>,
}

/// The JSON listing of `dir`: the entries whose name `visible` accepts, without the
/// temporary files of uploads in progress (`uploads`); and the newest entry's time, which the
/// listing's `Last-Modified` takes when it is later than the directory's. The rows inotify on
/// `dir` would not see change go to `unseen`.
pub(super) fn render(
    dir: &Path,
    uploads: bool,
    visible: impl Fn(&[u8]) -> bool,
    unseen: &mut Unseen,
) -> io::Result<(String, Option<SystemTime>)> {
    let mut entries = Vec::new();
    let (mut names, mut keys) = (String::new(), String::new());
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let raw_name = entry.file_name();
        if (uploads && raw_name.as_bytes().starts_with(TEMP_PREFIX.as_bytes()))
            || !visible(raw_name.as_bytes())
        {
            continue;
        }
        // A link's own time and no size: its target may be outside the root, and what it
        // names there is not ours to describe (nginx, which follows links, shows the target's).
        // `DirEntry::metadata` does not follow a link, and asks relative to the directory
        // (`fstatat`), not by the whole path again.
        let is_symlink = entry.file_type()?.is_symlink();
        let metadata = entry.metadata().ok();
        if is_symlink {
            // Not shown, but whether the link is listed at all may depend on where it leads
            // (`--auth` rules judge the real path): its target is looked at again as the rich
            // page's is.
            unseen.target(&raw_name, fs::metadata(entry.path()).ok().as_ref());
        } else if let Some(metadata) = &metadata {
            unseen.own(&raw_name, metadata);
        }
        let kind = match &metadata {
            _ if is_symlink => "symlink",
            Some(m) if m.is_dir() => "directory",
            _ => "file",
        };
        let shown = String::from_utf8_lossy(raw_name.as_bytes());
        entries.push(Entry {
            name: listing::push(&mut names, &shown),
            key: listing::push_key(&mut keys, &shown),
            kind,
            size: metadata
                .as_ref()
                .filter(|m| m.is_file())
                .map(fs::Metadata::len),
            modified: metadata.and_then(|m| m.modified().ok()),
        });
    }
    // The HTML page's order: case-insensitive, stable.
    entries.sort_by(|a, b| keys[a.key.clone()].cmp(&keys[b.key.clone()]));
    let mut json = String::with_capacity(2 + entries.len() * 96);
    json.push('[');
    for (i, entry) in entries.iter().enumerate() {
        json.push_str(if i == 0 { "\n" } else { ",\n" });
        json.push_str("{ \"name\":");
        push_string(&mut json, &names[entry.name.clone()]);
        json.push_str(", \"type\":\"");
        json.push_str(entry.kind);
        json.push('"');
        if let Some(modified) = entry.modified {
            json.push_str(", \"mtime\":\"");
            // Written in place: `fmt_http_date` would make a String per entry.
            let _ = write!(json, "{}", httpdate::HttpDate::from(modified));
            json.push('"');
        }
        if let Some(size) = entry.size {
            json.push_str(", \"size\":");
            push_decimal(&mut json, size);
        }
        json.push_str(" }");
    }
    json.push_str("\n]\n");
    Ok((json, entries.iter().filter_map(|e| e.modified).max()))
}

/// `text` as a JSON string (RFC 8259 §7): quotes, backslashes and control characters escaped,
/// and `<`, `>`, `&` too, so that the output is inert even where a careless client puts it
/// into HTML.
fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' || matches!(c, '<' | '>' | '&' | '\u{7f}') => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        push_string(&mut out, "a\"b\\c\nd\u{1}<script>&\u{fffd}");
        assert_eq!(
            out,
            "\"a\\\"b\\\\c\\nd\\u0001\\u003cscript\\u003e\\u0026\u{fffd}\""
        );
    }

    #[test]
    fn accept_names_json() {
        let mut headers = HeaderMap::new();
        assert!(!wanted(Some("format=html"), &headers));
        assert!(wanted(Some("x=1&format=json"), &headers));
        headers.insert(
            ACCEPT,
            "text/html, application/json;q=0.5".parse().expect("header"),
        );
        assert!(wanted(None, &headers));
        headers.insert(ACCEPT, "application/json;q=0".parse().expect("header"));
        assert!(!wanted(None, &headers));
        headers.insert(ACCEPT, "text/html,*/*;q=0.8".parse().expect("header"));
        assert!(!wanted(None, &headers));
    }
}
