//! The shapes of a log line: CPython's (`127.0.0.1 - - [06/Dec/2026 05:00:00] "GET / HTTP/1.1"
//! 200 6`, the default), Apache/nginx's combined format and one JSON object per line, with each
//! shape's escaping, so that no byte a client sent can forge a line or break a log reader.
//! Everything here runs on the writer thread, never on a request's path.

use std::io::Write;
use std::time::SystemTime;

use chrono::{DateTime, Local};

use super::{Client, Served};

/// The shape of the access log's lines (`--log-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    /// CPython's `http.server` line, the other lines (`code 404, message …`, a script's
    /// stderr) in the same shape and the same stream.
    #[default]
    Python,
    /// Apache/nginx's combined format, which log tools (goaccess, awstats…) read; the lines
    /// that are not access lines go to stderr in CPython's shape, as nginx keeps an error log
    /// apart from its access log.
    Combined,
    /// One JSON object per line: each request with its time, client, method, target,
    /// protocol, status, bytes, duration (ms), user, referer, user agent and TLS; every other
    /// line as `{"time", "client", "user", "message"}`.
    Json,
}

impl LogFormat {
    /// Whether a request's line needs more than CPython's (its referer, user agent and
    /// duration), which the server then captures for each request.
    pub fn is_detailed(self) -> bool {
        self != LogFormat::Python
    }
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "python" => Ok(LogFormat::Python),
            "combined" => Ok(LogFormat::Combined),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("'{other}' is not python, combined or json")),
        }
    }
}

/// Writes lines in one [`LogFormat`], keeping what it formatted last (the second, the client)
/// so that a busy server's lines mostly reuse it.
pub(super) struct Lines {
    format: LogFormat,
    /// The time as CPython's lines show it.
    python_clock: DateCache,
    /// The time as the combined (`06/Dec/2026:05:00:00 +0000`) or JSON (RFC 3339) lines show it.
    clock: DateCache,
    clients: ClientCache,
}

impl Lines {
    pub(super) fn new(format: LogFormat) -> Lines {
        let pattern = match format {
            // nginx's `$time_local`, Apache's `%t`.
            LogFormat::Combined => "%d/%b/%Y:%H:%M:%S %z",
            // RFC 3339 §5.6 (`date-time`), with the local offset.
            _ => "%Y-%m-%dT%H:%M:%S%:z",
        };
        Lines {
            format,
            python_clock: DateCache::new("%d/%b/%Y %H:%M:%S"),
            clock: DateCache::new(pattern),
            clients: ClientCache::default(),
        }
    }

    /// A line that is not a request's access line: `message` about `client`, maybe for a
    /// `user` (in CPython's shape but for the JSON format).
    pub(super) fn message(
        &mut self,
        out: &mut impl Write,
        time: SystemTime,
        client: Option<Client>,
        user: Option<&str>,
        message: &str,
    ) {
        if self.format == LogFormat::Json {
            let _ = out.write_all(b"{\"time\":\"");
            let _ = out.write_all(self.clock.format(time).as_bytes());
            let _ = out.write_all(b"\",\"client\":");
            json_string(out, client.map(|_| self.clients.format(client).as_bytes()));
            let _ = out.write_all(b",\"user\":");
            json_string(out, user.map(str::as_bytes));
            let _ = out.write_all(b",\"message\":");
            json_string(out, Some(message.as_bytes()));
            let _ = out.write_all(b"}\n");
            return;
        }
        let user = user.map_or("-".into(), escape_control);
        // Piece by piece rather than `writeln!`: core::fmt was most of the line's cost.
        for part in [
            self.clients.format(client).as_bytes(),
            b" - ",
            user.as_bytes(),
            b" [",
            self.python_clock.format(time).as_bytes(),
            b"] ",
            escape_control(message).as_bytes(),
            b"\n",
        ] {
            let _ = out.write_all(part);
        }
    }

