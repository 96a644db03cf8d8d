//! A second, independent reading of a request head: RFC 9112 sections 2-3
//! and 5-6 as plain loops over bytes, plus the server's documented policy
//! (the project's reference notes, section 4). No httparse, no shared code.
//!
//! Policy choices the server documents and the reference mirrors (so a
//! disagreement is a bug, not a taste): `_` in a header name drops the field;
//! targets are visible ASCII only (origin-form, `*` for OPTIONS, or an
//! `http(s)://` absolute-form); Content-Length and Transfer-Encoding follow
//! the strict rules of the advisories; empty lines before the request line
//! are skipped (RFC 9112 section 2.2).

use crate::limits::{MAX_BODY_BYTES, MAX_HEADERS, MAX_HEADER_BYTES, MAX_REQUEST_LINE};

/// How the body of an accepted head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length: n`, n > 0.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// An accepted head, as the reference reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The method, case preserved.
    pub method: String,
    /// The request-target as sent.
    pub target: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: &'static str,
    /// Fields kept (names without `_`), values trimmed of SP/HTAB.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body framing.
    pub framing: BodyFraming,
    /// Whether `Expect: 100-continue` applies (HTTP/1.1 only).
    pub expect_continue: bool,
    /// Whether the client allows another request on the connection.
    pub keep_alive: bool,
    /// Bytes the head took, leading empty lines included.
    pub len: usize,
}

/// What the reference makes of the bytes at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No complete head yet, and nothing seen so far is wrong.
    Incomplete,
    /// The head is refused; the reason says why.
    Reject(&'static str),
    /// A valid head.
    Accept(Head),
}

/// Read the head at the start of `buf`.
pub fn read_head(buf: &[u8]) -> Verdict {
    let Some(skipped) = leading_empty_lines(buf) else {
        return Verdict::Reject("too many empty lines before the request line");
    };
    let rest = &buf[skipped..];
    // What counts against the head limit: the empty lines too, unless the
    // server's current behaviour (finding 3) is mirrored.
    let uncounted = if crate::findings::LEADING_EMPTY_LINES_UNCOUNTED {
        skipped
    } else {
        0
    };
    let Some(end) = position(rest, b"\r\n\r\n").map(|at| at + 4) else {
        return incomplete_verdict(rest, skipped - uncounted);
    };
    let head = &rest[..end];
    if let Some(reason) = line_ending_fault(head) {
        return Verdict::Reject(reason);
    }
    let first_line_len = position(rest, b"\r\n").unwrap_or(rest.len());
    if first_line_len > MAX_REQUEST_LINE {
        return Verdict::Reject("request line too long");
    }
    if skipped - uncounted + end > MAX_HEADER_BYTES {
        return Verdict::Reject("header section too large");
    }
    match read_complete_head(&head[..end - 4]) {
        Ok(mut parsed) => {
            parsed.len = skipped + end;
            Verdict::Accept(parsed)
        }
        Err(reason) => Verdict::Reject(reason),
    }
}

/// A head that has not ended yet can already be known to be bad;
/// `counted` empty lines before it count against the size limit.
fn incomplete_verdict(rest: &[u8], counted: usize) -> Verdict {
    if let Some(reason) = line_ending_fault(rest) {
        return Verdict::Reject(reason);
    }
    let first_line_len = position(rest, b"\r\n").unwrap_or(rest.len());
    if first_line_len > MAX_REQUEST_LINE {
        return Verdict::Reject("request line too long");
    }
    if counted + rest.len() >= MAX_HEADER_BYTES {
        return Verdict::Reject("header section too large");
    }
    Verdict::Incomplete
}

/// Most empty lines accepted before a request line (the server's policy
/// since finding 3: a few are a lenient client, more are not).
const MAX_EMPTY_LINES: usize = 8;

