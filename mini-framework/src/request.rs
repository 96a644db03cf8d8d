//! [`Request`]: what a handler sees. A view over the environ, with typed
//! access to everything PEP 3333 puts there and the parsing a framework
//! adds (query, cookies, forms, files, JSON, session). Parsed values are
//! computed on first use and cached for the rest of the request, like
//! bottle's `DictProperty`.

use std::cell::{OnceCell, RefCell, RefMut};
use std::fmt::{self, Display};
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

use gateway_spec::{Environ, Extensions, Input};
use serde::de::DeserializeOwned;

use crate::app::Shared;
use crate::body::read_body;
use crate::cookies::parse_cookie_header;
use crate::error::{RequestError, UrlError};
use crate::form::{parse_form, FormData};
use crate::media_type;
use crate::multidict::MultiDict;
use crate::multipart::FilePart;
use crate::pattern::Params;
use crate::response::Response;
use crate::session::{unix_now, Session};
use crate::url;

/// One HTTP request, as a handler sees it.
///
/// ```
/// use mini_framework::{App, HttpError, Json, Request};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct NewUser { name: String }
///
/// let mut app = App::new();
/// app.post("/teams/<team:int>/users", |req: &Request| -> Result<Json<serde_json::Value>, HttpError> {
///     let team: i64 = req.param("team")?;             // typed path parameter
///     let notify = req.query().get("notify").is_some(); // ?notify
///     let user: NewUser = req.json()?;                  // 415 / 400 / 413 on bad input
///     let agent = req.header("User-Agent").unwrap_or("unknown");
///     Ok(Json(serde_json::json!({"team": team, "name": user.name, "notify": notify, "agent": agent})))
/// });
/// ```
pub struct Request {
    environ: Environ,
    /// `wsgi.input`, taken out of the environ so `&self` methods can read it.
    input: RefCell<Input>,
    shared: Arc<Shared>,
    route_id: Option<usize>,
    params: Vec<(String, String)>,
    query: OnceCell<MultiDict>,
    cookies: OnceCell<Vec<(String, String)>>,
    body: OnceCell<Result<Vec<u8>, RequestError>>,
    form: OnceCell<Result<FormData, RequestError>>,
    session: OnceCell<Session>,
}

impl Request {
    pub(crate) fn new(mut environ: Environ, shared: Arc<Shared>) -> Request {
        let input = std::mem::take(&mut environ.input);
        Request {
            environ,
            input: RefCell::new(input),
            shared,
            route_id: None,
            params: Vec::new(),
            query: OnceCell::new(),
            cookies: OnceCell::new(),
            body: OnceCell::new(),
            form: OnceCell::new(),
            session: OnceCell::new(),
        }
    }

    pub(crate) fn set_route(&mut self, route_id: usize, params: Params<'_>) {
        self.route_id = Some(route_id);
        if params.is_empty() {
            return; // a static route: no names to copy
        }
        self.params = params
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
    }

    // ----- The request line -------------------------------------------------

    /// The method: `GET`, `POST`, ...
    pub fn method(&self) -> &str {
        self.environ.request_method()
    }

    /// PATH_INFO: the path below the app's mount point, decoded.
    pub fn path(&self) -> &str {
        self.environ.path_info()
    }

    /// SCRIPT_NAME: where the app is mounted (`""` at the root).
    pub fn script_name(&self) -> &str {
        self.environ.script_name()
    }

    /// SCRIPT_NAME + PATH_INFO: the whole decoded path.
    pub fn full_path(&self) -> String {
        format!("{}{}", self.script_name(), self.path())
    }

    /// The raw query string (without `?`).
    pub fn query_string(&self) -> &str {
        self.environ.query_string()
    }

    /// The query arguments (Flask's `request.args`).
    pub fn query(&self) -> &MultiDict {
        self.query
            .get_or_init(|| MultiDict::parse_urlencoded(self.query_string()))
    }

    // ----- The matched route ------------------------------------------------

    /// A path parameter as text, e.g. `"42"` for `<id:int>`.
    pub fn param_str(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A path parameter, parsed into `T` (`i64` for `<id:int>`, `f64` for
    /// `<x:float>`, `String`, or any `FromStr` type such as a UUID type).
    ///
    /// # Errors
    /// [`RequestError::MissingParam`] (500) if the route has no such
    /// parameter; [`RequestError::InvalidParam`] (400) if it does not parse
    /// (`<id:int>` read as `u8` with a value of 300).
    pub fn param<T: FromStr>(&self, name: &str) -> Result<T, RequestError> {
        let value = self
            .param_str(name)
            .ok_or_else(|| RequestError::MissingParam {
                name: name.to_owned(),
            })?;
        value.parse().map_err(|_| RequestError::InvalidParam {
            name: name.to_owned(),
            value: value.to_owned(),
            expected: std::any::type_name::<T>(),
        })
    }

    /// All path parameters, in pattern order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The pattern of the route that matched, e.g. `/users/<id:int>`.
    pub fn route_pattern(&self) -> Option<&str> {
        let route = self.shared.router.by_id(self.route_id?)?;
        Some(route.pattern())
    }

    /// The name of the route that matched, if it has one.
    pub fn route_name(&self) -> Option<&str> {
        self.shared.router.by_id(self.route_id?)?.name()
    }

    // ----- Headers, cookies, the client -------------------------------------

    /// A request header (case-insensitive), as the server joined it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.environ.header(name)
    }

    /// All request headers as `(lowercase-name, value)`, rebuilt from the
    /// environ's `HTTP_*`, `CONTENT_TYPE` and `CONTENT_LENGTH`.
    pub fn headers(&self) -> Vec<(String, &str)> {
        self.environ
            .vars()
            .filter_map(|(key, value)| {
                let name = match key {
                    "CONTENT_TYPE" | "CONTENT_LENGTH" => key,
                    _ => key.strip_prefix("HTTP_")?,
                };
                Some((name.to_ascii_lowercase().replace('_', "-"), value))
            })
            .collect()
    }

    /// The Content-Type, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.environ.content_type()
    }

