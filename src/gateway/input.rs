//! The request body as a script reads it (RFC 3875 §4.2), on a CGI script's stdin or as a
//! FastCGI application's `FCGI_STDIN`. A body of known length is streamed as it arrives, so a
//! large upload is never held in memory; a chunked body has no length to put in
//! `CONTENT_LENGTH`, so it is first spooled to an unnamed temporary file (bounded by the body
//! limit), which a CGI script then gets as its stdin directly.

use std::io::{self, SeekFrom};
use std::process::Stdio;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, EXPECT};
use http::HeaderMap;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::request::RequestBody;

/// The request body, ready to become a script's stdin.
pub(crate) enum Input {
    /// No body.
    None,
    /// A body of known length, still to be read from the client (but for its first chunk,
    /// when it was read already).
    Stream(u64, Option<Bytes>, RequestBody),
    /// A chunked body, already read into this file.
    Spooled(u64, std::fs::File),
}

/// Why the body cannot be given to a script.
pub(crate) enum Refused {
    /// Longer than the limit (413).
    TooLarge,
    /// The client sent a `Content-Length` that is not a number, or went away mid-body.
    Broken(io::Error),
}

impl Input {
    /// Reads what the request says about its body; a chunked body is spooled now, up to
    /// `max_body` bytes.
    pub(crate) async fn prepare(
        headers: &HeaderMap,
        mut body: RequestBody,
        max_body: u64,
    ) -> Result<Input, Refused> {
        use http_body::Body as _;
        if let Some(length) = headers.get(CONTENT_LENGTH) {
            // hyper has already refused a malformed or repeated Content-Length.
            let length = length
                .to_str()
                .ok()
                .and_then(|l| l.parse::<u64>().ok())
                .ok_or_else(|| Refused::Broken(io::Error::other("bad Content-Length")))?;
            if length > max_body {
                return Err(Refused::TooLarge);
            }
            // hyper answers `Expect: 100-continue` when the body is first read. Read it now,
            // before the script can write a final response that would make the 100 moot and
            // leave the client wondering whether to send the body (RFC 9110 §10.1.1).
            let first = if headers.contains_key(EXPECT) && length > 0 {
                body.chunk().await.transpose().map_err(Refused::Broken)?
            } else {
                None
            };
            return Ok(Input::Stream(length, first, body));
        }
        if body.is_end_stream() {
            return Ok(Input::None);
        }
        let mut file = tokio::fs::File::from_std(tempfile::tempfile().map_err(Refused::Broken)?);
        let mut length = 0u64;
        while let Some(chunk) = body.chunk().await {
            let chunk = chunk.map_err(Refused::Broken)?;
            length += chunk.len() as u64;
            if length > max_body {
                return Err(Refused::TooLarge);
            }
            file.write_all(&chunk).await.map_err(Refused::Broken)?;
        }
        file.flush().await.map_err(Refused::Broken)?;
        file.seek(SeekFrom::Start(0))
            .await
            .map_err(Refused::Broken)?;
        Ok(Input::Spooled(length, file.into_std().await))
    }

    /// `CONTENT_LENGTH`, when there is a body.
    pub(crate) fn length(&self) -> Option<u64> {
        match self {
            Input::None => None,
            Input::Stream(length, ..) | Input::Spooled(length, _) => Some(*length),
        }
    }

    /// What the script's stdin is made of, and the body still to stream into it (if any).
    pub(crate) fn into_stdio(self) -> (Stdio, Option<(Option<Bytes>, RequestBody)>) {
        match self {
            Input::None => (Stdio::null(), None),
            Input::Spooled(_, file) => (Stdio::from(file), None),
            Input::Stream(_, first, body) => (Stdio::piped(), Some((first, body))),
        }
    }
}
