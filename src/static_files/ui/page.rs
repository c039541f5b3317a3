//! The rich page's HTML, written into one `String`: every name is HTML-escaped where shown and
//! percent-encoded from its own bytes where linked (as the plain listing links it, so a name
//! that is not UTF-8 still links to itself), numbers and dates written by hand (no `format!`
//! per entry: a 10,000-entry page is built in a few milliseconds).

use std::os::unix::ffi::OsStrExt;
use std::time::SystemTime;

use chrono::{DateTime, Datelike, Local, Timelike};
use percent_encoding::percent_encode;

use super::readme;
use super::sort::{Key, Sort};
use super::{Entry, Kind, Listing};
use crate::access_log::push_decimal;
use crate::safe_path::UrlPath;
use crate::static_files::assets::{UI_SCRIPT, UI_STYLE};
use crate::static_files::listing::{push_upload_form, PYTHON_QUOTE};
use crate::static_files::StaticFiles;

/// The page for `listing`, the directory at `url` sorted by `sort`.
pub(super) fn write(files: &StaticFiles, url: &UrlPath, sort: Sort, listing: &Listing) -> String {
    let mut page =
        String::with_capacity(4096 + listing.names.len() * 2 + listing.entries.len() * 260);
    let mut title = String::from("Index of /");
    for segment in url.segments() {
        html_escape::encode_text_to_string(String::from_utf8_lossy(segment), &mut title);
        title.push('/');
    }
    page.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<title>",
    );
    page.push_str(&title);
    page.push_str("</title>\n<link rel=\"stylesheet\" href=\"");
    UI_STYLE.push_url(&mut page);
    page.push_str("\">\n<script src=\"");
    UI_SCRIPT.push_url(&mut page);
    page.push_str("\" defer></script>\n</head>\n<body>\n<header>\n");
    push_breadcrumbs(&mut page, url);
    page.push_str("<h1>");
    page.push_str(&title);
    page.push_str("</h1>\n<div class=\"bar\">\n<p class=\"count\">");
    push_count(&mut page, listing);
    page.push_str("</p>\n");
    // The filter only works with the script, which shows it.
    page.push_str(
        "<input type=\"search\" id=\"filter\" placeholder=\"Filter\" \
         aria-label=\"Filter by name\" autocomplete=\"off\" hidden>\n",
    );
    if files.archive {
        page.push_str(
            "<p class=\"download\">Download: <a href=\"?download=zip\">.zip</a> \
             <a href=\"?download=tar.gz\">.tar.gz</a></p>\n",
        );
    }
    page.push_str("</div>\n</header>\n<main>\n<table id=\"listing\"");
    let writable = files.takes_uploads_at(url);
    if writable && files.deletes {
        // The script adds a delete button to each row (DELETE needs a script: a form cannot
        // send one).
        page.push_str(" data-delete=\"\"");
    }
    page.push_str(">\n<thead>\n<tr>");
    for key in Key::ALL {
        push_header(&mut page, sort, key);
    }
    page.push_str("</tr>\n</thead>\n<tbody>\n");
    if !url.segments().is_empty() {
        page.push_str(
            "<tr class=\"up\"><td class=\"n\"><a href=\"../\">Parent directory</a></td>\
             <td class=\"s\"></td><td class=\"m\"></td></tr>\n",
        );
    }
    // One scratch buffer for every row's date, rather than an allocation per row.
    let mut scratch = String::with_capacity(32);
    for entry in &listing.entries {
        push_row(&mut page, &mut scratch, &listing.names, entry);
    }
    if listing.entries.is_empty() {
        page.push_str("<tr class=\"empty\"><td colspan=\"3\">This folder is empty.</td></tr>\n");
    }
    page.push_str("</tbody>\n</table>\n");
    if let Some(index) = listing.readme {
        let entry = &listing.entries[index];
        readme::push(&mut page, &files.root, url, entry.raw_name.as_bytes());
    }
    if writable {
        page.push_str("<section class=\"upload\">\n<h2>Upload</h2>\n");
        push_upload_form(&mut page, true);
        page.push_str("</section>\n");
    }
    page.push_str("</main>\n</body>\n</html>\n");
    page
}

/// `Home / a / b`: each ancestor a link, the last one the current page.
fn push_breadcrumbs(page: &mut String, url: &UrlPath) {
    page.push_str("<nav aria-label=\"Breadcrumb\">\n<ol class=\"crumbs\">\n<li><a href=\"/\"");
    let segments = url.segments();
    if segments.is_empty() {
        page.push_str(" aria-current=\"page\"");
    }
    page.push_str(">Home</a></li>\n");
    let mut href = String::from("/");
    for (i, segment) in segments.iter().enumerate() {
        href.extend(percent_encode(segment, PYTHON_QUOTE));
        href.push('/');
        page.push_str("<li><a href=\"");
        page.push_str(&href);
        page.push('"');
        if i + 1 == segments.len() {
            page.push_str(" aria-current=\"page\"");
        }
        page.push('>');
        html_escape::encode_text_to_string(String::from_utf8_lossy(segment), page);
        page.push_str("</a></li>\n");
    }
    page.push_str("</ol>\n</nav>\n");
}

