//! The request meta-variables of RFC 3875 §4.1, as a list of name/value pairs: a CGI script gets
//! them as its environment, a FastCGI application as `FCGI_PARAMS`. Values are bytes, since
//! decoded URL paths and header values need not be UTF-8.
//!
//! What is left out is as deliberate as what is put in: no `HTTP_PROXY` from a `Proxy:` header
//! (httpoxy, CVE-2016-5385), no header whose name holds `_` (it would alias the hyphenated one:
//! `X_Forwarded_For` posing as `X-Forwarded-For`), and no `HTTP_AUTHORIZATION` (credentials
//! stay with the server; `AUTH_TYPE` and `REMOTE_USER` say what a script needs, §4.1.1, §4.1.11).

use std::path::Path;

use base64::Engine;
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST};
use http::request::Parts;
use http::{HeaderName, Version};

use super::script_path::ScriptPath;
use crate::request::{Access, ConnectionInfo};
use crate::response::SERVER_NAME;

/// The meta-variables of one request, in the order they were set.
///
/// Names and values are kept one after the other in one buffer (a request's twenty-odd pairs
/// were forty-odd allocations and a sixth of serveur's work for a FastCGI request, callgrind).
#[derive(Clone, Debug, Default)]
pub(crate) struct MetaVars {
    bytes: Vec<u8>,
    /// Where each pair's name starts, where its value starts, where it ends, in `bytes`.
    pairs: Vec<[usize; 3]>,
}

impl MetaVars {
    /// The meta-variables for the request `parts`, from the connection `info`, to the script `script`
    /// below the directory `document_root`, whose body is `content_length` bytes long (`None`:
    /// no body).
    pub(crate) fn new(
        parts: &Parts,
        info: Option<&ConnectionInfo>,
        script: &ScriptPath,
        document_root: &Path,
        content_length: Option<u64>,
    ) -> MetaVars {
        let mut vars = MetaVars {
            bytes: Vec::with_capacity(1024),
            pairs: Vec::with_capacity(32),
        };
        vars.set("GATEWAY_INTERFACE", "CGI/1.1");
        vars.set("SERVER_SOFTWARE", SERVER_NAME);
        vars.set("SERVER_NAME", server_name(parts, info));
        if let Some(info) = info {
            if info.unix.is_none() {
                vars.set_display("SERVER_PORT", info.local.port());
                vars.set_display("REMOTE_ADDR", info.peer.ip());
                vars.set_display("REMOTE_PORT", info.peer.port());
            } else {
                // A Unix-domain socket has neither addresses nor ports. REMOTE_ADDR is what
                // nginx's `$remote_addr` says for one, `unix:` (the client is the proxy in
                // front, which passes the real one in a header); no REMOTE_PORT, which RFC
                // 3875 does not define. SERVER_PORT must be a port (§4.1.15): the scheme's
                // default, as gunicorn says over a Unix socket.
                vars.set("SERVER_PORT", if info.tls { "443" } else { "80" });
                vars.set("REMOTE_ADDR", "unix:");
            }
            if info.tls {
                vars.set("HTTPS", "on");
            }
        }
        vars.set("SERVER_PROTOCOL", protocol(parts.version));
        vars.set("REQUEST_METHOD", parts.method.as_str());
        let uri = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        vars.set("REQUEST_URI", uri);
        vars.set("SCRIPT_NAME", &script.script_name);
        vars.set(
            "SCRIPT_FILENAME",
            script.file.as_os_str().as_encoded_bytes(),
        );
        vars.set(
            "DOCUMENT_ROOT",
            document_root.as_os_str().as_encoded_bytes(),
        );
        vars.set("PATH_INFO", &script.path_info);
        if !script.path_info.is_empty() {
            // §4.1.6: the root plus PATH_INFO, which is already free of `..` segments, so it
            // never names anything outside the root.
            vars.name("PATH_TRANSLATED");
            vars.push(document_root.as_os_str().as_encoded_bytes());
            vars.push(&script.path_info);
            vars.end();
        }
        vars.set("QUERY_STRING", parts.uri.query().unwrap_or(""));
        // §4.1.3: the server MUST set CONTENT_TYPE when the request has a Content-Type, body or
        // not; §4.1.2: CONTENT_LENGTH only describes a body.
        if let Some(content_type) = parts.headers.get(CONTENT_TYPE) {
            vars.set("CONTENT_TYPE", content_type.as_bytes());
        }
        if let Some(length) = content_length {
            vars.set_display("CONTENT_LENGTH", length);
        }
        vars.set_auth(parts);
        vars.set_http_headers(parts);
        vars
    }

    /// Sets `name` to `value` (the caller sets each name once).
    pub(crate) fn set(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.name(name);
        self.push(value.as_ref());
        self.end();
    }

