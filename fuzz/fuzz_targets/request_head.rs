//! The request head reader: bytes to a parsed head or a status.
//!
//! Properties: no panic; the server and the reference agree on incomplete /
//! refused / accepted and, when accepted, on every field; every prefix of
//! the input (the server re-parses its buffer after each read) is either
//! incomplete or gives the same answer as the whole.
#![no_main]

use gateway_fuzz::reference_head::{read_head, BodyFraming, Verdict};
use gateway_fuzz::splits::prefix_lengths;
use gateway_server::fuzzing::{parse_request_head, HeadSummary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = parse_request_head(data);
    agree_with_reference(data, &whole);
    for len in prefix_lengths(data.len()) {
        let prefix = parse_request_head(&data[..len]);
        let consistent = match (&prefix, &whole) {
            (Ok(None), _) => true,
            (Ok(Some(p)), Ok(Some(w))) => p == w,
            (Err(_), Err(_)) => true,
            _ => false,
        };
        assert!(
            consistent,
            "prefix of {len} bytes gives {prefix:?}, the whole input {whole:?}: {:?}",
            String::from_utf8_lossy(data)
        );
    }
});

fn agree_with_reference(data: &[u8], server: &Result<Option<HeadSummary>, &'static str>) {
    let reference = read_head(data);
    let agree = match (server, &reference) {
        (Ok(None), Verdict::Incomplete) => true,
        (Err(_), Verdict::Reject(_)) => true,
        (Ok(Some(s)), Verdict::Accept(r)) => {
            let framing = match s.body_length {
                None => BodyFraming::None,
                Some(u64::MAX) => BodyFraming::Chunked,
                Some(n) => BodyFraming::Length(n),
            };
            s.method == r.method
                && s.target == r.target
                && s.version == r.version
                && s.headers == r.headers
                && framing == r.framing
                && s.expect_continue == r.expect_continue
                && s.keep_alive == r.keep_alive
                && s.len == r.len
        }
        _ => false,
    };
    assert!(
        agree,
        "server {server:?} but reference {reference:?} for {:?}",
        String::from_utf8_lossy(data)
    );
}
