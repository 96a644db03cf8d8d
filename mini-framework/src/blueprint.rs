//! [`Blueprint`]: a group of routes under a URL prefix, with its own hooks,
//! registered into an [`App`](crate::App) later (Flask's blueprints).

use std::fmt;
use std::sync::Arc;

use crate::error::RouteError;
use crate::handler::{self, AfterHook, BeforeHook, Handler};
use crate::into_response::IntoResponse;
use crate::pattern::Pattern;
use crate::request::Request;
use crate::response::Response;
use crate::router::RouteRef;

/// Routes that belong together, such as an admin area, written apart from
/// the app and registered with [`App::register`](crate::App::register).
///
/// Patterns get the prefix in front, route names get the blueprint's name
/// and a dot (`"admin.index"`), and the blueprint's before/after hooks run
/// only for its own routes.
///
/// ```
/// use mini_framework::{abort, App, Blueprint, Request};
///
/// let mut admin = Blueprint::new("admin", "/admin");
/// admin.before_request(|req: &mut Request| {
///     (req.remote_user().is_none()).then(|| abort(401).into())
/// });
/// admin.get("/", |_req: &Request| "dashboard").name("index");
/// admin.get("/users/<id:int>", |_req: &Request| "a user").name("user");
///
/// let mut app = App::new();
/// app.register(admin);
/// assert_eq!(app.url_for("admin.user", &[("id", &3)]).unwrap(), "/admin/users/3");
/// ```
pub struct Blueprint {
    name: String,
    prefix: String,
    routes: Vec<PendingRoute>,
    before: Vec<BeforeHook>,
    after: Vec<AfterHook>,
}

/// A route waiting for its blueprint to be registered.
pub(crate) struct PendingRoute {
    pub(crate) methods: Vec<String>,
    pub(crate) pattern: String,
    pub(crate) handler: Handler,
    pub(crate) name: Option<String>,
}

impl Blueprint {
    /// A blueprint called `name` whose routes live under `prefix` (`""` for
    /// none; a trailing slash is ignored).
    pub fn new(name: &str, prefix: &str) -> Blueprint {
        Blueprint {
            name: name.to_owned(),
            prefix: prefix.trim_end_matches('/').to_owned(),
            routes: Vec::new(),
            before: Vec::new(),
            after: Vec::new(),
        }
    }

    /// Add a route for `methods`; see [`App::route`](crate::App::route).
    ///
    /// # Panics
    /// If the pattern is malformed (the message names it). Conflicts with
    /// other routes are found when the blueprint is registered.
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

    /// Add a route, or say why the pattern is malformed.
    ///
    /// # Errors
    /// [`RouteError::InvalidPattern`] for the pattern, or for the pattern
    /// with the prefix in front.
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
        Pattern::parse(pattern)?;
        let full = format!("{}{pattern}", self.prefix);
        Pattern::parse(&full)?;
        self.routes.push(PendingRoute {
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            pattern: full,
            handler: handler::handler(handler),
            name: None,
        });
        let added = self.routes.len() - 1;
        Ok(RouteRef::pending(&mut self.routes[added].name))
    }

    /// Add a GET route (HEAD is answered by it too).
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

    /// Run `hook` before each of this blueprint's handlers; a `Some`
    /// response answers early. See [`App::before_request`](crate::App::before_request).
    pub fn before_request<F>(&mut self, hook: F) -> &mut Blueprint
    where
        F: Fn(&mut Request) -> Option<Response> + Send + Sync + 'static,
    {
        self.before.push(Arc::new(hook));
        self
    }

    /// Run `hook` on each response of this blueprint's routes.
    pub fn after_request<F>(&mut self, hook: F) -> &mut Blueprint
    where
        F: Fn(&Request, &mut Response) + Send + Sync + 'static,
    {
        self.after.push(Arc::new(hook));
        self
    }

    /// The routes, with hooks wrapped around their handlers and full names.
    pub(crate) fn into_routes(self) -> Vec<PendingRoute> {
        let before: Arc<[BeforeHook]> = self.before.into();
        let after: Arc<[AfterHook]> = self.after.into();
        let name = self.name;
        self.routes
            .into_iter()
            .map(|route| PendingRoute {
                handler: handler::with_hooks(
                    route.handler,
                    Arc::clone(&before),
                    Arc::clone(&after),
                ),
                name: route.name.map(|n| format!("{name}.{n}")),
                ..route
            })
            .collect()
    }
}

impl fmt::Debug for Blueprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blueprint")
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field(
                "routes",
                &self.routes.iter().map(|r| &r.pattern).collect::<Vec<_>>(),
            )
            .field("before", &self.before.len())
            .field("after", &self.after.len())
            .finish()
    }
}
