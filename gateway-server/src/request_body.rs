//! Stage 4, the request body: how many bytes follow the head, decoded.
//!
//! Small bodies are collected before the application runs, so a slow upload
//! never holds a worker (waitress's design); larger ones are streamed to the
//! application as it reads `wsgi.input`. Either way the application sees only
//! the body: the chunked coding is removed and the end of the body is the end
//! of the stream. Next stage: `environ_builder.rs`.

use std::io::{self, Read};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::RequestError;
use crate::request_head::Framing;
use crate::socket::Stream;

/// Longest chunk-size line accepted, extensions included.
const MAX_CHUNK_LINE: usize = 4096;
/// Most chunk-extension bytes in one body: tiny chunks with huge extensions
/// make a server read a lot for little data (Go CVE-2023-39326, Puma CVE-2024-21647).
const MAX_EXTENSION_BYTES: usize = 16 * 1024;
/// Most trailer bytes accepted (and dropped).
const MAX_TRAILER_BYTES: usize = 16 * 1024;

/// A strict, incremental decoder of the chunked transfer coding (RFC 9112
/// section 7.1): feed it bytes as they arrive, get body bytes out.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: ChunkState,
    extension_bytes: usize,
    trailer_bytes: usize,
    body_bytes: u64,
    max_body: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

impl ChunkedDecoder {
    pub(crate) fn new(max_body: u64) -> ChunkedDecoder {
        ChunkedDecoder {
            state: ChunkState::Size,
            extension_bytes: 0,
            trailer_bytes: 0,
            body_bytes: 0,
            max_body,
        }
    }

    /// Whether the last chunk and the trailer section have been read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decode as much of `input` as is complete, appending body bytes to
    /// `out`; returns how many input bytes were used.
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, RequestError> {
        let mut at = 0;
        loop {
            let rest = &input[at..];
            let used = match self.state {
                ChunkState::Done => return Ok(at),
                ChunkState::Size => self.size_line(rest)?,
                ChunkState::Data(left) => {
                    let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&rest[..take]);
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                    Some(take)
                }
                ChunkState::DataEnd => data_end(rest)?.inspect(|_| self.state = ChunkState::Size),
                ChunkState::Trailer => self.trailer_line(rest)?,
            };
            match used {
                Some(0) | None => return Ok(at),
                Some(n) => at += n,
            }
        }
    }

    /// `chunk-size [ chunk-ext ] CRLF`
    fn size_line(&mut self, rest: &[u8]) -> Result<Option<usize>, RequestError> {
        let bad = RequestError::BadRequest;
        let Some(line) = complete_line(rest, MAX_CHUNK_LINE)? else {
            return Ok(None);
        };
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        // hyper CVE-2021-32714: more than 16 hex digits overflows a u64.
        if digits == 0 || digits > 16 {
            return Err(bad("invalid chunk size"));
        }
        let size = line[..digits]
            .iter()
            .fold(0u64, |n, &d| n << 4 | u64::from(hex_value(d)));
        self.check_extension(&line[digits..])?;
        self.state = if size == 0 {
            ChunkState::Trailer
        } else {
            self.body_bytes = self.body_bytes.saturating_add(size);
            if self.body_bytes > self.max_body {
                return Err(RequestError::BodyTooLarge);
            }
            ChunkState::Data(size)
        };
        Ok(Some(line.len() + 2))
    }

    /// Chunk extensions are accepted and ignored, but must be well-formed:
    /// `;name[=value]` with no control bytes (waitress CVE-2022-24761).
    fn check_extension(&mut self, ext: &[u8]) -> Result<(), RequestError> {
        if ext.is_empty() {
            return Ok(());
        }
        let starts_right = ext.iter().find(|&&b| b != b' ' && b != b'\t') == Some(&b';');
        let clean = ext.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
        if !starts_right || !clean {
            return Err(RequestError::BadRequest("malformed chunk extension"));
        }
        self.extension_bytes += ext.len();
        if self.extension_bytes > MAX_EXTENSION_BYTES {
            return Err(RequestError::BadRequest("too many chunk-extension bytes"));
        }
        Ok(())
    }

    /// `*( field-line CRLF ) CRLF`: trailers are read and dropped.
    fn trailer_line(&mut self, rest: &[u8]) -> Result<Option<usize>, RequestError> {
        let Some(line) = complete_line(rest, MAX_TRAILER_BYTES)? else {
            return Ok(None);
        };
        if line.is_empty() {
            self.state = ChunkState::Done;
            return Ok(Some(2));
        }
        let name_len = line.iter().position(|&b| b == b':').unwrap_or(0);
        let name_ok = name_len > 0
            && line[..name_len]
                .iter()
                .all(|&b| gateway_spec::is_token_byte(b));
        let value_ok = line[name_len..]
            .iter()
            .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
        if !name_ok || !value_ok {
            return Err(RequestError::BadRequest("malformed trailer field"));
        }
        self.trailer_bytes += line.len() + 2;
        if self.trailer_bytes > MAX_TRAILER_BYTES {
            return Err(RequestError::HeadersTooLarge);
        }
        Ok(Some(line.len() + 2))
    }
}

