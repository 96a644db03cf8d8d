//! The route table: which handler answers a method and a path, and what to
//! say when none does (404, 405 with `Allow`, automatic OPTIONS, or a 308 to
//! the canonical trailing-slash form).
//!
//! Routes are kept sorted by how specific their pattern is (static text
//! before parameters, `int` before `string`, ...), then by registration
//! order, and the first match wins; so registration order only matters
//! between equally specific patterns.

use std::fmt::{self, Display};

use crate::error::{RouteError, UrlError};
use crate::handler::Handler;
use crate::pattern::{Params, Pattern};

/// What to do when a path differs from a route only by a trailing slash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrailingSlash {
    /// Answer `308 Permanent Redirect` to the route's form (Flask's
    /// `strict_slashes` behaviour, in both directions). Default.
    #[default]
    Redirect,
    /// Serve the route under both forms, without redirecting.
    Ignore,
    /// Only the exact form matches; the other one is a 404.
    Strict,
}

/// One registered route.
pub(crate) struct Route {
    id: usize,
    methods: Vec<String>,
    pattern: Pattern,
    precedence: Vec<u8>,
    name: Option<String>,
    pub(crate) handler: Handler,
}

impl Route {
    /// The route's id, stable while the table is re-sorted.
    pub(crate) fn id(&self) -> usize {
        self.id
    }

    /// The pattern as written, e.g. `/users/<id:int>`.
    pub(crate) fn pattern(&self) -> &str {
        self.pattern.source()
    }

    /// The route's name, if it has one.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// HEAD is answered by a GET route (the body is dropped later).
    fn accepts(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
            || (method == "HEAD" && self.methods.iter().any(|m| m == "GET"))
    }
}

/// The outcome of routing one request.
pub(crate) enum Routing<'r> {
    /// A route takes it, with these parameters.
    Found(&'r Route, Params<'r>),
    /// No route for this method, but some for others: 405 with this `Allow`.
    MethodNotAllowed(String),
    /// An OPTIONS request nobody handles explicitly: answer with this `Allow`.
    Options(String),
    /// The path is served under another trailing-slash form: redirect there.
    Redirect(String),
    /// Nothing matches.
    NotFound,
}

/// All routes of an app, most specific first.
#[derive(Default)]
pub(crate) struct Router {
    routes: Vec<Route>,
    next_id: usize,
}

impl Router {
    /// Add a route; returns its id (for naming it afterwards).
    pub(crate) fn add(
        &mut self,
        methods: &[&str],
        pattern: &str,
        handler: Handler,
    ) -> Result<usize, RouteError> {
        let pattern = Pattern::parse(pattern)?;
        let methods = normalize_methods(methods, pattern.source())?;
        self.check_conflicts(&pattern, &methods)?;
        let id = self.next_id;
        self.next_id += 1;
        let precedence = pattern.precedence();
        let at = self
            .routes
            .partition_point(|r| (&r.precedence, r.id) <= (&precedence, id));
        self.routes.insert(
            at,
            Route {
                id,
                methods,
                pattern,
                precedence,
                name: None,
                handler,
            },
        );
        Ok(id)
    }

    fn check_conflicts(&self, pattern: &Pattern, methods: &[String]) -> Result<(), RouteError> {
        for existing in &self.routes {
            if !existing.pattern.same_shape(pattern) {
                continue;
            }
            if let Some(shared) = methods.iter().find(|m| existing.methods.contains(m)) {
                return Err(RouteError::Conflict {
                    pattern: pattern.source().to_owned(),
                    existing: existing.pattern.source().to_owned(),
                    method: shared.clone(),
                });
            }
        }
        Ok(())
    }

    /// Give route `id` a name for `url_for`.
    pub(crate) fn name_route(&mut self, id: usize, name: &str) -> Result<(), RouteError> {
        if let Some(existing) = self.routes.iter().find(|r| r.name() == Some(name)) {
            return Err(RouteError::DuplicateName {
                name: name.to_owned(),
                existing: existing.pattern().to_owned(),
            });
        }
        if let Some(route) = self.routes.iter_mut().find(|r| r.id == id) {
            route.name = Some(name.to_owned());
        }
        Ok(())
    }