    /// Sets `name` to `value` as `Display` writes it.
    fn set_display(&mut self, name: &str, value: impl std::fmt::Display) {
        use std::io::Write;
        self.name(name);
        // Writing into a Vec cannot fail.
        let _ = write!(self.bytes, "{value}");
        self.end();
    }

    /// Starts a pair named `name`; its value is pushed next, then [`end`](Self::end) closes it.
    fn name(&mut self, name: &str) {
        self.name_with(|bytes| bytes.extend_from_slice(name.as_bytes()));
    }

    /// Starts a pair whose name `write` appends to the buffer.
    fn name_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        write(&mut self.bytes);
        self.pairs.push([start, self.bytes.len(), 0]);
    }

    /// Appends `bytes` to the value being made.
    fn push(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// Ends the pair being made.
    fn end(&mut self) {
        if let Some(pair) = self.pairs.last_mut() {
            pair[2] = self.bytes.len();
        }
    }

    /// The value of `name`, if set.
    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| *n == name.as_bytes())
            .map(|(_, v)| v)
    }

    /// Every pair, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
        // Names as bytes: a check that they are UTF-8 (they are: `&str`s and ASCII header
        // names) cost 1,800 instructions a FastCGI request (callgrind), and no caller needs it.
        self.pairs
            .iter()
            .map(|&[name, value, end]| (&self.bytes[name..value], &self.bytes[value..end]))
    }

    /// Behind access control (`auth`), `AUTH_TYPE=Basic` and the `REMOTE_USER` it verified.
    /// Otherwise `AUTH_TYPE` is the scheme of `Authorization`, `REMOTE_USER` the user of a
    /// Basic one, as CPython sets them, no password checked: the script must, if it cares.
    fn set_auth(&mut self, parts: &Parts) {
        // Access control in front checked the credentials: the user is the one it verified.
        if let Some(user) = parts
            .extensions
            .get::<Access>()
            .and_then(|a| a.user.as_deref())
        {
            self.set("AUTH_TYPE", "Basic");
            self.set("REMOTE_USER", user);
            return;
        }
        let Some(auth) = parts.headers.get(AUTHORIZATION) else {
            return;
        };
        let mut words = auth.as_bytes().split(|b| b.is_ascii_whitespace());
        let (Some(scheme), Some(credentials)) = (words.next(), words.next()) else {
            return;
        };
        self.set("AUTH_TYPE", scheme);
        if !scheme.eq_ignore_ascii_case(b"basic") {
            return;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials) else {
            return;
        };
        if let Some(colon) = decoded.iter().position(|&b| b == b':') {
            self.set("REMOTE_USER", &decoded[..colon]);
        }
    }

    /// Each request header as `HTTP_NAME` (§4.1.18), repeated fields joined with `, ` (cookies
    /// with `; `, RFC 9113 §8.2.3, since HTTP/2 clients split them).
    fn set_http_headers(&mut self, parts: &Parts) {
        for name in parts.headers.keys() {
            if !forwarded(name) {
                continue;
            }
            let separator: &[u8] = if name == COOKIE { b"; " } else { b", " };
            // `HTTP_` and the name upper-cased, hyphens as underscores, made in place.
            self.name_with(|bytes| {
                bytes.extend_from_slice(b"HTTP_");
                bytes.extend(name.as_str().bytes().map(|b| match b {
                    b'-' => b'_',
                    b => b.to_ascii_uppercase(),
                }));
            });
            for (i, v) in parts.headers.get_all(name).iter().enumerate() {
                if i > 0 {
                    self.push(separator);
                }
                self.push(v.as_bytes());
            }
            self.end();
        }
        if !parts.headers.contains_key(HOST) {
            // HTTP/2 carries the host as `:authority`, which hyper keeps in the URI.
            if let Some(authority) = parts.uri.authority() {
                self.set("HTTP_HOST", authority.as_str());
            }
        }
    }
}

/// Whether a request header becomes an `HTTP_*` variable.
fn forwarded(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "proxy" | "authorization" | "proxy-authorization" | "content-type" | "content-length"
    ) && !name.as_str().contains('_')
}