/// Bytes of empty lines before the request line, `None` when there are
/// too many.
fn leading_empty_lines(buf: &[u8]) -> Option<usize> {
    let mut lines = 0;
    while buf.len() >= 2 * lines + 2 && &buf[2 * lines..2 * lines + 2] == b"\r\n" {
        lines += 1;
        if lines > MAX_EMPTY_LINES && !crate::findings::LEADING_EMPTY_LINES_UNCOUNTED {
            return None;
        }
    }
    Some(2 * lines)
}

/// Only CRLF ends a line; a CR as the very last byte may still get its LF.
fn line_ending_fault(bytes: &[u8]) -> Option<&'static str> {
    for i in 0..bytes.len() {
        let next = bytes.get(i + 1).copied();
        let previous = if i == 0 { None } else { Some(bytes[i - 1]) };
        if bytes[i] == b'\n' && previous != Some(b'\r') {
            return Some("bare LF");
        }
        if bytes[i] == b'\r' && next.is_some() && next != Some(b'\n') {
            return Some("bare CR");
        }
    }
    None
}

fn position(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if haystack.len() < needle.len() {
        return None;
    }
    (0..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// RFC 9110 section 5.6.2.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// RFC 9110 section 5.5: field-vchar or SP/HTAB; never a control byte.
pub fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// Strip SP and HTAB (and nothing else: waitress CVE-2019-16789).
pub fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: u8| b == b' ' || b == b'\t';
    let mut start = 0;
    let mut end = bytes.len();
    while start < end && is_ows(bytes[start]) {
        start += 1;
    }
    while end > start && is_ows(bytes[end - 1]) {
        end -= 1;
    }
    &bytes[start..end]
}

/// The head without its final blank line: request line, then field lines.
fn read_complete_head(head: &[u8]) -> Result<Head, &'static str> {
    // Every line ends in CRLF (checked), so splitting on LF and dropping the
    // CR is exact; the last line lost its CRLF with the blank line.
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next().ok_or("no request line")?;
    let (method, target, version) = request_line_parts(request_line)?;
    let mut fields = Vec::new();
    for line in lines {
        fields.push(field_line(line)?);
    }
    if fields.len() > MAX_HEADERS {
        return Err("too many header fields");
    }
    interpret(method, target, version, fields)
}

fn request_line_parts(line: &[u8]) -> Result<(String, String, &'static str), &'static str> {
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next().ok_or("no method")?;
    let target = parts.next().ok_or("no target")?;
    let version = parts.next().ok_or("no version")?;
    if parts.next().is_some() {
        return Err("extra spaces in the request line");
    }
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) || method.contains(&b'#') {
        return Err("invalid method");
    }
    if target.is_empty()
        || !target.iter().all(|&b| (0x21..=0x7e).contains(&b))
        || target.contains(&b'#')
    {
        return Err("invalid target bytes");
    }
    let version = match version {
        b"HTTP/1.0" => "HTTP/1.0",
        b"HTTP/1.1" => "HTTP/1.1",
        _ => return Err("unsupported or malformed version"),
    };
    let method = ascii(method);
    let target = ascii(target);
    check_target_form(&method, &target)?;
    Ok((method, target, version))
}

fn ascii(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// RFC 9112 section 3.2: origin-form, absolute-form (http/https), or
/// asterisk-form with OPTIONS. Authority-form is CONNECT's, not served.
fn check_target_form(method: &str, target: &str) -> Result<(), &'static str> {
    if target.starts_with('/') {
        return Ok(());
    }
    if target == "*" {
        return if method == "OPTIONS" {
            Ok(())
        } else {
            Err("* without OPTIONS")
        };
    }
    let lower = target.to_ascii_lowercase();
    let after_scheme = if lower.starts_with("http://") {
        &target[7..]
    } else if lower.starts_with("https://") {
        &target[8..]
    } else {
        return Err("not a path, an absolute URL or *");
    };
    let authority_len = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
    if authority_len == 0 {
        return Err("absolute URL without a host");
    }
    if !crate::findings::HOST_VALUES_UNCHECKED
        && !is_valid_authority(&after_scheme.as_bytes()[..authority_len])
    {
        return Err("invalid authority in the target");
    }
    Ok(())
}

