//! [`Response`]: what a handler gives back, before [`App::finish`](crate::App::finish)
//! turns it into a status line, headers and a [`Body`] for `start_response`.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Component, Path};

use gateway_spec::{Body, Headers, HeadersExt, Text};
use serde::Serialize;

use crate::cookies::Cookie;
use crate::error::{abort, HttpError};
use crate::url::sanitize_location;

/// An HTTP response: a status, headers and a body that may stream.
///
/// Build one with a constructor ([`text`](Response::text),
/// [`html`](Response::html), [`json`](Response::json),
/// [`stream`](Response::stream), [`file`](Response::file), ...) and adjust it
/// with the `with_*` methods:
///
/// ```
/// use mini_framework::{Cookie, Response};
/// let response = Response::text("created")
///     .with_status(201)
///     .with_header("Location", "/items/7")
///     .with_cookie(Cookie::new("last", "7"));
/// assert_eq!(response.status(), 201);
/// assert_eq!(response.header("location"), Some("/items/7"));
/// assert_eq!(response.body_bytes(), Some(&b"created"[..]));
/// ```
///
/// Handlers usually return something that *converts* into a `Response`
/// (see [`IntoResponse`](crate::IntoResponse)); build one by hand when you
/// need headers or cookies.
pub struct Response {
    status: u16,
    headers: Headers,
    content: Content,
    /// The error this response stands for, so error handlers can replace it
    /// and `finish` can log it. Boxed: most responses have none, and a
    /// smaller `Response` is cheaper to move on the way from the handler to
    /// `finish` (a plain move instead of a `memcpy` call each time).
    error: Option<Box<HttpError>>,
    /// A problem found while building the response (an unsendable cookie):
    /// `finish` answers 500 and logs it instead of sending a broken header.
    defect: Option<String>,
}