    /// A request's access line in the combined or JSON format.
    pub(super) fn served(&mut self, out: &mut impl Write, time: SystemTime, served: &Served) {
        let client = Some(served.client);
        let user = served.user.as_deref().map(str::as_bytes);
        let referer = served.referer.as_ref().map(|v| v.as_bytes());
        let user_agent = served.user_agent.as_ref().map(|v| v.as_bytes());
        // The line as `connection.rs` made it for CPython's format: `"GET / HTTP/1.1`.
        let request = served
            .request_line
            .strip_prefix('"')
            .unwrap_or(&served.request_line);
        if self.format == LogFormat::Combined {
            // `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"`, `-` for what is missing
            // (nginx's `combined`, with `$body_bytes_sent`).
            let _ = out.write_all(self.clients.format(client).as_bytes());
            let _ = out.write_all(b" - ");
            nginx_escaped(out, user.unwrap_or(b"-"));
            let _ = write!(out, " [{}] \"", self.clock.format(time));
            nginx_escaped(out, request.as_bytes());
            let _ = write!(out, "\" {} {} \"", served.status, served.bytes);
            nginx_escaped(out, referer.unwrap_or(b"-"));
            let _ = out.write_all(b"\" \"");
            nginx_escaped(out, user_agent.unwrap_or(b"-"));
            let _ = out.write_all(b"\"\n");
            return;
        }
        // `METHOD TARGET PROTOCOL`: a method is a token and a target has no space (hyper
        // refuses one), so the first and last spaces split it. Empty when the request line was
        // never kept (CPython's 414): then all three are null.
        let (method, target, protocol) = match request.split_once(' ') {
            Some((method, rest)) => match rest.rsplit_once(' ') {
                Some((target, protocol)) => (Some(method), Some(target), Some(protocol)),
                None => (Some(method), Some(rest), None),
            },
            None => (None, None, None),
        };
        let _ = write!(
            out,
            "{{\"time\":\"{}\",\"client\":",
            self.clock.format(time)
        );
        json_string(out, Some(self.clients.format(client).as_bytes()));
        for (name, value) in [
            ("method", method),
            ("target", target),
            ("protocol", protocol),
        ] {
            let _ = write!(out, ",\"{name}\":");
            json_string(out, value.map(str::as_bytes));
        }
        let _ = write!(
            out,
            ",\"status\":{},\"bytes\":{},\"duration\":{:.3},\"user\":",
            served.status,
            served.bytes,
            served.duration.as_secs_f64() * 1000.0
        );
        json_string(out, user);
        let _ = out.write_all(b",\"referer\":");
        json_string(out, referer);
        let _ = out.write_all(b",\"user_agent\":");
        json_string(out, user_agent);
        let _ = writeln!(out, ",\"tls\":{}}}", served.tls);
    }
}

/// A time as `pattern` shows it in local time, formatted once a second.
struct DateCache {
    pattern: &'static str,
    second: i64,
    text: String,
}

impl DateCache {
    fn new(pattern: &'static str) -> DateCache {
        DateCache {
            pattern,
            second: 0,
            text: String::new(),
        }
    }

    fn format(&mut self, time: SystemTime) -> &str {
        // The second is found without the time-zone conversion, which cost ~350 instructions
        // a line; a time before 1970 is converted every time.
        let second = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(i64::MIN, |d| d.as_secs() as i64);
        if second != self.second || self.text.is_empty() || second == i64::MIN {
            let local: DateTime<Local> = time.into();
            self.second = second;
            self.text = local.format(self.pattern).to_string();
        }
        &self.text
    }
}

/// `n` in decimal, as `{}` writes it.
pub(crate) fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits, always UTF-8; pushed as one str rather than char by char.
    if let Ok(text) = std::str::from_utf8(&digits[at..]) {
        out.push_str(text);
    }
}

/// The client address as text (`-` for none), formatted again only when it changes: a client
/// mostly sends its requests in a row.
#[derive(Default)]
struct ClientCache {
    client: Option<Client>,
    text: String,
}

impl ClientCache {
    fn format(&mut self, client: Option<Client>) -> &str {
        if client != self.client || self.text.is_empty() {
            self.client = client;
            self.text = client.map_or_else(|| "-".to_owned(), |client| client.to_string());
        }
        &self.text
    }
}

