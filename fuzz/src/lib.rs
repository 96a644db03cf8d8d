//! The fuzzing harness for gateway-server: independent reference readings
//! of HTTP/1.1 request bytes, and the properties each fuzz target checks
//! against the server's own reading.
//!
//! The server parses with httparse plus strict checks; the reference parsers
//! here are written from RFC 9112 and the policy in the project's reference
//! notes (section 4), byte by byte, sharing no code with the server. Where
//! the two disagree, one of them is wrong, and the fuzzer reports the input.
//!
//! Targets (in `fuzz_targets/`), in the order a request meets the stages:
//! - `request_head`: bytes to a head or a refusal; split at any point gives
//!   the same answer; agrees with [`reference_head`].
//! - `body_framing`: Content-Length values and chunked bodies fed in
//!   arbitrary pieces; agree with [`reference_chunked`].
//! - `environ`: the environ the server builds agrees with
//!   [`reference_environ`] (percent-decoding, header mapping).
//! - `connection`: a byte stream through a real server on a Unix socket
//!   ([`live_server`]); the responses read back ([`response_stream`]) are
//!   the ones [`reference_head`] and [`reference_chunked`] predict.

pub mod connection_model;
pub mod findings;
pub mod live_server;
pub mod reference_chunked;
pub mod reference_environ;
pub mod reference_head;
pub mod response_stream;
pub mod splits;

/// The limits the server's fuzzing entry points use: its defaults.
pub mod limits {
    /// Longest request line.
    pub const MAX_REQUEST_LINE: usize = 8 * 1024;
    /// Largest header section.
    pub const MAX_HEADER_BYTES: usize = 64 * 1024;
    /// Most header fields.
    pub const MAX_HEADERS: usize = 100;
    /// Largest body.
    pub const MAX_BODY_BYTES: u64 = 1 << 30;
    /// Longest chunk-size line (extensions included).
    pub const MAX_CHUNK_LINE: usize = 4096;
    /// Most chunk-extension bytes in one body.
    pub const MAX_EXTENSION_BYTES: usize = 16 * 1024;
    /// Most trailer bytes in one body.
    pub const MAX_TRAILER_BYTES: usize = 16 * 1024;
}
