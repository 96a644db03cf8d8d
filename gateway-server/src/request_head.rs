//! Stage 3, the request head: bytes in, a validated head out (or the status
//! that refuses it).
//!
//! httparse does the tokenising; this file adds the strictness a server in
//! front of other parsers needs (every check cites the advisory or RFC it
//! comes from), and decides how the body is framed. Next stage:
//! `request_body.rs`.

use crate::error::RequestError;

/// The limits that apply to a head.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadLimits {
    pub(crate) max_request_line: usize,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_body_bytes: u64,
}

/// HTTP/1.0 or HTTP/1.1: the only versions this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    Http10,
    Http11,
}

impl Version {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// How the request body is delimited (RFC 9112 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A complete, validated request head, borrowing from the read buffer.
#[derive(Debug)]
pub(crate) struct RequestHead<'buf> {
    pub(crate) method: &'buf str,
    /// The request-target exactly as sent (`REQUEST_URI`).
    pub(crate) target: &'buf str,
    /// The path part of the target, still percent-encoded.
    pub(crate) path: &'buf str,
    pub(crate) query: &'buf str,
    /// The authority of an absolute-form target, which replaces `Host`.
    pub(crate) authority: Option<&'buf str>,
    pub(crate) version: Version,
    /// Header fields in order, minus names holding `_`.
    pub(crate) headers: Vec<(&'buf str, &'buf [u8])>,
    pub(crate) framing: Framing,
    pub(crate) expect_continue: bool,
    /// What the client asked for: keep-alive by default on 1.1, on request on 1.0.
    pub(crate) keep_alive: bool,
    /// Bytes of the buffer the head took, final CRLF included.
    pub(crate) len: usize,
}

impl RequestHead<'_> {
    /// `METHOD target VERSION`, for logs; formatted only if a log line is
    /// actually written.
    pub(crate) fn request_line(&self) -> RequestLine<'_> {
        RequestLine {
            method: self.method,
            target: self.target,
            version: self.version,
        }
    }
}

/// The request line of a head, displayed as `METHOD target VERSION`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestLine<'buf> {
    method: &'buf str,
    target: &'buf str,
    version: Version,
}

impl std::fmt::Display for RequestLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.method,
            self.target,
            self.version.as_str()
        )
    }
}

/// How far an incomplete head has been checked, so bytes that arrive one at
/// a time are each scanned once, not once per arrival (a byte-at-a-time
/// client would otherwise cost the server quadratic work).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeadScan {
    /// Empty lines skipped before the request line when this scan began.
    skipped: usize,
    /// Where the next scan resumes: every byte before it has been checked
    /// (see `scan_lines` for where it may rest).
    checked: usize,
    /// Where the request line ends, once seen.
    line_end: Option<usize>,
}

/// Parse the head at the start of `buf`: `Ok(None)` while it is incomplete.
pub(crate) fn parse_head<'b>(
    buf: &'b [u8],
    limits: &HeadLimits,
) -> Result<Option<RequestHead<'b>>, RequestError> {
    parse_head_resuming(buf, limits, &mut HeadScan::default())
}

/// [`parse_head`] for a head that arrives in pieces: `scan` remembers what
/// earlier calls checked (start each request with a fresh one).
pub(crate) fn parse_head_resuming<'b>(
    buf: &'b [u8],
    limits: &HeadLimits,
    scan: &mut HeadScan,
) -> Result<Option<RequestHead<'b>>, RequestError> {
    // RFC 9112 section 2.2: ignore a few empty lines before the request
    // line; more than that is not a client being lenient.
    let skipped = leading_empty_lines(buf)?;
    if skipped != scan.skipped {
        *scan = HeadScan {
            skipped,
            ..HeadScan::default()
        };
    }
    let limits = &HeadLimits {
        max_header_bytes: limits.max_header_bytes.saturating_sub(skipped),
        ..*limits
    };
    let Some(end) = find_head_end(&buf[skipped..], limits, scan)? else {
        return Ok(None);
    };
    let head_bytes = &buf[skipped..skipped + end];
    // Most requests have a few headers: parse with a small array on the
    // stack, and only a request with more gets a full-size one.
    let mut inline = [httparse::EMPTY_HEADER; INLINE_HEADERS];
    let slots = limits.max_headers.min(INLINE_HEADERS);
    match parse_fields(&mut inline[..slots], head_bytes, skipped + end, limits) {
        Err(RequestError::HeadersTooLarge) if limits.max_headers > INLINE_HEADERS => {
            let mut full = vec![httparse::EMPTY_HEADER; limits.max_headers];
            parse_fields(&mut full, head_bytes, skipped + end, limits)
        }
        other => other,
    }
}

