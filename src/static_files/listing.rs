//! The directory listing, byte for byte the page CPython 3.14's `list_directory` writes:
//! entries sorted case-insensitively, `/` after directories, `@` after symlinks, names
//! HTML-escaped, links percent-encoded as `urllib.parse.quote` does.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::assets::UPLOAD_SCRIPT;
use crate::safe_path::TEMP_PREFIX;

/// What `urllib.parse.quote(name)` leaves alone: letters, digits, `_.-~` and `/`.
pub(crate) const PYTHON_QUOTE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

/// One directory entry; its display name and sort key are ranges of the listing's shared
/// buffers, so that a 1,000-entry listing costs a few allocations instead of five per entry
/// (callgrind: 3.47 M → 3.03 M instructions per 1,000-entry listing; malloc was a third).
struct Entry {
    raw_name: std::ffi::OsString,
    name: std::ops::Range<usize>,
    key: std::ops::Range<usize>,
    is_dir: bool,
    is_symlink: bool,
}

/// The form under a listing when uploads are on: a plain form, which a browser posts without
/// any script (the server answers `303` back to the listing), and the script that adds drag and
/// drop and progress bars, from a URL of its own (no inline script or handler, so a
/// `Content-Security-Policy` of `script-src 'self'` allows it). The rich page (`rich`) styles
/// the drop zone from its style sheet, as its `style-src 'self'` refuses a `style` attribute.
/// Both link the script by its versioned URL, relative to the page (`assets`): behind `--auth`
/// whoever may read the folder may load it, where `/` may be private.
pub(super) fn push_upload_form(page: &mut String, rich: bool) {
    page.push_str(
        "<form id=\"serveur-upload\" method=\"post\" enctype=\"multipart/form-data\">\n\
         <div id=\"serveur-upload-zone\"",
    );
    if !rich {
        page.push_str(" style=\"border: 2px dashed; padding: 1em\"");
    }
    page.push_str(
        ">\n<label>Upload files (or drop them here): \
         <input type=\"file\" name=\"file\" multiple></label>\n\
         <button type=\"submit\">Upload</button>\n</div>\n\
         <ul id=\"serveur-upload-progress\"></ul>\n</form>\n<script src=\"",
    );
    UPLOAD_SCRIPT.push_url(page);
    page.push_str("\" defer></script>\n");
}

/// The listing page of `dir`, titled with the decoded request path `display_path`, of the
/// entries whose name `visible` accepts (all of them, unless access control hides some). With
/// `uploads`, the temporary files of uploads in progress are left out; with `form`, the upload
/// form follows the list.
pub(super) fn render(
    dir: &Path,
    display_path: &str,
    (uploads, form): (bool, bool),
    visible: impl Fn(&[u8]) -> bool,
) -> io::Result<String> {
    let mut entries = Vec::new();
    let mut names = String::new();
    let mut keys = String::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !visible(entry.file_name().as_bytes()) {
            continue;
        }
        let file_type = entry.file_type()?;
        let is_symlink = file_type.is_symlink();
        // CPython asks `os.path.isdir`, which follows links: a link to a directory gets `/`.
        let is_dir = if is_symlink {
            fs::metadata(entry.path()).is_ok_and(|m| m.is_dir())
        } else {
            file_type.is_dir()
        };
        let raw_name = entry.file_name();
        if uploads && raw_name.as_bytes().starts_with(TEMP_PREFIX.as_bytes()) {
            continue;
        }
        let shown = String::from_utf8_lossy(raw_name.as_bytes());
        let name = push(&mut names, &shown);
        let key = push_key(&mut keys, &shown);
        entries.push(Entry {
            raw_name,
            name,
            key,
            is_dir,
            is_symlink,
        });
    }
    // Stable, as Python's `list.sort`: names equal but for case keep the directory's order.
    entries.sort_by(|a, b| keys[a.key.clone()].cmp(&keys[b.key.clone()]));

    let mut title = String::from("Directory listing for ");
    html_escape::encode_text_to_string(display_path, &mut title);
    let mut page = String::with_capacity(300 + names.len() * 3 + entries.len() * 40);
    page.push_str("<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>\n");
    for part in ["<title>", &title, "</title>\n</head>\n<body>\n<h1>", &title] {
        page.push_str(part);
    }
    page.push_str("</h1>\n<hr>\n<ul>\n");
    for entry in &entries {
        // CPython: a directory (even behind a link) links with "/"; a link is shown with "@".
        let link_suffix = if entry.is_dir { "/" } else { "" };
        let shown_suffix = match (entry.is_symlink, entry.is_dir) {
            (true, _) => "@",
            (false, true) => "/",
            (false, false) => "",
        };
        page.push_str("<li><a href=\"");
        // Quoted from the name's own bytes, so that a name that is not UTF-8 still links
        // to itself (the lossy display name would link to U+FFFD; CPython writes the
        // surrogatepass bytes `%ED%B3%BF`, which only CPython maps back to 0xFF).
        page.extend(percent_encode(entry.raw_name.as_bytes(), PYTHON_QUOTE));
        page.push_str(link_suffix);
        page.push_str("\">");
        html_escape::encode_text_to_string(&names[entry.name.clone()], &mut page);
        page.push_str(shown_suffix);
        page.push_str("</a></li>\n");
    }
    page.push_str("</ul>\n<hr>\n");
    if form {
        push_upload_form(&mut page, false);
    }
    page.push_str("</body>\n</html>\n");
    Ok(page)
}

/// Appends the case-insensitive sort key of `name` to `keys` and returns where it landed.
/// Python's `str.lower` (final sigma included) is `to_lowercase`; ASCII needs no table.
pub(super) fn push_key(keys: &mut String, name: &str) -> std::ops::Range<usize> {
    if name.is_ascii() {
        // Copied, then lowered in place: a word at a time, not a char at a time.
        let start = keys.len();
        keys.push_str(name);
        keys[start..].make_ascii_lowercase();
        start..keys.len()
    } else {
        push(keys, &name.to_lowercase())
    }
}

/// Appends `text` to `buffer` and returns where it landed.
pub(super) fn push(buffer: &mut String, text: &str) -> std::ops::Range<usize> {
    let start = buffer.len();
    buffer.push_str(text);
    start..buffer.len()
}