/// §4.1.14: the host the client asked for (without the port), else the address it reached.
fn server_name(parts: &Parts, info: Option<&ConnectionInfo>) -> String {
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.host());
    match host {
        Some(host) if host.starts_with('[') => {
            host.split_inclusive(']').next().unwrap_or(host).to_owned()
        }
        Some(host) => host.split(':').next().unwrap_or(host).to_owned(),
        None => match info.filter(|i| i.unix.is_none()).map(|i| i.local.ip()) {
            Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
            Some(ip) => ip.to_string(),
            None => "localhost".to_owned(),
        },
    }
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(request: http::Request<()>) -> MetaVars {
        vars_from(request, None)
    }

    fn vars_from(request: http::Request<()>, connection: Option<&ConnectionInfo>) -> MetaVars {
        let (parts, ()) = request.into_parts();
        let script = ScriptPath {
            script_name: b"/cgi-bin/a.py".to_vec(),
            path_info: b"/x y".to_vec(),
            file: "/srv/cgi-bin/a.py".into(),
            metadata: std::fs::metadata("/").expect("metadata"),
            is_index: false,
        };
        MetaVars::new(&parts, connection, &script, Path::new("/srv"), Some(3))
    }

    #[test]
    fn proxy_underscored_and_credential_headers_are_never_forwarded() {
        let v = vars(
            http::Request::builder()
                .uri("/cgi-bin/a.py/x%20y?q=1")
                .header("proxy", "http://evil:3128")
                .header("x_forwarded_for", "1.2.3.4")
                .header("x-forwarded-for", "5.6.7.8")
                .header("authorization", "Basic dXNlcjpwYXNz")
                .body(())
                .expect("request"),
        );
        assert_eq!(v.get("HTTP_PROXY"), None);
        assert_eq!(v.get("HTTP_X_FORWARDED_FOR"), Some(&b"5.6.7.8"[..]));
        assert_eq!(v.get("HTTP_AUTHORIZATION"), None);
        assert_eq!(v.get("AUTH_TYPE"), Some(&b"Basic"[..]));
        assert_eq!(v.get("REMOTE_USER"), Some(&b"user"[..]));
        assert_eq!(v.get("PATH_TRANSLATED"), Some(&b"/srv/x y"[..]));
        assert_eq!(v.get("QUERY_STRING"), Some(&b"q=1"[..]));
    }

    #[test]
    fn repeated_headers_are_joined_and_the_host_port_is_dropped() {
        let v = vars(
            http::Request::builder()
                .uri("/cgi-bin/a.py")
                .header("host", "[::1]:8000")
                .header("accept", "a")
                .header("accept", "b")
                .header("cookie", "x=1")
                .header("cookie", "y=2")
                .body(())
                .expect("request"),
        );
        assert_eq!(v.get("SERVER_NAME"), Some(&b"[::1]"[..]));
        assert_eq!(v.get("HTTP_ACCEPT"), Some(&b"a, b"[..]));
        assert_eq!(v.get("HTTP_COOKIE"), Some(&b"x=1; y=2"[..]));
        assert_eq!(v.get("QUERY_STRING"), Some(&b""[..]));
    }

    #[test]
    fn the_connection_gives_the_addresses_and_https() {
        let request = http::Request::builder()
            .uri("/cgi-bin/a.py")
            .body(())
            .expect("request");
        let connection = ConnectionInfo {
            peer: "192.0.2.7:4321".parse().expect("addr"),
            local: "[::1]:8443".parse().expect("addr"),
            tls: true,
            log: crate::AccessLog::off(),
            top_handler: None,
            socket: Default::default(),
            server: crate::request::ServerSide::new(std::sync::Arc::new(())),
            unix: None,
            client: crate::access_log::Client::Ip([192, 0, 2, 7].into()),
        };
        let v = vars_from(request, Some(&connection));
        assert_eq!(v.get("REMOTE_ADDR"), Some(&b"192.0.2.7"[..]));
        assert_eq!(v.get("REMOTE_PORT"), Some(&b"4321"[..]));
        assert_eq!(v.get("SERVER_PORT"), Some(&b"8443"[..]));
        assert_eq!(v.get("SERVER_NAME"), Some(&b"[::1]"[..]));
        assert_eq!(v.get("HTTPS"), Some(&b"on"[..]));
    }

    #[test]
    fn a_unix_socket_connection_gives_nginx_s_remote_addr_and_the_scheme_s_port() {
        let request = http::Request::builder()
            .uri("/cgi-bin/a.py")
            .body(())
            .expect("request");
        let connection = ConnectionInfo {
            peer: crate::request::NO_ADDRESS,
            local: crate::request::NO_ADDRESS,
            tls: false,
            log: crate::AccessLog::off(),
            top_handler: None,
            socket: Default::default(),
            server: crate::request::ServerSide::new(std::sync::Arc::new(())),
            unix: Some(std::path::Path::new("/run/serveur.sock").into()),
            client: crate::access_log::Client::Unix,
        };
        let v = vars_from(request, Some(&connection));
        assert_eq!(v.get("REMOTE_ADDR"), Some(&b"unix:"[..]));
        assert_eq!(v.get("REMOTE_PORT"), None);
        assert_eq!(v.get("SERVER_PORT"), Some(&b"80"[..]));
        // No Host: no address to name either.
        assert_eq!(v.get("SERVER_NAME"), Some(&b"localhost"[..]));
    }
}
