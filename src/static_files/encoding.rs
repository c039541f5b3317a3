//! Content codings: which types are worth compressing, and which coding a client's
//! `Accept-Encoding` (RFC 9110 §12.5.3) lets us send. Only zstd, br and gzip are offered;
//! between equal q-values the server prefers them in that order (smaller output first).

use http::header::ACCEPT_ENCODING;
use http::HeaderMap;

/// Files shorter than this are sent as they are: their compressed form saves less than the
/// cost of the coding (nginx's `gzip_min_length` idea, with a larger floor).
pub(super) const MIN_COMPRESS_LEN: u64 = 1024;

/// A content coding serveur can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Zstandard (RFC 8878).
    Zstd,
    /// Brotli (RFC 7932).
    Brotli,
    /// gzip (RFC 1952).
    Gzip,
}

impl Encoding {
    /// Server preference, best first.
    pub(crate) const ALL: [Encoding; 3] = [Encoding::Zstd, Encoding::Brotli, Encoding::Gzip];

    /// The coding's name in `Content-Encoding`.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Encoding::Zstd => "zstd",
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        }
    }

    /// The file-name suffix of a precompressed sibling (`app.js.br`).
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Encoding::Zstd => ".zst",
            Encoding::Brotli => ".br",
            Encoding::Gzip => ".gz",
        }
    }
}

/// Which representation of a file is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    /// The file's bytes as they are.
    Identity,
    /// A precompressed sibling's bytes (`app.js.br`), sent as they are.
    Stored(Encoding),
    /// The file compressed while it is sent.
    OnTheFly(Encoding),
}

impl Coding {
    /// The `Content-Encoding` sent, if any.
    pub(crate) fn encoding(self) -> Option<Encoding> {
        match self {
            Coding::Identity => None,
            Coding::Stored(e) | Coding::OnTheFly(e) => Some(e),
        }
    }

    /// Whether byte ranges of this representation can be served: only of bytes on disk.
    pub(crate) fn rangeable(self) -> bool {
        !matches!(self, Coding::OnTheFly(_))
    }
}

/// Whether a response of `content_type` is worth compressing: text and the textual formats
/// (JSON, XML, SVG, JavaScript), WebAssembly and uncompressed fonts. Images, audio, video and
/// archives are already compressed.
pub(super) fn compressible(content_type: &[u8]) -> bool {
    const TYPES: [&[u8]; 9] = [
        b"application/json",
        b"application/javascript",
        b"application/xml",
        b"application/wasm",
        b"image/x-icon",
        b"image/bmp",
        b"font/ttf",
        b"font/otf",
        b"application/vnd.ms-fontobject",
    ];
    let essence = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    // Compared without lower-casing into a new buffer: this runs on every large-enough file.
    let starts = |p: &[u8]| essence.len() >= p.len() && essence[..p.len()].eq_ignore_ascii_case(p);
    let ends = |s: &[u8]| {
        essence.len() >= s.len() && essence[essence.len() - s.len()..].eq_ignore_ascii_case(s)
    };
    starts(b"text/")
        || ends(b"+json")
        || ends(b"+xml")
        || TYPES.iter().any(|t| essence.eq_ignore_ascii_case(t))
}

/// A client's `Accept-Encoding`, reduced to what serveur can act on. Weights are in
/// thousandths (RFC 9110 §12.4.2 allows three decimals).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Accepted {
    weights: [Option<u16>; 3],
    identity: Option<u16>,
    star: Option<u16>,
}

