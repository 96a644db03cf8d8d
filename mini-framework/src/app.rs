//! [`App`]: routes, hooks, error handlers and settings, and the
//! [`Application`] implementation that runs them in two visible steps:
//! [`dispatch`](App::dispatch) (in `dispatch.rs`) and
//! [`finish`](App::finish) (in `finish.rs`), as bottle's `_handle` and
//! `_cast`.

use std::collections::HashMap;
use std::fmt::{self, Display};
use std::sync::Arc;

use gateway_spec::{AppError, Application, Body, Environ, Extensions, StartResponse};

use crate::blueprint::Blueprint;
use crate::body::Limits;
use crate::error::{HttpError, RouteError, UrlError};
use crate::handler::{self, AfterHook, BeforeHook, ErrorHandler};
use crate::into_response::IntoResponse;
use crate::mount::Mount;
use crate::request::Request;
use crate::response::Response;
use crate::router::{RouteRef, Router, TrailingSlash};
use crate::session::{SessionConfig, MIN_SECRET_BYTES};

/// A web application: routes and what surrounds them. It implements
/// [`Application`], so any server of the gateway contract runs it.
///
/// ```
/// use mini_framework::{App, Request};
/// let mut app = App::new();
/// app.get("/", |_req: &Request| "Hello, world!");
/// gateway_spec::assert_application(&app);
/// ```
///
/// Set it up (`&mut self` methods, or the `with_*` builders), then hand it
/// to a server, which shares it between threads: `App` is
/// `Send + Sync + 'static`, and `Arc<App>` is an `Application` too.
pub struct App {
    /// What requests can see: routes, state, limits, session settings.
    pub(crate) shared: Arc<Shared>,
    pub(crate) mounts: Vec<Mount>,
    pub(crate) before: Vec<BeforeHook>,
    pub(crate) after: Vec<AfterHook>,
    pub(crate) error_handlers: HashMap<u16, ErrorHandler>,
    pub(crate) trailing_slash: TrailingSlash,
}

/// The part of an app each [`Request`] holds on to.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) router: Router,
    pub(crate) state: Extensions,
    pub(crate) limits: Limits,
    pub(crate) sessions: Option<SessionConfig>,
}

impl App {
    /// An app with no routes, default [`Limits`], trailing slashes
    /// redirected and no sessions.
    pub fn new() -> App {
        App {
            shared: Arc::new(Shared::default()),
            mounts: Vec::new(),
            before: Vec::new(),
            after: Vec::new(),
            error_handlers: HashMap::new(),
            trailing_slash: TrailingSlash::default(),
        }
    }

    fn shared_mut(&mut self) -> &mut Shared {
        // Requests hold the Arc only while the app handles them, which needs
        // `&self`; `&mut self` here proves none is running.
        Arc::get_mut(&mut self.shared)
            .expect("an App cannot be changed while a Request made by App::request is alive")
    }

    // ----- Settings -------------------------------------------------------------

