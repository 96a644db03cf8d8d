//! What every peer of the benchmark shares: the two answers, the listening
//! port, and this project's two applications (raw and framework).
//!
//! Each peer binary in `src/bin/` serves the same two routes, the
//! TechEmpower plaintext and json tests:
//! - `GET /` answers `Hello from server.` as `text/plain`;
//! - `GET /json` answers `{"message":"Hello, World!"}`, serialized with
//!   serde_json on every request.

pub mod alloc_counter;
pub mod gateway_apps;

use serde::Serialize;

/// The plaintext answer, the `hello` example's.
pub const PLAINTEXT: &[u8] = b"Hello from server.";

/// The json test's object; serialized per request, as the test requires.
#[derive(Serialize)]
pub struct Message {
    /// Always `Hello, World!`.
    pub message: &'static str,
}

/// The json test's body, serialized now.
pub fn json_body() -> Vec<u8> {
    serde_json::to_vec(&Message {
        message: "Hello, World!",
    })
    .expect("a struct of one string always serializes")
}

/// The port from `--port N` (the harness always passes it), else 8080.
pub fn port_from_args() -> u16 {
    flag("--port").and_then(|p| p.parse().ok()).unwrap_or(8080)
}

/// The value after `name` on the command line, if any.
pub fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}
