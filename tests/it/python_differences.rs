//! The differences from CPython 3.13's `python -m http.server` that serveur makes on purpose,
//! each shown against the real CPython 3.13 on the same request, so that the README's table of
//! differences stays true.

use crate::support;

use crate::support::{hostile_site, raw, raw_keep_open, raw_request, start_python, Serveur};

#[test]
fn listing_title_leaves_out_the_query_that_python_3_13_keeps() {
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    let theirs = raw_request(python.addr, "GET", "/sub/?x=1");
    let mine = raw_request(ours.addr, "GET", "/sub/?x=1");
    // CPython 3.13 titles the page with the query; serveur leaves it out, as 3.15 does.
    assert!(String::from_utf8_lossy(&theirs.body).contains("Directory listing for /sub/?x=1<"));
    assert!(String::from_utf8_lossy(&mine.body).contains("Directory listing for /sub/<"));
}

#[test]
fn names_that_are_not_utf8_link_to_their_own_bytes() {
    let python = start_python(hostile_site());
    let ours = Serveur::start(hostile_site(), &[]);
    let theirs = raw_request(python.addr, "GET", "/not-utf8/").body;
    let mine = raw_request(ours.addr, "GET", "/not-utf8/").body;
    // CPython links the name as `x%ED%B3%BFy` (the surrogatepass encoding of its
    // surrogateescape'd name, which only CPython maps back to 0xFF) and writes the raw 0xFF
    // byte into a page declared UTF-8; serveur links the name's own bytes (`x%FFy`, which any
    // server would understand) and shows U+FFFD.
    let theirs_text = String::from_utf8_lossy(&theirs);
    assert!(
        theirs_text.contains("<a href=\"x%ED%B3%BFy\">"),
        "{theirs_text}"
    );
    assert!(theirs.windows(3).any(|w| w == b"x\xffy"));
    let mine_text = String::from_utf8(mine).expect("serveur's listing is valid UTF-8");
    assert!(
        mine_text.contains("<a href=\"x%FFy\">x\u{fffd}y</a>"),
        "{mine_text}"
    );
    assert_eq!(
        raw_request(python.addr, "GET", "/not-utf8/x%ED%B3%BFy").body,
        b"raw"
    );
    assert_eq!(
        raw_request(ours.addr, "GET", "/not-utf8/x%FFy").body,
        b"raw"
    );
}

#[test]
fn nul_in_the_path_is_a_404_where_python_drops_the_connection() {
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    // CPython's open() raises ValueError on the NUL byte and the connection drops unanswered.
    let theirs = raw(
        python.addr,
        b"GET /a.txt%00 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(theirs.is_empty(), "{:?}", String::from_utf8_lossy(&theirs));
    assert_eq!(
        raw_request(ours.addr, "GET", "/a.txt%00").status(),
        "404 File not found"
    );
}

#[test]
fn links_out_of_the_root_are_refused_where_python_follows_them() {
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    assert_eq!(
        raw_request(python.addr, "GET", "/link-out").body,
        b"outside"
    );
    assert_eq!(
        raw_request(ours.addr, "GET", "/link-out").status(),
        "404 File not found"
    );
    let follows = Serveur::start(www, &["--follow-symlinks"]);
    assert_eq!(
        raw_request(follows.addr, "GET", "/link-out").body,
        b"outside"
    );
}

#[test]
fn http_1_1_keep_alive_is_the_default_where_python_speaks_http_1_0() {
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    let request = b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    let idle = std::time::Duration::from_millis(500);
    let (theirs, python_closed) = raw_keep_open(python.addr, request, idle);
    let (mine, we_closed) = raw_keep_open(ours.addr, request, idle);
    assert!(theirs.starts_with(b"HTTP/1.0 200 OK\r\n"));
    assert!(python_closed);
    assert!(mine.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(!we_closed);
}

#[test]
fn access_log_has_the_byte_count_where_python_writes_a_dash() {
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    raw_request(python.addr, "GET", "/a.txt");
    raw_request(ours.addr, "GET", "/a.txt");
    python.wait_for_log("\"GET /a.txt HTTP/1.1\" 200 -");
    ours.wait_for_log("\"GET /a.txt HTTP/1.1\" 200 6");
}

#[test]
fn log_reads_the_request_target_as_utf8_where_python_reads_latin_1() {
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    // U+0085 (NEL) is the bytes C2 85: one escaped control for serveur, "Â" and an escaped
    // control for CPython, which decodes the request line as ISO-8859-1.
    let request = "GET /x\u{85} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    raw(python.addr, request.as_bytes());
    raw(ours.addr, request.as_bytes());
    python.wait_for_log("\"GET /x\u{c2}\\x85 HTTP/1.1\" 404 -");
    ours.wait_for_log("\"GET /x\\x85 HTTP/1.1\" 404 460");
}

#[test]
fn a_fragment_in_the_request_target_is_not_kept_in_the_redirect() {
    // Browsers never send a fragment; CPython keeps one it receives in the Location of its
    // directory redirect, hyper drops it while parsing the target, so serveur cannot.
    let www = hostile_site();
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    let theirs = raw_request(python.addr, "GET", "/sub?a#b");
    let mine = raw_request(ours.addr, "GET", "/sub?a#b");
    assert_eq!(theirs.header("location"), Some("/sub/?a#b"));
    assert_eq!(mine.header("location"), Some("/sub/?a"));
}

#[test]
fn a_backslash_in_a_redirected_path_is_encoded_so_the_location_stays_on_the_site() {
    // Browsers read `\` as `/` (WHATWG URL parser): CPython 3.13's Location leads to the host
    // `evil.example` (gh-132826); serveur's leads back to the same directory.
    let www = hostile_site();
    // The site's `\evil.example/x` (one of HOSTILE_DIRS).
    let python = start_python(www);
    let ours = Serveur::start(www, &[]);
    let theirs = raw_request(python.addr, "GET", "/\\evil.example/x");
    let mine = raw_request(ours.addr, "GET", "/\\evil.example/x");
    assert_eq!(theirs.header("location"), Some("/\\evil.example/x/"));
    assert_eq!(mine.header("location"), Some("/%5Cevil.example/x/"));
    let base = url::Url::parse("http://127.0.0.1:8000/").expect("base");
    let host = |reply: &support::RawReply| {
        let location = reply.header("location").expect("location");
        base.join(location)
            .expect("url")
            .host_str()
            .map(str::to_owned)
    };
    assert_eq!(host(&theirs).as_deref(), Some("evil.example"));
    assert_eq!(host(&mine).as_deref(), Some("127.0.0.1"));
}
