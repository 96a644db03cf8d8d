//! Reading back what the server wrote on one connection: a strict parser of
//! a sequence of HTTP/1.1 responses, each delimited by Content-Length,
//! chunked coding, or the end of the stream.

use crate::reference_chunked;

/// One response as read from the wire (interim 1xx responses skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header fields, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first field called `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Read every response in `bytes`; `is_head(i)` tells whether the i-th
/// final response answers a HEAD request (no body on the wire).
///
/// # Errors
/// What is malformed about the server's output.
pub fn read_responses(
    bytes: &[u8],
    is_head: impl Fn(usize) -> bool,
) -> Result<Vec<Response>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (status, headers, head_len) = read_head(&bytes[at..])?;
        at += head_len;
        if (100..200).contains(&status) {
            continue;
        }
        let no_body = is_head(out.len()) || status == 204 || status == 304;
        let (body, used) = if no_body {
            (Vec::new(), 0)
        } else {
            read_body(&bytes[at..], &headers)?
        };
        at += used;
        out.push(Response {
            status,
            headers,
            body,
        });
    }
    Ok(out)
}

/// Status, header fields, and the bytes the head took.
type ResponseHead = (u16, Vec<(String, String)>, usize);

fn read_head(bytes: &[u8]) -> Result<ResponseHead, String> {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            format!(
                "response head never ends: {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )
        })?;
    let text =
        std::str::from_utf8(&bytes[..end]).map_err(|_| "response head is not UTF-8".to_owned())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = match status_line.split(' ').collect::<Vec<_>>().as_slice() {
        ["HTTP/1.1" | "HTTP/1.0", code, ..] if code.len() == 3 => code
            .parse()
            .map_err(|_| format!("bad status line {status_line:?}"))?,
        _ => return Err(format!("bad status line {status_line:?}")),
    };
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        if name.is_empty() || name.contains([' ', '\t', '\r', '\n']) || value.contains(['\r', '\n'])
        {
            return Err(format!("bad header line {line:?}"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok((status, headers, end + 4))
}

fn read_body(bytes: &[u8], headers: &[(String, String)]) -> Result<(Vec<u8>, usize), String> {
    let lengths: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .map(|(_, v)| v.as_str())
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    match (lengths.as_slice(), chunked) {
        ([], false) => Ok((bytes.to_vec(), bytes.len())),
        ([length], false) => {
            let n: usize = length
                .parse()
                .map_err(|_| format!("bad Content-Length {length:?}"))?;
            let body = bytes
                .get(..n)
                .ok_or_else(|| format!("body shorter than its Content-Length {n}"))?;
            Ok((body.to_vec(), n))
        }
        ([], true) => {
            let decoded = reference_chunked::decode(bytes, u64::MAX)
                .map_err(|e| format!("bad chunked body: {e}"))?;
            if !decoded.done {
                return Err("chunked body never ends".into());
            }
            Ok((decoded.body, decoded.used))
        }
        _ => Err("response with ambiguous framing".into()),
    }
}
