//! Python's `repr()` of a str, as CPython's `%r` puts names and request lines into the
//! messages serveur must repeat word for word (`Bad request syntax ('...')`,
//! `No such CGI script ('/cgi-bin/x')`). One function, so the malformed-request pages and the
//! CGI refusals quote alike.

/// Python's `repr()` of `text`: single quotes unless the text has one and no double quote;
/// backslash and the quote escaped; `\t`, `\n`, `\r`; other characters Python does not print
/// (C0, DEL, C1, NBSP and the soft hyphen) as `\xNN`.
///
/// Characters above U+00FF are kept as they are. Python escapes the few of them it deems
/// non-printable (e.g. U+2028 as `\u2028`); serveur's inputs (Latin-1 request lines, paths
/// decoded lossily) make those rare enough not to carry Unicode's category tables for them.
pub(crate) fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c < ' ' || ('\u{7f}'..='\u{a0}').contains(&c) || c == '\u{ad}' => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::py_repr;

    #[test]
    fn quotes_and_escapes_as_python_repr_does() {
        assert_eq!(py_repr("/cgi-bin/x"), "'/cgi-bin/x'");
        assert_eq!(py_repr("a'b"), "\"a'b\"");
        assert_eq!(py_repr("a'\"b"), "'a\\'\"b'");
        assert_eq!(py_repr("/a\nb\\"), "'/a\\nb\\\\'");
        assert_eq!(py_repr("\u{1}\u{85}é"), "'\\x01\\x85é'");
    }
}
