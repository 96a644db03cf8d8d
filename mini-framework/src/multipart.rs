//! `multipart/form-data` (RFC 7578): text fields and uploaded files.
//!
//! The body is already in memory, bounded by
//! [`Limits::max_body_bytes`](crate::Limits::max_body_bytes). Parsing guards
//! against the denial-of-service bugs werkzeug fixed (REFERENCE item 33):
//! - the number of parts is capped (`max_form_parts`, CVE-2023-25577), and
//!   counted before a part is stored;
//! - each text field is capped (`max_form_memory`, GHSA-q34m-jh98-gwm2);
//! - the boundary search is linear: every byte is scanned once by a
//!   substring finder with a worst-case O(n + m) guarantee (memchr's
//!   `memmem`), and part headers are searched only within a bounded window,
//!   so a body full of near-boundaries cannot make parsing quadratic
//!   (CVE-2023-46136).

use std::path::Path;

use memchr::memmem;

use crate::body::Limits;
use crate::error::RequestError;
use crate::multidict::MultiDict;

/// The most bytes of headers one part may have.
const MAX_PART_HEADERS: usize = 8 * 1024;

/// An uploaded file from a multipart form.
///
/// ```no_run
/// use mini_framework::{App, HttpError, Request};
/// let mut app = App::new();
/// app.post("/upload", |req: &Request| -> Result<String, HttpError> {
///     let file = req.file("avatar")?.ok_or_else(|| HttpError::new(400, "no avatar"))?;
///     let name = file.safe_filename().unwrap_or_else(|| "upload".into());
///     file.save(std::path::Path::new("/srv/uploads").join(&name))
///         .map_err(HttpError::internal)?;
///     Ok(format!("stored {} bytes as {name}", file.len()))
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

impl FilePart {
    /// The form field's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file name as the client sent it. Never use it as a path: see
    /// [`safe_filename`](FilePart::safe_filename).
    pub fn filename(&self) -> Option<&str> {
        self.filename.as_deref()
    }

    /// The file name reduced to ASCII letters, digits, `_`, `.` and `-`,
    /// with directories flattened and Windows device names defused, like
    /// werkzeug's `secure_filename`: `"../../etc/passwd"` becomes
    /// `"etc_passwd"`. `None` if nothing usable is left.
    pub fn safe_filename(&self) -> Option<String> {
        let raw = self.filename.as_deref()?;
        let flattened = raw.replace(['/', '\\'], " ");
        let joined = flattened.split_whitespace().collect::<Vec<_>>().join("_");
        let kept: String = joined
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            .collect();
        let trimmed = kept.trim_matches(['.', '_']);
        if trimmed.is_empty() {
            return None;
        }
        let stem = trimmed.split('.').next().unwrap_or("").to_ascii_uppercase();
        let device = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
            || ((stem.starts_with("COM") || stem.starts_with("LPT"))
                && stem.len() == 4
                && stem.as_bytes()[3].is_ascii_digit());
        Some(if device {
            format!("_{trimmed}")
        } else {
            trimmed.to_owned()
        })
    }

    /// The part's Content-Type, if the client sent one.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The file's size in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the file is empty (browsers send an empty part for a file
    /// input left blank).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Write the file to `path`.
    ///
    /// # Errors
    /// Any I/O error from writing.
    pub fn save(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, &self.data)
    }
}

