//! Forms: the body of a `POST` from an HTML form, urlencoded or multipart,
//! read into text fields and files. The content type decides the parser.

use crate::body::Limits;
use crate::error::RequestError;
use crate::media_type;
use crate::multidict::MultiDict;
use crate::multipart::{self, FilePart};

/// A parsed form: text fields, and the files of a multipart form.
#[derive(Debug, Default)]
pub(crate) struct FormData {
    pub(crate) fields: MultiDict,
    pub(crate) files: Vec<FilePart>,
}

const FORM_TYPES: &str = "application/x-www-form-urlencoded or multipart/form-data";

/// Parse `body` according to `content_type`. A request with neither a
/// Content-Type nor a body is an empty form; any other type is a 415.
pub(crate) fn parse_form(
    content_type: Option<&str>,
    body: &[u8],
    limits: &Limits,
) -> Result<FormData, RequestError> {
    let Some(content_type) = content_type else {
        if body.is_empty() {
            return Ok(FormData::default());
        }
        return Err(unsupported("no Content-Type"));
    };
    match media_type::essence(content_type).as_str() {
        "application/x-www-form-urlencoded" => parse_urlencoded(body, limits),
        "multipart/form-data" => {
            let boundary = media_type::parameter(content_type, "boundary").ok_or_else(|| {
                RequestError::MalformedMultipart {
                    reason: "the Content-Type has no boundary parameter".to_owned(),
                }
            })?;
            let (fields, files) = multipart::parse(body, &boundary, limits)?;
            Ok(FormData { fields, files })
        }
        _ => Err(unsupported(content_type)),
    }
}

fn unsupported(found: &str) -> RequestError {
    RequestError::UnsupportedMediaType {
        expected: FORM_TYPES,
        found: found.to_owned(),
    }
}

fn parse_urlencoded(body: &[u8], limits: &Limits) -> Result<FormData, RequestError> {
    if body.len() as u64 > limits.max_form_memory {
        return Err(RequestError::FormTooLarge {
            limit: limits.max_form_memory,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| RequestError::InvalidUtf8 {
        what: "the urlencoded form".to_owned(),
    })?;
    Ok(FormData {
        fields: MultiDict::parse_urlencoded(text),
        files: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_forms() {
        let form = parse_form(
            Some("application/x-www-form-urlencoded"),
            b"name=Ada+Lovelace&lang=en&lang=fr",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(form.fields.get("name"), Some("Ada Lovelace"));
        assert_eq!(form.fields.get_all("lang"), ["en", "fr"]);
    }

    #[test]
    fn urlencoded_forms_are_capped() {
        let limits = Limits {
            max_form_memory: 4,
            ..Limits::default()
        };
        let err = parse_form(
            Some("application/x-www-form-urlencoded"),
            b"a=12345",
            &limits,
        )
        .unwrap_err();
        assert_eq!(err, RequestError::FormTooLarge { limit: 4 });
    }

    #[test]
    fn other_types_are_415_and_an_empty_request_is_an_empty_form() {
        let err = parse_form(Some("application/json"), b"{}", &Limits::default()).unwrap_err();
        assert_eq!(err.status(), 415);
        assert!(parse_form(None, b"", &Limits::default())
            .unwrap()
            .fields
            .is_empty());
        assert_eq!(
            parse_form(None, b"a=1", &Limits::default())
                .unwrap_err()
                .status(),
            415
        );
    }

    #[test]
    fn multipart_needs_a_boundary() {
        let err = parse_form(Some("multipart/form-data"), b"x", &Limits::default()).unwrap_err();
        assert_eq!(err.status(), 400);
    }
}
