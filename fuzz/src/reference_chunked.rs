//! A second reading of the chunked transfer coding (RFC 9112 section 7.1),
//! written as one pass over the whole buffer rather than the server's
//! resumable state machine, so the two share neither code nor shape.
//!
//! Policy mirrored from the server's documentation: chunk extensions are
//! `OWS ";" ...` without control bytes, capped in total; trailer fields are
//! validated and dropped; a line is ended by CRLF only; a line that cannot
//! end well (bare CR or LF, too long) is refused as soon as it is seen.

use crate::limits::{MAX_CHUNK_LINE, MAX_EXTENSION_BYTES, MAX_TRAILER_BYTES};
use crate::reference_head::is_tchar;

/// The decoded body so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Body bytes (partial chunk data included).
    pub body: Vec<u8>,
    /// Input bytes used: everything up to the first incomplete line.
    pub used: usize,
    /// Whether the last chunk and the trailer section ended.
    pub done: bool,
}

/// Decode `input`, refusing it as soon as it is known to be malformed.
///
/// # Errors
/// Why the body is refused.
pub fn decode(input: &[u8], max_body: u64) -> Result<Decoded, &'static str> {
    let mut reader = Reader {
        input,
        at: 0,
        body: Vec::new(),
        body_total: 0,
        extension_total: 0,
    };
    let done = reader.chunks(max_body)?;
    Ok(Decoded {
        body: reader.body,
        used: reader.at,
        done,
    })
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
    body: Vec<u8>,
    body_total: u64,
    extension_total: usize,
}

impl<'a> Reader<'a> {
    /// `Ok(true)` when the body ended, `Ok(false)` when more is needed.
    fn chunks(&mut self, max_body: u64) -> Result<bool, &'static str> {
        loop {
            let Some(line) = self.line(MAX_CHUNK_LINE)? else {
                return Ok(false);
            };
            let size = self.size_line(line)?;
            self.at += line.len() + 2;
            if size == 0 {
                return self.trailers();
            }
            self.body_total = self.body_total.saturating_add(size);
            if self.body_total > max_body {
                return Err("body over the limit");
            }
            let available = (self.input.len() - self.at) as u64;
            let take = size.min(available) as usize;
            self.body
                .extend_from_slice(&self.input[self.at..self.at + take]);
            self.at += take;
            if (take as u64) < size {
                return Ok(false);
            }
            match &self.input[self.at..] {
                [b'\r', b'\n', ..] => self.at += 2,
                [] | [b'\r'] => return Ok(false),
                _ => return Err("chunk data not followed by CRLF"),
            }
        }
    }

    /// The line starting at `self.at`, without CRLF, if it has ended.
    fn line(&self, max: usize) -> Result<Option<&'a [u8]>, &'static str> {
        let rest: &'a [u8] = &self.input[self.at..];
        let mut i = 0;
        while i < rest.len() {
            match (rest[i], rest.get(i + 1)) {
                (b'\r', Some(b'\n')) => return Ok(Some(&rest[..i])),
                (b'\r', None) => return Ok(None),
                (b'\r' | b'\n', _) => return Err("bare CR or LF"),
                _ if i >= max => return Err("line too long"),
                _ => i += 1,
            }
        }
        if rest.len() > max {
            return Err("line too long");
        }
        Ok(None)
    }

    /// `1*16HEXDIG [ OWS ";" ext ]`
    fn size_line(&mut self, line: &[u8]) -> Result<u64, &'static str> {
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 || digits > 16 {
            return Err("chunk size is not 1 to 16 hex digits");
        }
        let mut size = 0u64;
        for &d in &line[..digits] {
            let value = (d as char).to_digit(16).ok_or("not hex")?;
            size = size * 16 + u64::from(value);
        }
        let extension = &line[digits..];
        if !extension.is_empty() {
            let first = extension.iter().find(|&&b| b != b' ' && b != b'\t');
            let clean = extension
                .iter()
                .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
            if first != Some(&b';') || !clean {
                return Err("malformed chunk extension");
            }
            self.extension_total += extension.len();
            if self.extension_total > MAX_EXTENSION_BYTES {
                return Err("too many extension bytes");
            }
        }
        Ok(size)
    }

    /// `*( field-line CRLF ) CRLF`, validated and dropped.
    fn trailers(&mut self) -> Result<bool, &'static str> {
        let mut total = 0;
        loop {
            let Some(line) = self.line(MAX_TRAILER_BYTES)? else {
                return Ok(false);
            };
            let len = line.len();
            if line.is_empty() {
                self.at += 2;
                return Ok(true);
            }
            let colon = line
                .iter()
                .position(|&b| b == b':')
                .ok_or("trailer without a colon")?;
            let name_ok = colon > 0 && line[..colon].iter().all(|&b| is_tchar(b));
            let value_ok = line[colon..]
                .iter()
                .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
            if !name_ok || !value_ok {
                return Err("malformed trailer field");
            }
            total += len + 2;
            if total > MAX_TRAILER_BYTES {
                return Err("trailer section too large");
            }
            self.at += len + 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_rfc_example_shape() {
        let input = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nExpires: never\r\n\r\nNEXT";
        let decoded = decode(input, 1 << 20).unwrap();
        assert_eq!(decoded.body, b"Wikipedia");
        assert!(decoded.done);
        assert_eq!(&input[decoded.used..], b"NEXT");
    }

    #[test]
    fn refuses_the_advisory_shapes() {
        for bad in [
            &b"5\nhello\r\n"[..],
            b"5\r\nhelloXX",
            b"+5\r\n",
            b"FFFFFFFFFFFFFFFFF\r\n",
            b"5;a\x01\r\n",
        ] {
            assert!(decode(bad, 1 << 20).is_err(), "{bad:?}");
        }
    }
}
