//! Entry points into the server's parsing stages for fuzzers and
//! differential tests (feature `fuzzing`). Not part of the stable API: each
//! function runs one stage on bytes and reports what it decided, as plain
//! data, so a harness can check properties without reaching into internals.

use gateway_spec::Input;

use crate::environ_builder::{build_environ, BaseEnviron, RemoteAddr};
use crate::request_body::ChunkedDecoder;
use crate::request_head::{parse_head, Framing, HeadLimits};

/// The limits the helpers use: the server's defaults.
const LIMITS: HeadLimits = HeadLimits {
    max_request_line: 8 * 1024,
    max_header_bytes: 64 * 1024,
    max_headers: 100,
    max_body_bytes: 1 << 30,
};

/// What the head parser decided about a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadSummary {
    /// The method.
    pub method: String,
    /// The request-target as sent.
    pub target: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: &'static str,
    /// Header fields kept (names with `_` are dropped), values as bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    /// `None`, `Some(n)` for Content-Length, or `Some(u64::MAX)` for chunked.
    pub body_length: Option<u64>,
    /// Whether the client asked for `100 Continue`.
    pub expect_continue: bool,
    /// Whether the connection may stay open after this request.
    pub keep_alive: bool,
    /// Bytes the head took.
    pub len: usize,
}

/// Parse the head at the start of `bytes`: `Ok(None)` while incomplete,
/// `Err(status)` when refused.
///
/// # Errors
/// The status line the server would answer with.
pub fn parse_request_head(bytes: &[u8]) -> Result<Option<HeadSummary>, &'static str> {
    match parse_head(bytes, &LIMITS) {
        Ok(None) => Ok(None),
        Ok(Some(head)) => Ok(Some(HeadSummary {
            method: head.method.to_owned(),
            target: head.target.to_owned(),
            version: head.version.as_str(),
            headers: head
                .headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.to_vec()))
                .collect(),
            body_length: match head.framing {
                Framing::Empty => None,
                Framing::Length(n) => Some(n),
                Framing::Chunked => Some(u64::MAX),
            },
            expect_continue: head.expect_continue,
            keep_alive: head.keep_alive,
            len: head.len,
        })),
        Err(err) => Err(err.status().unwrap_or("connection error")),
    }
}

/// Decode a chunked body fed in `pieces` (as if it arrived in that many
/// reads). Returns the body, the input bytes used and whether it ended.
///
/// # Errors
/// The status line the server would answer with.
pub fn decode_chunked(
    pieces: &[&[u8]],
    max_body: u64,
) -> Result<(Vec<u8>, usize, bool), &'static str> {
    let mut decoder = ChunkedDecoder::new(max_body);
    let mut body = Vec::new();
    let mut pending = Vec::new();
    let mut used_total = 0;
    for piece in pieces {
        pending.extend_from_slice(piece);
        let used = decoder
            .decode(&pending, &mut body)
            .map_err(|e| e.status().unwrap_or("error"))?;
        pending.drain(..used);
        used_total += used;
    }
    Ok((body, used_total, decoder.is_done()))
}

/// The environ's CGI variables for a complete request head, sorted.
///
/// # Errors
/// The status line the server would answer with.
pub fn environ_for(bytes: &[u8]) -> Result<Vec<(String, String)>, &'static str> {
    let refuse = |e: crate::error::RequestError| e.status().unwrap_or("error");
    let head = parse_head(bytes, &LIMITS)
        .map_err(refuse)?
        .ok_or("incomplete")?;
    let base = BaseEnviron {
        server_name: "localhost",
        server_port: "80",
        multiprocess: false,
    };
    let environ =
        build_environ(&head, &base, &RemoteAddr::default(), Input::empty()).map_err(refuse)?;
    Ok(environ
        .sorted_vars()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}
