//! `Mount`: several applications under path prefixes, like werkzeug's
//! `DispatcherMiddleware` and Rack's `URLMap`.

use std::fmt;
use std::sync::Arc;

use gateway_spec::{AppError, Application, Body, Environ, StartResponse};

use crate::layer::Layer;

/// The mounted applications, by prefix.
///
/// ```
/// use gateway_spec::{AppError, Body, Environ, StartResponse};
/// use middleware::{ApplicationExt, MountLayer};
///
/// fn api(_env: Environ, sr: StartResponse) -> Result<Body, AppError> {
///     sr.call("200 OK", vec![("Content-Type".into(), "application/json".into())])?;
///     Ok(Body::from("[]"))
/// }
/// fn site(_env: Environ, sr: StartResponse) -> Result<Body, AppError> {
///     sr.call("200 OK", vec![("Content-Type".into(), "text/html".into())])?;
///     Ok(Body::from("<h1>home</h1>"))
/// }
/// // /api/... goes to `api`; everything else to `site`.
/// let app = site.wrap(MountLayer::new().at("/api", api));
/// # gateway_spec::assert_application(&app);
/// ```
#[derive(Clone, Default)]
pub struct MountLayer {
    /// Longest prefix first, so the first match is the longest.
    mounts: Vec<(String, Arc<dyn Application>)>,
}

impl MountLayer {
    /// No mounts yet.
    pub fn new() -> MountLayer {
        MountLayer::default()
    }

    /// Mount `app` at `prefix` (like `/api`; a trailing `/` is ignored).
    ///
    /// # Panics
    /// When `prefix` does not start with `/`, is the root itself (use the
    /// fallback application for that) or holds `?` or `#`: a mistake in the
    /// program, not something a request can cause.
    pub fn at(mut self, prefix: &str, app: impl Application) -> MountLayer {
        let prefix = prefix.trim_end_matches('/');
        assert!(
            prefix.starts_with('/') && !prefix.contains(['?', '#']),
            "a mount prefix must be a path like \"/api\", got {prefix:?}"
        );
        self.mounts.retain(|(p, _)| p != prefix);
        self.mounts.push((prefix.to_owned(), Arc::new(app)));
        self.mounts
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        self
    }

    /// The application and the rest of the path for `path_info`.
    fn route<'p>(&self, path_info: &'p str) -> Option<(&str, &Arc<dyn Application>, &'p str)> {
        self.mounts.iter().find_map(|(prefix, app)| {
            let rest = path_info.strip_prefix(prefix.as_str())?;
            (rest.is_empty() || rest.starts_with('/')).then_some((prefix.as_str(), app, rest))
        })
    }
}

impl fmt::Debug for MountLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefixes: Vec<&str> = self.mounts.iter().map(|(p, _)| p.as_str()).collect();
        f.debug_struct("MountLayer")
            .field("prefixes", &prefixes)
            .finish()
    }
}

/// A dispatcher: mounted applications, and a fallback for every other path.
///
/// A request goes to the application mounted at the longest prefix that
/// matches `PATH_INFO` on a segment boundary: `/api` takes `/api` and
/// `/api/items`, never `/apiary`. The prefix moves from `PATH_INFO` to the
/// end of `SCRIPT_NAME` (PEP 3333 rule 13), so the mounted application sees
/// paths relative to where it is mounted and can still build full URLs.
/// A request for the prefix itself (`/api`) arrives with an empty
/// `PATH_INFO`. Requests no prefix matches go to the fallback application.
#[derive(Debug)]
pub struct Mount<A> {
    fallback: A,
    layer: MountLayer,
}

impl<A: Application> Mount<A> {
    /// Dispatch to the applications in `layer`, and to `fallback` otherwise.
    pub fn new(fallback: A, layer: MountLayer) -> Mount<A> {
        Mount { fallback, layer }
    }

    /// The fallback application.
    pub fn get_ref(&self) -> &A {
        &self.fallback
    }

    /// Unwrap, giving the fallback application back.
    pub fn into_inner(self) -> A {
        self.fallback
    }
}

impl<A: Application> Application for Mount<A> {
    fn call(&self, mut environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        let path_info = environ.path_info().to_owned();
        let Some((prefix, app, rest)) = self.layer.route(&path_info) else {
            return self.fallback.call(environ, start_response);
        };
        let script_name = format!("{}{}", environ.script_name(), prefix);
        environ.set("SCRIPT_NAME", script_name);
        environ.set("PATH_INFO", rest.to_owned());
        app.call(environ, start_response)
    }
}

impl<A: Application> Layer<A> for MountLayer {
    type Wrapped = Mount<A>;

    fn layer(self, inner: A) -> Mount<A> {
        Mount::new(inner, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{get, run};

    /// An application that says its name and the paths it was given.
    fn named(name: &'static str) -> impl Application {
        move |environ: Environ, sr: StartResponse| -> Result<Body, AppError> {
            let text = format!(
                "{name} {:?} {:?}",
                environ.script_name(),
                environ.path_info()
            );
            sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
            Ok(Body::from(text))
        }
    }

    fn dispatcher() -> Mount<impl Application> {
        Mount::new(
            named("site"),
            MountLayer::new()
                .at("/api", named("api"))
                .at("/api/v2/", named("v2"))
                .at("/static", named("static")),
        )
    }

    fn answer(path: &str) -> String {
        run(&dispatcher(), get(path)).text()
    }

    #[test]
    fn prefixes_move_from_path_info_to_script_name() {
        assert_eq!(answer("/api/items"), r#"api "/api" "/items""#);
        assert_eq!(answer("/static/a/b.css"), r#"static "/static" "/a/b.css""#);
    }

    #[test]
    fn the_longest_prefix_wins() {
        assert_eq!(answer("/api/v2/items"), r#"v2 "/api/v2" "/items""#);
        assert_eq!(answer("/api/v3"), r#"api "/api" "/v3""#);
    }

    #[test]
    fn prefixes_match_whole_segments_only() {
        assert_eq!(answer("/apiary"), r#"site "" "/apiary""#);
        assert_eq!(answer("/api"), r#"api "/api" """#);
        assert_eq!(answer("/api/"), r#"api "/api" "/""#);
        assert_eq!(answer("/"), r#"site "" "/""#);
    }

    #[test]
    fn mounts_nest_under_an_existing_script_name() {
        let mut environ = get("/api/items");
        environ.set("SCRIPT_NAME", "/shop");
        assert_eq!(
            run(&dispatcher(), environ).text(),
            r#"api "/shop/api" "/items""#
        );
    }

    #[test]
    #[should_panic(expected = "a mount prefix must be a path")]
    fn a_root_prefix_is_a_programming_error() {
        let _ = MountLayer::new().at("/", named("x"));
    }
}
