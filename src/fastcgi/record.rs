//! The FastCGI 1.0 wire format as pure functions on byte buffers, with no I/O: record headers,
//! the typed bodies of `FCGI_BEGIN_REQUEST` and `FCGI_END_REQUEST`, stream records split to the
//! 65535-byte content limit, name-value pairs, and the management query about an application's
//! limits, `FCGI_GET_VALUES`, with its answer (FastCGI specification §3.3, §3.4, §4.1, §5.1,
//! §5.5). Both directions are here, so the codec can be tested (and fuzzed) by round trips and
//! so a test application can be written with it. Decoding never panics on any input: malformed
//! bytes are a [`ProtocolError`].

use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The only protocol version (`FCGI_VERSION_1`).
pub const VERSION: u8 = 1;

/// Every record starts with this many header bytes (`FCGI_HEADER_LEN`).
pub const HEADER_LEN: usize = 8;

/// The most content one record carries: its length is a 16-bit number (§3.3).
pub const MAX_CONTENT: usize = u16::MAX as usize;

/// `FCGI_RESPONDER`: the only role a web server asks of an application here (§6.2).
pub const ROLE_RESPONDER: u16 = 1;

/// `FCGI_KEEP_CONN`: the application leaves the connection open after the request (§5.1).
pub const KEEP_CONN: u8 = 1;

/// A record's type (§8, `FCGI_BEGIN_REQUEST` … `FCGI_UNKNOWN_TYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Opens a request: role and flags.
    BeginRequest = 1,
    /// The web server gives up on a request (its client went away).
    AbortRequest = 2,
    /// The application is done with a request: its exit status.
    EndRequest = 3,
    /// Name-value pairs: the request's meta-variables.
    Params = 4,
    /// The request body.
    Stdin = 5,
    /// The response: header block then body.
    Stdout = 6,
    /// Diagnostics for the server's log.
    Stderr = 7,
    /// Extra data for the Filter role.
    Data = 8,
    /// A management query about the application's limits.
    GetValues = 9,
    /// The answer to [`Kind::GetValues`].
    GetValuesResult = 10,
    /// The answer to a record type the application does not know.
    UnknownType = 11,
}

impl Kind {
    /// The kind for a type byte, `None` for a type this version does not define.
    pub fn from_byte(byte: u8) -> Option<Kind> {
        use Kind::*;
        [
            BeginRequest,
            AbortRequest,
            EndRequest,
            Params,
            Stdin,
            Stdout,
            Stderr,
            Data,
            GetValues,
            GetValuesResult,
            UnknownType,
        ]
        .into_iter()
        .find(|kind| *kind as u8 == byte)
    }
}

/// One decoded record. The type stays a byte so that types unknown to this version are still
/// read (and skipped) rather than refused (§3.3: a peer must accept records it ignores).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The type byte; see [`Kind::from_byte`].
    pub kind: u8,
    /// The request the record belongs to; 0 for management records.
    pub request_id: u16,
    /// The content, without its padding.
    pub content: Bytes,
}

/// Bytes that are not FastCGI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// A header whose version byte is not 1 (the peer does not speak FastCGI).
    Version(u8),
    /// An `FCGI_BEGIN_REQUEST` or `FCGI_END_REQUEST` whose content is not 8 bytes.
    BodyLength(u8, usize),
    /// A name-value pair whose lengths run past the end of its content.
    TruncatedPair,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Version(v) => write!(f, "FastCGI version {v} (expected 1)"),
            ProtocolError::BodyLength(kind, len) => {
                write!(f, "record type {kind} has {len} content bytes (expected 8)")
            }
            ProtocolError::TruncatedPair => f.write_str("truncated name-value pair"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Takes one whole record off the front of `buf`: `Ok(None)` while more bytes are needed (and
/// `buf` is left as it was), the record once all of it, padding included, has arrived.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Record>, ProtocolError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    if header[0] != VERSION {
        return Err(ProtocolError::Version(header[0]));
    }
    let kind = header[1];
    let request_id = u16::from_be_bytes([header[2], header[3]]);
    let content_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let padding_len = usize::from(header[6]);
    if buf.len() < HEADER_LEN + content_len + padding_len {
        return Ok(None);
    }
    buf.advance(HEADER_LEN);
    let content = buf.split_to(content_len).freeze();
    buf.advance(padding_len);
    Ok(Some(Record {
        kind,
        request_id,
        content,
    }))
}

