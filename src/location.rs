//! Paths that cannot be read as another host. A client reads a path starting with `//` as a
//! host (`//evil.example/x`), and a browser resolving a `Location` with the WHATWG URL parser
//! also reads `\` as `/` in http(s) URLs and drops tabs, line breaks, and C0 controls and
//! spaces at the ends: `/\evil.example/`, `/\t/evil.example/` and ` //evil.example/` all lead
//! off the site (CWE-601; CPython gh-87389 for `//`, gh-132826 for `\`). Requests are routed on
//! the collapsed path (`safe_path::collapse_leading_slashes`), and every `Location` serveur writes from
//! a path goes through [`same_site`].

use std::borrow::Cow;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::safe_path::collapse_leading_slashes;

/// The `Location` of a directory asked for without its trailing slash (`path`, collapsed, and
/// the request's `query`), as CPython's `urlunsplit` makes it: an empty query (`/dir?`) leaves
/// no `?` behind.
pub(crate) fn add_slash(path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("{path}/?{q}"),
        _ => format!("{path}/"),
    }
}

/// `reference` as a `Location` that stays on the site: a reference with a scheme
/// (`https://example.org/`) is returned as it is, being where its author meant to send the
/// client; any other (a path, `dir/`, `?q`) is made into one that a WHATWG parser resolves
/// against `http://host/…` to a URL on `host`:
///
/// - C0 controls, space, DEL and non-ASCII bytes are percent-encoded everywhere (a parser
///   would drop or trim some of them, and they cannot all be in a header value);
/// - `\` is percent-encoded in the path (WHATWG reads it as `/` there; in the query and
///   fragment it is an ordinary character and kept, as CPython keeps the query);
/// - leading slashes collapse to one, as in the request (gh-87389).
///
/// `%` is kept: the reference is a URL already, and its escapes stay as they are. The common
/// case (nothing to change) allocates nothing.
pub(crate) fn same_site(reference: &str) -> Cow<'_, str> {
    if has_scheme(reference) {
        return Cow::Borrowed(reference);
    }
    let reference = collapse_leading_slashes(reference);
    let path_end = reference.find(['?', '#']).unwrap_or(reference.len());
    let (path, rest) = reference.split_at(path_end);
    let safe_path: Cow<'_, str> = utf8_percent_encode(path, IN_PATH).into();
    let safe_rest: Cow<'_, str> = utf8_percent_encode(rest, ESCAPED).into();
    // Encoding lengthens what it changes; an unchanged part comes back borrowed, uncopied.
    if safe_path.len() == path.len() && safe_rest.len() == rest.len() {
        Cow::Borrowed(reference)
    } else {
        Cow::Owned(safe_path.into_owned() + &safe_rest)
    }
}

/// Bytes a WHATWG parser strips or trims (C0 controls, space), and DEL;
/// `utf8_percent_encode` also encodes every non-ASCII byte.
const ESCAPED: &AsciiSet = &CONTROLS.add(b' ');

/// [`ESCAPED`], and `\`, which a WHATWG parser reads as `/` in an http(s) path.
const IN_PATH: &AsciiSet = &ESCAPED.add(b'\\');

/// Whether `reference` starts with a scheme and `:` as the WHATWG parser's scheme state reads
/// one: an ASCII letter, then letters, digits, `+`, `-` or `.`.
fn has_scheme(reference: &str) -> bool {
    let mut bytes = reference.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
            == Some(b':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Where a browser would go for `location`, answered by the URL `http://site.test/a/b`:
    /// the `url` crate is a WHATWG parser, as browsers use.
    fn resolved(location: &str) -> url::Url {
        let base = url::Url::parse("http://site.test/a/b").expect("base");
        base.join(location).expect("a usable location")
    }

    /// `reference` made safe is a header value and resolves on the site.
    fn assert_stays(reference: &str) {
        let safe = same_site(reference);
        assert!(
            http::HeaderValue::from_str(&safe).is_ok(),
            "{reference:?} → {safe:?} is no header value"
        );
        let url = resolved(&safe);
        assert_eq!(
            url.host_str(),
            Some("site.test"),
            "{reference:?} → {safe:?} → {url}"
        );
    }

    #[test]
    fn a_directory_location_keeps_a_query_but_not_an_empty_one() {
        assert_eq!(add_slash("/d", Some("a=1")), "/d/?a=1");
        assert_eq!(add_slash("/d", Some("")), "/d/");
        assert_eq!(add_slash("/d", None), "/d/");
    }

    #[test]
    fn hostile_spellings_stay_on_the_site() {
        for reference in [
            "/\\evil.example/x/",
            "//evil.example/",
            "///evil.example/",
            "/\\/evil.example/",
            "\\\\evil.example/",
            "\\/evil.example/",
            "/\t/evil.example/",
            "\t//evil.example/",
            "/\r\n/evil.example/",
            " //evil.example/",
            "\u{0}//evil.example/",
            "\u{1F}/\\evil.example/",
            "/./\\evil.example/",
            "/..\\..\\evil.example/",
            "/\u{FF0F}/evil.example/",
            "\u{FF0F}\u{FF0F}evil.example/",
            "/\u{FF3C}evil.example/",
            "h\ttp://evil.example/",
            "/?//evil.example\\",
            "#//evil.example",
        ] {
            assert_stays(reference);
        }
    }

    #[test]
    fn what_is_changed_is_only_what_must_be() {
        for (reference, safe) in [
            ("/\\evil.example/x/", "/%5Cevil.example/x/"),
            ("//\\evil.example/", "/%5Cevil.example/"),
            ("/a\tb/ c", "/a%09b/%20c"),
            ("/\u{FF0F}x", "/%EF%BC%8Fx"),
            ("/d/?q=\\//x y", "/d/?q=\\//x%20y"),
            ("/d/#\\\n", "/d/#\\%0A"),
        ] {
            assert_eq!(same_site(reference), safe, "{reference:?}");
        }
        // Nothing to change: the reference itself, no copy.
        for reference in ["/docs/", "/a%5Cb/?q=1&r=%2F", "../up/", "?page=2", ""] {
            assert!(
                matches!(same_site(reference), Cow::Borrowed(r) if r == reference),
                "{reference:?}"
            );
        }
    }

    #[test]
    fn an_absolute_url_is_left_as_its_author_wrote_it() {
        for url in [
            "https://example.org/x",
            "http://evil.example/",
            "mailto:a@example.org",
            "x-y+z.1:\\odd",
        ] {
            assert_eq!(same_site(url), url);
        }
    }

    /// Characters that matter to a URL parser, and any other character.
    fn hostile_char() -> impl Strategy<Value = char> {
        prop_oneof![
            3 => prop::sample::select(vec![
                '/', '\\', '\t', '\n', '\r', ' ', '\u{0}', '\u{7F}', '.', ':', '?', '#', '%',
                '@', 'h', '\u{FF0F}', '\u{FF3C}', '\u{3002}',
            ]),
            1 => any::<char>(),
        ]
    }

    proptest! {
        #[test]
        fn any_reference_without_a_scheme_stays_on_the_site(
            chars in prop::collection::vec(hostile_char(), 0..24)
        ) {
            let reference: String = chars.into_iter().collect();
            prop_assume!(!has_scheme(&reference));
            assert_stays(&reference);
        }
    }
}
