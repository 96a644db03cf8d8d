//! Step two: turn a [`Response`] into what the gateway wants, a status line
//! and headers for `start_response` and a [`Body`] (bottle's `_cast`).

use std::borrow::Cow;

use gateway_spec::{AppError, Body, Headers, HeadersExt, StartResponse};

use crate::app::App;
use crate::error::HttpError;
use crate::request::Request;
use crate::response::{Content, Response};
use crate::status;

impl App {
    /// Send `response` through `start_response` and return its body.
    ///
    /// - A response that cannot be sent as it is (an invalid status code, an
    ///   unsendable cookie) becomes a 500, with the reason in `wsgi.errors`.
    /// - Server errors (5xx from an [`HttpError`]) are logged with their cause.
    /// - A body held in memory gets its `Content-Length`; a streamed body is
    ///   passed on untouched, so it is never built in memory.
    /// - 1xx, 204 and 304 responses carry no body.
    /// - For HEAD the body is dropped (which closes it, PEP 3333's `close()`)
    ///   and the headers, including `Content-Length`, are kept.
    /// - If `start_response` refuses the headers (a value with CR or LF, a
    ///   hop-by-hop header), the handler's body is closed and a 500 page
    ///   replaces it, through `exc_info` as PEP 3333 prescribes.
    ///
    /// # Errors
    /// Only what `start_response` returns when even the 500 page is refused.
    pub fn finish(
        &self,
        request: &mut Request,
        mut response: Response,
        start_response: StartResponse,
    ) -> Result<Body, AppError> {
        if let Some(defect) = response.take_defect() {
            response = internal_error(request, &defect);
        }
        if !status::is_valid(response.status()) {
            let problem = format!("status {} is not between 100 and 599", response.status());
            response = internal_error(request, &problem);
        }
        log_server_error(request, &response);
        let head_only = request.method() == "HEAD";
        let (status_line, headers, body) = into_head_and_body(response, head_only);
        match start_response.call(&status_line, headers) {
            Ok(()) => Ok(body),
            Err(refused) => {
                drop(body); // close the handler's body: it will never be sent
                let problem = format!("start_response refused the response: {refused}");
                let page = internal_error(request, &problem);
                let (status_line, headers, body) = into_head_and_body(page, head_only);
                start_response.call_with_error(&status_line, headers, refused)?;
                Ok(body)
            }
        }
    }
}

/// A 500 page for a problem that is the app's fault; the problem is logged.
fn internal_error(request: &mut Request, problem: &str) -> Response {
    request.log(problem);
    Response::from(HttpError::new(500, problem))
}

/// Log a 5xx error's message and chain of causes to `wsgi.errors`.
fn log_server_error(request: &mut Request, response: &Response) {
    let Some(error) = response.error().filter(|e| e.status() >= 500) else {
        return;
    };
    let mut line = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        // HttpError::internal repeats its cause as its message: say it once.
        let text = inner.to_string();
        if !line.ends_with(&text) {
            line.push_str(&format!(": caused by: {text}"));
        }
        cause = inner.source();
    }
    request.log(&line);
}

/// The status line, the headers with `Content-Length` where it is known, and
/// the body to hand to the server.
fn into_head_and_body(response: Response, head_only: bool) -> (Cow<'static, str>, Headers, Body) {
    let (code, mut headers, content) = response.into_parts();
    let status_line = status::status_line(code);
    if status::forbids_body(code) {
        return (status_line, headers, Body::empty());
    }
    let body = match content {
        Content::Empty => {
            if !headers.has_header("Content-Length") {
                headers.set_header("Content-Length", "0");
            }
            Body::empty()
        }
        Content::Bytes(bytes) => {
            set_content_length(&mut headers, bytes.len());
            match bytes {
                Cow::Borrowed(constant) => Body::from_static(constant),
                Cow::Owned(bytes) => Body::once(bytes),
            }
        }
        Content::Stream(body) => body,
    };
    if head_only {
        drop(body); // HEAD: the GET handler's body is closed, never sent
        return (status_line, headers, Body::empty());
    }
    (status_line, headers, body)
}

/// `Content-Length: length`, replacing any the handler set. Usually there
/// is none, and a look plus a push costs less than `set_header`'s removal
/// pass over every header.
fn set_content_length(headers: &mut Headers, length: usize) {
    let length = decimal(length);
    if headers.has_header("Content-Length") {
        headers.set_header("Content-Length", length);
    } else {
        headers.push(("Content-Length".into(), length.into()));
    }
}

/// `n` in decimal digits, written by hand: `to_string` goes through the
/// formatting machinery, about 150 instructions per response by callgrind.
fn decimal(mut n: usize) -> String {
    let mut digits = [0u8; 20]; // usize::MAX has at most 20 digits
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Pushed as chars: `str::from_utf8` costs about 50 instructions even on
    // two bytes, more than the pushes.
    let mut text = String::with_capacity(digits.len() - start);
    text.extend(digits[start..].iter().map(|&digit| char::from(digit)));
    text
}

#[cfg(test)]
mod tests {
    use super::{decimal, into_head_and_body};
    use crate::into_response::IntoResponse;
    use crate::response::Response;
    use gateway_spec::HeadersExt;
    use std::borrow::Cow;

    #[test]
    fn a_constant_body_stays_borrowed_and_head_keeps_its_length() {
        let (status, headers, mut body) =
            into_head_and_body(Response::static_text("Hello from server."), false);
        assert_eq!(status, "200 OK");
        assert_eq!(headers.get_header("Content-Length"), Some("18"));
        let chunk = body.next_chunk().and_then(Result::ok);
        assert!(
            matches!(chunk, Some(Cow::Borrowed(b"Hello from server."))),
            "{chunk:?}"
        );

        let bytes: &'static [u8] = b"\x00\x01";
        let (_, headers, mut body) = into_head_and_body(bytes.into_response(), false);
        assert_eq!(
            headers.get_header("Content-Type"),
            Some("application/octet-stream")
        );
        let chunk = body.next_chunk().and_then(Result::ok);
        assert!(
            matches!(chunk, Some(Cow::Borrowed(b"\x00\x01"))),
            "{chunk:?}"
        );

        let (_, headers, mut body) = into_head_and_body(Response::static_text("Hello"), true);
        assert_eq!(headers.get_header("Content-Length"), Some("5"));
        assert!(body.next_chunk().is_none(), "HEAD: no body");
    }

    #[test]
    fn decimal_writes_every_digit() {
        for n in [0, 7, 10, 18, 1_000_003, usize::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
    }
}
