//! The environ builder: percent-decoding of the path and the mapping of
//! header fields to CGI variables.
//!
//! Input: byte 0 picks the method and version; the rest is the request
//! target, then header lines, separated by `\n` (sent as CRLF), so most
//! inputs are heads the parser accepts and the builder gets exercised.
//! Properties: no panic; the server's variables are exactly the reference's
//! (`SERVER_SOFTWARE` aside, which names the server's version), or both
//! refuse.
#![no_main]

use gateway_fuzz::reference_environ::environ_vars;
use gateway_fuzz::reference_head::{read_head, Verdict};
use gateway_server::fuzzing::environ_for;
use libfuzzer_sys::fuzz_target;

const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "OPTIONS", "PUT", "get", "M-SEARCH", "PROPFIND",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let raw = request(pick, rest);
    let server = environ_for(&raw).map(without_server_software);
    let reference = match read_head(&raw) {
        Verdict::Accept(head) => Some(environ_vars(&head)),
        _ => None,
    };
    let agree = match (&server, &reference) {
        (Ok(vars), Some(Ok(expected))) => vars == expected,
        (Err(_), None | Some(Err(_))) => true,
        _ => false,
    };
    assert!(
        agree,
        "server {server:?}\nreference {reference:?}\nfor {:?}",
        String::from_utf8_lossy(&raw)
    );
});

fn request(pick: u8, rest: &[u8]) -> Vec<u8> {
    let method = METHODS[usize::from(pick) % METHODS.len()];
    let version = if pick & 0x80 == 0 {
        "HTTP/1.1"
    } else {
        "HTTP/1.0"
    };
    let mut lines = rest.split(|&b| b == b'\n');
    let target = lines.next().unwrap_or_default();
    let mut raw = format!("{method} ").into_bytes();
    raw.extend_from_slice(target);
    raw.extend_from_slice(format!(" {version}\r\nHost: h\r\n").as_bytes());
    for line in lines {
        raw.extend_from_slice(line);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"\r\n");
    raw
}

fn without_server_software(mut vars: Vec<(String, String)>) -> Vec<(String, String)> {
    let at = vars
        .iter()
        .position(|(k, _)| k == "SERVER_SOFTWARE")
        .expect("SERVER_SOFTWARE is set");
    assert!(vars[at].1.starts_with("gateway-server/"), "{:?}", vars[at]);
    vars.remove(at);
    vars
}