    /// The declared Content-Length, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.environ.content_length()
    }

    /// Whether the body is declared as JSON (`application/json` or `+json`).
    pub fn is_json(&self) -> bool {
        self.content_type().is_some_and(media_type::is_json)
    }

    /// The value of cookie `name` (the first, if the browser sent several).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All cookies, in the order the browser sent them.
    pub fn cookies(&self) -> &[(String, String)] {
        self.cookies
            .get_or_init(|| parse_cookie_header(self.header("Cookie").unwrap_or("")))
    }

    /// The client's address (REMOTE_ADDR).
    pub fn remote_addr(&self) -> Option<&str> {
        self.environ.get("REMOTE_ADDR")
    }

    /// The authenticated user set by a server or middleware (REMOTE_USER).
    pub fn remote_user(&self) -> Option<&str> {
        self.environ.remote_user()
    }

    /// `"http"` or `"https"` (wsgi.url_scheme).
    pub fn scheme(&self) -> &str {
        self.environ.url_scheme.as_str()
    }

    /// Whether the request came over HTTPS.
    pub fn is_secure(&self) -> bool {
        self.scheme() == "https"
    }

    /// The host the client asked for, with the port if not the default.
    pub fn host(&self) -> String {
        url::host(&self.environ)
    }

    /// `scheme://host`.
    pub fn host_url(&self) -> String {
        url::host_url(&self.environ)
    }

    /// The full URL, rebuilt as PEP 3333 describes.
    pub fn url(&self) -> String {
        url::request_url(&self.environ)
    }

    // ----- The body -----------------------------------------------------------

    /// The whole body, read once and cached.
    ///
    /// # Errors
    /// [`RequestError::BodyTooLarge`] (413) past
    /// [`Limits::max_body_bytes`](crate::Limits::max_body_bytes);
    /// [`RequestError::BodyRead`] (400) if reading fails.
    pub fn body(&self) -> Result<&[u8], RequestError> {
        let body = self.body.get_or_init(|| {
            let mut input = self
                .input
                .try_borrow_mut()
                .map_err(|_| RequestError::BodyRead {
                    message: "wsgi.input is borrowed through Request::input".to_owned(),
                })?;
            read_body(
                &mut input,
                self.content_length(),
                self.shared.limits.max_body_bytes,
            )
        });
        body.as_deref().map_err(Clone::clone)
    }

    /// The body as UTF-8 text.
    ///
    /// # Errors
    /// As [`body`](Request::body), and [`RequestError::InvalidUtf8`] (400).
    pub fn text(&self) -> Result<&str, RequestError> {
        std::str::from_utf8(self.body()?).map_err(|_| RequestError::InvalidUtf8 {
            what: "the request body".to_owned(),
        })
    }

    /// The body deserialized from JSON.
    ///
    /// # Errors
    /// [`RequestError::UnsupportedMediaType`] (415) unless the Content-Type
    /// is JSON; [`RequestError::InvalidJson`] (400, with line and column)
    /// for bad syntax or a shape that does not fit `T`; the errors of
    /// [`body`](Request::body).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, RequestError> {
        if !self.is_json() {
            return Err(RequestError::UnsupportedMediaType {
                expected: "application/json",
                found: self.content_type().unwrap_or("no Content-Type").to_owned(),
            });
        }
        serde_json::from_slice(self.body()?).map_err(|err| RequestError::InvalidJson {
            message: err.to_string(),
            line: err.line(),
            column: err.column(),
        })
    }

    /// The text fields of a urlencoded or multipart form (Flask's `request.form`).
    ///
    /// # Errors
    /// 415 for another Content-Type; 413 past the form limits; 400 for a
    /// malformed multipart body; the errors of [`body`](Request::body).
    pub fn form(&self) -> Result<&MultiDict, RequestError> {
        Ok(&self.parsed_form()?.fields)
    }

    /// The uploaded files of a multipart form (Flask's `request.files`).
    ///
    /// # Errors
    /// As [`form`](Request::form).
    pub fn files(&self) -> Result<&[FilePart], RequestError> {
        Ok(&self.parsed_form()?.files)
    }

    /// The first uploaded file of field `name`.
    ///
    /// # Errors
    /// As [`form`](Request::form).
    pub fn file(&self, name: &str) -> Result<Option<&FilePart>, RequestError> {
        Ok(self.files()?.iter().find(|f| f.name() == name))
    }

    fn parsed_form(&self) -> Result<&FormData, RequestError> {
        let form = self
            .form
            .get_or_init(|| parse_form(self.content_type(), self.body()?, &self.shared.limits));
        form.as_ref().map_err(Clone::clone)
    }

    /// `wsgi.input` itself, to stream a large upload instead of buffering
    /// it. Bytes read here are no longer seen by [`body`](Request::body).
    ///
    /// # Panics
    /// If an earlier value returned by `input()` is still alive.
    pub fn input(&self) -> RefMut<'_, Input> {
        self.input.borrow_mut()
    }

    // ----- The application ----------------------------------------------------

    /// The state of type `T` given to [`App::with_state`](crate::App::with_state).
    ///
    /// # Errors
    /// [`RequestError::MissingState`] (500) if the app has none of that type.
    pub fn state<T: Send + Sync + 'static>(&self) -> Result<&T, RequestError> {
        self.shared
            .state
            .get::<T>()
            .ok_or(RequestError::MissingState {
                type_name: std::any::type_name::<T>(),
            })
    }

    /// The signed-cookie session (see [`SessionConfig`](crate::SessionConfig)).
    ///
    /// # Errors
    /// [`RequestError::SessionsDisabled`] (500) if the app has no
    /// [`with_sessions`](crate::App::with_sessions).
    pub fn session(&self) -> Result<&Session, RequestError> {
        let config = self
            .shared
            .sessions
            .as_ref()
            .ok_or(RequestError::SessionsDisabled)?;
        Ok(self
            .session
            .get_or_init(|| Session::load(config, self.cookie(&config.cookie_name), unix_now())))
    }

    /// The path of the route named `name`, with `values` filled in and
    /// SCRIPT_NAME in front, so links work wherever the app is mounted.
    /// Values that are not parameters of the route become the query string.
    ///
    /// ```
    /// # use mini_framework::{App, HttpError, Request};
    /// # let mut app = App::new();
    /// app.get("/users/<id:int>", |_req: &Request| "a user").name("user");
    /// app.get("/", |req: &Request| -> Result<String, HttpError> {
    ///     // Under SCRIPT_NAME=/api this is "/api/users/7?tab=posts".
    ///     Ok(req.url_for("user", &[("id", &7), ("tab", &"posts")])?)
    /// });
    /// ```
    ///
    /// # Errors
    /// [`UrlError`] (a 500 if returned) for an unknown name, a missing value,
    /// or a value the parameter's converter refuses.
    pub fn url_for(&self, name: &str, values: &[(&str, &dyn Display)]) -> Result<String, UrlError> {
        let path = self.shared.router.url_path(name, values)?;
        let prefix = url::encode_path(self.script_name().trim_end_matches('/'));
        Ok(format!("{prefix}{path}"))
    }

    /// [`url_for`](Request::url_for) with `scheme://host` in front (Flask's
    /// `_external=True`), for links in emails or redirects to other hosts.
    ///
    /// # Errors
    /// As [`url_for`](Request::url_for).
    pub fn external_url_for(
        &self,
        name: &str,
        values: &[(&str, &dyn Display)],
    ) -> Result<String, UrlError> {
        Ok(format!(
            "{}{}",
            self.host_url(),
            self.url_for(name, values)?
        ))
    }

    /// The environ, for anything not covered above. Its `input` is empty:
    /// use [`body`](Request::body) or [`input`](Request::input).
    pub fn environ(&self) -> &Environ {
        &self.environ
    }

    /// The environ, to change (a before-hook rewriting a variable, say).
    pub fn environ_mut(&mut self) -> &mut Environ {
        &mut self.environ
    }

    /// Typed values attached to this request, such as the current user a
    /// before-hook found (Flask's `g`), or what a middleware put in the
    /// environ's extensions.
    pub fn extensions(&self) -> &Extensions {
        &self.environ.extensions
    }

    /// Typed values attached to this request, to add to.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.environ.extensions
    }

    // ----- For the app --------------------------------------------------------

    /// Write the session into the response if it was used; a warning to log
    /// comes back when the cookie is too large.
    pub(crate) fn save_session(&self, response: &mut Response) -> Option<String> {
        let config = self.shared.sessions.as_ref()?;
        self.session.get()?.save(config, response, unix_now())
    }

    /// Write one line to `wsgi.errors`, naming the request.
    pub(crate) fn log(&mut self, message: &str) {
        let line = format!(
            "mini-framework: {} {}: {message}",
            self.method(),
            self.full_path()
        );
        // Nowhere better to report a failure to write the error log.
        let _ = writeln!(self.environ.errors, "{line}");
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method())
            .field("script_name", &self.script_name())
            .field("path", &self.path())
            .field("query_string", &self.query_string())
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}
