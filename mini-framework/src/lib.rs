//! A small Flask/bottle-like web framework whose apps are gateway
//! [`Application`](gateway_spec::Application)s, so any server of the
//! `gateway-spec` contract runs them.
//!
//! ```
//! use mini_framework::{App, Request};
//!
//! fn hello(req: &Request) -> String {
//!     format!("Hello, {}!", req.param_str("name").unwrap_or("world"))
//! }
//!
//! let mut app = App::new();
//! app.get("/", |_req: &Request| "Hello, world!");
//! app.get("/hello/<name>", hello);
//!
//! // `app` is an Application: give it to a server, for example
//! // gateway_server::make_server("localhost", 8000, app)?.serve_forever()
//! # let (sr, record) = gateway_spec::StartResponse::new();
//! # let mut environ = gateway_spec::Environ::for_test();
//! # environ.set("PATH_INFO", "/hello/Ada");
//! # let body = gateway_spec::Application::call(&app, environ, sr)?;
//! # let bytes = body.collect::<Result<Vec<_>, _>>()?.concat();
//! # assert_eq!((record.status_code(), bytes.as_slice()), (Some(200), &b"Hello, Ada!"[..]));
//! # Ok::<(), gateway_spec::AppError>(())
//! ```
//!
//! # A guided tour
//!
//! ## Routes
//! [`App::get`], [`post`](App::post), [`put`](App::put),
//! [`patch`](App::patch), [`delete`](App::delete) and
//! [`route`](App::route)`(&["GET", "POST"], ..)` add a handler for a
//! pattern matched against PATH_INFO. Parameters are typed by converters:
//!
//! | pattern | matches | value |
//! |---|---|---|
//! | `<name>` | one non-empty segment | `req.param::<String>("name")` |
//! | `<id:int>` | `-?[0-9]+` fitting an `i64` | `req.param::<i64>("id")` |
//! | `<x:float>` | `-?[0-9]+(.[0-9]+)?` | `req.param::<f64>("x")` |
//! | `<u:uuid>` | `8-4-4-4-12` hex digits | any `FromStr` UUID type |
//! | `<p:path>` | the rest of the path, `/` included | `req.param::<String>("p")` |
//!
//! PATH_INFO arrives percent-decoded (PEP 3333), so `%2F` in a URL is a `/`
//! by the time patterns see it: use `<p:path>` where values may hold one.
//! A parameter may have literal text around it (`/<name>.json`). The most
//! specific route wins whatever the order of registration (static text, then
//! `int`, `uuid`, `float`, `string`, `path`). A malformed pattern, or one
//! that duplicates a route for the same method, panics at registration with
//! the pattern in the message ([`App::try_route`] returns the
//! [`RouteError`] instead).
//!
//! What the router answers by itself: **404** when nothing matches; **405**
//! with `Allow` when the path matches under other methods; **HEAD** with the
//! GET route, without the body; **OPTIONS** with `Allow`; and a **308** to
//! the canonical form when a path differs from a route only by a trailing
//! slash ([`TrailingSlash`] chooses: redirect, ignore or strict).
//!
//! ## Handlers and what they return
//! A handler is any `Fn(&Request) -> impl IntoResponse`: `&'static str`,
//! `String`, `Vec<u8>`, [`Json`]`(value)`, [`Html`]`(text)`,
//! `(status, body)`, `(status, [headers], body)`, [`Response`],
//! [`Redirect`], `Option<T>` (None is a 404) and `Result<T, E>` where both
//! convert (see [`IntoResponse`]). `?` turns the framework's errors into
//! the right status:
//!
//! ```
//! use mini_framework::{App, HttpError, Json, Request};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize, Serialize)]
//! struct Todo { title: String, done: bool }
//!
//! let mut app = App::new();
//! app.post("/todos", |req: &Request| -> Result<(u16, Json<Todo>), HttpError> {
//!     let todo: Todo = req.json()?; // 415, 400 with line/column, or 413
//!     Ok((201, Json(todo)))
//! });
//! ```
//!
//! ## The request
//! [`Request`] is a view over the environ: [`method`](Request::method),
//! [`path`](Request::path), [`param`](Request::param),
//! [`query`](Request::query) (a multi-valued [`MultiDict`]),
//! [`header`](Request::header) (case-insensitive),
//! [`cookie`](Request::cookie), [`remote_addr`](Request::remote_addr),
//! [`scheme`](Request::scheme), [`host`](Request::host),
//! [`url`](Request::url), [`body`](Request::body),
//! [`form`](Request::form), [`files`](Request::files) (multipart uploads
//! as [`FilePart`]s), [`json`](Request::json). Bodies are bounded by
//! [`Limits`] (2 MiB body, 500 KB per form field, 1,000 multipart parts by
//! default); past a limit the answer is 413.
//!
//! ## Responses
//! [`Response`] builds anything else: status, headers, cookies ([`Cookie`]
//! with Max-Age, Path, Domain, Secure, HttpOnly, [`SameSite`];
//! [`Response::delete_cookie`]), redirects ([`Redirect`], [`redirect`]),
//! streamed bodies ([`Response::stream`] takes a [`gateway_spec::Body`],
//! produced chunk by chunk as the server sends it) and files
//! ([`Response::file`], [`Response::file_in`]).
//!
//! ## Errors, error handlers and hooks
//! [`abort`]`(404)` or [`HttpError::new`]`(409, "taken")` returned as an
//! error becomes an error page; [`App::error_handler`] renders the errors of
//! one status your way. [`App::before_request`] hooks run before the handler
//! and may answer early (a login check); [`App::after_request`] hooks may
//! change every response (security headers).
//!
//! ## State
//! [`App::with_state`] shares a value with every handler, found by type
//! with [`Request::state`]: a database pool, a configuration, a counter.
//!
//! ## Links: `url_for`
//! Name a route (`app.get(..).name("user")`) and build its URL with
//! [`Request::url_for`]`("user", &[("id", &7)])`. SCRIPT_NAME is put in
//! front, so an app mounted under `/api` links to `/api/users/7`.
//!
//! ## Blueprints and mounting
//! A [`Blueprint`] groups routes under a prefix, with their own hooks, and
//! is added with [`App::register`]. [`App::mount`] serves any other
//! [`Application`](gateway_spec::Application) (a raw closure app, another
//! `App`) under a prefix, shifting SCRIPT_NAME and PATH_INFO as PEP 3333
//! says.
//!
//! ## Sessions
//! [`App::with_sessions`]`(`[`SessionConfig::new`]`(secret))` turns on
//! Flask-style signed-cookie sessions: [`Request::session`] gives a
//! [`Session`] whose changes are saved in an HMAC-SHA256-signed, expiring
//! cookie. A tampered or expired cookie is ignored.
//!
//! ## Panics in handlers
//! The framework does not catch them: the panic reaches the server, whose
//! job is to answer 500 and keep serving (gateway-server does).
//!
//! # How `App` meets the gateway
//! [`App`]'s [`call`](gateway_spec::Application::call) takes two visible
//! steps, as bottle's `_handle` and `_cast`: [`App::dispatch`] (route, run
//! hooks and handler, render errors) produces a [`Response`];
//! [`App::finish`] turns it into a status line and headers for
//! `start_response` and a [`Body`](gateway_spec::Body). Both are public, so
//! an app can be tested step by step:
//!
//! ```
//! use gateway_spec::Environ;
//! use mini_framework::{App, Request};
//! let mut app = App::new();
//! app.get("/users/<id:int>", |req: &Request| format!("user {}", req.param_str("id").unwrap_or("?")));
//! let mut environ = Environ::for_test();
//! environ.set("PATH_INFO", "/users/7");
//! let mut request = app.request(environ);
//! let response = app.dispatch(&mut request);
//! assert_eq!(response.body_bytes(), Some(&b"user 7"[..]));
//! ```
//!
//! # Coming from Flask or bottle
//!
//! | Flask / bottle | here |
//! |---|---|
//! | `@app.route("/u/<int:id>")` / `@get("/u/<id:int>")` | `app.get("/u/<id:int>", handler)` |
//! | `request.args`, `request.form`, `request.files` | `req.query()`, `req.form()?`, `req.files()?` |
//! | `request.get_json()` | `req.json::<T>()?` |
//! | `abort(404)` | `return Err(abort(404))` |
//! | `@app.errorhandler(404)` / `@error(404)` | `app.error_handler(404, handler)` |
//! | `@app.before_request`, `@app.after_request` | `app.before_request(..)`, `app.after_request(..)` |
//! | `url_for("user", id=7)` | `req.url_for("user", &[("id", &7)])?` |
//! | `Blueprint("admin", __name__, url_prefix="/admin")` | `Blueprint::new("admin", "/admin")` |
//! | `app.mount("/legacy", wsgi_app)` | `app.mount("/legacy", any_application)` |
//! | `session["user"] = "ada"` | `req.session()?.insert("user", "ada")?` |
//! | `g.user = ...` | `req.extensions_mut().insert(user)` in a before-hook |
//! | `app.config["MAX_CONTENT_LENGTH"]` | `App::with_limits(Limits { .. })` |
//!
//! # Reading the code
//! In the order a request meets it: `app.rs` (the `Application`
//! implementation), `dispatch.rs`, `router.rs` and `pattern.rs` (routing),
//! `request.rs` with `body.rs`, `form.rs`, `multipart.rs`, `cookies.rs` and
//! `session.rs` (reading the request), `into_response.rs` and `response.rs`
//! (what handlers return), `finish.rs` (back to the gateway). `error.rs`
//! holds the error types; `blueprint.rs` and `mount.rs` the ways to compose
//! apps.

mod app;
mod blueprint;
mod body;
mod cookies;
mod dispatch;
mod error;
mod finish;
mod form;
mod handler;
mod into_response;
mod media_type;
mod mount;
mod multidict;
mod multipart;
mod pattern;
mod request;
mod response;
mod router;
mod session;
mod status;
mod url;

pub use app::App;
pub use blueprint::Blueprint;
pub use body::Limits;
pub use cookies::{Cookie, SameSite};
pub use error::{abort, HttpError, RequestError, RouteError, UrlError};
pub use into_response::{Html, IntoResponse, Json};
pub use multidict::MultiDict;
pub use multipart::FilePart;
pub use request::Request;
pub use response::{redirect, Redirect, Response};
pub use router::{RouteRef, TrailingSlash};
pub use session::{Session, SessionConfig, MIN_SECRET_BYTES};