    /// Route a request. `path` is PATH_INFO (decoded); an empty one is the
    /// app's root, `/`.
    pub(crate) fn route(&self, method: &str, path: &str, policy: TrailingSlash) -> Routing<'_> {
        let path = if path.is_empty() { "/" } else { path };
        let mut allowed: Vec<&str> = Vec::new();
        for route in &self.routes {
            let Some(params) = route.pattern.matches(path) else {
                continue;
            };
            if route.accepts(method) {
                return Routing::Found(route, params);
            }
            allowed.extend(route.methods.iter().map(String::as_str));
        }
        if !allowed.is_empty() {
            let allow = allow_header(allowed);
            return match method {
                "OPTIONS" => Routing::Options(allow),
                _ => Routing::MethodNotAllowed(allow),
            };
        }
        self.route_other_slash_form(method, path, policy)
    }

    fn route_other_slash_form(
        &self,
        method: &str,
        path: &str,
        policy: TrailingSlash,
    ) -> Routing<'_> {
        if policy == TrailingSlash::Strict || path == "/" {
            return Routing::NotFound;
        }
        let other = match path.strip_suffix('/') {
            Some(without) => without.to_owned(),
            None => format!("{path}/"),
        };
        match policy {
            TrailingSlash::Ignore => self.route(method, &other, TrailingSlash::Strict),
            _ if self
                .routes
                .iter()
                .any(|r| r.pattern.matches(&other).is_some()) =>
            {
                Routing::Redirect(other)
            }
            _ => Routing::NotFound,
        }
    }

    /// The path of the route called `name` with `values` filled in.
    pub(crate) fn url_path(
        &self,
        name: &str,
        values: &[(&str, &dyn Display)],
    ) -> Result<String, UrlError> {
        let route = self
            .routes
            .iter()
            .find(|r| r.name() == Some(name))
            .ok_or_else(|| UrlError::UnknownRoute {
                name: name.to_owned(),
            })?;
        route.pattern.build(name, values)
    }

    /// The route with `id`.
    pub(crate) fn by_id(&self, id: usize) -> Option<&Route> {
        self.routes.iter().find(|r| r.id == id)
    }

    /// How many routes there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.routes.len()
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|r| (&r.methods, r.pattern())))
            .finish()
    }
}

/// The route just added, to give it a name for `url_for`:
/// `app.get("/users/<id:int>", show_user).name("user")`.
pub struct RouteRef<'a> {
    target: NameTarget<'a>,
}

