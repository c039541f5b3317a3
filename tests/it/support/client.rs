//! Talking to a server over real sockets: raw bytes (for what a client library would
//! normalise, and malformed input) and hyper's HTTP/1.1 client (for well-formed requests); the
//! replies read whole, decoded with reference decoders; and requests to a handler in process.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use super::WAIT;

/// Sends `request` as raw bytes, half-closes, and returns everything the server answers
/// until it closes the connection.
pub(crate) fn raw(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    send_raw(addr, request, true)
}

/// [`raw`] without the half-close, for a request that runs a script: a client that half-closes
/// before the script's answer has left, and gets none (README, CGI). The request must end the
/// connection itself (`Connection: close`, HTTP/1.0).
pub(crate) fn raw_to_script(addr: SocketAddr, request: &[u8]) -> String {
    String::from_utf8_lossy(&send_raw(addr, request, false)).into_owned()
}

fn send_raw(addr: SocketAddr, request: &[u8], half_close: bool) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(request).expect("write request");
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// [`raw`] on the Unix-domain socket at `path`.
pub(crate) fn raw_unix(path: &std::path::Path, request: &[u8]) -> Vec<u8> {
    let mut stream = std::os::unix::net::UnixStream::connect(path).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(request).expect("write request");
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// A connection to `addr` whose receive buffer is a few KiB, set before connecting (so the
/// window the kernel advertises is small): a client that reads slowly holds back the server
/// within a few KiB instead of the megabytes loopback would buffer.
pub(crate) fn connect_with_small_receive_buffer(addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    socket.connect(&addr.into()).expect("connect");
    socket.into()
}

/// `GET path` on a new connection, read until the answer so far (as text) is `enough`; the
/// connection is handed back open, for the test to drop as a client that goes away midway.
pub(crate) fn get_until(addr: SocketAddr, path: &str, enough: impl Fn(&str) -> bool) -> TcpStream {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    send_until(addr, request.as_bytes(), enough).0
}

/// Sends `request` raw on a new connection and reads until the answer so far (as text) is
/// `enough`: the connection, still open, and what was read.
pub(crate) fn send_until(
    addr: SocketAddr,
    request: &[u8],
    enough: impl Fn(&str) -> bool,
) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(request).expect("write request");
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !enough(&String::from_utf8_lossy(&seen)) {
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    (stream, seen)
}

/// [`raw`], as text (lossy).
pub(crate) fn raw_text(addr: SocketAddr, request: &[u8]) -> String {
    String::from_utf8_lossy(&raw(addr, request)).into_owned()
}

/// A response read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// A header as text, `""` when absent.
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or(""))
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request over a new HTTP/1.1 connection with hyper's client and reads the reply.
pub(crate) fn send(addr: SocketAddr, request: http::Request<Full<Bytes>>) -> Reply {
    let mut replies = send_on_one_connection(addr, vec![request]);
    replies.pop().expect("one reply")
}

/// Reads a response whole (its body within [`WAIT`]), whatever the protocol it came over.
pub(crate) async fn read_reply(response: http::Response<hyper::body::Incoming>) -> Reply {
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(WAIT, body.collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

/// `GET path` with no extra headers.
pub(crate) fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, &[])
}

/// `GET` each of `paths`, all at once (a thread each), and the replies in the same order.
pub(crate) fn get_concurrently(addr: SocketAddr, paths: &[String]) -> Vec<Reply> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .iter()
            .map(|path| scope.spawn(move || get(addr, path)))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("request thread"))
            .collect()
    })
}

/// `METHOD path` with the given headers and no body.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    request_with_body(addr, method, path, headers, Bytes::new())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Writes `request` on a new connection without half-closing it, then reads until the server
/// closes the connection or stays silent for `idle`. Returns the bytes read and whether the
/// server closed the connection.
pub(crate) fn raw_keep_open(addr: SocketAddr, request: &[u8], idle: Duration) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(idle)).expect("timeout");
    stream.write_all(request).expect("write request");
    let mut answer = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (answer, true),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (answer, true),
            Err(_) => return (answer, false),
        }
    }
}

/// Sends `requests` one after the other on ONE HTTP/1.1 connection with hyper's client; fails
/// the test if the server closes the connection before the last reply.
pub(crate) fn send_on_one_connection(
    addr: SocketAddr,
    requests: Vec<http::Request<Full<Bytes>>>,
) -> Vec<Reply> {
    runtime().block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        let mut replies = Vec::new();
        for (i, request) in requests.into_iter().enumerate() {
            tokio::time::timeout(WAIT, sender.ready())
                .await
                .expect("connection ready in time")
                .unwrap_or_else(|e| panic!("connection closed before request {i}: {e}"));
            let response = tokio::time::timeout(WAIT, sender.send_request(request))
                .await
                .expect("response in time")
                .unwrap_or_else(|e| panic!("request {i} on the kept-alive connection: {e}"));
            replies.push(read_reply(response).await);
        }
        replies
    })
}

/// A raw HTTP/1.x response split into its status line, header lines and body (everything after
/// the blank line). Only for reading what the server wrote byte for byte.
#[derive(Debug)]
pub(crate) struct RawReply {
    /// The status line, e.g. `HTTP/1.1 404 File not found`.
    pub status_line: String,
    /// The header lines as `(name, value)`, in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The bytes after the head.
    pub body: Vec<u8>,
}