/// Header slots tried before a larger array is made.
const INLINE_HEADERS: usize = 32;

fn parse_fields<'b>(
    fields: &mut [httparse::Header<'b>],
    head_bytes: &'b [u8],
    len: usize,
    limits: &HeadLimits,
) -> Result<Option<RequestHead<'b>>, RequestError> {
    let mut request = httparse::Request::new(fields);
    match request.parse(head_bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(RequestError::BadRequest("malformed request head"))
        }
        Err(err) => return Err(refusal(err, head_bytes)),
    }
    build_head(request, len, limits)
}

/// Most empty lines accepted before a request line.
const MAX_EMPTY_LINES: usize = 8;

fn leading_empty_lines(buf: &[u8]) -> Result<usize, RequestError> {
    let mut at = 0;
    while buf[at..].starts_with(b"\r\n") {
        at += 2;
        if at > 2 * MAX_EMPTY_LINES {
            return Err(RequestError::BadRequest(
                "too many empty lines before the request line",
            ));
        }
    }
    Ok(at)
}

/// Find the end of the head (after its blank line), enforcing the size limits
/// and refusing bare CR or LF as line endings. Resumes where `scan` stopped.
///
/// One pass that jumps from one CR or LF to the next (`memchr2`, a vector
/// search) instead of testing every byte: a small head has three or four of
/// them, so this costs tens of instructions where a byte-by-byte walk cost
/// over a thousand per request.
fn find_head_end(
    buf: &[u8],
    limits: &HeadLimits,
    scan: &mut HeadScan,
) -> Result<Option<usize>, RequestError> {
    let end = scan_lines(buf, scan)?;
    let line_len = scan.line_end.unwrap_or(buf.len());
    if line_len > limits.max_request_line {
        return Err(RequestError::RequestLineTooLong);
    }
    match end {
        Some(end) if end <= limits.max_header_bytes => Ok(Some(end)),
        Some(_) => Err(RequestError::HeadersTooLarge),
        None if buf.len() >= limits.max_header_bytes => Err(RequestError::HeadersTooLarge),
        None => Ok(None),
    }
}

/// Walk the line endings from `scan.checked` on: every one must be CRLF
/// (waitress CVE-2019-16785 / Puma CVE-2021-41136: a lone LF or CR read as a
/// line end by one parser and not another lets a request hide inside
/// another). Returns the end of the head once its blank line is seen; only
/// the head is checked, since what follows it is a body or the next request.
///
/// `scan.checked` only ever rests after a CRLF, on a CR that is the last
/// byte so far, or at the end of the buffer, so an LF found here always
/// lacks its CR.
fn scan_lines(buf: &[u8], scan: &mut HeadScan) -> Result<Option<usize>, RequestError> {
    let mut at = scan.checked.min(buf.len());
    while let Some(offset) = memchr::memchr2(b'\r', b'\n', &buf[at..]) {
        let cr = at + offset;
        if buf[cr] == b'\n' {
            return Err(RequestError::BadRequest(
                "bare LF in request head: lines must end with CRLF",
            ));
        }
        match buf.get(cr + 1) {
            Some(b'\n') => {}
            Some(_) => return Err(RequestError::BadRequest("bare CR in request head")),
            None => {
                // Whether this CR ends a line depends on the next read.
                scan.checked = cr;
                return Ok(None);
            }
        }
        scan.line_end.get_or_insert(cr);
        // A CRLF right after a CRLF is the blank line that ends the head.
        // (Position 0 never holds one: leading empty lines were skipped.)
        if cr > 0 && buf[cr - 1] == b'\n' {
            // Found again from its blank line if asked again.
            scan.checked = cr;
            return Ok(Some(cr + 2));
        }
        at = cr + 2;
    }
    scan.checked = buf.len();
    Ok(None)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Map an httparse error to the status that answers it.
fn refusal(err: httparse::Error, head: &[u8]) -> RequestError {
    match err {
        httparse::Error::TooManyHeaders => RequestError::HeadersTooLarge,
        httparse::Error::Version if names_other_http_version(head) => {
            RequestError::VersionNotSupported
        }
        httparse::Error::Version => RequestError::BadRequest("malformed HTTP version"),
        httparse::Error::HeaderName => {
            RequestError::BadRequest("invalid header name (whitespace before the colon?)")
        }
        httparse::Error::HeaderValue => RequestError::BadRequest("invalid byte in a header value"),
        httparse::Error::Token => RequestError::BadRequest("invalid method or request line"),
        httparse::Error::NewLine => RequestError::BadRequest("malformed line ending"),
        _ => RequestError::BadRequest("malformed request line"),
    }
}

/// Whether the request line ends in a well-formed `HTTP/x.y` other than 1.0
/// or 1.1: that deserves 505, anything else 400.
fn names_other_http_version(head: &[u8]) -> bool {
    let line_end = find(head, b"\r\n").unwrap_or(head.len());
    let line = &head[..line_end];
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
    matches!(version, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
        if major.is_ascii_digit() && minor.is_ascii_digit())
}

fn build_head<'b>(
    request: httparse::Request<'_, 'b>,
    len: usize,
    limits: &HeadLimits,
) -> Result<Option<RequestHead<'b>>, RequestError> {
    let bad = RequestError::BadRequest;
    let method = request.method.ok_or(bad("missing method"))?;
    let target = request.path.ok_or(bad("missing request target"))?;
    let version = match request.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(RequestError::VersionNotSupported),
    };
    // gunicorn 22: `#` is a token character but no real method has one.
    if method.contains('#') {
        return Err(bad("invalid character in method"));
    }
    let (path, query, authority) = split_target(method, target)?;
    let mut head = RequestHead {
        method,
        target,
        path,
        query,
        authority,
        version,
        headers: Vec::with_capacity(request.headers.len()),
        framing: Framing::Empty,
        expect_continue: false,
        keep_alive: version == Version::Http11,
        len,
    };
    let fields = FieldSummary::collect(request.headers, &mut head)?;
    fields.apply(&mut head, limits)?;
    Ok(Some(head))
}

