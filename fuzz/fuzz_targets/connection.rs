//! A whole connection: the input is what a client sends on one connection
//! to a real server (one per process, on a Unix socket, running an app that
//! echoes the method, target and body of each request). The client then
//! half-closes and reads to the end.
//!
//! Input: byte 0 says how many of the next bytes (0 to 7) are the lengths of
//! the pieces the stream is written in; the rest is the stream.
//!
//! Properties: no panic, no hang; however the stream is cut, the server
//! sends exactly the responses the reference readings predict for it whole:
//! a 200 naming each valid request in order, and for the first invalid one
//! a 4xx/5xx with `Connection: close`, after which nothing hidden behind it
//! is ever answered.
#![no_main]

use gateway_fuzz::connection_model::{compare, expected_responses, Expected};
use gateway_fuzz::live_server::exchange;
use gateway_fuzz::response_stream::read_responses;
use gateway_fuzz::splits::pieces;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&cut_count, rest)) = input.split_first() else {
        return;
    };
    let (cuts, data) = rest.split_at(usize::from(cut_count % 8).min(rest.len()));
    if data.len() > 60_000 {
        return; // kept short: long inputs slow the fuzzer, not the model
    }
    let expected = expected_responses(data);
    let wire = exchange(&pieces(data, cuts)).unwrap_or_else(|e| {
        panic!(
            "{e}\ninput: {:?} in pieces {cuts:?}",
            String::from_utf8_lossy(data)
        )
    });
    let heads: Vec<bool> = expected
        .iter()
        .map(|e| matches!(e, Expected::Answer { head: true, .. }))
        .collect();
    let got =
        read_responses(&wire, |i| heads.get(i).copied().unwrap_or(false)).unwrap_or_else(|e| {
            panic!(
                "{e}\ninput: {:?} in pieces {cuts:?}",
                String::from_utf8_lossy(data)
            )
        });
    if let Err(difference) = compare(&expected, &got) {
        panic!(
            "{difference}\ninput: {:?} in pieces {cuts:?}\nwire: {:?}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&wire)
        );
    }
});
