//! Errors: [`HttpError`], the error that is also a response (what `abort`
//! raises in Flask and bottle), and the typed errors of each part of the
//! framework, each of which knows the status it deserves.

use gateway_spec::{AppError, Headers, HeadersExt, Text};

use crate::status;

/// An error that becomes an HTTP response: a status, a message for the
/// client, optional headers, and optionally the error that caused it.
///
/// Return it from a handler (`Err(abort(404))`), or let a typed error such
/// as [`RequestError`] convert into it with `?`. Error handlers registered
/// with [`App::error_handler`](crate::App::error_handler) receive it.
///
/// For server errors (5xx) the client sees only a generic message; the
/// detailed message and its cause are written to `wsgi.errors`.
///
/// ```
/// use mini_framework::{abort, HttpError};
/// let err = abort(404);
/// assert_eq!(err.status(), 404);
/// let err = HttpError::new(409, "that name is taken");
/// assert_eq!(err.message(), "that name is taken");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}: {message}")]
pub struct HttpError {
    status: u16,
    message: String,
    headers: Headers,
    #[source]
    source: Option<AppError>,
}

/// An [`HttpError`] with `status` and the standard message for it, like
/// Flask's and bottle's `abort(code)`.
///
/// ```
/// use mini_framework::{abort, App, HttpError, Request};
/// let mut app = App::new();
/// app.get("/admin", |_req: &Request| -> Result<&'static str, HttpError> {
///     Err(abort(403))
/// });
/// ```
pub fn abort(status: u16) -> HttpError {
    HttpError::new(status, default_message(status))
}

impl HttpError {
    /// An error with `status` and a message for the client.
    pub fn new(status: u16, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
            headers: Headers::new(),
            source: None,
        }
    }

    /// A 500 caused by `source`: the client sees "Internal Server Error",
    /// the cause goes to `wsgi.errors`.
    ///
    /// ```
    /// use mini_framework::HttpError;
    /// let err = HttpError::internal(std::io::Error::other("disk full"));
    /// assert_eq!(err.status(), 500);
    /// ```
    pub fn internal(source: impl Into<AppError>) -> HttpError {
        let source = source.into();
        HttpError {
            status: 500,
            message: source.to_string(),
            headers: Headers::new(),
            source: Some(source),
        }
    }

    /// Add a header to the error response (for example `Allow` on a 405, or
    /// `WWW-Authenticate` on a 401).
    pub fn with_header(mut self, name: impl Into<Text>, value: impl Into<Text>) -> HttpError {
        self.headers.set_header(name, value);
        self
    }

    /// Attach the error that caused this one.
    pub fn with_source(mut self, source: impl Into<AppError>) -> HttpError {
        self.source = Some(source.into());
        self
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The message, as given (for 5xx it is logged but not shown to clients).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What the client may see: the message for 4xx errors, a generic text
    /// for 5xx errors so internals do not leak.
    pub fn public_message(&self) -> &str {
        if self.status >= 500 {
            default_message(self.status)
        } else {
            &self.message
        }
    }

    /// Extra headers for the error response.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }
}

/// The message `abort(status)` uses, in the spirit of werkzeug's defaults.
fn default_message(status: u16) -> &'static str {
    match status {
        400 => "The browser (or proxy) sent a request that this server could not understand.",
        401 => "The server could not verify that you are authorized to access this URL.",
        403 => "You don't have the permission to access the requested resource.",
        404 => "The requested URL was not found on the server.",
        405 => "The method is not allowed for the requested URL.",
        409 => "The request conflicts with the current state of the resource.",
        413 => "The data value transmitted exceeds the capacity limit.",
        415 => "The server does not support the media type transmitted in the request.",
        422 => "The request was well-formed but could not be processed.",
        429 => "Too many requests. Please slow down.",
        500 => "The server encountered an internal error and was unable to complete your request.",
        501 => "The server does not support the action requested by the browser.",
        503 => "The server is temporarily unable to service your request. Please try again later.",
        _ => status::reason_phrase(status).unwrap_or("Error"),
    }
}