/// The three shapes a body takes; bytes keep their length known so `finish`
/// can send `Content-Length`.
pub(crate) enum Content {
    Empty,
    /// In memory; borrowed when a handler returned a constant.
    Bytes(Cow<'static, [u8]>),
    Stream(Body),
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Headers::new(),
            content: Content::Empty,
            error: None,
            defect: None,
        }
    }

    /// `200 OK` with a `text/plain; charset=utf-8` body.
    pub fn text(text: impl Into<String>) -> Response {
        let bytes = text.into().into_bytes();
        Response::with_bytes(bytes.into(), "text/plain; charset=utf-8")
    }

    /// `200 OK` with a constant `text/plain; charset=utf-8` body, kept
    /// borrowed all the way to the server (what a handler's `&'static str`
    /// becomes).
    pub(crate) fn static_text(text: &'static str) -> Response {
        Response::with_bytes(text.as_bytes().into(), "text/plain; charset=utf-8")
    }

    /// `200 OK` with constant bytes, `application/octet-stream`, kept
    /// borrowed like [`static_text`](Self::static_text)'s (what a handler's
    /// `&'static [u8]` becomes).
    pub(crate) fn static_bytes(bytes: &'static [u8]) -> Response {
        Response::with_bytes(bytes.into(), "application/octet-stream")
    }

    /// `200 OK` with a `text/html; charset=utf-8` body.
    pub fn html(html: impl Into<String>) -> Response {
        let bytes = html.into().into_bytes();
        Response::with_bytes(bytes.into(), "text/html; charset=utf-8")
    }

    /// `200 OK` with `value` serialized as JSON. A value that cannot be
    /// serialized (a map with non-string keys, a failing `Serialize` impl)
    /// gives a 500 response, not a panic.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(bytes) => Response::with_bytes(bytes.into(), "application/json"),
            Err(err) => HttpError::internal(err).into(),
        }
    }

    /// `200 OK` with raw bytes, `application/octet-stream`.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Response {
        Response::with_bytes(Cow::Owned(bytes.into()), "application/octet-stream")
    }

    /// `200 OK` streaming `body`: chunks are produced as the server sends
    /// them, so a large or generated body is never built in memory. Set a
    /// Content-Type yourself.
    ///
    /// ```
    /// use gateway_spec::Body;
    /// use mini_framework::Response;
    /// let lines = (1..=3).map(|n| format!("line {n}\n").into_bytes());
    /// let response = Response::stream(Body::from_chunks(lines))
    ///     .with_header("Content-Type", "text/plain");
    /// assert_eq!(response.body_bytes(), None); // not in memory
    /// ```
    pub fn stream(body: Body) -> Response {
        let mut response = Response::new(200);
        response.content = Content::Stream(body);
        response
    }

    /// `200 OK` streaming everything `reader` yields, in 64 KiB blocks.
    pub fn from_reader(reader: impl Read + 'static) -> Response {
        Response::stream(Body::from_reader(reader))
    }

    /// `200 OK` streaming the file at `path`, with its Content-Type guessed
    /// from the extension and its Content-Length.
    ///
    /// Never pass a path built from request input here; use
    /// [`file_in`](Response::file_in), which stays inside a directory.
    ///
    /// # Errors
    /// 404 if there is no such file (or it is a directory), 403 if it cannot
    /// be read for lack of permission, 500 for other I/O errors.
    pub fn file(path: impl AsRef<Path>) -> Result<Response, HttpError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(file_error)?;
        let metadata = file.metadata().map_err(file_error)?;
        if !metadata.is_file() {
            return Err(abort(404));
        }
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let content_type = if mime.type_() == "text" {
            format!("{}; charset=utf-8", mime.essence_str())
        } else {
            mime.essence_str().to_owned()
        };
        Ok(Response::from_reader(file)
            .with_header("Content-Type", content_type)
            .with_header("Content-Length", metadata.len().to_string()))
    }

    /// Like Flask's `send_from_directory`: stream `relative` from inside
    /// `root`, refusing (404) any path that could leave it: `..`, absolute
    /// paths, backslashes, NUL bytes and Windows drive or device forms.
    ///
    /// # Errors
    /// As [`file`](Response::file), and 404 for a path that leaves `root`.
    pub fn file_in(root: impl AsRef<Path>, relative: &str) -> Result<Response, HttpError> {
        let unsafe_text = relative.contains(['\\', '\0', ':']) || relative.starts_with('/');
        let relative_path = Path::new(relative);
        let escapes = relative_path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if unsafe_text || escapes || relative.is_empty() {
            return Err(abort(404));
        }
        Response::file(root.as_ref().join(relative_path))
    }

    fn with_bytes(bytes: Cow<'static, [u8]>, content_type: &'static str) -> Response {
        // A new response has no header to replace, so push instead of
        // `set_header` (no scan), into a list sized for the Content-Length
        // `finish` adds and a middleware header or two (no growth path).
        let mut headers = Headers::with_capacity(4);
        headers.push(("Content-Type".into(), content_type.into()));
        // Every field spelled out: `..Response::new(200)` built an empty
        // response first and then dropped the fields it replaced.
        Response {
            status: 200,
            headers,
            content: Content::Bytes(bytes),
            error: None,
            defect: None,
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Change the status code.
    pub fn with_status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// Change the status code in place.
    pub fn set_status(&mut self, status: u16) {
        self.status = status;
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_header(name)
    }

    /// All headers, in order.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// All headers, to change freely.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// Set header `name` to `value`, replacing any with that name. Values
    /// holding CR, LF or other control characters are refused when the
    /// response is sent (the client gets a 500 and the log says why).
    pub fn with_header(mut self, name: impl Into<Text>, value: impl Into<Text>) -> Response {
        self.set_header(name, value);
        self
    }

    /// Set header `name` to `value` in place, replacing any with that name.
    pub fn set_header(&mut self, name: impl Into<Text>, value: impl Into<Text>) {
        self.headers.set_header(name, value);
    }

    /// Add a header, keeping others with the same name.
    pub fn append_header(&mut self, name: impl Into<Text>, value: impl Into<Text>) {
        self.headers.push((name.into(), value.into()));
    }

    /// Add a `Set-Cookie` header for `cookie`.
    pub fn with_cookie(mut self, cookie: Cookie) -> Response {
        self.set_cookie(cookie);
        self
    }

    /// Add a `Set-Cookie` header for `cookie` in place. A cookie that cannot
    /// be sent safely (its name is not a token, its path or domain holds `;`
    /// or a control character) turns the response into a 500 whose log line
    /// names the problem.
    pub fn set_cookie(&mut self, cookie: Cookie) {
        match cookie.to_header_value() {
            Ok(value) => self.append_header("Set-Cookie", value),
            Err(problem) => self.defect = Some(problem),
        }
    }

    /// Tell the browser to forget cookie `name` (set for `Path=/`).
    pub fn delete_cookie(&mut self, name: &str) {
        self.set_cookie(Cookie::new(name, "").expired());
    }

    /// The body, if it is held in memory (`None` for a streamed body).
    pub fn body_bytes(&self) -> Option<&[u8]> {
        match &self.content {
            Content::Empty => Some(&[]),
            Content::Bytes(bytes) => Some(bytes),
            Content::Stream(_) => None,
        }
    }

    /// Replace the body with bytes (the Content-Type is left as is).
    pub fn set_body(&mut self, bytes: impl Into<Vec<u8>>) {
        self.content = Content::Bytes(Cow::Owned(bytes.into()));
    }

    /// The error this response stands for, if it came from an [`HttpError`].
    pub fn error(&self) -> Option<&HttpError> {
        self.error.as_deref()
    }

    pub(crate) fn take_error(&mut self) -> Option<HttpError> {
        self.error.take().map(|error| *error)
    }

    /// Remember `error` as the cause of this response, unless it has one.
    pub(crate) fn attach_error(&mut self, error: HttpError) {
        self.error.get_or_insert_with(|| Box::new(error));
    }

    pub(crate) fn take_defect(&mut self) -> Option<String> {
        self.defect.take()
    }

    pub(crate) fn into_parts(self) -> (u16, Headers, Content) {
        (self.status, self.headers, self.content)
    }
}

fn file_error(err: std::io::Error) -> HttpError {
    match err.kind() {
        ErrorKind::NotFound => abort(404),
        ErrorKind::PermissionDenied => abort(403),
        _ => HttpError::internal(err),
    }
}

/// An error becomes its page: the status, the error's headers (such as
/// `Allow`) and a plain-text body with the public message. The error rides
/// along so an error handler can replace the page.
impl From<HttpError> for Response {
    fn from(err: HttpError) -> Response {
        let status = err.status();
        let page = format!(
            "{}\n\n{}\n",
            crate::status::status_line(status),
            err.public_message()
        );
        let mut response = Response::text(page).with_status(status);
        // The page echoes client input (a bad parameter); never let a
        // browser sniff it into HTML.
        response.set_header("X-Content-Type-Options", "nosniff");
        for (name, value) in err.headers() {
            response.set_header(name.clone(), value.clone());
        }
        response.error = Some(Box::new(err));
        response
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let content = match &self.content {
            Content::Empty => "empty".to_owned(),
            Content::Bytes(bytes) => format!("{} bytes", bytes.len()),
            Content::Stream(_) => "stream".to_owned(),
        };
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("content", &content)
            .field("error", &self.error)
            .finish()
    }
}

/// A redirect, as axum names them; converts into a response with `Location`.
///
/// ```
/// use mini_framework::{IntoResponse, Redirect};
/// let response = Redirect::to("/login").into_response();
/// assert_eq!(response.status(), 303);
/// assert_eq!(response.header("location"), Some("/login"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    status: u16,
    location: String,
}