/// Split the request-target into path, query and (absolute-form) authority.
fn split_target<'b>(
    method: &str,
    target: &'b str,
) -> Result<(&'b str, &'b str, Option<&'b str>), RequestError> {
    let bad = RequestError::BadRequest;
    // Only visible ASCII may appear in a target (RFC 9112 section 3.2); a
    // fragment is never sent (RFC 9110 section 4.2.1).
    if !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("invalid byte in request target"));
    }
    if target.contains('#') {
        return Err(bad("fragment (#) in request target"));
    }
    let (authority, origin) = if target.starts_with('/') {
        (None, target)
    } else if target == "*" {
        // RFC 9112 section 3.2.4: asterisk-form is for OPTIONS only.
        if method != "OPTIONS" {
            return Err(bad("asterisk-form target is only allowed with OPTIONS"));
        }
        return Ok(("", "", None));
    } else if let Some(rest) = strip_scheme(target) {
        let at = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, origin) = rest.split_at(at);
        if authority.is_empty() || !is_valid_authority(authority.as_bytes()) {
            return Err(bad("absolute-form target without a valid host[:port]"));
        }
        (
            Some(authority),
            if origin.is_empty() { "/" } else { origin },
        )
    } else {
        // authority-form belongs to CONNECT, which a gateway does not serve.
        return Err(bad("request target must be a path, an absolute URL or *"));
    };
    let (path, query) = match origin.split_once('?') {
        Some((path, query)) => (path, query),
        None => (origin, ""),
    };
    // An absolute-form target with only a query ("http://h?x") has path "/".
    let path = if path.is_empty() { "/" } else { path };
    Ok((path, query, authority))
}

fn strip_scheme(target: &str) -> Option<&str> {
    for scheme in ["http://", "https://"] {
        if target.len() > scheme.len() && target[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return Some(&target[scheme.len()..]);
        }
    }
    None
}

/// The framing-relevant header fields of one request, gathered in one pass.
#[derive(Default)]
struct FieldSummary<'b> {
    hosts: usize,
    host_valid: bool,
    content_types: usize,
    content_lengths: Vec<&'b [u8]>,
    transfer_encodings: Vec<&'b [u8]>,
    expectations: Vec<&'b [u8]>,
    connection_close: bool,
    connection_keep_alive: bool,
}

