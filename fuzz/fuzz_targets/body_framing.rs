//! Body framing: the chunked decoder fed arbitrary pieces of arbitrary
//! bytes, and Content-Length values inside an otherwise valid head.
//!
//! Input: byte 0 picks the mode (and a body limit); for chunked, byte 1 says
//! how many of the next bytes are piece lengths, the rest is the body.
//! Properties: no panic; pieces decode exactly like the whole; the whole
//! decodes exactly like the reference decoder; a Content-Length value is
//! accepted, and read as the same number, exactly when the reference says.
#![no_main]

use gateway_fuzz::reference_chunked;
use gateway_fuzz::reference_head::{read_head, BodyFraming, Verdict};
use gateway_fuzz::splits::pieces;
use gateway_server::fuzzing::{decode_chunked, parse_request_head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        chunked(mode, rest);
    } else {
        content_length(rest);
    }
});

fn chunked(mode: u8, rest: &[u8]) {
    let max_body = if mode & 2 == 0 { 1 << 30 } else { 64 };
    let Some((&cut_count, rest)) = rest.split_first() else {
        return;
    };
    let (cuts, body) = rest.split_at(usize::from(cut_count % 16).min(rest.len()));
    let whole = decode_chunked(&[body], max_body);
    let split = decode_chunked(&pieces(body, cuts), max_body);
    assert_eq!(
        whole,
        split,
        "pieces {cuts:?} of {:?}",
        String::from_utf8_lossy(body)
    );
    let reference = reference_chunked::decode(body, max_body);
    let agree = match (&whole, &reference) {
        (Ok((out, used, done)), Ok(r)) => *out == r.body && *used == r.used && *done == r.done,
        (Err(_), Err(_)) => true,
        _ => false,
    };
    assert!(
        agree,
        "server {whole:?} but reference {reference:?} for {:?}",
        String::from_utf8_lossy(body)
    );
}

fn content_length(value: &[u8]) {
    let head = [
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ".as_slice(),
        value,
        b"\r\n\r\n",
    ]
    .concat();
    let server = parse_request_head(&head);
    let reference = read_head(&head);
    let agree = match (&server, &reference) {
        (Ok(Some(s)), Verdict::Accept(r)) => match (s.body_length, r.framing) {
            (None, BodyFraming::None) => true,
            (Some(n), BodyFraming::Length(m)) => n == m,
            _ => false,
        },
        (Err(_), Verdict::Reject(_)) | (Ok(None), Verdict::Incomplete) => true,
        _ => false,
    };
    assert!(
        agree,
        "Content-Length {:?}: server {server:?}, reference {reference:?}",
        String::from_utf8_lossy(value)
    );
}