impl Accepted {
    /// Reads every `Accept-Encoding` line of `headers`; `None` when there is none, which means
    /// any coding is acceptable but the server should send none (RFC 9110 §12.5.3).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Accepted> {
        let mut values = headers.get_all(ACCEPT_ENCODING).iter().peekable();
        values.peek()?;
        let mut accepted = Accepted::default();
        for item in values.flat_map(|v| v.as_bytes().split(|&b| b == b',')) {
            accepted.add(item);
        }
        Some(accepted)
    }

    fn add(&mut self, item: &[u8]) {
        let mut parts = item.split(|&b| b == b';');
        let coding = parts.next().unwrap_or_default().trim_ascii();
        let mut weight = Some(1000);
        for param in parts {
            let param = param.trim_ascii();
            if let Some(q) = param
                .strip_prefix(b"q=")
                .or_else(|| param.strip_prefix(b"Q="))
            {
                weight = parse_qvalue(q);
            }
        }
        // A malformed weight makes the whole member unusable: it is skipped, not guessed.
        let Some(weight) = weight else { return };
        let is = |name: &[u8]| coding.eq_ignore_ascii_case(name);
        let slot = if is(b"zstd") {
            &mut self.weights[0]
        } else if is(b"br") {
            &mut self.weights[1]
        } else if is(b"gzip") || is(b"x-gzip") {
            &mut self.weights[2]
        } else if is(b"identity") {
            &mut self.identity
        } else if is(b"*") {
            &mut self.star
        } else {
            return;
        };
        *slot = Some(weight);
    }

    /// The weight the client gives `encoding` (an explicit entry, else `*`, else 0).
    pub(crate) fn weight(&self, encoding: Encoding) -> u16 {
        let index = Encoding::ALL
            .iter()
            .position(|&e| e == encoding)
            .unwrap_or_default();
        self.weights[index].or(self.star).unwrap_or(0)
    }

    /// Whether the unencoded representation may be sent: yes unless `identity;q=0`, or `*;q=0`
    /// without an `identity` entry.
    pub(super) fn identity_allowed(&self) -> bool {
        self.identity.or(self.star).is_none_or(|q| q > 0)
    }

    /// The acceptable codings, most wanted first (ties broken by server preference), never
    /// ranked below an explicitly preferred `identity`.
    pub(super) fn ranked(&self) -> impl Iterator<Item = Encoding> + '_ {
        let mut ranked = Encoding::ALL;
        // A stable sort keeps the server's order among equal weights.
        ranked.sort_by_key(|&e| std::cmp::Reverse(self.weight(e)));
        let floor = self.identity.unwrap_or(0);
        ranked
            .into_iter()
            .filter(move |&e| self.weight(e) > 0 && self.weight(e) >= floor)
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` in thousandths.
fn parse_qvalue(text: &[u8]) -> Option<u16> {
    let (int, frac) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn accepted(value: &'static str) -> Accepted {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static(value));
        Accepted::from_headers(&headers).expect("present")
    }

    fn ranked(value: &'static str) -> Vec<Encoding> {
        accepted(value).ranked().collect()
    }

    #[test]
    fn equal_weights_follow_server_preference() {
        use Encoding::*;
        assert_eq!(ranked("gzip, deflate, br, zstd"), [Zstd, Brotli, Gzip]);
        assert_eq!(ranked("gzip;q=1.0, br;q=0.5"), [Gzip, Brotli]);
        assert_eq!(ranked("*"), [Zstd, Brotli, Gzip]);
        assert_eq!(ranked("*;q=0.2, gzip;q=0"), [Zstd, Brotli]);
    }

    #[test]
    fn identity_preferred_or_forbidden() {
        assert!(ranked("gzip;q=0.5, identity").is_empty());
        assert!(accepted("gzip").identity_allowed());
        assert!(!accepted("gzip, identity;q=0").identity_allowed());
        assert!(!accepted("*;q=0").identity_allowed());
        assert!(accepted("*;q=0, identity").identity_allowed());
    }

    #[test]
    fn malformed_weights_drop_the_member() {
        assert!(ranked("gzip;q=2, br;q=0.1234, zstd;q=x").is_empty());
        assert_eq!(parse_qvalue(b"0.125"), Some(125));
        assert_eq!(parse_qvalue(b"1.000"), Some(1000));
        assert_eq!(parse_qvalue(b"1.5"), None);
    }

    #[test]
    fn compressible_types() {
        assert!(compressible(b"text/html; charset=utf-8"));
        assert!(compressible(b"application/ld+json"));
        assert!(compressible(b"image/svg+xml"));
        assert!(compressible(b"application/wasm"));
        assert!(!compressible(b"image/png"));
        assert!(!compressible(b"application/gzip"));
    }
}