/// RFC 3986 `uri-host [ ":" port ]`: an IP-literal in brackets or a
/// reg-name (unreserved, pct-encoded, sub-delims), and a port of digits.
/// No userinfo (RFC 9110 section 4.2.4).
pub fn is_valid_authority(authority: &[u8]) -> bool {
    let (host, port) = if authority.first() == Some(&b'[') {
        let Some(close) = authority.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &authority[1..close];
        let literal_ok = !literal.is_empty()
            && literal
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !literal_ok {
            return false;
        }
        (&[][..], &authority[close + 1..])
    } else {
        let colon = authority
            .iter()
            .position(|&b| b == b':')
            .unwrap_or(authority.len());
        (&authority[..colon], &authority[colon..])
    };
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    port_ok && is_reg_name(host)
}

fn is_reg_name(host: &[u8]) -> bool {
    let mut i = 0;
    while i < host.len() {
        let b = host[i];
        if b == b'%' && !crate::findings::PERCENT_IN_HOST_UNCHECKED {
            let hex = |j: usize| host.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        let unreserved = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
        let sub_delim = b"!$&'()*+,;=".contains(&b);
        // Reached only while finding 7 is open: a `%` taken as it is.
        let lone_percent = b == b'%';
        if !unreserved && !sub_delim && !lone_percent {
            return false;
        }
        i += 1;
    }
    true
}

fn field_line(line: &[u8]) -> Result<(Vec<u8>, Vec<u8>), &'static str> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or("field line without a colon")?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        // Also catches obs-fold (a line starting with SP) and `Name : v`.
        return Err("invalid field name");
    }
    if !value.iter().all(|&b| is_field_value_byte(b)) {
        return Err("control byte in a field value");
    }
    Ok((name.to_vec(), trim_ows(value).to_vec()))
}

fn interpret(
    method: String,
    target: String,
    version: &'static str,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<Head, &'static str> {
    let kept: Vec<(String, Vec<u8>)> = fields
        .into_iter()
        .filter(|(name, _)| !name.contains(&b'_'))
        .map(|(name, value)| (ascii(&name), value))
        .collect();
    let named = |wanted: &str| -> Vec<&[u8]> {
        kept.iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.as_slice())
            .collect()
    };
    if named("content-type").len() > 1 && !crate::findings::REPEATED_CONTENT_TYPE_ACCEPTED {
        return Err("two Content-Type fields");
    }
    let hosts = named("host");
    if hosts.len() > 1 {
        return Err("two Host fields");
    }
    if hosts.is_empty() && version == "HTTP/1.1" {
        return Err("no Host on HTTP/1.1");
    }
    if !crate::findings::HOST_VALUES_UNCHECKED && hosts.iter().any(|h| !is_valid_authority(h)) {
        return Err("invalid Host value");
    }
    let framing = framing(
        &named("content-length"),
        &named("transfer-encoding"),
        version,
    )?;
    let expect_continue = expectation(&named("expect"), version)?;
    let keep_alive = keep_alive(&named("connection"), version);
    Ok(Head {
        method,
        target,
        version,
        headers: kept,
        framing,
        expect_continue,
        keep_alive,
        len: 0,
    })
}

fn framing(
    lengths: &[&[u8]],
    codings: &[&[u8]],
    version: &str,
) -> Result<BodyFraming, &'static str> {
    match (lengths, codings) {
        ([], []) => Ok(BodyFraming::None),
        ([length], []) => content_length(length),
        (_, []) => Err("two Content-Length fields"),
        ([_, ..], _) => Err("Content-Length and Transfer-Encoding"),
        (_, _) if version == "HTTP/1.0" => Err("Transfer-Encoding on HTTP/1.0"),
        ([], [coding]) => transfer_coding(coding),
        _ => Err("two Transfer-Encoding fields"),
    }
}

