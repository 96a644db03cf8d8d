//! Reading the request body from `wsgi.input`, within the app's [`Limits`].

use std::io::Read;

use gateway_spec::Input;

use crate::error::RequestError;

/// How much of a request the framework will hold in memory. Exceeding a
/// limit answers `413 Content Too Large`.
///
/// ```
/// use mini_framework::{App, Limits};
/// let app = App::new().with_limits(Limits {
///     max_body_bytes: 10 * 1024 * 1024, // allow 10 MiB uploads
///     ..Limits::default()
/// });
/// # let _ = app;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest body `body()`, `json()`, `form()` and `files()` read.
    /// Default: 2 MiB (axum's `DefaultBodyLimit`).
    pub max_body_bytes: u64,
    /// The largest urlencoded form, and the largest single text field of a
    /// multipart form. Default: 500,000 bytes (Flask's `MAX_FORM_MEMORY_SIZE`).
    pub max_form_memory: u64,
    /// The most parts a multipart form may have. Default: 1,000 (Flask's
    /// `MAX_FORM_PARTS`, werkzeug's fix for CVE-2023-25577).
    pub max_form_parts: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 2 * 1024 * 1024,
            max_form_memory: 500_000,
            max_form_parts: 1000,
        }
    }
}

/// Read the whole body, refusing it as soon as it is known to exceed
/// `limit`: from CONTENT_LENGTH before reading anything, or after reading
/// one byte more than the limit when the length is not declared (chunked).
pub(crate) fn read_body(
    input: &mut Input,
    declared: Option<u64>,
    limit: u64,
) -> Result<Vec<u8>, RequestError> {
    let too_large = RequestError::BodyTooLarge { limit };
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large);
    }
    const FIRST_ALLOCATION: u64 = 64 * 1024;
    let capacity = declared.unwrap_or(0).min(limit).min(FIRST_ALLOCATION);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    input
        .take(limit.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|err| RequestError::BodyRead {
            message: err.to_string(),
        })?;
    if body.len() as u64 > limit {
        return Err(too_large);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn reads_a_body_within_the_limit() {
        let mut input = Input::from_bytes(b"hello".to_vec());
        assert_eq!(read_body(&mut input, Some(5), 5).unwrap(), b"hello");
    }

    #[test]
    fn refuses_a_declared_length_over_the_limit_without_reading() {
        let mut input = Input::from_bytes(vec![b'x'; 10]);
        let err = read_body(&mut input, Some(10), 4).unwrap_err();
        assert_eq!(err, RequestError::BodyTooLarge { limit: 4 });
        assert_eq!(input.remaining(), Some(10), "nothing was read");
    }

    #[test]
    fn refuses_an_undeclared_body_that_runs_over() {
        let mut input = Input::new(Cursor::new(vec![b'x'; 1000]));
        let err = read_body(&mut input, None, 100).unwrap_err();
        assert_eq!(err.status(), 413);
    }
}
