//! What a connection carrying a given byte stream must produce, predicted
//! from the reference readings: one answer per valid request until the first
//! refused one, a request whose client asked to close, or the end of input.

use crate::limits::MAX_BODY_BYTES;
use crate::reference_chunked;
use crate::reference_environ::environ_vars;
use crate::reference_head::{read_head, BodyFraming, Verdict};
use crate::response_stream::Response;

/// One response the server must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// `200`, with the describe app's body; `head` when it answers HEAD.
    Answer {
        /// The exact response body.
        body: Vec<u8>,
        /// Whether the request was HEAD (no body on the wire).
        head: bool,
    },
    /// A 4xx or 5xx for a refused request, then the connection closes.
    Refused,
}

/// The responses `stream` must produce, in order.
pub fn expected_responses(stream: &[u8]) -> Vec<Expected> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let head = match read_head(&stream[at..]) {
            Verdict::Incomplete => return out,
            Verdict::Reject(_) => {
                out.push(Expected::Refused);
                return out;
            }
            Verdict::Accept(head) => head,
        };
        let rest = &stream[at + head.len..];
        let (body, used) = match head.framing {
            BodyFraming::None => (Vec::new(), 0),
            // However large, a body is collected before the application
            // runs (in memory or in a temporary file): one cut short is
            // never answered.
            BodyFraming::Length(n) if (rest.len() as u64) < n => return out,
            BodyFraming::Length(n) => (rest[..n as usize].to_vec(), n as usize),
            BodyFraming::Chunked => match reference_chunked::decode(rest, MAX_BODY_BYTES) {
                Err(_) => {
                    out.push(Expected::Refused);
                    return out;
                }
                Ok(decoded) if !decoded.done => return out,
                Ok(decoded) => (decoded.body, decoded.used),
            },
        };
        if environ_vars(&head).is_err() {
            out.push(Expected::Refused);
            return out;
        }
        let is_head = head.method == "HEAD";
        let mut answer = format!("{} {}\n", head.method, head.target).into_bytes();
        answer.extend(body);
        out.push(Expected::Answer {
            body: if is_head { Vec::new() } else { answer },
            head: is_head,
        });
        if !head.keep_alive {
            return out;
        }
        at += head.len + used;
    }
}

/// Whether what the server sent is what was expected.
///
/// # Errors
/// The first difference.
pub fn compare(expected: &[Expected], got: &[Response]) -> Result<(), String> {
    for (i, want) in expected.iter().enumerate() {
        let Some(response) = got.get(i) else {
            return Err(format!(
                "response {i} missing: expected {want:?}, got only {} responses",
                got.len()
            ));
        };
        let ok = match want {
            Expected::Answer { body, .. } => response.status == 200 && &response.body == body,
            Expected::Refused => {
                (400..600).contains(&response.status)
                    && response.header("connection") == Some("close")
            }
        };
        if !ok {
            return Err(format!(
                "response {i}: expected {want:?}, got {} {:?} body {:?}",
                response.status,
                response.headers,
                String::from_utf8_lossy(&response.body)
            ));
        }
    }
    if got.len() > expected.len() {
        return Err(format!(
            "{} responses where {} were expected; the extra one: {} {:?}",
            got.len(),
            expected.len(),
            got[expected.len()].status,
            String::from_utf8_lossy(&got[expected.len()].body)
        ));
    }
    Ok(())
}