/// Parse a multipart body with `boundary` into text fields and files.
pub(crate) fn parse(
    body: &[u8],
    boundary: &str,
    limits: &Limits,
) -> Result<(MultiDict, Vec<FilePart>), RequestError> {
    if boundary.is_empty() || boundary.len() > 70 || boundary.contains(['\r', '\n']) {
        return Err(malformed("the boundary must be 1 to 70 characters"));
    }
    let delimiter = format!("\r\n--{boundary}");
    let finder = memmem::Finder::new(delimiter.as_bytes());
    let mut pos = first_part_start(body, &delimiter, &finder)?;
    let mut fields = MultiDict::new();
    let mut files = Vec::new();
    let mut parts = 0usize;
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok((fields, files)); // the close delimiter; the epilogue is ignored
        }
        pos += end_of_delimiter_line(rest)?;
        parts += 1;
        if parts > limits.max_form_parts {
            return Err(RequestError::TooManyParts {
                limit: limits.max_form_parts,
            });
        }
        let (headers, content_start) = split_part_headers(body, pos)?;
        let content_len = finder
            .find(&body[content_start..])
            .ok_or_else(|| malformed("the body ends before the closing boundary"))?;
        let content = &body[content_start..content_start + content_len];
        store_part(&headers, content, limits, &mut fields, &mut files)?;
        pos = content_start + content_len + delimiter.len();
    }
}

fn malformed(reason: &str) -> RequestError {
    RequestError::MalformedMultipart {
        reason: reason.to_owned(),
    }
}

/// Where the first delimiter line ends: the body starts with `--boundary`,
/// or has a preamble followed by CRLF `--boundary`.
fn first_part_start(
    body: &[u8],
    delimiter: &str,
    finder: &memmem::Finder<'_>,
) -> Result<usize, RequestError> {
    let dash_boundary = &delimiter.as_bytes()[2..];
    if body.starts_with(dash_boundary) {
        return Ok(dash_boundary.len());
    }
    let at = finder
        .find(body)
        .ok_or_else(|| malformed("the boundary given in Content-Type never appears"))?;
    Ok(at + delimiter.len())
}

/// After a delimiter: optional spaces or tabs (RFC 2046 transport padding),
/// then CRLF. Returns how many bytes that took.
fn end_of_delimiter_line(rest: &[u8]) -> Result<usize, RequestError> {
    let padding = rest
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    if rest[padding..].starts_with(b"\r\n") {
        Ok(padding + 2)
    } else {
        Err(malformed("a boundary line must end with CRLF"))
    }
}

/// The part's header block starting at `pos`, and where its content starts.
fn split_part_headers(body: &[u8], pos: usize) -> Result<(String, usize), RequestError> {
    let rest = &body[pos..];
    if rest.starts_with(b"\r\n") {
        return Ok((String::new(), pos + 2));
    }
    let window = &rest[..rest.len().min(MAX_PART_HEADERS + 4)];
    let end = memmem::find(window, b"\r\n\r\n").ok_or_else(|| {
        malformed("part headers are missing their blank line, or are larger than 8 KiB")
    })?;
    let headers = String::from_utf8_lossy(&rest[..end]).into_owned();
    Ok((headers, pos + end + 4))
}

fn store_part(
    headers: &str,
    content: &[u8],
    limits: &Limits,
    fields: &mut MultiDict,
    files: &mut Vec<FilePart>,
) -> Result<(), RequestError> {
    let mut disposition = None;
    let mut content_type = None;
    for line in headers.split("\r\n") {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| malformed("a part header has no ':'"))?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-disposition") {
            disposition = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_owned());
        }
    }
    let disposition =
        disposition.ok_or_else(|| malformed("a part has no Content-Disposition header"))?;
    let (kind, params) = parse_disposition(&disposition);
    if !kind.eq_ignore_ascii_case("form-data") {
        return Err(malformed("Content-Disposition must be form-data"));
    }
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    };
    let name = param("name").ok_or_else(|| malformed("a part has no name"))?;
    let filename = param("filename*")
        .and_then(|v| decode_ext_value(&v))
        .or_else(|| param("filename"));
    match filename {
        Some(filename) => files.push(FilePart {
            name,
            filename: Some(filename),
            content_type,
            data: content.to_vec(),
        }),
        None => {
            if content.len() as u64 > limits.max_form_memory {
                return Err(RequestError::FieldTooLarge {
                    name,
                    limit: limits.max_form_memory,
                });
            }
            let text = std::str::from_utf8(content).map_err(|_| RequestError::InvalidUtf8 {
                what: format!("form field {name:?}"),
            })?;
            fields.push(name, text);
        }
    }
    Ok(())
}

