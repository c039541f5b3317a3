//! A directory's `README.md`, rendered below the rich page's table: CommonMark (with tables and
//! strikethrough) by pulldown-cmark, its headings one level down, at most [`LIMIT`] bytes of
//! it. Whoever can write a file in the tree must not be able to script the page: raw HTML in it
//! is shown as text, never passed through,
//! and a link or image whose scheme is not `http`, `https` or `mailto` (`javascript:`,
//! `data:`, `vbscript:`...) points nowhere. It is read through [`Root::resolve`], so a
//! `README.md` that is a symlink out of the root is not read, and only if the request may read
//! it (the listing passes only entries [`Access`](crate::request::Access) lets it show).

use std::fs::File;
use std::io::Read;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::safe_path::{Root, UrlPath};

/// The most of a README read: a larger one is cut there (a character cut in two shows as
/// U+FFFD) and the page says so.
pub(super) const LIMIT: u64 = 1 << 20;

/// The file name looked for, compared without case (`readme.md`, `Readme.md` too).
pub(super) const NAME: &str = "readme.md";

/// Appends the rendered README named `name` in the directory at `url`, if it is a regular
/// file below the root that can be read. Returns whether it did.
pub(super) fn push(page: &mut String, root: &Root, url: &UrlPath, name: &[u8]) -> bool {
    let Some(found) = root.resolve(&url.join(name)) else {
        return false;
    };
    if !found.metadata.is_file() {
        return false;
    }
    let mut bytes = Vec::new();
    let read = File::open(&found.path).and_then(|file| file.take(LIMIT).read_to_end(&mut bytes));
    if read.is_err() {
        return false;
    }
    let cut = found.metadata.len() > LIMIT;
    let text = String::from_utf8_lossy(&bytes);
    page.push_str("<article class=\"readme\">\n");
    render(page, &text);
    if cut {
        page.push_str(
            "<p class=\"cut\">(README.md is longer than 1 MiB: the rest is not shown.)</p>\n",
        );
    }
    page.push_str("</article>\n");
    true
}

/// `markdown` as HTML, raw HTML escaped and unsafe link schemes neutralised.
fn render(page: &mut String, markdown: &str) {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        // Shown as the text it is; the HTML writer escapes text.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        // One level down: the page's own `<h1>` is the directory's title.
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: lower(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(lower(level))),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    pulldown_cmark::html::push_html(page, events);
}

/// The heading level below `level` (`h6` stays `h6`).
fn lower(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H2,
        HeadingLevel::H2 => HeadingLevel::H3,
        HeadingLevel::H3 => HeadingLevel::H4,
        HeadingLevel::H4 => HeadingLevel::H5,
        HeadingLevel::H5 | HeadingLevel::H6 => HeadingLevel::H6,
    }
}

/// `url`, or `#` when it names a scheme other than `http`, `https` or `mailto`. The scheme is
/// read as a browser reads it (WHATWG URL: tabs and newlines removed, leading spaces and
/// controls trimmed, case ignored), so `java\tscript:` is caught too.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let cleaned: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .take_while(|&c| c != '/' && c != '?' && c != '#')
        .collect();
    let Some((scheme, _)) = cleaned.split_once(':') else {
        return url; // relative: no scheme
    };
    let allowed = ["http", "https", "mailto"]
        .iter()
        .any(|ok| scheme.eq_ignore_ascii_case(ok));
    if allowed {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(markdown: &str) -> String {
        let mut page = String::new();
        render(&mut page, markdown);
        page
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let page = html("# Title\n\n<script>alert(1)</script>\n\nSome <b>bold</b> *em*\n");
        assert!(page.contains("<h2>Title</h2>"), "{page}");
        assert!(
            !page.contains("<script>") && !page.contains("<b>"),
            "{page}"
        );
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(page.contains("<em>em</em>"), "{page}");
    }

    #[test]
    fn unsafe_schemes_point_nowhere() {
        for url in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java%0ascript:alert(1)",
            "vbscript:x",
            "data:text/html,<script>x</script>",
        ] {
            let page = html(&format!("[x]({url}) ![i]({url})"));
            let harmless = !page.to_ascii_lowercase().contains("href=\"javascript")
                && !page.contains("href=\"vbscript")
                && !page.contains("href=\"data:")
                && !page.contains("src=\"data:")
                && !page.contains("src=\"javascript");
            assert!(harmless, "{url}: {page}");
        }
        let tabbed = html("[x](<java\tscript:alert(1)>)");
        assert!(tabbed.contains("href=\"#\""), "{tabbed}");
        let page = html("[a](https://example.org/) [b](../up/) [c](mailto:x@y) [d](#top)");
        for href in ["https://example.org/", "../up/", "mailto:x@y", "#top"] {
            assert!(page.contains(&format!("href=\"{href}\"")), "{href}: {page}");
        }
    }
}
