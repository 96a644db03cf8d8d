//! Stage 7, the response bytes: status line, headers and body framing on the
//! wire (hyper's `encode.rs`). The handler decides *when* to send; this file
//! decides *how*. Last stage: back to `connection.rs`.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gateway_spec::{Headers, HeadersExt};

use crate::request_body::StreamedBody;
use crate::request_head::Version;
use crate::socket::Stream;

/// How the response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutFraming {
    /// The status forbids a body (1xx, 204, 304).
    NoBody,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked` (HTTP/1.1 only).
    Chunked,
    /// The body ends when the connection closes (HTTP/1.0, unknown length).
    UntilClose,
}

/// Where response bytes go.
pub(crate) enum Destination<'a> {
    /// A client socket, non-blocking. What a slow reader cannot take yet
    /// waits for the poller; past `OUTPUT_WAITING_MAX` the socket switches
    /// to blocking (with the write timeout).
    Socket(&'a Stream),
    /// Any writer: a test client's buffer, a CGI program's standard output.
    Writer(&'a mut dyn Write),
}

impl std::fmt::Debug for Destination<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Destination::Socket(_) => "Socket",
            Destination::Writer(_) => "Writer",
        })
    }
}

/// The shape of the response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// An HTTP/1.1 origin server: status line, Date, Server, framing headers.
    Http,
    /// A CGI program (RFC 3875 section 6): a `Status:` header; the web
    /// server in front adds the status line, Date and framing.
    Cgi,
}

/// What the writer needs to know about the request it answers.
#[derive(Debug)]
pub(crate) struct Exchange<'a> {
    pub(crate) destination: Destination<'a>,
    pub(crate) dialect: Dialect,
    pub(crate) version: Version,
    pub(crate) is_head: bool,
    /// Whether the connection may stay open after this response.
    pub(crate) keep_alive: bool,
    /// The server's shutdown flag, if it has one: a shutdown that begins
    /// while the application runs still turns this answer into the last.
    pub(crate) stopping: Option<&'a AtomicBool>,
    pub(crate) write_timeout: Duration,
    pub(crate) date: &'a str,
    pub(crate) server_name: &'a str,
    /// A body being streamed from the socket, whose state decides at head
    /// time whether the connection can be reused.
    pub(crate) streamed: Option<&'a StreamedBody>,
    pub(crate) max_drain: u64,
    /// Another request is already buffered behind this one (pipelining):
    /// keep the complete response queued so the answers leave together in
    /// one write. The connection sends what is queued before it waits.
    pub(crate) hold_complete: bool,
}

/// Most bytes of complete responses held back for one write.
const HOLD_LIMIT: usize = 64 * 1024;

/// Most response bytes kept for a slow reader, to be sent by the poller as
/// the client takes them (on top of the kernel's socket buffer, up to 4 MiB
/// by default on Linux). Past it the worker waits for the client itself (up
/// to the write timeout per write): a huge response to a stalled client
/// costs a worker, not unbounded memory.
const OUTPUT_WAITING_MAX: usize = 4 << 20;

/// Writes one response: the head once, then body chunks in their framing.
#[derive(Debug)]
pub(crate) struct ResponseWriter<'a> {
    exchange: Exchange<'a>,
    out: &'a mut Vec<u8>,
    framing: Option<OutFraming>,
    status_code: u16,
    /// Body bytes written (for Content-Length enforcement and the access log).
    written: u64,
    /// Set when the body ran past its Content-Length and was cut.
    overflowed: bool,
    /// Set when the socket failed: nothing more can be sent.
    failed: bool,
    /// Set when the socket was switched to blocking mode for a slow reader.
    blocking: bool,
    /// Set when the client's socket was full: what `out` holds waits for
    /// the poller to see the client ready, rather than for this worker.
    waiting: bool,
}

/// Why the head could not be sent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeadError {
    /// The application's Content-Length is not a number.
    #[error("the application's Content-Length header {0:?} is not a decimal number")]
    BadContentLength(String),
    /// The socket failed.
    #[error("client connection failed: {0}")]
    Io(#[from] io::Error),
}

impl<'a> ResponseWriter<'a> {
    /// A writer appending to `out`, which may still hold earlier responses
    /// to pipelined requests.
    pub(crate) fn new(exchange: Exchange<'a>, out: &'a mut Vec<u8>) -> ResponseWriter<'a> {
        ResponseWriter {
            exchange,
            out,
            framing: None,
            status_code: 0,
            written: 0,
            overflowed: false,
            failed: false,
            blocking: false,
            waiting: false,
        }
    }

    pub(crate) fn head_sent(&self) -> bool {
        self.framing.is_some()
    }

    pub(crate) fn status_code(&self) -> u16 {
        self.status_code
    }

    pub(crate) fn body_bytes(&self) -> u64 {
        self.written
    }

    /// Whether the connection can carry another request after this response.
    pub(crate) fn keep_alive(&self) -> bool {
        self.exchange.keep_alive && !self.failed && !self.overflowed
    }

    /// Whether the socket was left in blocking mode (the caller restores it).
    pub(crate) fn switched_to_blocking(&self) -> bool {
        self.blocking
    }

    /// Whether response bytes are left for the poller to send once the
    /// client has room for them (they are still in `out`).
    pub(crate) fn output_waiting(&self) -> bool {
        self.waiting && !self.out.is_empty() && !self.failed
    }

    /// Whether the declared Content-Length has been reached: the handler
    /// stops pulling the body then (PEP 3333 rule 39).
    pub(crate) fn is_full(&self) -> bool {
        self.failed || matches!(self.framing, Some(OutFraming::Length(n)) if self.written >= n)
    }

    /// Stop keeping the connection alive (an error after the head was sent).
    pub(crate) fn force_close(&mut self) {
        self.exchange.keep_alive = false;
    }

    /// Queue the status line and headers; they leave with the first body
    /// bytes (or at `finish`), so head and first chunk share one write.
    /// `known_len` is the body's length when the server knows it (a single
    /// chunk, or an empty body).
    pub(crate) fn send_head(
        &mut self,
        status: &str,
        headers: &Headers,
        known_len: Option<u64>,
    ) -> Result<(), HeadError> {
        self.status_code = status.get(..3).and_then(|c| c.parse().ok()).unwrap_or(500);
        let facts = HeaderFacts::of(headers);
        let framing = self.choose_framing(facts.content_length, known_len)?;
        let body_unfinished = self
            .exchange
            .streamed
            .is_some_and(|b| !b.can_keep_alive(self.exchange.max_drain));
        let stopping = self
            .exchange
            .stopping
            .is_some_and(|flag| flag.load(Ordering::Acquire));
        if framing == OutFraming::UntilClose || body_unfinished || stopping {
            self.exchange.keep_alive = false;
        }
        if self.exchange.dialect == Dialect::Cgi {
            self.cgi_head(status, headers, framing);
            return Ok(());
        }
        let out = &mut *self.out;
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            if framing == OutFraming::NoBody && self.status_code != 304 && is_length_header(name) {
                continue; // RFC 9110 section 8.6: never on 1xx or 204
            }
            push_header(out, name, value);
        }
        if !facts.has_date {
            push_header(out, "Date", self.exchange.date);
        }
        if !facts.has_server {
            push_header(out, "Server", self.exchange.server_name);
        }
        match framing {
            OutFraming::Length(n) if facts.content_length.is_none() => {
                push_content_length(out, n);
            }
            OutFraming::Chunked => push_header(out, "Transfer-Encoding", "chunked"),
            _ => {}
        }
        match (self.exchange.keep_alive, self.exchange.version) {
            (false, Version::Http11) => push_header(out, "Connection", "close"),
            (true, Version::Http10) => push_header(out, "Connection", "keep-alive"),
            _ => {}
        }
        out.extend_from_slice(b"\r\n");
        self.framing = Some(framing);
        Ok(())
    }

    /// RFC 3875 section 6.3.3: `Status:` carries the status; the server in
    /// front writes the status line and frames the body.
    fn cgi_head(&mut self, status: &str, headers: &Headers, framing: OutFraming) {
        let out = &mut *self.out;
        push_header(out, "Status", status);
        for (name, value) in headers {
            push_header(out, name, value);
        }
        if let OutFraming::Length(n) = framing {
            if !headers.has_header("content-length") {
                push_content_length(out, n);
            }
        }
        out.extend_from_slice(b"\r\n");
        self.framing = Some(framing);
    }

    fn choose_framing(
        &self,
        content_length: Option<&str>,
        known_len: Option<u64>,
    ) -> Result<OutFraming, HeadError> {
        let code = self.status_code;
        if (100..200).contains(&code) || code == 204 || code == 304 {
            return Ok(OutFraming::NoBody);
        }
        if let Some(value) = content_length {
            return match parse_length(value) {
                Some(n) => Ok(OutFraming::Length(n)),
                None => Err(HeadError::BadContentLength(value.trim().to_owned())),
            };
        }
        Ok(
            match (known_len, self.exchange.version, self.exchange.dialect) {
                // A HEAD answer's empty body says nothing about the length a GET
                // would have: send no Content-Length rather than a wrong one.
                (Some(0), _, _) if self.exchange.is_head => OutFraming::NoBody,
                (Some(n), _, _) => OutFraming::Length(n),
                (None, Version::Http11, Dialect::Http) => OutFraming::Chunked,
                (None, _, _) => OutFraming::UntilClose,
            },
        )
    }

    /// Send one non-empty body chunk (with the head, if it is still queued).
    pub(crate) fn write_body(&mut self, chunk: &[u8]) -> io::Result<()> {
        let framing = self.framing.unwrap_or(OutFraming::NoBody);
        if !self.exchange.is_head {
            match framing {
                OutFraming::NoBody => {}
                OutFraming::Length(n) => {
                    let room = usize::try_from(n - self.written.min(n)).unwrap_or(usize::MAX);
                    if chunk.len() > room {
                        // PEP 3333 rule 39: never send more than the app declared.
                        log::warn!("response body longer than its Content-Length ({n}): extra bytes dropped");
                        self.overflowed = true;
                    }
                    self.out.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                OutFraming::Chunked => {
                    self.out
                        .extend_from_slice(format!("{:X}\r\n", chunk.len()).as_bytes());
                    self.out.extend_from_slice(chunk);
                    self.out.extend_from_slice(b"\r\n");
                }
                OutFraming::UntilClose => self.out.extend_from_slice(chunk),
            }
        }
        self.written += chunk.len() as u64;
        let complete = matches!(framing, OutFraming::Length(n) if self.written >= n);
        if self.holding() && complete {
            return Ok(()); // complete: it can wait for the next response
        }
        self.flush(complete)
    }

    fn holding(&self) -> bool {
        self.exchange.hold_complete && self.out.len() < HOLD_LIMIT
    }

    /// End the response: the last chunk for chunked framing, and a check
    /// that a declared Content-Length was met.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        match self.framing {
            Some(OutFraming::Chunked) if !self.exchange.is_head => {
                self.out.extend_from_slice(b"0\r\n\r\n")
            }
            Some(OutFraming::Length(n)) if self.written < n && !self.exchange.is_head => {
                // PEP 3333 rule 40: the client waits for bytes that will never
                // come; closing is the only way to tell it.
                log::warn!("response body ended after {} of its {n} declared bytes: closing the connection", self.written);
                self.exchange.keep_alive = false;
            }
            _ => {}
        }
        if self.holding() {
            return Ok(());
        }
        self.flush(true)
    }

    /// Write out what is queued. Once the response is `complete`, what a
    /// slow reader cannot take yet waits in `out` for the poller (see
    /// [`output_waiting`](Self::output_waiting)), up to
    /// `OUTPUT_WAITING_MAX`. Before that, and past it, the socket switches
    /// to blocking mode with the write timeout: PEP 3333 wants each block
    /// sent before the next is asked for, and an application may pause
    /// between blocks (a stream of events), when nobody would send the rest.
    fn flush(&mut self, complete: bool) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "connection already failed",
            ));
        }
        let result = self.write_out(complete);
        if result.is_err() {
            self.out.clear();
            self.failed = true;
            self.exchange.keep_alive = false;
        }
        result
    }

    fn write_out(&mut self, complete: bool) -> io::Result<()> {
        let stream = match &mut self.exchange.destination {
            Destination::Socket(stream) => *stream,
            Destination::Writer(writer) => {
                writer.write_all(self.out)?;
                self.out.clear();
                return writer.flush();
            }
        };
        let sent = send_until_full(stream, self.out)?;
        self.out.drain(..sent);
        if self.out.is_empty() {
            return Ok(());
        }
        if complete && self.out.len() <= OUTPUT_WAITING_MAX {
            self.waiting = true;
            return Ok(());
        }
        let sent = send_all(
            stream,
            self.out,
            self.exchange.write_timeout,
            &mut self.blocking,
        );
        self.out.clear();
        self.waiting = false;
        sent
    }
}

/// Write as much of `bytes` as a non-blocking socket takes now; returns how
/// many bytes went out.
pub(crate) fn send_until_full(stream: &Stream, bytes: &[u8]) -> io::Result<usize> {
    let mut at = 0;
    while at < bytes.len() {
        match (&*stream).write(&bytes[at..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(at)
}

/// Write all of `bytes` to a non-blocking socket. A slow reader makes it
/// switch to blocking mode with `timeout` (and set `blocking`), rather than
/// spin; the caller restores non-blocking mode.
pub(crate) fn send_all(
    stream: &Stream,
    bytes: &[u8],
    timeout: Duration,
    blocking: &mut bool,
) -> io::Result<()> {
    let sent = send_until_full(stream, bytes)?;
    if sent == bytes.len() {
        return Ok(());
    }
    if *blocking {
        // Already waiting with the timeout: it ran out.
        return Err(io::ErrorKind::WouldBlock.into());
    }
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(timeout)?;
    *blocking = true;
    (&*stream).write_all(&bytes[sent..])
}

/// What the server needs to know about the application's headers, found in
/// one pass: a scan per question (`get_header` for Date, Server and
/// Content-Length) cost about 700 instructions per response with the
/// framework's four headers, by callgrind.
struct HeaderFacts<'h> {
    content_length: Option<&'h str>,
    has_date: bool,
    has_server: bool,
}

impl<'h> HeaderFacts<'h> {
    fn of(headers: &'h Headers) -> HeaderFacts<'h> {
        let mut facts = HeaderFacts {
            content_length: None,
            has_date: false,
            has_server: false,
        };
        for (name, value) in headers {
            // The length rules out most names before any byte is compared.
            match name.len() {
                4 if name.eq_ignore_ascii_case("date") => facts.has_date = true,
                6 if name.eq_ignore_ascii_case("server") => facts.has_server = true,
                14 if facts.content_length.is_none()
                    && name.eq_ignore_ascii_case("content-length") =>
                {
                    facts.content_length = Some(value);
                }
                _ => {}
            }
        }
        facts
    }
}

/// An application's `Content-Length`: digits only, around them at most
/// ASCII whitespace (in practice spaces and tabs, RFC 9110's OWS: the
/// record already refused other control characters), and no more than a
/// `u64` holds. Unicode spaces (U+00A0) are not trimmed, unlike `str::trim`.
/// By hand: `trim` and `parse` decode characters, where bytes will do.
fn parse_length(value: &str) -> Option<u64> {
    let digits = value.as_bytes().trim_ascii();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &byte| {
        let digit = byte.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn is_length_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("transfer-encoding")
}

/// `Name: value\r\n`, the value written as Latin-1 (PEP 3333: header strings
/// are Latin-1; `start_response` already refused anything above U+00FF).
fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    if value.is_ascii() {
        out.extend_from_slice(value.as_bytes());
    } else {
        out.extend(
            value
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')),
        );
    }
    out.extend_from_slice(b"\r\n");
}

/// `Content-Length: n`, the number written straight into the buffer (no
/// string allocated per response).
fn push_content_length(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(b"Content-Length: ");
    push_decimal(out, n);
    out.extend_from_slice(b"\r\n");
}

/// `n` in decimal digits. By hand because `write!` goes through the
/// formatting machinery: about 220 instructions per response by callgrind,
/// against a few dozen here.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0; 20]; // u64::MAX has 20 digits
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// A complete response the server writes on its own (a refused request, an
/// overloaded server), always closing the connection afterwards.
pub(crate) fn simple_response(
    status: &str,
    date: &str,
    server_name: &str,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let body = format!("{status}\n");
    let mut out = Vec::with_capacity(160 + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(b"\r\n");
    push_header(&mut out, "Date", date);
    push_header(&mut out, "Server", server_name);
    push_header(&mut out, "Content-Type", "text/plain; charset=utf-8");
    push_header(&mut out, "Content-Length", &body.len().to_string());
    for (name, value) in extra {
        push_header(&mut out, name, value);
    }
    push_header(&mut out, "Connection", "close");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

/// Write a whole small response to a socket in non-blocking mode, best
/// effort: used by the poller, which must never wait on a client.
pub(crate) fn write_nonblocking(stream: &Stream, bytes: &[u8]) {
    let _ = send_until_full(stream, bytes);
}

#[cfg(test)]
mod tests {
    use super::{parse_length, push_decimal, HeaderFacts};

    #[test]
    fn an_application_content_length_is_digits_only() {
        for (value, parsed) in [
            ("0", Some(0)),
            ("18", Some(18)),
            (" 18\t", Some(18)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("", None),
            (" ", None),
            ("+1", None),
            ("-1", None),
            ("1 2", None),
            ("0x10", None),
            ("1\u{a0}", None),
        ] {
            assert_eq!(parse_length(value), parsed, "{value:?}");
        }
    }

    #[test]
    fn header_facts_match_names_in_any_case() {
        let headers = vec![
            ("content-LENGTH".into(), "5".into()),
            ("X-Date".into(), "no".into()),
            ("DATE".into(), "Tue".into()),
            ("Content-Length".into(), "6".into()),
        ];
        let facts = HeaderFacts::of(&headers);
        assert_eq!(facts.content_length, Some("5"), "the first one counts");
        assert!(facts.has_date);
        assert!(!facts.has_server);
        let no_headers = Vec::new();
        let none = HeaderFacts::of(&no_headers);
        assert!(none.content_length.is_none() && !none.has_date && !none.has_server);
    }

    #[test]
    fn decimal_digits_match_the_standard_formatting() {
        for n in [0, 7, 10, 18, 99, 100, 65_536, 1 << 40, u64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }
}