/// `3 folders, 12 files`.
fn push_count(page: &mut String, listing: &Listing) {
    let folders = listing.entries.iter().filter(|e| e.is_dir()).count() as u64;
    let files = listing.entries.len() as u64 - folders;
    push_decimal(page, folders);
    page.push_str(if folders == 1 {
        " folder, "
    } else {
        " folders, "
    });
    push_decimal(page, files);
    page.push_str(if files == 1 { " file" } else { " files" });
}

/// A column header: a link to the order it offers, `aria-sort` on the current one.
fn push_header(page: &mut String, sort: Sort, key: Key) {
    let (class, label) = match key {
        Key::Name => ("n", "Name"),
        Key::Size => ("s", "Size"),
        Key::Time => ("m", "Modified"),
    };
    page.push_str("<th class=\"");
    page.push_str(class);
    page.push('"');
    if sort.key == key {
        page.push_str(if sort.descending {
            " aria-sort=\"descending\""
        } else {
            " aria-sort=\"ascending\""
        });
    }
    let link = sort.link_for(key);
    page.push_str("><a href=\"?sort=");
    page.push_str(key.token());
    page.push_str(if link.descending {
        "&amp;order=desc\">"
    } else {
        "&amp;order=asc\">"
    });
    page.push_str(label);
    page.push_str("</a></th>");
}

fn push_row(page: &mut String, scratch: &mut String, names: &str, entry: &Entry) {
    let name = &names[entry.name.clone()];
    page.push_str("<tr class=\"");
    page.push_str(icon(entry.kind, name));
    page.push_str("\"><td class=\"n\"><a href=\"");
    page.extend(percent_encode(entry.raw_name.as_bytes(), PYTHON_QUOTE));
    if entry.is_dir() {
        page.push('/');
    }
    page.push_str("\">");
    html_escape::encode_text_to_string(name, page);
    if entry.is_dir() {
        page.push('/');
    }
    page.push_str("</a></td><td class=\"s\"");
    if let Some(size) = entry.size {
        page.push_str(" title=\"");
        push_decimal(page, size);
        page.push_str(if size == 1 { " byte\">" } else { " bytes\">" });
        push_size(page, size);
    } else {
        page.push('>');
    }
    page.push_str("</td><td class=\"m\">");
    if let Some(modified) = entry.modified {
        push_time(page, scratch, modified);
    }
    page.push_str("</td></tr>\n");
}

/// The row's class, which gives it its icon: a directory, a link, or a file by its extension.
fn icon(kind: Kind, name: &str) -> &'static str {
    const BY_EXTENSION: [(&str, &[&str]); 5] = [
        (
            "img",
            &[
                "png", "jpg", "jpeg", "gif", "webp", "svg", "avif", "bmp", "ico",
            ],
        ),
        (
            "media",
            &[
                "mp3", "ogg", "flac", "wav", "m4a", "opus", "mp4", "mkv", "webm", "mov", "avi",
            ],
        ),
        (
            "archive",
            &["zip", "gz", "tgz", "xz", "bz2", "zst", "7z", "rar", "tar"],
        ),
        (
            "doc",
            &["txt", "md", "pdf", "doc", "docx", "odt", "rtf", "csv"],
        ),
        (
            "code",
            &[
                "rs", "py", "js", "ts", "c", "h", "cpp", "go", "java", "sh", "html", "css", "json",
                "toml", "yaml", "yml", "xml", "php",
            ],
        ),
    ];
    match kind {
        Kind::Directory => "dir",
        Kind::Link(_) => "link",
        Kind::File => {
            let Some((_, extension)) = name.rsplit_once('.') else {
                return "file";
            };
            // Compared without case and without an allocation per entry.
            BY_EXTENSION
                .iter()
                .find(|(_, list)| list.iter().any(|e| e.eq_ignore_ascii_case(extension)))
                .map_or("file", |(class, _)| class)
        }
    }
}

