//! The hostile-input matrix, second part: the advisory cases of the
//! project's reference notes (section 4) that `server_strictness.rs` does not
//! already cover, a hidden request behind every smuggling shape (never
//! answered, never seen by the application), and every limit exactly at,
//! one under and one over.

use std::io::{BufReader, Write};
use std::sync::{Arc, Mutex};

use gateway_server::ServerConfig;
use gateway_spec::{AppError, Body, Environ, StartResponse};
use tests::apps::kitchen_sink;
use tests::{is_closed, read_response, test_config, RawResponse, TestServer};

/// Send `raw` on a new connection; the response, and whether the server
/// closed the connection after it.
fn send(server: &TestServer, raw: &[u8]) -> (RawResponse, bool) {
    let mut reader = BufReader::new(server.connect());
    reader.get_mut().write_all(raw).unwrap();
    let response = read_response(&mut reader, false)
        .unwrap_or_else(|e| panic!("no response ({e}) to {:?}", String::from_utf8_lossy(raw)));
    (response, is_closed(&mut reader))
}

/// (advisory, raw request, expected status): refused, then closed.
const REFUSED: &[(&str, &[u8], u16)] = &[
    // waitress CVE-2019-16789: only SP and HTAB are whitespace around a value.
    ("VT before a Content-Length", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \x0b3\r\n\r\nabc", 400),
    ("FF before a Content-Length", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \x0c3\r\n\r\nabc", 400),
    ("NBSP before a Content-Length", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \xa03\r\n\r\nabc", 400),
    ("NEL after a Content-Length", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\x85\r\n\r\nabc", 400),
    ("VT after a Content-Length", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\x0b\r\n\r\nabc", 400),
    ("FF before chunked", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \x0cchunked\r\n\r\n0\r\n\r\n", 400),
    ("NBSP before chunked", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \xa0chunked\r\n\r\n0\r\n\r\n", 501),
    ("NEL after chunked", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\x85\r\n\r\n0\r\n\r\n", 501),
    // waitress CVE-2019-16786, gunicorn 22: lists and empty codings.
    ("chunked twice in one list", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    ("empty Transfer-Encoding", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n\r\n0\r\n\r\n", 400),
    ("identity, chunked", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n", 501),
    // waitress CVE-2022-24761: chunk sizes are hex digits only; extensions are checked.
    ("chunk size with _", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5_\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk size with a space inside", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5 5\r\nhello\r\n0\r\n\r\n", 400),
    ("LF inside a chunk extension", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n", 400),
    ("DEL inside a chunk extension", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x7fb\r\nhello\r\n0\r\n\r\n", 400),
    // Go CVE-2025-22871: a bare LF ends no chunk line, nor a trailer.
    ("bare LF after the last chunk", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\n\r\n", 400),
    ("bare LF ending a trailer", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: v\n\r\n", 400),
    ("space before a trailer's colon", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT : v\r\n\r\n", 400),
    // gunicorn 2026: request-target forms; relative references are refused.
    ("relative reference target", b"GET a/b HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("dot-segment relative target", b"GET ../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("absolute-form without a host", b"GET http:///x HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("unknown scheme in absolute-form", b"GET ftp://h/x HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("non-ASCII byte in the target", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    // gunicorn 22: HTTP versions and methods.
    ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: t\r\n\r\n", 505),
    ("HTTP/3.0", b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505),
    ("version without a minor", b"GET / HTTP/1\r\nHost: t\r\n\r\n", 400),
    ("trailing space after the version", b"GET / HTTP/1.1 \r\nHost: t\r\n\r\n", 400),
    ("tab as a request-line separator", b"GET\t/ HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("method with a non-token byte", b"GE(T / HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    // Puma CVE-2023-40175 / gunicorn 2026: singleton fields.
    ("Host and an empty Host", b"GET / HTTP/1.1\r\nHost: t\r\nHost:\r\n\r\n", 400),
    ("obs-fold continuing a Content-Length", b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n 0\r\n\r\nabc", 400),
    ("whitespace line before the first header", b"GET / HTTP/1.1\r\n Host: t\r\n\r\n", 400),
];

#[test]
fn advisory_cases_beyond_the_strictness_table_are_refused_and_closed() {
    let server = TestServer::start(kitchen_sink);
    for (name, raw, want) in REFUSED {
        let (response, closed) = send(&server, raw);
        assert_eq!(response.status, *want, "{name}");
        assert_eq!(response.header("connection"), Some("close"), "{name}");
        assert!(closed, "{name}: connection left open");
    }
}

/// The paths an application was asked for, in order.
type Seen = Arc<Mutex<Vec<String>>>;

/// The kitchen-sink application, recording every path it is asked for.
fn recording_app(seen: &Seen) -> impl Fn(Environ, StartResponse) -> Result<Body, AppError> {
    let log = Arc::clone(seen);
    move |environ: Environ, sr: StartResponse| {
        log.lock().unwrap().push(environ.path_info().to_owned());
        kitchen_sink(environ, sr)
    }
}

const HIDDEN: &[u8] = b"GET /hidden HTTP/1.1\r\nHost: t\r\n\r\n";

/// Every shape that makes parsers disagree on where a request ends. Each is
/// sent with `HIDDEN` right after it.
const SMUGGLING_SHAPES: &[(&str, &[u8])] = &[
    ("bare LF in the head", b"POST /outer HTTP/1.1\r\nHost: t\nContent-Length: 0\r\n\r\n"),
    ("bare CR in the head", b"POST /outer HTTP/1.1\r\nHost: t\rContent-Length: 0\r\n\r\n"),
    ("space before the colon", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\nContent-Length: 0\r\n\r\n"),
    ("obs-fold", b"POST /outer HTTP/1.1\r\nHost: t\r\nX: a\r\n Content-Length: 0\r\n\r\n"),
    ("CL with +", b"POST /outer HTTP/1.1\r\nHost: t\r\nContent-Length: +0\r\n\r\n"),
    ("CL in hex", b"POST /outer HTTP/1.1\r\nHost: t\r\nContent-Length: 0x0\r\n\r\n"),
    ("CL list", b"POST /outer HTTP/1.1\r\nHost: t\r\nContent-Length: 0, 0\r\n\r\n"),
    ("two CL, different", b"POST /outer HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 33\r\n\r\n"),
    ("two CL, same", b"POST /outer HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"),
    ("empty CL", b"POST /outer HTTP/1.1\r\nHost: t\r\nContent-Length:\r\n\r\n"),
    ("CL with VT", b"POST /outer HTTP/1.1\r\nHost: t\r\nContent-Length: \x0b0\r\n\r\n"),
    ("CL and TE", b"POST /outer HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("TE and CL", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"),
    ("two TE", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n"),
    ("TE gzip, chunked", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
    ("TE chunked, gzip", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
    ("TE identity", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n"),
    ("TE xchunked", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
    ("TE with VT", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n"),
    ("TE on HTTP/1.0", b"POST /outer HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("LF-only chunk lines", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\n\n"),
    ("chunk data without CRLF", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"),
    ("chunk size overflow", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n"),
    ("chunk size in 0x form", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x0\r\n\r\n"),
    ("empty chunk size", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\r\n\r\n"),
    ("control byte in a chunk extension", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0;x\x01\r\n\r\n"),
    ("malformed trailer", b"POST /outer HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n"),
    ("two Host", b"GET /outer HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
    ("missing Host", b"GET /outer HTTP/1.1\r\n\r\n"),
    ("HTTP/2.0", b"GET /outer HTTP/2.0\r\nHost: t\r\n\r\n"),
    ("bad version", b"GET /outer HTTP/1.10\r\nHost: t\r\n\r\n"),
    ("unknown expectation", b"POST /outer HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\nContent-Length: 0\r\n\r\n"),
    ("path not UTF-8", b"GET /outer%FF HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("asterisk with GET", b"GET * HTTP/1.1\r\nHost: t\r\n\r\n"),
    ("CL over the body limit", b"POST /outer HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n"),
];

#[test]
fn a_request_hidden_behind_any_smuggling_shape_is_never_answered() {
    let seen = Seen::default();
    let server = TestServer::start(recording_app(&seen));
    for (name, shape) in SMUGGLING_SHAPES {
        let raw = [*shape, HIDDEN].concat();
        let (response, closed) = send(&server, &raw);
        assert!(
            (400..600).contains(&response.status),
            "{name}: status {}",
            response.status
        );
        assert!(closed, "{name}: something followed the refusal");
    }
    // Not one of them reached the application, outer or hidden.
    assert_eq!(*seen.lock().unwrap(), Vec::<String>::new());
    // The control: after a valid request, the same bytes are a request.
    let mut reader = BufReader::new(server.connect());
    let valid = b"POST /outer HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n";
    reader
        .get_mut()
        .write_all(&[valid.as_slice(), HIDDEN].concat())
        .unwrap();
    for _ in 0..2 {
        assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
    }
    assert_eq!(*seen.lock().unwrap(), ["/outer", "/hidden"]);
}

#[test]
fn forbidden_trailer_fields_never_reach_the_application() {
    // gunicorn 2026 refuses them; this server drops every trailer, which
    // is as safe as long as none of them is ever seen: checked here.
    let server = TestServer::start(kitchen_sink);
    let (response, _) = send(
        &server,
        b"POST /environ HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          3\r\nabc\r\n0\r\nContent-Length: 50\r\nTransfer-Encoding: gzip\r\nX-Trailer: 1\r\n\r\n",
    );
    assert_eq!(response.status, 200);
    let env: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(env.get("CONTENT_LENGTH"), None);
    assert_eq!(env.get("HTTP_X_TRAILER"), None);
    assert_eq!(env["HTTP_TRANSFER_ENCODING"], "chunked");
}

#[test]
fn header_shapes_parsers_have_got_wrong_are_read_right() {
    let server = TestServer::start(kitchen_sink);
    // httparse#172 (1.9 regression): `Content-Length:4` without a space.
    let (response, _) = send(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length:4\r\nConnection: close\r\n\r\nabcd",
    );
    assert_eq!((response.status, response.text().as_str()), (200, "abcd"));
    // gunicorn 22: methods are not case-folded.
    let (response, _) = send(
        &server,
        b"get /environ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let env: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(env["REQUEST_METHOD"], "get");
    // waitress CVE-2020-5236: a 60 KB value of alternating obs-text and
    // spaces is parsed (no backtracking blow-up; the socket timeout is the
    // failure mode) and reaches the application byte for byte as Latin-1.
    let value: Vec<u8> = (0..30_000).flat_map(|_| [0x80u8, b' ']).collect();
    let raw = [
        b"GET /environ HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Wide: a".as_slice(),
        &value,
        b"z\r\n\r\n",
    ]
    .concat();
    let (response, _) = send(&server, &raw);
    assert_eq!(response.status, 200);
    let env: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(env["HTTP_X_WIDE"].as_str().unwrap().chars().count(), 60_002);
}

#[test]
fn the_application_cannot_split_the_response() {
    // waitress 0.9 / gunicorn CVE-2018-1000164 / Puma CVE-2020-5247: CR or
    // LF in the status or a header name the application sends (the value
    // case is in server_protocol.rs) never reaches the wire.
    let app = |environ: Environ, sr: StartResponse| -> Result<Body, AppError> {
        match environ.path_info() {
            "/status" => sr.call("200 OK\r\nSet-Cookie: evil=1", vec![])?,
            "/name" => sr.call("200 OK", vec![("X\r\nSet-Cookie".into(), "evil=1".into())])?,
            _ => sr.call("200 OK\nSet-Cookie: evil=1", vec![])?,
        }
        Ok(Body::from("unreachable"))
    };
    let server = TestServer::start(app);
    for path in ["/status", "/name", "/lf"] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let (response, _) = send(&server, raw.as_bytes());
        assert_eq!(response.status, 500, "{path}");
        assert!(
            response
                .headers
                .iter()
                .all(|(n, _)| !n.eq_ignore_ascii_case("set-cookie")),
            "{path}: {:?}",
            response.headers
        );
        assert!(!response.text().contains("unreachable"), "{path}");
    }
}

/// A config with small limits, so each can be reached exactly.
fn small_limits() -> ServerConfig {
    ServerConfig {
        max_request_line: 100,
        max_header_bytes: 400,
        max_headers: 10,
        max_body_bytes: 50,
        ..test_config()
    }
}

#[test]
fn limits_one_under() {
    // server_strictness.rs checks at and over; one under completes the set.
    let server = TestServer::start_with(kitchen_sink, small_limits());
    let line = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(85));
    assert_eq!(line.find("\r\n"), Some(99));
    assert_eq!(
        server.exchange(line.as_bytes()).status,
        200,
        "line one under"
    );
    let fields: String = (1..9).map(|i| format!("X-{i}: v\r\n")).collect();
    let raw = format!("GET / HTTP/1.1\r\nHost: t\r\n{fields}\r\n");
    assert_eq!(server.exchange(raw.as_bytes()).status, 200, "9 fields");
    let base = "GET / HTTP/1.1\r\nHost: t\r\nX: \r\n\r\n".len();
    let raw = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "v".repeat(399 - base)
    );
    assert_eq!(raw.len(), 399);
    assert_eq!(
        server.exchange(raw.as_bytes()).status,
        200,
        "head one under"
    );
    let raw = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 49\r\n\r\n{}",
        "b".repeat(49)
    );
    assert_eq!(
        server.exchange(raw.as_bytes()).status,
        200,
        "body one under"
    );
    let chunked = |n: usize| {
        format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{n:x}\r\n{}\r\n0\r\n\r\n",
            "c".repeat(n)
        )
    };
    assert_eq!(
        server.exchange(chunked(49).as_bytes()).status,
        200,
        "chunked one under"
    );
    assert_eq!(
        server.exchange(chunked(50).as_bytes()).status,
        200,
        "chunked at"
    );
    // Fields whose names hold `_` are dropped, but still count.
    let fields: String = (1..10).map(|i| format!("X_{i}: v\r\n")).collect();
    let raw = format!("GET / HTTP/1.1\r\nHost: t\r\n{fields}X: v\r\n\r\n");
    assert_eq!(
        server.exchange(raw.as_bytes()).status,
        431,
        "dropped fields count"
    );
}

/// A chunked POST whose body is `chunks` and trailer section `trailers`.
fn chunked_request(chunks: &str, trailers: &str) -> Vec<u8> {
    format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunks}0\r\n{trailers}\r\n"
    )
    .into_bytes()
}

#[test]
fn chunk_line_extension_and_trailer_limits_at_under_and_over() {
    // The fixed limits of the chunked decoder: 4 KiB per chunk-size line,
    // 16 KiB of extensions per body (Puma CVE-2024-21647, Go
    // CVE-2023-39326), 16 KiB of trailers.
    let server = TestServer::start(kitchen_sink);
    let line = |len: usize| format!("1;{}\r\nx\r\n", "e".repeat(len - 2));
    for (len, want) in [(4095, 200), (4096, 200), (4097, 400)] {
        let (response, _) = send(&server, &chunked_request(&line(len), ""));
        assert_eq!(response.status, want, "chunk line of {len} bytes");
    }
    // Four lines of 4095 extension bytes, then one of `extra`: 16,380 + extra.
    let extensions = |extra: usize| {
        let mut body = line(4096).repeat(4);
        body.push_str(&format!("1;{}\r\nx\r\n", "e".repeat(extra - 1)));
        body
    };
    for (extra, want) in [(3, 200), (4, 200), (5, 400)] {
        let (response, _) = send(&server, &chunked_request(&extensions(extra), ""));
        assert_eq!(response.status, want, "{} extension bytes", 16_380 + extra);
    }
    // Four trailer fields of 4,096 bytes with their CRLF = 16 KiB exactly.
    let field = |len: usize| format!("T: {}\r\n", "v".repeat(len - 5));
    let trailers = |last: usize| format!("{}{}", field(4096).repeat(3), field(last));
    for (last, want) in [(4095, 200), (4096, 200), (4097, 431)] {
        let (response, _) = send(&server, &chunked_request("1\r\nx\r\n", &trailers(last)));
        assert_eq!(response.status, want, "{} trailer bytes", 3 * 4096 + last);
    }
}