/// The CRLF after chunk data: exactly CRLF (h11 CVE-2025-43859).
fn data_end(rest: &[u8]) -> Result<Option<usize>, RequestError> {
    match rest {
        [b'\r', b'\n', ..] => Ok(Some(2)),
        [] | [b'\r'] => Ok(None),
        _ => Err(RequestError::BadRequest("chunk data not followed by CRLF")),
    }
}

/// The line at the start of `rest` without its CRLF, once complete. A bare
/// LF or CR is refused (waitress 1.4.0, Go CVE-2025-22871).
fn complete_line(rest: &[u8], max: usize) -> Result<Option<&[u8]>, RequestError> {
    for (i, &b) in rest.iter().enumerate() {
        match b {
            b'\r' if rest.get(i + 1) == Some(&b'\n') => return Ok(Some(&rest[..i])),
            b'\r' if i + 1 == rest.len() => return Ok(None),
            b'\r' | b'\n' => {
                return Err(RequestError::BadRequest("bare CR or LF in chunked framing"))
            }
            _ if i >= max => return Err(RequestError::BadRequest("chunk line too long")),
            _ => {}
        }
    }
    if rest.len() > max {
        return Err(RequestError::BadRequest("chunk line too long"));
    }
    Ok(None)
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

/// What the bytes after a head say about its body.
#[derive(Debug)]
pub(crate) enum BufferedBody {
    /// The whole body is here: its decoded bytes and how much input it took.
    Complete { body: Vec<u8>, used: usize },
    /// A small body is still arriving: wait for more bytes.
    Incomplete,
    /// The body is too large to collect first: stream it to the application.
    TooLargeToBuffer,
}

/// A chunked body being collected before the application runs: decoded a
/// piece at a time as bytes arrive, so each byte is decoded once.
#[derive(Debug)]
pub(crate) struct ChunkedProgress {
    decoder: ChunkedDecoder,
    decoded: Vec<u8>,
    /// Bytes after the head decoded so far.
    used: usize,
}

impl ChunkedProgress {
    pub(crate) fn new(max_body: u64) -> ChunkedProgress {
        ChunkedProgress {
            decoder: ChunkedDecoder::new(max_body),
            decoded: Vec::new(),
            used: 0,
        }
    }
}

/// Look at the bytes after a head and decide whether the body is all here.
/// `progress` carries a chunked body's decoding from one call to the next
/// (start each request with `None`).
pub(crate) fn buffered_body(
    framing: Framing,
    after_head: &[u8],
    buffered_max: usize,
    max_body: u64,
    progress: &mut Option<ChunkedProgress>,
) -> Result<BufferedBody, RequestError> {
    match framing {
        Framing::Empty => Ok(BufferedBody::Complete {
            body: Vec::new(),
            used: 0,
        }),
        Framing::Length(n) if n > buffered_max as u64 => Ok(BufferedBody::TooLargeToBuffer),
        Framing::Length(n) => {
            let n = n as usize;
            Ok(match after_head.get(..n) {
                Some(body) => BufferedBody::Complete {
                    body: body.to_vec(),
                    used: n,
                },
                None => BufferedBody::Incomplete,
            })
        }
        Framing::Chunked => {
            let chunked = progress.get_or_insert_with(|| ChunkedProgress::new(max_body));
            let used = chunked
                .decoder
                .decode(&after_head[chunked.used..], &mut chunked.decoded)?;
            chunked.used += used;
            Ok(if chunked.decoder.is_done() {
                let used = chunked.used;
                let body = std::mem::take(&mut chunked.decoded);
                *progress = None;
                BufferedBody::Complete { body, used }
            } else if after_head.len() > buffered_max {
                // Streaming starts over from the raw bytes with its own decoder.
                *progress = None;
                BufferedBody::TooLargeToBuffer
            } else {
                BufferedBody::Incomplete
            })
        }
    }
}

/// A body streamed from the socket as the application reads it: the reader
/// half goes into `wsgi.input`, the connection keeps a handle to learn how it
/// ended and to take back bytes read past it.
#[derive(Debug, Clone)]
pub(crate) struct StreamedBody {
    shared: Arc<Mutex<StreamState>>,
}

#[derive(Debug)]
struct StreamState {
    stream: Arc<Stream>,
    /// Bytes from the socket not yet decoded (at first: what followed the head).
    pending: Vec<u8>,
    framing: StreamFraming,
    /// Decoded chunked bytes not yet handed to the application.
    decoded: Vec<u8>,
    /// PEP 3333: `100 Continue` goes out when the application first reads.
    send_continue: bool,
    failed: bool,
}

#[derive(Debug)]
enum StreamFraming {
    Length { remaining: u64 },
    Chunked(ChunkedDecoder),
}

/// How a streamed body ended, once the response is done.
#[derive(Debug)]
pub(crate) enum BodyEnd {
    /// The body was read to its end; these bytes came after it.
    Finished { leftover: Vec<u8> },
    /// The connection cannot be reused.
    Unusable,
}

impl StreamedBody {
    pub(crate) fn new(
        stream: Arc<Stream>,
        framing: Framing,
        after_head: Vec<u8>,
        expect_continue: bool,
        max_body: u64,
    ) -> StreamedBody {
        let framing = match framing {
            Framing::Chunked => StreamFraming::Chunked(ChunkedDecoder::new(max_body)),
            Framing::Length(n) => StreamFraming::Length { remaining: n },
            Framing::Empty => StreamFraming::Length { remaining: 0 },
        };
        StreamedBody {
            shared: Arc::new(Mutex::new(StreamState {
                stream,
                pending: after_head,
                framing,
                decoded: Vec::new(),
                send_continue: expect_continue,
                failed: false,
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, StreamState> {
        // A panic while holding this lock can only come from the application
        // thread that owns it; the data is still a valid byte buffer.
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the connection can stay open after the response: the body was
    /// read to its end, or what is left can be drained within `max_drain`.
    pub(crate) fn can_keep_alive(&self, max_drain: u64) -> bool {
        let state = self.state();
        if state.failed || state.send_continue {
            // A client still waiting for 100 Continue will not send the body.
            return false;
        }
        match &state.framing {
            StreamFraming::Length { remaining } => *remaining <= max_drain,
            StreamFraming::Chunked(decoder) => decoder.is_done(),
        }
    }

    /// After the response: read and discard what the application left unread
    /// (up to `max_drain` bytes) and hand back bytes that follow the body.
    pub(crate) fn finish(&self, max_drain: u64) -> BodyEnd {
        if !self.can_keep_alive(max_drain) {
            return BodyEnd::Unusable;
        }
        let mut state = self.state();
        let mut sink = [0u8; 8192];
        loop {
            match state.read_body(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => return BodyEnd::Unusable,
            }
        }
        BodyEnd::Finished {
            leftover: std::mem::take(&mut state.pending),
        }
    }
}

impl Read for StreamedBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut state = self.state();
        let result = state.read_body(buf);
        if result.is_err() {
            state.failed = true;
        }
        result
    }
}

impl StreamState {
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if std::mem::take(&mut self.send_continue) {
            io::Write::write_all(&mut &*self.stream, b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        match &mut self.framing {
            StreamFraming::Length { remaining } => {
                let want = buf
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                if want == 0 {
                    return Ok(0);
                }
                let n = if self.pending.is_empty() {
                    read_some(&self.stream, &mut buf[..want])?
                } else {
                    let n = want.min(self.pending.len());
                    buf[..n].copy_from_slice(&self.pending[..n]);
                    self.pending.drain(..n);
                    n
                };
                *remaining -= n as u64;
                Ok(n)
            }
            StreamFraming::Chunked(decoder) => loop {
                if !self.decoded.is_empty() {
                    let n = buf.len().min(self.decoded.len());
                    buf[..n].copy_from_slice(&self.decoded[..n]);
                    self.decoded.drain(..n);
                    return Ok(n);
                }
                if decoder.is_done() {
                    return Ok(0);
                }
                let used = decoder
                    .decode(&self.pending, &mut self.decoded)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                self.pending.drain(..used);
                if self.decoded.is_empty() && !decoder.is_done() {
                    let mut more = [0u8; 8192];
                    let n = read_some(&self.stream, &mut more)?;
                    self.pending.extend_from_slice(&more[..n]);
                }
            },
        }
    }
}

/// One read that treats end of stream as an error: the body is not over.
fn read_some(stream: &Stream, buf: &mut [u8]) -> io::Result<usize> {
    match (&*stream).read(buf)? {
        0 => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "client closed the connection before the request body ended",
        )),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<(Vec<u8>, usize, bool), RequestError> {
        let mut decoder = ChunkedDecoder::new(1 << 20);
        let mut out = Vec::new();
        let used = decoder.decode(input, &mut out)?;
        Ok((out, used, decoder.is_done()))
    }

    fn status_of(input: &[u8]) -> &'static str {
        match decode_all(input) {
            Ok((_, _, true)) => "done",
            Ok(_) => "partial",
            Err(e) => e.status().unwrap_or("io"),
        }
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let input = b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT";
        let (out, used, done) = decode_all(input).unwrap();
        assert_eq!(out, b"hello world");
        assert!(done);
        assert_eq!(&input[used..], b"NEXT");
    }

    #[test]
    fn any_split_gives_the_same_result() {
        let input = b"3\r\nabc\r\na;x=\"q\"\r\n0123456789\r\n0\r\nT: v\r\n\r\n";
        for split in 0..=input.len() {
            let mut decoder = ChunkedDecoder::new(1 << 20);
            let mut out = Vec::new();
            let mut pending = input[..split].to_vec();
            let used = decoder.decode(&pending, &mut out).unwrap();
            pending.drain(..used);
            pending.extend_from_slice(&input[split..]);
            let used = decoder.decode(&pending, &mut out).unwrap();
            assert!(decoder.is_done(), "split at {split}");
            assert_eq!(used, pending.len());
            assert_eq!(out, b"abc0123456789", "split at {split}");
        }
    }

    #[test]
    fn refuses_malformed_framing() {
        let cases: &[&[u8]] = &[
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"\r\nhello\r\n0\r\n\r\n",
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"5_\r\nhello\r\n0\r\n\r\n",
            b"FFFFFFFFFFFFFFFFF\r\n",
            b"5 junk\r\nhello\r\n0\r\n\r\n",
            b"5;a\x01b\r\nhello\r\n0\r\n\r\n",
            b"5;a\nb\r\nhello\r\n0\r\n\r\n",
            b"0\r\nBad Trailer\r\n\r\n",
        ];
        for case in cases {
            assert_eq!(
                status_of(case),
                "400 Bad Request",
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn truncated_bodies_are_not_complete() {
        assert_eq!(status_of(b"5\r\nhello\r\n0\r\n"), "partial");
        assert_eq!(status_of(b"5\r\nhel"), "partial");
    }

    #[test]
    fn extension_flood_and_oversized_bodies_are_refused() {
        let mut flood = Vec::new();
        for _ in 0..100 {
            flood.extend_from_slice(b"1;");
            flood.extend_from_slice(&[b'x'; 400]);
            flood.extend_from_slice(b"\r\na\r\n");
        }
        assert_eq!(status_of(&flood), "400 Bad Request");
        let mut decoder = ChunkedDecoder::new(4);
        assert!(matches!(
            decoder.decode(b"5\r\nhello\r\n", &mut Vec::new()),
            Err(RequestError::BodyTooLarge)
        ));
    }

    #[test]
    fn buffered_body_decisions() {
        assert!(matches!(
            buffered_body(Framing::Length(3), b"ab", 10, 100, &mut None).unwrap(),
            BufferedBody::Incomplete
        ));
        assert!(matches!(
            buffered_body(Framing::Length(30), b"ab", 10, 100, &mut None).unwrap(),
            BufferedBody::TooLargeToBuffer
        ));
        match buffered_body(Framing::Length(2), b"abGET", 10, 100, &mut None).unwrap() {
            BufferedBody::Complete { body, used } => {
                assert_eq!((body.as_slice(), used), (&b"ab"[..], 2))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            buffered_body(Framing::Chunked, b"3\r\nab", 10, 100, &mut None).unwrap(),
            BufferedBody::Incomplete
        ));
    }
}