impl<'b> FieldSummary<'b> {
    fn collect(
        fields: &[httparse::Header<'b>],
        head: &mut RequestHead<'b>,
    ) -> Result<Self, RequestError> {
        let mut summary = FieldSummary::default();
        for field in fields {
            let (name, value) = (field.name, field.value);
            if name.contains('_') {
                // waitress, gunicorn and werkzeug drop these: `X_Auth_User`
                // and `X-Auth-User` would both become HTTP_X_AUTH_USER.
                continue;
            }
            if name.eq_ignore_ascii_case("host") {
                summary.hosts += 1;
                summary.host_valid = is_valid_authority(value);
            } else if name.eq_ignore_ascii_case("content-length") {
                summary.content_lengths.push(value);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                summary.transfer_encodings.push(value);
            } else if name.eq_ignore_ascii_case("content-type") {
                summary.content_types += 1;
            } else if name.eq_ignore_ascii_case("expect") {
                summary.expectations.push(value);
            } else if name.eq_ignore_ascii_case("connection") {
                summary.read_connection(value);
            }
            head.headers.push((name, value));
        }
        Ok(summary)
    }

    fn read_connection(&mut self, value: &[u8]) {
        for option in value.split(|&b| b == b',') {
            let option = trim_ows(option);
            if option.eq_ignore_ascii_case(b"close") {
                self.connection_close = true;
            } else if option.eq_ignore_ascii_case(b"keep-alive") {
                self.connection_keep_alive = true;
            }
        }
    }

    fn apply(self, head: &mut RequestHead<'_>, limits: &HeadLimits) -> Result<(), RequestError> {
        let bad = RequestError::BadRequest;
        // RFC 9112 section 3.2: exactly one Host on HTTP/1.1; never two.
        if self.hosts > 1 {
            return Err(bad("more than one Host header"));
        }
        if self.hosts == 0 && head.version == Version::Http11 {
            return Err(bad("missing Host header (required on HTTP/1.1)"));
        }
        // RFC 9110 section 7.2: an invalid Host gets 400. Applications build
        // absolute URLs, redirects and cache keys from it.
        if self.hosts == 1 && !self.host_valid {
            return Err(bad("Host is not a valid host[:port]"));
        }
        // A singleton field given twice: a proxy that keeps the first and an
        // application that sees the last would disagree about the body.
        if self.content_types > 1 {
            return Err(bad("more than one Content-Type header"));
        }
        head.framing = self.framing(head.version, limits)?;
        head.expect_continue = self.expect_continue(head.version)?;
        if self.connection_close {
            head.keep_alive = false;
        } else if self.connection_keep_alive {
            head.keep_alive = true;
        }
        Ok(())
    }

    fn framing(&self, version: Version, limits: &HeadLimits) -> Result<Framing, RequestError> {
        let bad = RequestError::BadRequest;
        match (
            self.content_lengths.as_slice(),
            self.transfer_encodings.as_slice(),
        ) {
            ([], []) => Ok(Framing::Empty),
            ([length], []) => {
                let length = parse_content_length(length)?;
                if length > limits.max_body_bytes {
                    return Err(RequestError::BodyTooLarge);
                }
                Ok(if length == 0 {
                    Framing::Empty
                } else {
                    Framing::Length(length)
                })
            }
            (_, []) => Err(bad("more than one Content-Length header")),
            // RFC 9112 section 6.1: both present is a smuggling attempt as
            // often as not; refusing is the safe choice (gunicorn 22).
            (_, _) if !self.content_lengths.is_empty() => {
                Err(bad("both Content-Length and Transfer-Encoding"))
            }
            _ if version == Version::Http10 => Err(bad("Transfer-Encoding on an HTTP/1.0 request")),
            ([], [coding]) => parse_transfer_encoding(coding),
            _ => Err(bad("more than one Transfer-Encoding header")),
        }
    }

    /// Every expectation, in every `Expect` field and list element, must be
    /// `100-continue` (RFC 9110 section 5.3: repeated fields and lists are
    /// the same thing).
    fn expect_continue(&self, version: Version) -> Result<bool, RequestError> {
        let mut expectations = self
            .expectations
            .iter()
            .flat_map(|v| v.split(|&b| b == b','))
            .map(trim_ows);
        let all_continue = expectations.all(|e| e.eq_ignore_ascii_case(b"100-continue"));
        match (self.expectations.is_empty(), all_continue) {
            (true, _) => Ok(false),
            (false, true) => Ok(version == Version::Http11),
            (false, false) => Err(RequestError::ExpectationFailed),
        }
    }
}

/// RFC 3986 `uri-host [ ":" port ]`, as Host and absolute-form targets
/// carry it: a registered name (unreserved, percent-encoded or sub-delim
/// characters) or a bracketed IP literal, then optional digits. Empty is
/// allowed (a Host for a target without authority).
fn is_valid_authority(value: &[u8]) -> bool {
    let (host, port) = match value.first() {
        Some(b'[') => match value.iter().position(|&b| b == b']') {
            Some(end) => {
                let literal = &value[1..end];
                let ok = !literal.is_empty()
                    && literal
                        .iter()
                        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
                if !ok {
                    return false;
                }
                (&value[..0], &value[end + 1..])
            }
            None => return false,
        },
        _ => match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &value[value.len()..]),
        },
    };
    let host_ok = host.iter().all(|&b| REG_NAME_BYTES[usize::from(b)])
        && (!host.contains(&b'%') || valid_escapes(host));
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    host_ok && port_ok
}