/// Decimal digits only; over the body limit (or past u64) is 413.
pub fn content_length(value: &[u8]) -> Result<BodyFraming, &'static str> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err("Content-Length is not plain digits");
    }
    let mut n: u64 = 0;
    for &digit in value {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(digit - b'0')))
            .ok_or("Content-Length too large")?;
    }
    if n > MAX_BODY_BYTES {
        return Err("Content-Length too large");
    }
    Ok(if n == 0 {
        BodyFraming::None
    } else {
        BodyFraming::Length(n)
    })
}

/// Only a lone `chunked` is implemented.
fn transfer_coding(value: &[u8]) -> Result<BodyFraming, &'static str> {
    let codings: Vec<&[u8]> = value.split(|&b| b == b',').map(trim_ows).collect();
    if codings.len() == 1 && codings[0].eq_ignore_ascii_case(b"chunked") {
        Ok(BodyFraming::Chunked)
    } else {
        Err("transfer coding other than a lone chunked")
    }
}

/// `100-continue` is the only expectation; it means something on 1.1 only.
/// Expect is a list (RFC 9110 section 10.1.1): every element of every field
/// must be `100-continue`. An empty element counts as an unknown
/// expectation (stricter than section 5.6.1's "ignore empty elements", and
/// what the server does: a refusal, never a misreading).
fn expectation(values: &[&[u8]], version: &str) -> Result<bool, &'static str> {
    if values.is_empty() {
        return Ok(false);
    }
    let values = if crate::findings::ONLY_THE_LAST_EXPECT_COUNTS {
        &values[values.len() - 1..]
    } else {
        values
    };
    let all_continue = values
        .iter()
        .flat_map(|v| v.split(|&b| b == b','))
        .all(|e| trim_ows(e).eq_ignore_ascii_case(b"100-continue"));
    if !all_continue {
        return Err("unsupported expectation");
    }
    Ok(version == "HTTP/1.1")
}

fn keep_alive(values: &[&[u8]], version: &str) -> bool {
    let options: Vec<&[u8]> = values
        .iter()
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim_ows)
        .collect();
    if options.iter().any(|o| o.eq_ignore_ascii_case(b"close")) {
        false
    } else if options
        .iter()
        .any(|o| o.eq_ignore_ascii_case(b"keep-alive"))
    {
        true
    } else {
        version == "HTTP/1.1"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(raw: &[u8]) -> Verdict {
        read_head(raw)
    }

    #[test]
    fn reads_the_rfc_9110_example() {
        let raw = b"GET /hello.txt HTTP/1.1\r\nUser-Agent: curl/7.64.1\r\nHost: www.example.com\r\nAccept-Language: en, mi\r\n\r\n";
        let Verdict::Accept(head) = verdict(raw) else {
            panic!()
        };
        assert_eq!(head.len, raw.len());
        assert_eq!(head.headers.len(), 3);
        assert!(head.keep_alive);
    }

    #[test]
    fn refuses_the_advisory_shapes() {
        for raw in [
            &b"GET / HTTP/1.1\nHost: h\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
        ] {
            assert!(matches!(verdict(raw), Verdict::Reject(_)), "{raw:?}");
        }
        assert_eq!(
            verdict(b"GET / HTTP/1.1\r\nHost: h\r\n"),
            Verdict::Incomplete
        );
    }

    #[test]
    fn authorities() {
        for good in [
            "example.com",
            "example.com:8080",
            "[::1]:80",
            "127.0.0.1",
            "",
            "a%2Fb",
            ":80",
        ] {
            assert!(is_valid_authority(good.as_bytes()), "{good}");
        }
        for bad in [
            "a/b", "user@h", "a b", "h:1:2", "h:8o", "[::1", "[]", "a\"b",
        ] {
            assert!(!is_valid_authority(bad.as_bytes()), "{bad}");
        }
    }
}