/// `size` for people: bytes below 1 KiB, else one decimal below 10 units, whole units above
/// (binary units, as `ls -lh` and the size's exact count in the tooltip).
fn push_size(page: &mut String, size: u64) {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if size < 1024 {
        push_decimal(page, size);
        page.push_str(" B");
        return;
    }
    let mut unit = 0;
    while unit + 1 < UNITS.len() && size >= 1u64 << (10 * (unit + 2)) {
        unit += 1;
    }
    let divisor = 1u128 << (10 * (unit + 1));
    // Tenths of the unit, rounded to nearest.
    let tenths = ((u128::from(size) * 10 + divisor / 2) / divisor) as u64;
    if tenths < 100 {
        push_decimal(page, tenths / 10);
        page.push('.');
        push_decimal(page, tenths % 10);
    } else {
        push_decimal(page, (tenths + 5) / 10);
    }
    page.push(' ');
    page.push_str(UNITS[unit]);
}

/// `<time datetime="2026-01-02T03:04:05+01:00" title="…">2026-01-02 03:04</time>`: the
/// server's local time, the full ISO 8601 moment in the attribute and the tooltip.
fn push_time(page: &mut String, iso: &mut String, modified: SystemTime) {
    let local: DateTime<Local> = modified.into();
    iso.clear();
    push_padded(iso, i64::from(local.year()), 4);
    iso.push('-');
    push_padded(iso, i64::from(local.month()), 2);
    iso.push('-');
    push_padded(iso, i64::from(local.day()), 2);
    let date_end = iso.len();
    iso.push('T');
    push_padded(iso, i64::from(local.hour()), 2);
    iso.push(':');
    push_padded(iso, i64::from(local.minute()), 2);
    let shown = iso.len();
    iso.push(':');
    push_padded(iso, i64::from(local.second()), 2);
    let offset = local.offset().local_minus_utc();
    iso.push(if offset < 0 { '-' } else { '+' });
    push_padded(iso, i64::from(offset.abs() / 3600), 2);
    iso.push(':');
    push_padded(iso, i64::from(offset.abs() / 60 % 60), 2);
    page.push_str("<time datetime=\"");
    page.push_str(iso);
    page.push_str("\" title=\"");
    page.push_str(iso);
    page.push_str("\">");
    page.push_str(&iso[..date_end]);
    page.push(' ');
    page.push_str(&iso[date_end + 1..shown]);
    page.push_str("</time>");
}

/// `value` in decimal, at least `width` digits (a year before 1000, or negative, still reads).
fn push_padded(out: &mut String, value: i64, width: usize) {
    // Months, days, hours, minutes, seconds: six of a row's eight numbers, written directly
    // (through `push_decimal`, the time was a tenth of a 10,000-entry page's render).
    if width == 2 && (0..100).contains(&value) {
        out.push(char::from(b'0' + (value / 10) as u8));
        out.push(char::from(b'0' + (value % 10) as u8));
        return;
    }
    if value < 0 {
        out.push('-');
    }
    let start = out.len();
    push_decimal(out, value.unsigned_abs());
    let digits = out.len() - start;
    for _ in digits..width {
        out.insert(start, '0');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(bytes: u64) -> String {
        let mut out = String::new();
        push_size(&mut out, bytes);
        out
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1024), "1.0 KiB");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(10 * 1024 - 1), "10 KiB");
        assert_eq!(size(123 * 1024 + 600), "124 KiB");
        assert_eq!(size(5 << 20), "5.0 MiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
        assert_eq!(size(u64::MAX), "16 EiB");
    }

    #[test]
    fn numbers_are_written_as_format_writes_them() {
        for value in [0, 7, 10, 99, 1000, 123_456_789, u64::MAX] {
            let mut out = String::new();
            push_decimal(&mut out, value);
            assert_eq!(out, value.to_string());
        }
        let mut out = String::new();
        push_padded(&mut out, 7, 2);
        push_padded(&mut out, 2026, 4);
        push_padded(&mut out, 33, 4);
        push_padded(&mut out, -5, 2);
        push_padded(&mut out, 59, 2);
        push_padded(&mut out, 100, 2);
        assert_eq!(out, "0720260033-0559100");
    }

    #[test]
    fn times_are_local_with_their_offset() {
        let moment = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let mut out = String::new();
        push_time(&mut out, &mut String::new(), moment);
        let expected: DateTime<Local> = moment.into();
        let iso = expected.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        assert!(
            out.contains(&format!("datetime=\"{iso}\"")),
            "{out} vs {iso}"
        );
        let shown = expected.format("%Y-%m-%d %H:%M").to_string();
        assert!(out.ends_with(&format!(">{shown}</time>")), "{out}");
    }

    #[test]
    fn icons_follow_the_kind_and_extension() {
        assert_eq!(icon(Kind::Directory, "x.png"), "dir");
        assert_eq!(icon(Kind::Link(false), "x.png"), "link");
        assert_eq!(icon(Kind::File, "Photo.JPG"), "img");
        assert_eq!(icon(Kind::File, "notes"), "file");
        assert_eq!(icon(Kind::File, "a.tar.gz"), "archive");
    }
}