impl Redirect {
    /// `303 See Other`: "go GET this instead", the usual answer to a form POST.
    pub fn to(location: impl Into<String>) -> Redirect {
        Redirect::with_status(303, location)
    }

    /// `302 Found`: Flask's and bottle's default redirect.
    pub fn found(location: impl Into<String>) -> Redirect {
        Redirect::with_status(302, location)
    }

    /// `307 Temporary Redirect`: repeat the same method and body there.
    pub fn temporary(location: impl Into<String>) -> Redirect {
        Redirect::with_status(307, location)
    }

    /// `308 Permanent Redirect`: the resource moved for good; same method and body.
    pub fn permanent(location: impl Into<String>) -> Redirect {
        Redirect::with_status(308, location)
    }

    /// A redirect with any status (301, 302, 303, 307, 308, ...).
    pub fn with_status(status: u16, location: impl Into<String>) -> Redirect {
        Redirect {
            status,
            location: location.into(),
        }
    }

    pub(crate) fn build(self) -> Response {
        Response::new(self.status).with_header("Location", sanitize_location(&self.location))
    }
}

/// Flask's `redirect(location)`: a `302 Found` to `location`.
///
/// ```
/// use mini_framework::redirect;
/// assert_eq!(redirect("/home").status(), 302);
/// ```
pub fn redirect(location: impl Into<String>) -> Response {
    Redirect::found(location).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_become_plain_text_pages_with_their_headers() {
        let response = Response::from(abort(405).with_header("Allow", "GET, HEAD"));
        assert_eq!(response.status(), 405);
        assert_eq!(response.header("allow"), Some("GET, HEAD"));
        let body = String::from_utf8(response.body_bytes().unwrap().to_vec()).unwrap();
        assert!(body.starts_with("405 Method Not Allowed\n"));
        assert_eq!(response.error().map(HttpError::status), Some(405));
    }

    #[test]
    fn internal_errors_do_not_show_their_cause() {
        let response = Response::from(HttpError::internal("password=hunter2 leaked"));
        let body = String::from_utf8(response.body_bytes().unwrap().to_vec()).unwrap();
        assert!(!body.contains("hunter2"));
        assert!(body.starts_with("500 Internal Server Error"));
    }

    #[test]
    fn redirect_targets_are_sanitized() {
        let response = Redirect::to("/a\r\nSet-Cookie: x=1").build();
        assert_eq!(
            response.header("location"),
            Some("/a%0D%0ASet-Cookie:%20x=1")
        );
    }

    #[test]
    fn bad_cookies_mark_the_response_defective() {
        let mut response = Response::text("x").with_cookie(Cookie::new("bad name", "v"));
        assert!(response.header("set-cookie").is_none());
        assert!(response.take_defect().unwrap().contains("bad name"));
    }

    #[test]
    fn file_in_refuses_paths_that_leave_the_root() {
        let root = std::env::temp_dir();
        for bad in [
            "../etc/passwd",
            "/etc/passwd",
            "a/../../x",
            "a\\..\\b",
            "C:x",
            "a\0b",
            "",
        ] {
            let err = Response::file_in(&root, bad).unwrap_err();
            assert_eq!(err.status(), 404, "{bad:?}");
        }
    }

    #[test]
    fn file_streams_with_type_and_length() {
        let dir = std::env::temp_dir().join(format!("mf-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hello.txt"), b"hello file").unwrap();
        let response = Response::file_in(&dir, "hello.txt").unwrap();
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(response.header("content-length"), Some("10"));
        let (_, _, content) = response.into_parts();
        let Content::Stream(body) = content else {
            panic!("a file must stream")
        };
        let bytes: Vec<u8> = body.map(Result::unwrap).collect::<Vec<_>>().concat();
        assert_eq!(bytes, b"hello file");
        assert_eq!(
            Response::file(dir.join("missing")).unwrap_err().status(),
            404
        );
        assert_eq!(Response::file(&dir).unwrap_err().status(), 404);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