/// Appends one record carrying `content` (at most [`MAX_CONTENT`] bytes), padded to a multiple
/// of 8 bytes as §3.3 recommends for the receiver's alignment.
fn put_record(out: &mut BytesMut, kind: Kind, request_id: u16, content: &[u8]) {
    debug_assert!(content.len() <= MAX_CONTENT);
    let padding = (8 - content.len() % 8) % 8;
    out.reserve(HEADER_LEN + content.len() + padding);
    out.put_u8(VERSION);
    out.put_u8(kind as u8);
    out.put_u16(request_id);
    out.put_u16(content.len() as u16);
    out.put_u8(padding as u8);
    out.put_u8(0);
    out.put_slice(content);
    out.put_bytes(0, padding);
}

/// Appends `data` to a stream (`Params`, `Stdin`, `Stdout`, `Stderr`, `Data`) as as many records
/// as its length needs. Nothing is appended for empty `data`: an empty record means the end of
/// the stream, which [`put_stream_end`] writes.
pub fn put_stream(out: &mut BytesMut, kind: Kind, request_id: u16, data: &[u8]) {
    for chunk in data.chunks(MAX_CONTENT) {
        put_record(out, kind, request_id, chunk);
    }
}

/// Appends the empty record that closes a stream (§3.3: "an empty record … signals the end").
pub fn put_stream_end(out: &mut BytesMut, kind: Kind, request_id: u16) {
    put_record(out, kind, request_id, &[]);
}

/// Appends an `FCGI_BEGIN_REQUEST` in `role`, with [`KEEP_CONN`] when `keep_conn` (§5.1).
pub fn put_begin_request(out: &mut BytesMut, request_id: u16, role: u16, keep_conn: bool) {
    let mut body = [0u8; 8];
    body[..2].copy_from_slice(&role.to_be_bytes());
    body[2] = if keep_conn { KEEP_CONN } else { 0 };
    put_record(out, Kind::BeginRequest, request_id, &body);
}

/// Appends an `FCGI_ABORT_REQUEST`, which has no content (§5.4).
pub fn put_abort_request(out: &mut BytesMut, request_id: u16) {
    put_record(out, Kind::AbortRequest, request_id, &[]);
}

/// Appends an `FCGI_END_REQUEST` (§5.5).
///
/// This and the other functions of the application's side (reading `FCGI_BEGIN_REQUEST` and
/// `FCGI_PARAMS`) are compiled only for the crate's fake application (`tests.rs`) and for the
/// fuzzer: serveur itself is only ever the web server's side.
#[cfg(any(test, feature = "fuzzing"))]
pub fn put_end_request(out: &mut BytesMut, request_id: u16, end: EndRequest) {
    let mut body = [0u8; 8];
    body[..4].copy_from_slice(&end.app_status.to_be_bytes());
    body[4] = end.protocol_status;
    put_record(out, Kind::EndRequest, request_id, &body);
}

/// The content of an `FCGI_BEGIN_REQUEST`.
#[cfg(any(test, feature = "fuzzing"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BeginRequest {
    /// The role asked for ([`ROLE_RESPONDER`]).
    pub role: u16,
    /// Whether the application keeps the connection open afterwards.
    pub keep_conn: bool,
}

#[cfg(any(test, feature = "fuzzing"))]
impl BeginRequest {
    /// Reads the content of an `FCGI_BEGIN_REQUEST` record.
    pub fn parse(content: &[u8]) -> Result<BeginRequest, ProtocolError> {
        let body: &[u8; 8] = content
            .try_into()
            .map_err(|_| ProtocolError::BodyLength(Kind::BeginRequest as u8, content.len()))?;
        Ok(BeginRequest {
            role: u16::from_be_bytes([body[0], body[1]]),
            keep_conn: body[2] & KEEP_CONN != 0,
        })
    }
}

/// The content of an `FCGI_END_REQUEST`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndRequest {
    /// The application's exit status (what a CGI program would `exit` with).
    pub app_status: u32,
    /// [`REQUEST_COMPLETE`], or why the application refused the request.
    pub protocol_status: u8,
}

/// `FCGI_REQUEST_COMPLETE`: the request ran (§5.5).
pub const REQUEST_COMPLETE: u8 = 0;

impl EndRequest {
    /// Reads the content of an `FCGI_END_REQUEST` record.
    pub fn parse(content: &[u8]) -> Result<EndRequest, ProtocolError> {
        let body: &[u8; 8] = content
            .try_into()
            .map_err(|_| ProtocolError::BodyLength(Kind::EndRequest as u8, content.len()))?;
        Ok(EndRequest {
            app_status: u32::from_be_bytes([body[0], body[1], body[2], body[3]]),
            protocol_status: body[4],
        })
    }