/// The bytes of an RFC 3986 reg-name (unreserved, sub-delims and the `%`
/// of an escape), as a table: every request's Host goes through it.
const REG_NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = matches!(byte as u8, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
            | b'-' | b'.' | b'_' | b'~' | b'%' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')'
            | b'*' | b'+' | b',' | b';' | b'=');
        byte += 1;
    }
    table
};

/// Every `%` starts a `%HH` escape (RFC 3986 pct-encoded).
fn valid_escapes(text: &[u8]) -> bool {
    text.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || matches!(text.get(i + 1..i + 3), Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit())
    })
}

/// Content-Length is plain decimal digits: no sign, no `0x`, no spaces inside,
/// no lists (hyper CVE-2021-32715, waitress CVE-2022-24761 and CVE-2019-16792).
fn parse_content_length(value: &[u8]) -> Result<u64, RequestError> {
    let bad = RequestError::BadRequest("Content-Length must be plain decimal digits");
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(RequestError::BodyTooLarge)
    })
}

/// Only a final, sole `chunked` is implemented (waitress CVE-2019-16786,
/// gunicorn CVE-2024-1135): `chunked` anywhere but last is malformed, any
/// other coding is not implemented.
fn parse_transfer_encoding(value: &[u8]) -> Result<Framing, RequestError> {
    let codings: Vec<&[u8]> = value.split(|&b| b == b',').map(trim_ows).collect();
    if codings.iter().any(|c| c.is_empty()) {
        return Err(RequestError::BadRequest("empty transfer coding"));
    }
    let last_is_chunked = codings
        .last()
        .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
    let chunked_count = codings
        .iter()
        .filter(|c| c.eq_ignore_ascii_case(b"chunked"))
        .count();
    match (codings.len(), last_is_chunked, chunked_count) {
        (1, true, 1) => Ok(Framing::Chunked),
        (_, false, n) if n > 0 => Err(RequestError::BadRequest(
            "chunked must be the final transfer coding",
        )),
        (_, _, n) if n > 1 => Err(RequestError::BadRequest("chunked applied more than once")),
        _ => Err(RequestError::UnsupportedTransferCoding),
    }
}

