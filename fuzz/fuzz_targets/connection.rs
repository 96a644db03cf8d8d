//! A whole connection: the input is what a client sends on one connection
//! to a real server (one per process, on a Unix socket, running an app that
//! echoes the method, target and body of each request). The client then
//! half-closes and reads to the end.
//!
//! Properties: no panic, no hang; the server sends exactly the responses the
//! reference readings predict: a 200 naming each valid request in order,
//! and for the first invalid one a 4xx/5xx with `Connection: close`, after
//! which nothing hidden behind it is ever answered.
#![no_main]

use gateway_fuzz::connection_model::{compare, expected_responses, Expected};
use gateway_fuzz::live_server::exchange;
use gateway_fuzz::response_stream::read_responses;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() > 60_000 {
        return; // bodies past 64 KiB are streamed; kept out of the model
    }
    let expected = expected_responses(data);
    let wire = exchange(data)
        .unwrap_or_else(|e| panic!("{e}\ninput: {:?}", String::from_utf8_lossy(data)));
    let heads: Vec<bool> = expected
        .iter()
        .map(|e| matches!(e, Expected::Answer { head: true, .. }))
        .collect();
    let got = read_responses(&wire, |i| heads.get(i).copied().unwrap_or(false))
        .unwrap_or_else(|e| panic!("{e}\ninput: {:?}", String::from_utf8_lossy(data)));
    if let Err(difference) = compare(&expected, &got) {
        panic!(
            "{difference}\ninput: {:?}\nwire: {:?}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&wire)
        );
    }
});
