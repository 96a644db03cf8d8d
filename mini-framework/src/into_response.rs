//! [`IntoResponse`]: what a handler may return. Anything that converts into
//! a [`Response`] will do, as in axum; Flask users will recognise returning a
//! string, a `(status, body)` pair or a JSON-able value.

use gateway_spec::{AppError, Body, Text};
use serde::Serialize;

use crate::error::{abort, HttpError, RequestError, UrlError};
use crate::response::{Redirect, Response};

/// A value a handler can return.
///
/// | returned | response |
/// |---|---|
/// | `&'static str`, `String` | 200, `text/plain; charset=utf-8` |
/// | [`Html`]`(text)` | 200, `text/html; charset=utf-8` |
/// | [`Json`]`(value)` | 200, `application/json` (500 if it cannot serialize) |
/// | `Vec<u8>`, `&'static [u8]` | 200, `application/octet-stream` |
/// | [`Body`] | 200, streamed |
/// | `()` | 204 No Content |
/// | `(u16, T)` | `T`'s response with that status |
/// | `(u16, [(name, value); N], T)` | ... and those headers |
/// | [`Response`], [`Redirect`] | itself |
/// | [`HttpError`], [`RequestError`], [`UrlError`] | the error page (error handlers apply) |
/// | `Result<T, E>` | `T`'s or `E`'s response |
/// | `Option<T>` | `T`'s response, or 404 for `None` |
/// | [`AppError`] | 500, or the status of the framework error inside it |
///
/// Implement it for your own types to return them directly:
///
/// ```
/// use mini_framework::{IntoResponse, Response};
/// struct Teapot;
/// impl IntoResponse for Teapot {
///     fn into_response(self) -> Response {
///         Response::text("short and stout").with_status(418)
///     }
/// }
/// assert_eq!(Teapot.into_response().status(), 418);
/// ```
pub trait IntoResponse {
    /// Build the response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::static_text(self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        Response::bytes(self)
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Response {
        Response::static_bytes(self)
    }
}

impl IntoResponse for Body {
    fn into_response(self) -> Response {
        Response::stream(self)
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(204)
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        self.build()
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        Response::from(self)
    }
}

impl IntoResponse for RequestError {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

impl IntoResponse for UrlError {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

/// Any error boxed with `?`: framework errors inside keep their status
/// (a `RequestError` for bad JSON is still a 400), anything else is a 500
/// whose cause is logged to `wsgi.errors`.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let err = match self.downcast::<HttpError>() {
            Ok(http) => return http.into_response(),
            Err(other) => other,
        };
        let err = match err.downcast::<RequestError>() {
            Ok(request) => return request.into_response(),
            Err(other) => other,
        };
        HttpError::internal(err).into_response()
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(value) => value.into_response(),
            Err(err) => err.into_response(),
        }
    }
}

/// `None` is "not found", as in rouille's `try_or_404!`.
impl<T: IntoResponse> IntoResponse for Option<T> {
    fn into_response(self) -> Response {
        match self {
            Some(value) => value.into_response(),
            None => abort(404).into_response(),
        }
    }
}

impl<T: IntoResponse> IntoResponse for (u16, T) {
    fn into_response(self) -> Response {
        let (status, body) = self;
        body.into_response().with_status(status)
    }
}

impl<T, K, V, const N: usize> IntoResponse for (u16, [(K, V); N], T)
where
    T: IntoResponse,
    K: Into<Text>,
    V: Into<Text>,
{
    fn into_response(self) -> Response {
        let (status, headers, body) = self;
        let mut response = body.into_response().with_status(status);
        for (name, value) in headers {
            response.set_header(name, value);
        }
        response
    }
}

/// A JSON response: `Json(value)` serializes `value` with serde.
///
/// ```
/// use mini_framework::{IntoResponse, Json};
/// let response = Json(serde_json::json!({"id": 7})).into_response();
/// assert_eq!(response.header("content-type"), Some("application/json"));
/// assert_eq!(response.body_bytes(), Some(&br#"{"id":7}"#[..]));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        Response::json(&self.0)
    }
}

/// An HTML response: `Html(text)` is sent as `text/html; charset=utf-8`.
///
/// The text is sent as is: escape anything that came from a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Html<T>(pub T);

impl<T: Into<String>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        Response::html(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn text(response: &Response) -> String {
        String::from_utf8(response.body_bytes().unwrap().to_vec()).unwrap()
    }

    #[test]
    fn strings_are_plain_text() {
        let response = "hi".into_response();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(text(&String::from("there").into_response()), "there");
    }

    #[test]
    fn html_bytes_and_unit() {
        let html = Html("<p>x</p>").into_response();
        assert_eq!(
            html.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let bytes = vec![0u8, 1].into_response();
        assert_eq!(
            bytes.header("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(().into_response().status(), 204);
    }

    #[test]
    fn status_tuples_override_the_status_and_add_headers() {
        let response = (201, "made").into_response();
        assert_eq!((response.status(), text(&response).as_str()), (201, "made"));
        let response = (202, [("X-Job", "9")], Json(1)).into_response();
        assert_eq!(response.status(), 202);
        assert_eq!(response.header("x-job"), Some("9"));
    }

    #[test]
    fn results_and_options_pick_their_side() {
        let ok: Result<&str, HttpError> = Ok("fine");
        assert_eq!(ok.into_response().status(), 200);
        let err: Result<&str, HttpError> = Err(abort(403));
        assert_eq!(err.into_response().status(), 403);
        assert_eq!(None::<&str>.into_response().status(), 404);
    }

    #[test]
    fn json_that_cannot_serialize_is_a_500_not_a_panic() {
        let mut map = HashMap::new();
        map.insert((1, 2), "tuple keys are not JSON object keys");
        let response = Json(map).into_response();
        assert_eq!(response.status(), 500);
        assert!(response.error().is_some());
    }

    #[test]
    fn boxed_errors_keep_the_status_of_framework_errors_inside() {
        let boxed: AppError = Box::new(RequestError::BodyTooLarge { limit: 1 });
        assert_eq!(boxed.into_response().status(), 413);
        let boxed: AppError = Box::new(abort(409));
        assert_eq!(boxed.into_response().status(), 409);
        let boxed: AppError = Box::new(std::io::Error::other("disk"));
        assert_eq!(boxed.into_response().status(), 500);
    }
}