    /// Why the application refused the request, in words, or `None` when it ran it.
    pub fn refusal(&self) -> Option<&'static str> {
        match self.protocol_status {
            REQUEST_COMPLETE => None,
            1 => Some("cannot multiplex connections"),
            2 => Some("overloaded"),
            3 => Some("unknown role"),
            _ => Some("unknown protocol status"),
        }
    }
}

/// Appends name-value pairs in the §3.4 encoding: each length in one byte below 128, else four
/// bytes with the high bit set. Lengths above 2³¹−1 cannot be encoded; no meta-variable comes
/// near that, and such a pair is cut to that length rather than corrupting the stream.
pub fn put_pairs<'a>(out: &mut BytesMut, pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) {
    const MAX_LEN: usize = 0x7fff_ffff;
    for (name, value) in pairs {
        let name = &name[..name.len().min(MAX_LEN)];
        let value = &value[..value.len().min(MAX_LEN)];
        put_length(out, name.len());
        put_length(out, value.len());
        out.put_slice(name);
        out.put_slice(value);
    }
}

fn put_length(out: &mut BytesMut, len: usize) {
    if len < 0x80 {
        out.put_u8(len as u8);
    } else {
        out.put_u32(len as u32 | 0x8000_0000);
    }
}

/// Reads the name-value pairs of a whole `Params` stream, or of a `GetValues` or
/// `GetValuesResult` record.
pub fn parse_pairs(mut content: &[u8]) -> Result<Vec<(Bytes, Bytes)>, ProtocolError> {
    let mut pairs = Vec::new();
    while !content.is_empty() {
        let name_len = take_length(&mut content)?;
        let value_len = take_length(&mut content)?;
        if content.len() < name_len.saturating_add(value_len) {
            return Err(ProtocolError::TruncatedPair);
        }
        let name = Bytes::copy_from_slice(&content[..name_len]);
        let value = Bytes::copy_from_slice(&content[name_len..name_len + value_len]);
        content = &content[name_len + value_len..];
        pairs.push((name, value));
    }
    Ok(pairs)
}

fn take_length(content: &mut &[u8]) -> Result<usize, ProtocolError> {
    match content.first() {
        None => Err(ProtocolError::TruncatedPair),
        Some(&b) if b < 0x80 => {
            content.advance(1);
            Ok(usize::from(b))
        }
        Some(_) if content.len() < 4 => Err(ProtocolError::TruncatedPair),
        Some(_) => Ok((content.get_u32() & 0x7fff_ffff) as usize),
    }
}

/// The names a web server asks an application about (§4.1): how many connections it accepts at
/// once, how many requests, and whether it multiplexes requests on a connection.
pub const ASKED_VALUES: [&str; 3] = ["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"];

/// Appends an `FCGI_GET_VALUES` management record (request id 0) asking for
/// [`ASKED_VALUES`]: each a name with an empty value (§4.1).
pub fn put_get_values(out: &mut BytesMut) {
    let mut pairs = BytesMut::new();
    put_pairs(
        &mut pairs,
        ASKED_VALUES.map(|name| (name.as_bytes(), &b""[..])),
    );
    put_record(out, Kind::GetValues, 0, &pairs);
}

/// What an application said of its limits in `FCGI_GET_VALUES_RESULT` (§4.1). A value that is
/// not a positive decimal number is no answer: `None`, as a name left out is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Values {
    /// `FCGI_MAX_CONNS`: the most connections it accepts at once.
    pub max_conns: Option<u32>,
    /// `FCGI_MAX_REQS`: the most requests it runs at once.
    pub max_reqs: Option<u32>,
}

impl Values {
    /// Reads the content of an `FCGI_GET_VALUES_RESULT` record. Names not asked are ignored.
    pub fn parse(content: &[u8]) -> Result<Values, ProtocolError> {
        let mut values = Values::default();
        for (name, value) in parse_pairs(content)? {
            let number = std::str::from_utf8(&value)
                .ok()
                .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|text| text.parse::<u32>().ok())
                .filter(|n| *n > 0);
            match &name[..] {
                b"FCGI_MAX_CONNS" => values.max_conns = number,
                b"FCGI_MAX_REQS" => values.max_reqs = number,
                _ => {}
            }
        }
        Ok(values)
    }

    /// How many requests the application takes at once on connections that carry one at a
    /// time: the smaller of the two limits it gave, if it gave any.
    pub fn capacity(&self) -> Option<u32> {
        match (self.max_conns, self.max_reqs) {
            (Some(conns), Some(reqs)) => Some(conns.min(reqs)),
            (one, other) => one.or(other),
        }
    }
}

#[cfg(test)]
mod tests;