/// CPython's `_control_char_table`: C0 and C1 controls and DEL as `\xNN`, backslash doubled.
fn escape_control(message: &str) -> std::borrow::Cow<'_, str> {
    let needs = |c: char| c == '\\' || c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c);
    // Looked for byte by byte first: a C1 control is 0xC2 0x80..=0x9F in UTF-8, so a line
    // without any of these bytes needs nothing (decoding chars was 430 instructions a line).
    // A fold without an early exit, which the compiler vectorizes: `any` went byte by byte,
    // ~400 instructions a line (callgrind).
    let suspect = message.as_bytes().iter().fold(false, |found, &b| {
        found | (b < b' ') | (b == 0x7f) | (b == b'\\') | (b == 0xc2)
    });
    if !suspect || !message.chars().any(needs) {
        return message.into();
    }
    let mut out = String::with_capacity(message.len() + 8);
    for c in message.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if needs(c) {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// nginx's escaping of a variable in its access log (`escape=default`, `ngx_http_log_escape`):
/// `"`, `\`, controls and every byte from 0x7F as `\xHH`, so a field never closes its quotes
/// and a line stays one line of ASCII.
fn nginx_escaped(out: &mut impl Write, bytes: &[u8]) {
    let mut start = 0;
    for (at, &b) in bytes.iter().enumerate() {
        if b == b'"' || b == b'\\' || !(b' '..0x7f).contains(&b) {
            let _ = out.write_all(&bytes[start..at]);
            let _ = write!(out, "\\x{b:02X}");
            start = at + 1;
        }
    }
    let _ = out.write_all(&bytes[start..]);
}

/// `bytes` as a JSON string (RFC 8259 §7), `null` for `None`. Bytes that are not UTF-8 (a
/// header's obs-text) become U+FFFD; `"`, `\` and controls, C1 and DEL included (which a
/// terminal would obey), are escaped.
fn json_string(out: &mut impl Write, bytes: Option<&[u8]>) {
    let Some(bytes) = bytes else {
        let _ = out.write_all(b"null");
        return;
    };
    let text = String::from_utf8_lossy(bytes);
    let _ = out.write_all(b"\"");
    let mut start = 0;
    for (at, c) in text.char_indices() {
        let short = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c) => "",
            _ => continue,
        };
        let _ = out.write_all(&text.as_bytes()[start..at]);
        if short.is_empty() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            let _ = out.write_all(short.as_bytes());
        }
        start = at + c.len_utf8();
    }
    let _ = out.write_all(&text.as_bytes()[start..]);
    let _ = out.write_all(b"\"");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn decimals_are_written_as_display_writes_them() {
        for n in [0, 7, 10, 404, 1024, u64::MAX] {
            let mut out = String::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn control_characters_and_backslash_are_escaped() {
        assert_eq!(escape_control("a\nb\x1b[31m\\"), "a\\x0ab\\x1b[31m\\\\");
        assert_eq!(escape_control("plain"), "plain");
        assert_eq!(escape_control("\u{85}"), "\\x85");
    }

    #[test]
    fn nginx_escaping_keeps_fields_quoted_and_lines_ascii() {
        let escaped = |bytes: &[u8]| written(|out| nginx_escaped(out, bytes));
        assert_eq!(escaped(b"Mozilla/5.0 (X11)"), "Mozilla/5.0 (X11)");
        assert_eq!(escaped(b"say \"hi\"\\"), "say \\x22hi\\x22\\x5C");
        assert_eq!(escaped(b"a\nb\x7f\xc3\xa9"), "a\\x0Ab\\x7F\\xC3\\xA9");
        assert_eq!(escaped(b""), "");
    }

    #[test]
    fn json_strings_parse_back_to_what_was_given() {
        for text in [
            "plain",
            "quote \" and \\ backslash",
            "line\nbreak\r\ttab",
            "\u{1b}[31m\u{7f}\u{85}",
            "é ünïcode ✓",
            "",
        ] {
            let json = written(|out| json_string(out, Some(text.as_bytes())));
            let back: String = serde_json::from_str(&json).expect(&json);
            assert_eq!(back, text, "{json}");
            assert!(!json.chars().any(|c| c.is_control()), "{json}");
        }
        assert_eq!(written(|out| json_string(out, None)), "null");
        let lossy = written(|out| json_string(out, Some(b"a\xffb")));
        assert_eq!(
            serde_json::from_str::<String>(&lossy).expect("json"),
            "a\u{fffd}b"
        );
    }
}