enum NameTarget<'a> {
    /// A route of an app: named in its router right away.
    Router(&'a mut Router, usize),
    /// A route of a blueprint: named when the blueprint is registered.
    Pending(&'a mut Option<String>),
}

impl<'a> RouteRef<'a> {
    pub(crate) fn in_router(router: &'a mut Router, id: usize) -> RouteRef<'a> {
        RouteRef {
            target: NameTarget::Router(router, id),
        }
    }

    pub(crate) fn pending(slot: &'a mut Option<String>) -> RouteRef<'a> {
        RouteRef {
            target: NameTarget::Pending(slot),
        }
    }

    /// Name the route (for a blueprint, the blueprint's name and a dot are
    /// put in front: `"admin.index"`).
    ///
    /// # Panics
    /// If another route of the app already has this name.
    pub fn name(self, name: &str) {
        if let Err(err) = self.try_name(name) {
            panic!("{err}");
        }
    }

    /// Name the route, or say why not.
    ///
    /// # Errors
    /// [`RouteError::DuplicateName`] if another route has this name.
    pub fn try_name(self, name: &str) -> Result<(), RouteError> {
        match self.target {
            NameTarget::Router(router, id) => router.name_route(id, name),
            NameTarget::Pending(slot) => {
                *slot = Some(name.to_owned());
                Ok(())
            }
        }
    }
}

impl fmt::Debug for RouteRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.target {
            NameTarget::Router(_, id) => format!("route #{id}"),
            NameTarget::Pending(_) => "blueprint route".to_owned(),
        };
        f.debug_struct("RouteRef").field("target", &kind).finish()
    }
}

fn normalize_methods(methods: &[&str], pattern: &str) -> Result<Vec<String>, RouteError> {
    let mut normalized = Vec::with_capacity(methods.len());
    for method in methods {
        if method.is_empty() || !method.bytes().all(gateway_spec::is_token_byte) {
            return Err(RouteError::InvalidMethod {
                method: (*method).to_owned(),
                pattern: pattern.to_owned(),
            });
        }
        let method = method.to_ascii_uppercase();
        if !normalized.contains(&method) {
            normalized.push(method);
        }
    }
    if normalized.is_empty() {
        return Err(RouteError::InvalidMethod {
            method: String::new(),
            pattern: pattern.to_owned(),
        });
    }
    Ok(normalized)
}

/// `GET, HEAD, OPTIONS, POST`: the methods that would work, with HEAD
/// wherever GET is and OPTIONS always (both are answered automatically).
fn allow_header(mut methods: Vec<&str>) -> String {
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods.push("OPTIONS");
    methods.sort_unstable();
    methods.dedup();
    methods.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::Response;
    use std::sync::Arc;

    fn handler(tag: &'static str) -> Handler {
        Arc::new(move |_req| Response::text(tag))
    }

    fn router(routes: &[(&[&str], &str)]) -> Router {
        let mut router = Router::default();
        for (methods, pattern) in routes {
            router.add(methods, pattern, handler("x")).unwrap();
        }
        router
    }

    fn found(router: &Router, method: &str, path: &str) -> Option<String> {
        match router.route(method, path, TrailingSlash::Redirect) {
            Routing::Found(route, _) => Some(route.pattern().to_owned()),
            _ => None,
        }
    }

    #[test]
    fn more_specific_routes_win_whatever_the_order() {
        let r = router(&[
            (&["GET"], "/u/<p:path>"),
            (&["GET"], "/u/<name>"),
            (&["GET"], "/u/<id:int>"),
            (&["GET"], "/u/me"),
        ]);
        assert_eq!(found(&r, "GET", "/u/me").as_deref(), Some("/u/me"));
        assert_eq!(found(&r, "GET", "/u/42").as_deref(), Some("/u/<id:int>"));
        assert_eq!(found(&r, "GET", "/u/bob").as_deref(), Some("/u/<name>"));
        assert_eq!(found(&r, "GET", "/u/a/b").as_deref(), Some("/u/<p:path>"));
    }

    #[test]
    fn method_mismatch_gives_405_with_allow() {
        let r = router(&[(&["GET"], "/items"), (&["POST"], "/items")]);
        match r.route("DELETE", "/items", TrailingSlash::Redirect) {
            Routing::MethodNotAllowed(allow) => assert_eq!(allow, "GET, HEAD, OPTIONS, POST"),
            _ => panic!("expected 405"),
        }
        match r.route("OPTIONS", "/items", TrailingSlash::Redirect) {
            Routing::Options(allow) => assert_eq!(allow, "GET, HEAD, OPTIONS, POST"),
            _ => panic!("expected automatic OPTIONS"),
        }
        assert!(matches!(
            r.route("GET", "/nothing", TrailingSlash::Redirect),
            Routing::NotFound
        ));
    }

    #[test]
    fn head_falls_back_to_get_but_an_explicit_head_route_wins() {
        let r = router(&[(&["GET"], "/a")]);
        assert_eq!(found(&r, "HEAD", "/a").as_deref(), Some("/a"));
        let mut r = Router::default();
        r.add(&["GET"], "/b", handler("get")).unwrap();
        r.add(&["HEAD"], "/b", handler("head")).unwrap();
        let Routing::Found(route, _) = r.route("HEAD", "/b", TrailingSlash::Redirect) else {
            panic!("expected a route");
        };
        assert_eq!(
            route.methods,
            ["GET"],
            "same specificity: first registered wins"
        );
    }

    #[test]
    fn trailing_slash_policies() {
        let r = router(&[(&["GET"], "/dir/"), (&["GET"], "/file")]);
        let redirect = |path| match r.route("GET", path, TrailingSlash::Redirect) {
            Routing::Redirect(to) => Some(to),
            _ => None,
        };
        assert_eq!(redirect("/dir").as_deref(), Some("/dir/"));
        assert_eq!(redirect("/file/").as_deref(), Some("/file"));
        assert_eq!(redirect("/other"), None);
        assert!(matches!(
            r.route("GET", "/dir", TrailingSlash::Ignore),
            Routing::Found(..)
        ));
        assert!(matches!(
            r.route("GET", "/dir", TrailingSlash::Strict),
            Routing::NotFound
        ));
    }

    #[test]
    fn conflicts_are_reported_with_both_patterns() {
        let mut r = router(&[(&["GET", "POST"], "/u/<id:int>")]);
        let err = r.add(&["post"], "/u/<uid:int>", handler("y")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "route \"/u/<uid:int>\" conflicts with \"/u/<id:int>\": both match the same paths for method POST"
        );
        r.add(&["PUT"], "/u/<uid:int>", handler("y")).unwrap();
        r.add(&["GET"], "/u/<name>", handler("y")).unwrap();
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn invalid_methods_and_duplicate_names_are_refused() {
        let mut r = Router::default();
        assert!(matches!(
            r.add(&["GE T"], "/", handler("x")),
            Err(RouteError::InvalidMethod { .. })
        ));
        assert!(r.add(&[], "/", handler("x")).is_err());
        let a = r.add(&["GET"], "/a", handler("x")).unwrap();
        let b = r.add(&["GET"], "/b", handler("x")).unwrap();
        r.name_route(a, "page").unwrap();
        let err = r.name_route(b, "page").unwrap_err();
        assert!(err.to_string().contains("\"/a\""));
    }

    #[test]
    fn url_path_builds_from_names() {
        let mut r = Router::default();
        let id = r.add(&["GET"], "/users/<id:int>", handler("x")).unwrap();
        r.name_route(id, "user").unwrap();
        assert_eq!(r.url_path("user", &[("id", &5)]).unwrap(), "/users/5");
        assert!(matches!(
            r.url_path("nobody", &[]),
            Err(UrlError::UnknownRoute { .. })
        ));
    }
}
