//! The small plain-text responses a layer answers with on its own (401, 413,
//! 404, ...), so every layer's refusal looks the same to a client.

use gateway_spec::{AppError, Body, Headers, StartResponse};

/// Answer with `status` and a one-line text body (empty for `HEAD`).
///
/// `extra` holds the headers particular to the answer, such as
/// `WWW-Authenticate` or `Allow`.
pub(crate) fn text_response(
    start_response: &StartResponse,
    request_method: &str,
    status: &str,
    mut extra: Headers,
    text: &str,
) -> Result<Body, AppError> {
    let text = format!("{text}\n");
    extra.push(("Content-Type".into(), "text/plain; charset=utf-8".into()));
    extra.push(("Content-Length".into(), text.len().to_string().into()));
    start_response.call(status, extra)?;
    if request_method == "HEAD" {
        return Ok(Body::empty());
    }
    Ok(Body::from(text))
}
