//! Bad input gets a clear status and a closed connection, and nothing
//! hidden inside it is ever answered as a request of its own. Each case
//! comes from a published advisory (see the project's reference notes,
//! section 4) or RFC 9112.

use std::io::{BufReader, Write};

use gateway_server::ServerConfig;
use tests::apps::kitchen_sink;
use tests::{is_closed, read_response, test_config, TestServer};

/// (name, raw request, expected status)
const CASES: &[(&str, &[u8], u16)] = &[
    ("bare LF ending the request line", b"GET / HTTP/1.1\nHost: t\r\n\r\n", 400),
    ("bare LF between headers (waitress CVE-2019-16785)", b"GET / HTTP/1.1\r\nHost: t\nX: y\r\n\r\n", 400),
    ("bare LF ending the head", b"GET / HTTP/1.1\r\nHost: t\n\n", 400),
    ("bare CR in a header", b"GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", 400),
    ("space before the colon (waitress 1.4.0, tiny-http #173)", b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n", 400),
    ("obsolete line folding", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400),
    ("NUL in a header value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", 400),
    ("control byte in a header value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x01b\r\n\r\n", 400),
    ("invalid header name", b"GET / HTTP/1.1\r\nHost: t\r\nX(y): z\r\n\r\n", 400),
    ("empty header name", b"GET / HTTP/1.1\r\nHost: t\r\n: z\r\n\r\n", 400),
    ("Content-Length with + (hyper CVE-2021-32715)", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc", 400),
    ("Content-Length in hex (waitress CVE-2022-24761)", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x3\r\n\r\nabc", 400),
    ("negative Content-Length", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400),
    ("Content-Length with underscore", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1_0\r\n\r\n", 400),
    ("Content-Length with inner space", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1 0\r\n\r\n", 400),
    ("empty Content-Length (Puma CVE-2023-40175)", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length:\r\n\r\n", 400),
    ("Content-Length list (waitress CVE-2019-16792)", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
    ("two Content-Length headers", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
    ("Content-Length of 2^64 and more (h11 0.15)", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
    ("Content-Length and Transfer-Encoding", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("two Transfer-Encoding headers (hyper RUSTSEC-2021-0020)", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("gzip, chunked (waitress CVE-2019-16786)", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("identity", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n", 501),
    ("chunked not last (gunicorn CVE-2024-1135)", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
    ("empty transfer coding", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n", 400),
    ("xchunked", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501),
    ("VT before chunked (waitress CVE-2019-16789)", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", 400),
    ("chunked on HTTP/1.0 (gunicorn 22)", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("LF-only chunk lines (waitress 1.4.0)", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n", 400),
    ("chunk data not followed by CRLF (h11 CVE-2025-43859)", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400),
    ("empty chunk size", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk size with +", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk size in 0x form", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk size overflow (hyper CVE-2021-32714)", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n", 400),
    ("control byte in a chunk extension", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n0\r\n\r\n", 400),
    ("malformed trailer", b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon here\r\n\r\n", 400),
    ("missing Host on HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two Host headers (gunicorn #3361)", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("HTTP/2.0 request line", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
    ("HTTP/0.9 request line", b"GET / HTTP/0.9\r\nHost: t\r\n\r\n", 505),
    ("multi-digit version", b"GET / HTTP/1.10\r\nHost: t\r\n\r\n", 400),
    ("lowercase protocol name", b"GET / http/1.1\r\nHost: t\r\n\r\n", 400),
    ("empty request target", b"GET  HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("double space in request line", b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("asterisk-form with GET (gunicorn 2026)", b"GET * HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("authority-form with GET (gunicorn 2026)", b"GET example.com:80 HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("fragment in the target", b"GET /a#b HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("# in the method (gunicorn 22)", b"GE#T / HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("path that is not UTF-8", b"GET /%FF%FE HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("unknown expectation", b"GET / HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\n\r\n", 417),
];

#[test]
fn every_malformed_request_gets_its_status_and_a_closed_connection() {
    let server = TestServer::start(kitchen_sink);
    for (name, raw, want) in CASES {
        let mut reader = BufReader::new(server.connect());
        reader.get_mut().write_all(raw).unwrap();
        let response = read_response(&mut reader, false)
            .unwrap_or_else(|e| panic!("{name}: no response ({e})"));
        assert_eq!(response.status, *want, "{name}");
        assert_eq!(response.header("connection"), Some("close"), "{name}");
        assert!(is_closed(&mut reader), "{name}: connection left open");
    }
}

#[test]
fn a_request_hidden_behind_a_bad_one_is_never_answered() {
    // waitress CVE-2024-49768: [invalid][valid] must give exactly one 400.
    let server = TestServer::start(kitchen_sink);
    let smuggles: &[&[u8]] = &[
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /environ HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\nGET /environ HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\nContent-Length: 0\r\n\r\nGET /environ HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\nGET /environ HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /%FF HTTP/1.1\r\nHost: t\r\n\r\nGET /environ HTTP/1.1\r\nHost: t\r\n\r\n",
    ];
    for raw in smuggles {
        let mut reader = BufReader::new(server.connect());
        reader.get_mut().write_all(raw).unwrap();
        let response = read_response(&mut reader, false).unwrap();
        assert_eq!(response.status, 400, "{}", String::from_utf8_lossy(raw));
        assert!(
            is_closed(&mut reader),
            "the hidden request was answered: {}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn a_truncated_chunked_body_is_not_a_request() {
    let server = TestServer::start(kitchen_sink);
    let mut reader = BufReader::new(server.connect());
    reader.get_mut().write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n").unwrap();
    reader
        .get_mut()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    assert!(
        is_closed(&mut reader),
        "no response for a body that never ended"
    );
}

#[test]
fn limits_at_one_under_and_one_over() {
    let config = ServerConfig {
        max_request_line: 100,
        max_header_bytes: 400,
        max_headers: 10,
        max_body_bytes: 50,
        ..test_config()
    };
    let server = TestServer::start_with(kitchen_sink, config);
    let line = |target_len: usize| {
        format!(
            "GET /{} HTTP/1.1\r\nHost: t\r\n\r\n",
            "a".repeat(target_len - 1)
        )
    };
    // "GET " + target + " HTTP/1.1" = 13 + target bytes.
    assert_eq!(
        server.exchange(line(87).as_bytes()).status,
        200,
        "exactly at the line limit"
    );
    assert_eq!(
        server.exchange(line(88).as_bytes()).status,
        414,
        "one over the line limit"
    );
    let headers = |n: usize| {
        format!(
            "GET / HTTP/1.1\r\nHost: t\r\n{}\r\n",
            (1..n).map(|i| format!("X-{i}: v\r\n")).collect::<String>()
        )
    };
    assert_eq!(
        server.exchange(headers(10).as_bytes()).status,
        200,
        "exactly at the header count"
    );
    assert_eq!(
        server.exchange(headers(11).as_bytes()).status,
        431,
        "one over the header count"
    );
    let sized = |total: usize| {
        let base = "GET / HTTP/1.1\r\nHost: t\r\nX: \r\n\r\n".len();
        format!(
            "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
            "v".repeat(total - base)
        )
    };
    assert_eq!(
        server.exchange(sized(400).as_bytes()).status,
        200,
        "exactly at the header bytes limit"
    );
    assert_eq!(
        server.exchange(sized(401).as_bytes()).status,
        431,
        "one over the header bytes limit"
    );
    let body = |n: usize| {
        format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {n}\r\n\r\n{}",
            "b".repeat(n)
        )
    };
    assert_eq!(
        server.exchange(body(50).as_bytes()).status,
        200,
        "exactly at the body limit"
    );
    assert_eq!(
        server.exchange(body(51).as_bytes()).status,
        413,
        "one over the body limit"
    );
    let chunked = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n33\r\n{}\r\n0\r\n\r\n",
        "c".repeat(51)
    );
    assert_eq!(
        server.exchange(chunked.as_bytes()).status,
        413,
        "a chunked body over the limit"
    );
}

#[test]
fn a_head_not_complete_in_time_gets_408() {
    let config = ServerConfig {
        header_timeout: std::time::Duration::from_millis(500),
        ..test_config()
    };
    let server = TestServer::start_with(kitchen_sink, config);
    let mut reader = BufReader::new(server.connect());
    reader
        .get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let response = read_response(&mut reader, false).unwrap();
    assert_eq!(response.status, 408);
    assert!(is_closed(&mut reader));
}

#[test]
fn a_head_sent_a_byte_at_a_time_keeps_the_deadline_of_its_first_byte() {
    // Slowloris: each byte would reset a per-read timer. The head's deadline
    // counts from its first bytes, so the 408 comes long before the end.
    let config = ServerConfig {
        header_timeout: std::time::Duration::from_millis(400),
        ..test_config()
    };
    let server = TestServer::start_with(kitchen_sink, config);
    let mut stream = server.connect();
    let head =
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Trickle: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut sent = 0;
    let mut answer = [0u8; 12];
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(60)))
        .unwrap();
    let mut got = 0;
    while sent < head.len() && got == 0 {
        if stream.write_all(&head[sent..=sent]).is_err() {
            break; // closed after its 408
        }
        sent += 1;
        got = std::io::Read::read(&mut stream, &mut answer).unwrap_or(0);
    }
    assert!(
        sent < head.len(),
        "the head's deadline moved with each byte: all {sent} bytes were taken"
    );
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut rest);
    let text =
        String::from_utf8_lossy(&answer[..got]).into_owned() + &String::from_utf8_lossy(&rest);
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
}

#[test]
fn no_byte_value_in_any_position_crashes_the_server() {
    let server = TestServer::start(kitchen_sink);
    let templates: [&dyn Fn(u8) -> Vec<u8>; 4] = [
        &|b| [b"G".as_slice(), &[b], b"T / HTTP/1.1\r\nHost: t\r\n\r\n"].concat(),
        &|b| [b"GET /a".as_slice(), &[b], b" HTTP/1.1\r\nHost: t\r\n\r\n"].concat(),
        &|b| {
            [
                b"GET / HTTP/1.1\r\nHost: t\r\nX-".as_slice(),
                &[b],
                b": v\r\n\r\n",
            ]
            .concat()
        },
        &|b| {
            [
                b"GET / HTTP/1.1\r\nHost: t\r\nX: a".as_slice(),
                &[b],
                b"b\r\n\r\n",
            ]
            .concat()
        },
    ];
    for (position, template) in templates.iter().enumerate() {
        for byte in 0..=255u8 {
            let raw = template(byte);
            let mut reader = BufReader::new(server.connect());
            reader.get_mut().write_all(&raw).unwrap();
            let response = read_response(&mut reader, false).unwrap_or_else(|e| {
                panic!("position {position}, byte {byte:#04x}: no response ({e})")
            });
            assert!(
                response.status == 200
                    || (400..500).contains(&response.status)
                    || response.status == 505,
                "position {position}, byte {byte:#04x}: status {}",
                response.status
            );
            if response.status != 200 {
                assert!(
                    is_closed(&mut reader),
                    "position {position}, byte {byte:#04x}: left open after {}",
                    response.status
                );
            }
        }
    }
    assert_eq!(
        server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").status,
        200,
        "still serving"
    );
}

#[test]
fn a_request_split_at_every_byte_parses_the_same() {
    let server = TestServer::start(kitchen_sink);
    let raw = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Type: text/x\r\n\r\n3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n";
    for split in 1..raw.len() {
        let mut reader = BufReader::new(server.connect());
        reader.get_mut().write_all(&raw[..split]).unwrap();
        reader.get_mut().flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        reader.get_mut().write_all(&raw[split..]).unwrap();
        let response = read_response(&mut reader, false).unwrap();
        assert_eq!(
            (response.status, response.text().as_str()),
            (200, "abcde"),
            "split at {split}"
        );
    }
}