/// `form-data; name="a;b"; filename="x.txt"` -> ("form-data", params).
/// Quoted values may contain `;`; `\"` and `\\` are unescaped, other
/// backslashes kept (browsers send Windows paths unescaped).
fn parse_disposition(value: &str) -> (String, Vec<(String, String)>) {
    let (kind, mut rest) = value.split_once(';').unwrap_or((value, ""));
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        if rest.is_empty() {
            break;
        }
        let key_end = rest.find(['=', ';']).unwrap_or(rest.len());
        let key = rest[..key_end].trim().to_owned();
        rest = &rest[key_end..];
        let Some(after_equals) = rest.strip_prefix('=') else {
            params.push((key, String::new()));
            continue;
        };
        let after_equals = after_equals.trim_start();
        let (value, remaining) = match after_equals.strip_prefix('"') {
            Some(quoted) => read_quoted(quoted),
            None => {
                let end = after_equals.find(';').unwrap_or(after_equals.len());
                (
                    after_equals[..end].trim_end().to_owned(),
                    &after_equals[end..],
                )
            }
        };
        params.push((key, value));
        rest = remaining;
    }
    (kind.trim().to_owned(), params)
}

/// Read a quoted string's content (after the opening quote); returns it and
/// what follows the closing quote.
fn read_quoted(text: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return (value, &text[at + 1..]),
            '\\' if matches!(chars.peek(), Some((_, '"' | '\\'))) => {
                if let Some((_, escaped)) = chars.next() {
                    value.push(escaped);
                }
            }
            _ => value.push(c),
        }
    }
    (value, "")
}

