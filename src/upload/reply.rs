//! The answer to a form upload: what was stored, under which names, in the form the client
//! asked for: JSON for `Accept: application/json` (the listing's script), text lines for
//! other clients (curl), and for a browser's plain form (`Accept: text/html`, no script) a
//! `303` back to the listing, which shows the new files.

use std::fmt::Write;

use http::StatusCode;
use percent_encoding::percent_encode;

use super::names::Target;
use crate::handler::Response;
use crate::response;
use crate::static_files::PYTHON_QUOTE;

/// One thing a form stored.
pub(super) struct Stored {
    /// The name it took.
    pub name: Vec<u8>,
    /// Its size; `None` for a directory.
    pub size: Option<u64>,
    /// Whether the name was taken and a numbered one used.
    pub renamed: bool,
}

/// `201 Created` (`200` when the form held no file) listing `stored`, or `303` to the listing.
pub(super) fn stored(accept: &str, dir: &Target, stored: &[Stored]) -> Response {
    let mut base = String::from("/");
    for segment in &dir.segments {
        base.extend(percent_encode(segment, PYTHON_QUOTE));
        base.push('/');
    }
    let href = |name: &[u8]| format!("{base}{}", percent_encode(name, PYTHON_QUOTE));
    let mut response = if accept.contains("application/json") {
        let mut json = String::from("{\"stored\":[");
        for (i, item) in stored.iter().enumerate() {
            let name = String::from_utf8_lossy(&item.name);
            let _ = write!(
                json,
                "{}{{\"name\":{},\"href\":{},\"size\":{},\"renamed\":{}}}",
                if i > 0 { "," } else { "" },
                json_string(&name),
                json_string(&href(&item.name)),
                item.size.map_or("null".to_owned(), |s| s.to_string()),
                item.renamed
            );
        }
        json.push_str("]}");
        response::json(json)
    } else if accept.contains("text/html") {
        // A browser's plain form post (no script): `303 See Other` back to the listing
        // (RFC 9110 §15.4.4), which shows the files under the names they took, and which a
        // reload does not post again.
        return response::redirect(StatusCode::SEE_OTHER, &base);
    } else {
        let mut text = String::new();
        for item in stored {
            let _ = writeln!(text, "{}{}", href(&item.name), describe(item));
        }
        response::text(text)
    };
    if !stored.is_empty() {
        *response.status_mut() = StatusCode::CREATED;
    }
    response
}

/// ` (1234 bytes)`, ` (directory)`, and ` (name taken: renamed)`.
fn describe(item: &Stored) -> String {
    let mut text = match item.size {
        Some(size) => format!(" ({size} bytes)"),
        None => " (directory)".to_owned(),
    };
    if item.renamed {
        text.push_str(" (name taken: renamed)");
    }
    text
}

/// `text` as a JSON string (RFC 8259 §7): quotes, backslashes and control characters escaped.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_what_rfc_8259_requires() {
        assert_eq!(
            json_string("a\"b\\c\n\u{1}é"),
            "\"a\\\"b\\\\c\\u000a\\u0001é\""
        );
    }
}
