//! The directory listing, byte for byte the page CPython 3.14's `list_directory` writes:
//! entries sorted case-insensitively, `/` after directories, `@` after symlinks, names
//! HTML-escaped, links percent-encoded as `urllib.parse.quote` does.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What `urllib.parse.quote(name)` leaves alone: letters, digits, `_.-~` and `/`.
const PYTHON_QUOTE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

struct Entry {
    name: String,
    href: String,
    sort_key: String,
    is_dir: bool,
    is_symlink: bool,
}

/// The listing page of `dir`, titled with the decoded request path `display_path`.
pub fn render(dir: &Path, display_path: &str) -> io::Result<String> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let file_type = entry.file_type()?;
        let is_symlink = file_type.is_symlink();
        // CPython asks `os.path.isdir`, which follows links: a link to a directory gets `/`.
        let is_dir = if is_symlink {
            fs::metadata(entry.path()).is_ok_and(|m| m.is_dir())
        } else {
            file_type.is_dir()
        };
        let raw_name = entry.file_name();
        let name = String::from_utf8_lossy(raw_name.as_bytes()).into_owned();
        entries.push(Entry {
            // Quoted from the name's own bytes, so that a name that is not UTF-8 still links
            // to itself (the lossy display name would link to U+FFFD; CPython writes the
            // surrogatepass bytes `%ED%B3%BF`, which only CPython maps back to 0xFF).
            href: percent_encode(raw_name.as_bytes(), PYTHON_QUOTE).to_string(),
            sort_key: name.to_lowercase(),
            name,
            is_dir,
            is_symlink,
        });
    }
    entries.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));

    let title = format!(
        "Directory listing for {}",
        html_escape::encode_text(display_path)
    );
    let mut page = String::with_capacity(300 + entries.len() * 80);
    page.push_str("<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<style type=\"text/css\">\n:root {\ncolor-scheme: light dark;\n}\n</style>\n");
    page.push_str(&format!(
        "<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n<hr>\n<ul>\n"
    ));
    for entry in &entries {
        // CPython: a directory (even behind a link) links with "/"; a link is shown with "@".
        let link_suffix = if entry.is_dir { "/" } else { "" };
        let shown_suffix = match (entry.is_symlink, entry.is_dir) {
            (true, _) => "@",
            (false, true) => "/",
            (false, false) => "",
        };
        page.push_str("<li><a href=\"");
        page.push_str(&entry.href);
        page.push_str(link_suffix);
        page.push_str("\">");
        page.push_str(&html_escape::encode_text(&entry.name));
        page.push_str(shown_suffix);
        page.push_str("</a></li>\n");
    }
    page.push_str("</ul>\n<hr>\n</body>\n</html>\n");
    Ok(page)
}