    /// Share `state` with every handler: `req.state::<T>()`. Call it once
    /// per type (a database pool, a config struct, an `AtomicU64` counter...);
    /// a second value of the same type replaces the first.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use mini_framework::{App, HttpError, Request};
    /// let mut app = App::new().with_state(AtomicU64::new(0));
    /// app.get("/hits", |req: &Request| -> Result<String, HttpError> {
    ///     let hits = req.state::<AtomicU64>()?.fetch_add(1, Ordering::Relaxed) + 1;
    ///     Ok(format!("{hits} hits"))
    /// });
    /// ```
    pub fn with_state<T: Send + Sync + 'static>(mut self, state: T) -> App {
        self.shared_mut().state.insert(state);
        self
    }

    /// Change the body, form and multipart limits.
    pub fn with_limits(mut self, limits: Limits) -> App {
        self.shared_mut().limits = limits;
        self
    }

    /// Choose what happens to `/path/` when the route is `/path`, and back.
    pub fn with_trailing_slash(mut self, policy: TrailingSlash) -> App {
        self.trailing_slash = policy;
        self
    }

    /// Turn on signed-cookie sessions (`req.session()`).
    ///
    /// # Panics
    /// If the secret is shorter than 16 bytes: a short key makes every
    /// session forgeable, which is worth refusing at start-up.
    pub fn with_sessions(mut self, config: SessionConfig) -> App {
        assert!(
            config.secret.len() >= MIN_SECRET_BYTES,
            "the session secret is {} bytes; use at least {MIN_SECRET_BYTES} random bytes",
            config.secret.len()
        );
        self.shared_mut().sessions = Some(config);
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.shared.limits
    }

    // ----- Routes ---------------------------------------------------------------

    /// Add a route: `handler` answers `methods` on paths matching `pattern`.
    ///
    /// Patterns are matched against PATH_INFO: static text and parameters
    /// `<name>` (one segment), `<id:int>`, `<x:float>`, `<u:uuid>` and
    /// `<rest:path>` (the rest of the path, at the end). A parameter may have
    /// literal text around it within its segment (`/<name>.json`).
    ///
    /// # Panics
    /// If the pattern is malformed, a method is not a token, or a route with
    /// a shared method matches exactly the same paths; the message names the
    /// pattern. Use [`try_route`](App::try_route) to get the error instead.
    pub fn route<F, R>(&mut self, methods: &[&str], pattern: &str, handler: F) -> RouteRef<'_>
    where
        F: Fn(&Request) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        match self.try_route(methods, pattern, handler) {
            Ok(route) => route,
            Err(err) => panic!("{err}"),
        }
    }

    /// Add a route, or say why it cannot be added.
    ///
    /// # Errors
    /// [`RouteError`] for a malformed pattern, an invalid method or a conflict.
    pub fn try_route<F, R>(
        &mut self,
        methods: &[&str],
        pattern: &str,
        handler: F,
    ) -> Result<RouteRef<'_>, RouteError>
    where
        F: Fn(&Request) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        let router = &mut self.shared_mut().router;
        let id = router.add(methods, pattern, handler::handler(handler))?;
        Ok(RouteRef::in_router(router, id))
    }

    /// Add a GET route (HEAD is answered by it too, without the body).
    pub fn get<F, R>(&mut self, pattern: &str, handler: F) -> RouteRef<'_>
    where
        F: Fn(&Request) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.route(&["GET"], pattern, handler)
    }

    /// Add a POST route.
    pub fn post<F, R>(&mut self, pattern: &str, handler: F) -> RouteRef<'_>
    where
        F: Fn(&Request) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.route(&["POST"], pattern, handler)
    }

    /// Add a PUT route.
    pub fn put<F, R>(&mut self, pattern: &str, handler: F) -> RouteRef<'_>
    where
        F: Fn(&Request) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.route(&["PUT"], pattern, handler)
    }

    /// Add a PATCH route.
    pub fn patch<F, R>(&mut self, pattern: &str, handler: F) -> RouteRef<'_>
    where
        F: Fn(&Request) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.route(&["PATCH"], pattern, handler)
    }

    /// Add a DELETE route.
    pub fn delete<F, R>(&mut self, pattern: &str, handler: F) -> RouteRef<'_>
    where
        F: Fn(&Request) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.route(&["DELETE"], pattern, handler)
    }

    /// Add a blueprint's routes, with its prefix, names and hooks.
    ///
    /// # Panics
    /// If one of its routes conflicts with a route of the app, or one of its
    /// names is taken. Use [`try_register`](App::try_register) to get the error.
    pub fn register(&mut self, blueprint: Blueprint) -> &mut App {
        if let Err(err) = self.try_register(blueprint) {
            panic!("{err}");
        }
        self
    }

    /// Add a blueprint's routes, or say why one cannot be added (routes
    /// before the failing one stay registered).
    ///
    /// # Errors
    /// [`RouteError`] for a conflict, an invalid method or a taken name.
    pub fn try_register(&mut self, blueprint: Blueprint) -> Result<&mut App, RouteError> {
        let router = &mut self.shared_mut().router;
        for route in blueprint.into_routes() {
            let methods: Vec<&str> = route.methods.iter().map(String::as_str).collect();
            let id = router.add(&methods, &route.pattern, route.handler)?;
            if let Some(name) = &route.name {
                router.name_route(id, name)?;
            }
        }
        Ok(self)
    }

    /// Serve `app` under `prefix`: a request for `/prefix/rest` reaches it
    /// with SCRIPT_NAME extended by `/prefix` and PATH_INFO `/rest`. Mounts
    /// are checked before routes, the longest prefix first.
    ///
    /// ```
    /// use gateway_spec::{AppError, Body, Environ, StartResponse};
    /// use mini_framework::App;
    /// let legacy = |environ: Environ, sr: StartResponse| -> Result<Body, AppError> {
    ///     sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
    ///     Ok(Body::from(format!("legacy sees {}", environ.path_info())))
    /// };
    /// let mut app = App::new();
    /// app.mount("/legacy", legacy);
    /// ```
    ///
    /// # Panics
    /// If `prefix` is not `/segment[/segment...]`.
    pub fn mount(&mut self, prefix: &str, app: impl Application) -> &mut App {
        if let Err(err) = self.try_mount(prefix, app) {
            panic!("{err}");
        }
        self
    }

    /// Mount `app` under `prefix`, or say why the prefix is refused.
    ///
    /// # Errors
    /// [`RouteError::InvalidPrefix`].
    pub fn try_mount(
        &mut self,
        prefix: &str,
        app: impl Application,
    ) -> Result<&mut App, RouteError> {
        let mount = Mount::new(prefix, Box::new(app))?;
        self.mounts.push(mount);
        self.mounts
            .sort_by_key(|m| std::cmp::Reverse(m.prefix().len()));
        Ok(self)
    }

    // ----- Hooks and error handlers -----------------------------------------------

    /// Run `hook` before every handler (after routing, so
    /// [`Request::route_name`] is known). Returning `Some(response)` answers
    /// the request without calling the handler: a login check, a
    /// maintenance page. Hooks run in the order added; the first `Some` wins.
    ///
    /// ```
    /// use mini_framework::{abort, App, Request};
    /// let mut app = App::new();
    /// app.before_request(|req: &mut Request| {
    ///     req.header("X-Api-Key").is_none().then(|| abort(401).into())
    /// });
    /// ```
    pub fn before_request<F>(&mut self, hook: F) -> &mut App
    where
        F: Fn(&mut Request) -> Option<Response> + Send + Sync + 'static,
    {
        self.before.push(Arc::new(hook));
        self
    }

    /// Run `hook` on every response (errors and early answers included)
    /// before it is sent; it may change anything.
    ///
    /// ```
    /// use mini_framework::{App, Request, Response};
    /// let mut app = App::new();
    /// app.after_request(|_req: &Request, response: &mut Response| {
    ///     response.set_header("X-Frame-Options", "DENY");
    /// });
    /// ```
    pub fn after_request<F>(&mut self, hook: F) -> &mut App
    where
        F: Fn(&Request, &mut Response) + Send + Sync + 'static,
    {
        self.after.push(Arc::new(hook));
        self
    }

    /// Render errors of `status` with `handler` (bottle's `@error(404)`,
    /// Flask's `errorhandler`). It applies to [`HttpError`]s: `abort`, the
    /// router's 404 and 405, request errors such as bad JSON, and any error a
    /// handler returns; not to a response a handler built with that status
    /// itself. The page keeps the error's status unless the handler sets
    /// another one, and the error's headers (such as `Allow`).
    ///
    /// ```
    /// use mini_framework::{App, HttpError, Json, Request};
    /// let mut app = App::new();
    /// app.error_handler(404, |req: &Request, _err: &HttpError| {
    ///     Json(serde_json::json!({"error": "not found", "path": req.path()}))
    /// });
    /// ```
    pub fn error_handler<F, R>(&mut self, status: u16, handler: F) -> &mut App
    where
        F: Fn(&Request, &HttpError) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.error_handlers
            .insert(status, handler::error_handler(handler));
        self
    }

    // ----- URLs and requests ----------------------------------------------------

    /// The path of the route named `name`, relative to the app's root (no
    /// SCRIPT_NAME: inside a handler use [`Request::url_for`]).
    ///
    /// # Errors
    /// [`UrlError`] for an unknown name, a missing value, or a value the
    /// parameter's converter refuses.
    pub fn url_for(&self, name: &str, values: &[(&str, &dyn Display)]) -> Result<String, UrlError> {
        self.shared.router.url_path(name, values)
    }

    /// A [`Request`] over `environ` for this app: what
    /// [`call`](Application::call) builds before [`dispatch`](App::dispatch).
    /// Useful to test an app step by step without a server.
    pub fn request(&self, environ: Environ) -> Request {
        Request::new(environ, Arc::clone(&self.shared))
    }
}

impl Default for App {
    fn default() -> App {
        App::new()
    }
}

/// The gateway seam: route and run (`dispatch`), then turn the result into
/// `start_response` and a body (`finish`). Mounted apps are called directly.
impl Application for App {
    fn call(&self, environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        if let Some(mount) = self.mounts.iter().find(|m| m.takes(environ.path_info())) {
            return mount.call(environ, start_response);
        }
        let mut request = self.request(environ);
        let response = self.dispatch(&mut request);
        self.finish(&mut request, response, start_response)
    }
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut statuses: Vec<&u16> = self.error_handlers.keys().collect();
        statuses.sort_unstable();
        f.debug_struct("App")
            .field("routes", &self.shared.router)
            .field(
                "mounts",
                &self.mounts.iter().map(Mount::prefix).collect::<Vec<_>>(),
            )
            .field("before_request", &self.before.len())
            .field("after_request", &self.after.len())
            .field("error_handlers", &statuses)
            .field("trailing_slash", &self.trailing_slash)
            .field("limits", &self.shared.limits)
            .field("sessions", &self.shared.sessions)
            .finish()
    }
}