/// Strip optional whitespace (SP and HTAB only: waitress CVE-2019-16789 is
/// what trimming VT, FF or NBSP leads to).
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_request_line: 64,
        max_header_bytes: 256,
        max_headers: 8,
        max_body_bytes: 1000,
    };

    fn parse(raw: &str) -> Result<Option<RequestHead<'_>>, RequestError> {
        parse_head(raw.as_bytes(), &LIMITS)
    }

    fn status(raw: &str) -> &'static str {
        match parse(raw) {
            Err(err) => err.status().unwrap_or("io"),
            Ok(Some(_)) => "ok",
            Ok(None) => "partial",
        }
    }

    #[test]
    fn parses_a_simple_get() {
        let head = parse("GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nX-Y: z\r\n\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(
            (head.method, head.path, head.query),
            ("GET", "/a%20b", "x=1")
        );
        assert_eq!(head.version, Version::Http11);
        assert_eq!(head.headers.len(), 2);
        assert_eq!(
            head.len,
            "GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nX-Y: z\r\n\r\n".len()
        );
        assert!(head.keep_alive);
        assert_eq!(head.framing, Framing::Empty);
    }

    #[test]
    fn bytes_after_the_head_are_not_checked_as_head() {
        let head = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.framing, Framing::Length(3));
    }

    #[test]
    fn a_head_fed_a_byte_at_a_time_parses_as_when_whole() {
        let raw = b"\r\nPOST /p?q HTTP/1.1\r\nHost: h\r\nX: a\r\nContent-Length: 2\r\n\r\nhi";
        let whole = parse_head(raw, &LIMITS).unwrap().unwrap();
        let mut scan = HeadScan::default();
        let mut found = None;
        for n in 1..=raw.len() {
            if let Some(head) = parse_head_resuming(&raw[..n], &LIMITS, &mut scan).unwrap() {
                found = Some((n, head.len, head.framing, head.headers.len()));
                break;
            }
        }
        assert_eq!(
            found,
            Some((whole.len, whole.len, whole.framing, whole.headers.len()))
        );
        // Found again, as the connection does while the body arrives.
        assert!(parse_head_resuming(raw, &LIMITS, &mut scan)
            .unwrap()
            .is_some());
    }

    #[test]
    fn bare_line_endings_are_found_when_fed_piecewise() {
        for raw in [
            &b"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
            b"GET / HTTP/1.1\nHost: h\r\n\r\n",
        ] {
            let mut scan = HeadScan::default();
            let refused = (1..=raw.len())
                .any(|n| parse_head_resuming(&raw[..n], &LIMITS, &mut scan).is_err());
            assert!(refused, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn incomplete_heads_ask_for_more() {
        assert_eq!(status("GET / HTTP/1.1\r\nHost: h\r\n"), "partial");
        assert_eq!(status("GET / HT"), "partial");
    }

    #[test]
    fn strictness_table() {
        let cases: &[(&str, &str)] = &[
            ("GET / HTTP/1.1\nHost: h\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost : h\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  folded\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x1\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", "413 Content Too Large"),
            ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n", "413 Content Too Large"),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "400 Bad Request"),
            ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "501 Not Implemented"),
            ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", "501 Not Implemented"),
            ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "400 Bad Request"),
            ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\n\r\n", "400 Bad Request"),
            ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "400 Bad Request"),
            ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \x0bchunked\r\n\r\n", "400 Bad Request"),
            ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/2.0\r\nHost: h\r\n\r\n", "505 HTTP Version Not Supported"),
            ("GET / HTTP/1.10\r\nHost: h\r\n\r\n", "400 Bad Request"),
            ("GET /\r\n\r\n", "400 Bad Request"),
            ("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", "400 Bad Request"),
            ("GET * HTTP/1.1\r\nHost: h\r\n\r\n", "400 Bad Request"),
            ("GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n", "400 Bad Request"),
            ("GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", "400 Bad Request"),
            ("G#T / HTTP/1.1\r\nHost: h\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", "417 Expectation Failed"),
            ("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n", "414 URI Too Long"),
            ("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "ok"),
            ("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", "ok"),
        ];
        for (raw, want) in cases {
            assert_eq!(status(raw), *want, "{raw:?}");
        }
    }

    #[test]
    fn header_limits() {
        let many: String = (0..9).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(
            status(&format!("GET / HTTP/1.1\r\nHost: h\r\n{many}\r\n")),
            "431 Request Header Fields Too Large"
        );
        let big = "v".repeat(300);
        assert_eq!(
            status(&format!("GET / HTTP/1.1\r\nHost: h\r\nX: {big}\r\n\r\n")),
            "431 Request Header Fields Too Large"
        );
        assert_eq!(
            status(&format!("GET / HTTP/1.1\r\nHost: h\r\nX: {big}")),
            "431 Request Header Fields Too Large"
        );
    }

    #[test]
    fn underscore_headers_are_dropped() {
        let head = parse("GET / HTTP/1.1\r\nHost: h\r\nX_Auth_User: admin\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(head.headers.iter().all(|(n, _)| !n.contains('_')));
    }

    #[test]
    fn framing_and_connection() {
        let head =
            parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!(head.framing, Framing::Length(5));
        assert!(!head.keep_alive);
        let head = parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\nExpect: 100-Continue\r\n\r\n").unwrap().unwrap();
        assert_eq!(head.framing, Framing::Chunked);
        assert!(head.expect_continue);
        let head = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(head.keep_alive);
        let head = parse("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!head.keep_alive);
    }

    #[test]
    fn absolute_form_takes_the_authority() {
        let head = parse("GET http://example.com:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            (head.authority, head.path, head.query),
            (Some("example.com:8080"), "/p", "q")
        );
        let head = parse("GET HTTP://example.com HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.path, "/");
    }
}