/// What went wrong while reading a request: its body, form, JSON, a path
/// parameter, the app state or the session. Each variant knows its status
/// ([`RequestError::status`]) and converts into an [`HttpError`] with `?`.
///
/// ```
/// use mini_framework::{App, HttpError, Request};
/// let mut app = App::new();
/// app.get("/users/<id:int>", |req: &Request| -> Result<String, HttpError> {
///     let id: i64 = req.param("id")?; // a RequestError becomes a 400 or 500
///     Ok(format!("user {id}"))
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body is larger than [`Limits::max_body_bytes`](crate::Limits::max_body_bytes). Status 413.
    #[error("the request body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in force.
        limit: u64,
    },
    /// Reading `wsgi.input` failed (the client went away, or sent a broken body). Status 400.
    #[error("could not read the request body: {message}")]
    BodyRead {
        /// The I/O error's message.
        message: String,
    },
    /// The Content-Type is not what the reader expects. Status 415.
    #[error("expected a request body of type {expected}, got {found}")]
    UnsupportedMediaType {
        /// The accepted type(s).
        expected: &'static str,
        /// The Content-Type received, or "no Content-Type".
        found: String,
    },
    /// The JSON body does not parse, or does not fit the expected type. Status 400.
    #[error("invalid JSON body: {message}")]
    InvalidJson {
        /// serde_json's explanation, including the position.
        message: String,
        /// The line where parsing stopped (1-based).
        line: usize,
        /// The column where parsing stopped (1-based; 0 at end of input).
        column: usize,
    },
    /// A urlencoded form is larger than [`Limits::max_form_memory`](crate::Limits::max_form_memory). Status 413.
    #[error("the form data is larger than the limit of {limit} bytes")]
    FormTooLarge {
        /// The limit in force.
        limit: u64,
    },
    /// A multipart body has more parts than [`Limits::max_form_parts`](crate::Limits::max_form_parts). Status 413.
    #[error("the multipart form has more than {limit} parts")]
    TooManyParts {
        /// The limit in force.
        limit: usize,
    },
    /// A multipart text field is larger than [`Limits::max_form_memory`](crate::Limits::max_form_memory). Status 413.
    #[error("the form field {name:?} is larger than the limit of {limit} bytes")]
    FieldTooLarge {
        /// The field's name.
        name: String,
        /// The limit in force.
        limit: u64,
    },
    /// The multipart body does not follow RFC 7578. Status 400.
    #[error("malformed multipart body: {reason}")]
    MalformedMultipart {
        /// What was wrong.
        reason: String,
    },
    /// Text that must be UTF-8 is not. Status 400.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which text.
        what: String,
    },
    /// The handler asked for a path parameter its route does not have: a
    /// programming error. Status 500.
    #[error("the matched route has no parameter named {name:?}")]
    MissingParam {
        /// The name asked for.
        name: String,
    },
    /// A path or query parameter does not parse as the type asked for. Status 400.
    #[error("parameter {name:?} has value {value:?}, which is not a valid {expected}")]
    InvalidParam {
        /// The parameter's name.
        name: String,
        /// Its value.
        value: String,
        /// The Rust type asked for.
        expected: &'static str,
    },
    /// No state of the type asked for was given to the app. Status 500.
    #[error("no state of type {type_name} was registered: call App::with_state with one")]
    MissingState {
        /// The type asked for.
        type_name: &'static str,
    },
    /// The handler used the session, but the app has no secret key. Status 500.
    #[error("sessions are not enabled: call App::with_sessions(SessionConfig::new(secret))")]
    SessionsDisabled,
    /// A value could not be stored in the session. Status 500.
    #[error("could not store session key {key:?}: {message}")]
    SessionValue {
        /// The key.
        key: String,
        /// Why serialization failed.
        message: String,
    },
}