/// RFC 5987 `UTF-8''caf%C3%A9.txt` -> `café.txt`.
fn decode_ext_value(value: &str) -> Option<String> {
    let (charset, rest) = value.split_once('\'')?;
    let (_language, encoded) = rest.split_once('\'')?;
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "XyZ";

    fn body(parts: &[&str]) -> Vec<u8> {
        let mut body = String::new();
        for part in parts {
            body.push_str(&format!("--{B}\r\n{part}\r\n"));
        }
        body.push_str(&format!("--{B}--\r\n"));
        body.into_bytes()
    }

    fn field(name: &str, value: &str) -> String {
        format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}")
    }

    fn parse_default(body: &[u8]) -> Result<(MultiDict, Vec<FilePart>), RequestError> {
        parse(body, B, &Limits::default())
    }

    #[test]
    fn parses_fields_and_files() {
        let file = "Content-Disposition: form-data; name=\"doc\"; filename=\"a;b.txt\"\r\n\
                    Content-Type: text/plain\r\n\r\nline1\r\nline2";
        let (fields, files) =
            parse_default(&body(&[&field("title", "Hello"), file, &field("tag", "x")])).unwrap();
        assert_eq!(fields.get("title"), Some("Hello"));
        assert_eq!(fields.get("tag"), Some("x"));
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].name(), "doc");
        assert_eq!(files[0].filename(), Some("a;b.txt"));
        assert_eq!(files[0].content_type(), Some("text/plain"));
        assert_eq!(files[0].bytes(), b"line1\r\nline2");
    }

    #[test]
    fn preamble_epilogue_and_padding_are_allowed() {
        let raw = format!(
            "preamble\r\n--{B}  \r\n{}\r\n--{B}--\r\nepilogue",
            field("a", "1")
        );
        let (fields, _) = parse_default(raw.as_bytes()).unwrap();
        assert_eq!(fields.get("a"), Some("1"));
    }

    #[test]
    fn part_count_is_capped() {
        let parts: Vec<String> = (0..4).map(|i| field(&format!("f{i}"), "v")).collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let limits = Limits {
            max_form_parts: 3,
            ..Limits::default()
        };
        let err = parse(&body(&parts), B, &limits).unwrap_err();
        assert_eq!(err, RequestError::TooManyParts { limit: 3 });
        assert_eq!(err.status(), 413);
        assert!(parse(&body(&parts[..3]), B, &limits).is_ok());
    }

    #[test]
    fn text_fields_are_capped_but_files_are_not() {
        let limits = Limits {
            max_form_memory: 10,
            ..Limits::default()
        };
        let big = "x".repeat(11);
        let err = parse(&body(&[&field("bio", &big)]), B, &limits).unwrap_err();
        assert_eq!(
            err,
            RequestError::FieldTooLarge {
                name: "bio".into(),
                limit: 10
            }
        );
        let file =
            format!("Content-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\n{big}");
        assert!(parse(&body(&[&file]), B, &limits).is_ok());
    }

    #[test]
    fn malformed_bodies_are_400s() {
        let unterminated = format!("--{B}\r\n{}", field("a", "1"));
        let no_disposition = body(&["Content-Type: text/plain\r\n\r\nx"]);
        let no_name = body(&["Content-Disposition: form-data\r\n\r\nx"]);
        let not_form_data = body(&["Content-Disposition: attachment; name=\"a\"\r\n\r\nx"]);
        let no_boundary = b"just some text".to_vec();
        let bad_utf8 = [
            format!("--{B}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n").into_bytes(),
            vec![0xff, 0xfe],
            format!("\r\n--{B}--").into_bytes(),
        ]
        .concat();
        for raw in [
            unterminated.into_bytes(),
            no_disposition,
            no_name,
            not_form_data,
            no_boundary,
            bad_utf8,
        ] {
            let err = parse_default(&raw).unwrap_err();
            assert_eq!(err.status(), 400, "{err}");
        }
    }

    #[test]
    fn boundary_search_stays_linear_on_near_misses() {
        // 4 MiB of almost-boundaries: a linear scan takes milliseconds, a
        // quadratic one hours (and CI's time limit would end it). No clock
        // is read: speed is for benchmarks, not assertions.
        let near_miss = format!("\r\n--{}", &"b".repeat(69)[..68]);
        let filler = near_miss.repeat(4 * 1024 * 1024 / near_miss.len());
        let boundary = "b".repeat(69);
        let raw = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n\
             {filler}\r\n--{boundary}--"
        );
        let (_, files) = parse(raw.as_bytes(), &boundary, &Limits::default()).unwrap();
        assert_eq!(files[0].len(), filler.len());
    }

    #[test]
    fn huge_part_headers_are_refused_without_scanning_the_body() {
        let raw = format!("--{B}\r\nX-Pad: {}\r\n\r\nx\r\n--{B}--", "p".repeat(9000));
        let err = parse_default(raw.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("8 KiB"));
    }

    #[test]
    fn filename_star_and_safe_filenames() {
        let part = "Content-Disposition: form-data; name=\"f\"; filename=\"fallback.txt\"; \
                    filename*=UTF-8''caf%C3%A9.txt\r\n\r\nx";
        let (_, files) = parse_default(&body(&[part])).unwrap();
        assert_eq!(files[0].filename(), Some("café.txt"));
        let file = |name: &str| FilePart {
            name: "f".into(),
            filename: Some(name.into()),
            content_type: None,
            data: vec![],
        };
        assert_eq!(
            file("../../etc/passwd").safe_filename().as_deref(),
            Some("etc_passwd")
        );
        assert_eq!(
            file("My cool movie.mov").safe_filename().as_deref(),
            Some("My_cool_movie.mov")
        );
        assert_eq!(
            file("C:\\Users\\x\\cv.pdf").safe_filename().as_deref(),
            Some("C_Users_x_cv.pdf")
        );
        assert_eq!(file("con.txt").safe_filename().as_deref(), Some("_con.txt"));
        assert_eq!(file("...").safe_filename(), None);
    }
}