impl RawReply {
    /// Splits `bytes` at the first blank line; fails the test when there is none.
    pub(crate) fn parse(bytes: &[u8]) -> RawReply {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(bytes)));
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("").to_owned();
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap_or((line, ""));
                (name.to_owned(), value.trim().to_owned())
            })
            .collect();
        RawReply {
            status_line,
            headers,
            body: bytes[end + 4..].to_vec(),
        }
    }

    /// The status line without its protocol version, e.g. `404 File not found`.
    pub(crate) fn status(&self) -> &str {
        self.status_line
            .split_once(' ')
            .map_or("", |(_, rest)| rest)
    }

    /// The first header called `name` (any case), `None` when absent.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `METHOD path HTTP/1.1` with `Connection: close`, sent raw, answered raw.
pub(crate) fn raw_request(addr: SocketAddr, method: &str, path: &str) -> RawReply {
    let request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    // No half-close: the path may run a script, and a client that half-closes before a
    // script answers has left. `Connection: close` ends the exchange.
    RawReply::parse(&send_raw(addr, request.as_bytes(), false))
}

/// `METHOD path` with the given headers and body (sent with its `Content-Length`).
pub(crate) fn request_with_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let mut req = build_request(method, path, headers, body);
    req.headers_mut()
        .insert(http::header::HOST, addr.to_string().parse().expect("host"));
    send(addr, req)
}

/// `METHOD path` with the given headers and body, to send with any client (no `Host`: each
/// transport adds its own authority).
pub(crate) fn build_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> http::Request<Full<Bytes>> {
    let mut req = http::Request::new(Full::new(body.into()));
    *req.method_mut() = method.parse().expect("method");
    *req.uri_mut() = path.parse().expect("path");
    let map = req.headers_mut();
    for (name, value) in headers {
        let name: http::HeaderName = name.parse().expect("header name");
        map.append(name, value.parse().expect("header value"));
    }
    req
}

/// `POST path` with a `Content-Type` and a body held in memory.
pub(crate) fn post(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Reply {
    request_with_body(addr, "POST", path, &[("content-type", content_type)], body)
}

/// `body` decoded from the content coding `coding` (`gzip`, `br` or `zstd`) with the reference
/// decoders (flate2, brotli, zstd), never serveur's own code.
pub(crate) fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("gunzip");
        }
        "br" => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .expect("unbrotli");
        }
        "zstd" => out = zstd::stream::decode_all(body).expect("unzstd"),
        other => panic!("unexpected coding {other:?}"),
    }
    out
}

/// The parts of a `multipart/byteranges` reply read back with multer, each as its
/// `(Content-Type, Content-Range, bytes)`; fails the test when the reply is not one.
pub(crate) fn parse_byteranges(reply: &Reply) -> Vec<(String, String, Bytes)> {
    let content_type = reply.header("content-type");
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("not multipart/byteranges: {content_type}"))
        .to_owned();
    let body = reply.body.clone();
    runtime().block_on(async move {
        let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut parts = Vec::new();
        while let Some(field) = multipart.next_field().await.expect("well-formed part") {
            let header = |name: &str| {
                field.headers()[name]
                    .to_str()
                    .expect("text header")
                    .to_owned()
            };
            let (content_type, range) = (header("content-type"), header("content-range"));
            parts.push((
                content_type,
                range,
                field.bytes().await.expect("part bytes"),
            ));
        }
        parts
    })
}

/// Calls `handler` in process with `METHOD uri`, no headers and no body.
pub(crate) async fn ask(
    handler: &impl serveur::Handler,
    method: &str,
    uri: &str,
) -> serveur::Response {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(serveur::RequestBody::empty())
        .expect("request");
    handler.handle(req).await
}

/// The body of a response made in process, read whole, as UTF-8 text.
pub(crate) async fn body_text(response: serveur::Response) -> String {
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(body.to_vec()).expect("utf-8")
}

/// A `Transfer-Encoding: chunked` body decoded: its data, and whether it ended with the last
/// (zero-size) chunk, i.e. was sent whole (RFC 9112 §7.1). A body cut anywhere is incomplete.
pub(crate) fn dechunk(mut body: &[u8]) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    loop {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else {
            return (data, false);
        };
        let size = std::str::from_utf8(&body[..eol])
            .ok()
            .and_then(|line| usize::from_str_radix(line.split(';').next()?.trim(), 16).ok());
        let Some(size) = size else {
            return (data, false);
        };
        body = &body[eol + 2..];
        if size == 0 {
            return (data, body.starts_with(b"\r\n"));
        }
        if body.len() < size + 2 {
            data.extend_from_slice(body);
            return (data, false);
        }
        data.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// The value of the first `ATTR="…"` after `marker` in `page`.
pub(crate) fn attribute_after(page: &str, marker: &str, attr: &str) -> String {
    let from = page
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {page}"));
    let rest = &page[from..];
    let start = rest.find(&format!("{attr}=\"")).expect("attribute") + attr.len() + 2;
    rest[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Reads HTTP/1.1 responses with a Content-Length off `stream`, `count` of them.
pub(crate) fn read_responses(stream: &mut impl Read, count: usize) -> Vec<RawReply> {
    let mut buffered = Vec::new();
    let mut replies = Vec::new();
    while replies.len() < count {
        if let Some(end) = head_end(&buffered) {
            let head = RawReply::parse(&buffered[..end]);
            let len: usize = head
                .header("content-length")
                .map_or(0, |v| v.parse().expect("length"));
            if buffered.len() >= end + len {
                let rest = buffered.split_off(end + len);
                replies.push(RawReply::parse(&buffered));
                buffered = rest;
                continue;
            }
        }
        let mut chunk = [0u8; 65536];
        let n = stream.read(&mut chunk).expect("read");
        assert!(n > 0, "connection closed after {} responses", replies.len());
        buffered.extend_from_slice(&chunk[..n]);
    }
    replies
}

/// Where the body starts: after the first blank line.
pub(crate) fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}