impl RequestError {
    /// The HTTP status this error deserves.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::BodyTooLarge { .. }
            | RequestError::FormTooLarge { .. }
            | RequestError::TooManyParts { .. }
            | RequestError::FieldTooLarge { .. } => 413,
            RequestError::UnsupportedMediaType { .. } => 415,
            RequestError::BodyRead { .. }
            | RequestError::InvalidJson { .. }
            | RequestError::MalformedMultipart { .. }
            | RequestError::InvalidUtf8 { .. }
            | RequestError::InvalidParam { .. } => 400,
            RequestError::MissingParam { .. }
            | RequestError::MissingState { .. }
            | RequestError::SessionsDisabled
            | RequestError::SessionValue { .. } => 500,
        }
    }
}

impl From<RequestError> for HttpError {
    fn from(err: RequestError) -> HttpError {
        let status = err.status();
        let message = err.to_string();
        let http = HttpError::new(status, message);
        if status >= 500 {
            http.with_source(err)
        } else {
            http
        }
    }
}

/// Why a route, blueprint or mount could not be added. The registration
/// methods panic with this message; the `try_` variants return it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The pattern does not follow the route syntax.
    #[error("invalid route pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another route with the same method matches exactly the same paths.
    #[error(
        "route {pattern:?} conflicts with {existing:?}: both match the same paths for method {method}"
    )]
    Conflict {
        /// The new pattern.
        pattern: String,
        /// The pattern already registered.
        existing: String,
        /// The method they share.
        method: String,
    },
    /// The route name is already taken.
    #[error("route name {name:?} is already used by {existing:?}")]
    DuplicateName {
        /// The name.
        name: String,
        /// The pattern that has it.
        existing: String,
    },
    /// A method is not an HTTP token (for example it is empty or has spaces).
    #[error("invalid HTTP method {method:?} for route {pattern:?}")]
    InvalidMethod {
        /// The method as given.
        method: String,
        /// The route's pattern.
        pattern: String,
    },
    /// A mount prefix is not of the form `/segment[/segment...]`.
    #[error("invalid mount prefix {prefix:?}: {reason}")]
    InvalidPrefix {
        /// The prefix as given.
        prefix: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why `url_for` could not build a URL. Converts into a 500 [`HttpError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// No route has this name.
    #[error("no route is named {name:?}")]
    UnknownRoute {
        /// The name asked for.
        name: String,
    },
    /// The route needs a parameter that was not given.
    #[error("route {route:?} needs a value for parameter {param:?}")]
    MissingParam {
        /// The route's name.
        route: String,
        /// The missing parameter.
        param: String,
    },
    /// A value does not fit the parameter's converter (e.g. "abc" for `<id:int>`).
    #[error("route {route:?}: value {value:?} is not a valid {expected} for parameter {param:?}")]
    InvalidParam {
        /// The route's name.
        route: String,
        /// The parameter.
        param: String,
        /// The value given.
        value: String,
        /// What the converter accepts.
        expected: &'static str,
    },
}

impl From<UrlError> for HttpError {
    fn from(err: UrlError) -> HttpError {
        HttpError::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_errors_map_to_the_status_a_client_should_see() {
        let cases = [
            (RequestError::BodyTooLarge { limit: 1 }, 413),
            (
                RequestError::UnsupportedMediaType {
                    expected: "application/json",
                    found: "text/plain".into(),
                },
                415,
            ),
            (
                RequestError::InvalidJson {
                    message: "x".into(),
                    line: 1,
                    column: 1,
                },
                400,
            ),
            (RequestError::TooManyParts { limit: 3 }, 413),
            (RequestError::MissingState { type_name: "Db" }, 500),
        ];
        for (err, status) in cases {
            assert_eq!(HttpError::from(err).status(), status);
        }
    }

    #[test]
    fn server_errors_hide_their_message_from_clients() {
        let err = HttpError::from(RequestError::MissingState { type_name: "Db" });
        assert!(err.message().contains("Db"));
        assert!(!err.public_message().contains("Db"));
        let client = abort(404);
        assert_eq!(client.public_message(), client.message());
    }
}
