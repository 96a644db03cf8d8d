//! `Cors`: Cross-Origin Resource Sharing (the Fetch standard's CORS protocol).

use gateway_spec::{
    AppError, Application, Body, Environ, Headers, HeadersExt, StartResponse, Text,
};

use crate::layer::Layer;
use crate::short_response::text_response;
use crate::vary::add_vary;

/// Which origins may read responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Any origin (`*`; with credentials allowed, the origin is echoed,
    /// since browsers refuse `*` then).
    Any,
    /// Exactly these origins, like `https://app.example.com` (scheme, host
    /// and port, no path; compared case-insensitively).
    List(Vec<String>),
}

/// The settings of [`Cors`].
///
/// ```
/// use middleware::{AllowedOrigins, CorsLayer};
/// let layer = CorsLayer {
///     allowed_origins: AllowedOrigins::List(vec!["https://app.example.com".into()]),
///     allowed_methods: vec!["GET".into(), "POST".into(), "DELETE".into()],
///     allowed_headers: vec!["Content-Type".into(), "Authorization".into()],
///     allow_credentials: true,
///     max_age: Some(600),
///     ..CorsLayer::default()
/// };
/// # let _ = layer;
/// ```
#[derive(Debug, Clone)]
pub struct CorsLayer {
    /// Origins allowed to read responses. Default: none (`List(vec![])`).
    pub allowed_origins: AllowedOrigins,
    /// Methods a preflight may ask for. Default: `GET`, `HEAD`, `POST`.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for; `"*"` allows any. Default: none.
    pub allowed_headers: Vec<String>,
    /// Response headers the page may read beyond the safelisted ones. Default: none.
    pub exposed_headers: Vec<String>,
    /// Whether the page may send cookies and read the response. Default: `false`.
    pub allow_credentials: bool,
    /// How long, in seconds, a browser may cache a preflight's answer.
    /// Default: `None` (the browser's default, 5 seconds).
    pub max_age: Option<u32>,
}

impl Default for CorsLayer {
    fn default() -> CorsLayer {
        CorsLayer {
            allowed_origins: AllowedOrigins::List(Vec::new()),
            allowed_methods: vec!["GET".into(), "HEAD".into(), "POST".into()],
            allowed_headers: Vec::new(),
            exposed_headers: Vec::new(),
            allow_credentials: false,
            max_age: None,
        }
    }
}

impl CorsLayer {
    /// Allow exactly `origins`, with the other settings at their defaults.
    pub fn allow_origins<S: Into<String>>(origins: impl IntoIterator<Item = S>) -> CorsLayer {
        CorsLayer {
            allowed_origins: AllowedOrigins::List(origins.into_iter().map(Into::into).collect()),
            ..CorsLayer::default()
        }
    }

    /// Any origin, the usual methods, any request header, no credentials:
    /// for a public, read-mostly API.
    pub fn permissive() -> CorsLayer {
        CorsLayer {
            allowed_origins: AllowedOrigins::Any,
            allowed_methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
                .map(String::from)
                .to_vec(),
            allowed_headers: vec!["*".into()],
            ..CorsLayer::default()
        }
    }

    fn allows_origin(&self, origin: &str) -> bool {
        match &self.allowed_origins {
            AllowedOrigins::Any => true,
            AllowedOrigins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }

    fn allows_method(&self, method: &str) -> bool {
        // Methods are case-sensitive (RFC 9110 section 9.1).
        self.allowed_methods.iter().any(|m| m == method)
    }

    fn allows_headers(&self, requested: &str) -> bool {
        let any = self.allowed_headers.iter().any(|h| h == "*");
        requested
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .all(|h| {
                any || self
                    .allowed_headers
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(h))
            })
    }

    /// `Access-Control-Allow-Origin` (and `-Credentials`) for `origin`.
    fn allow_origin_headers(&self, origin: &str, headers: &mut Headers) {
        let echo = self.allow_credentials || self.allowed_origins != AllowedOrigins::Any;
        let value: Text = if echo {
            origin.to_owned().into()
        } else {
            "*".into()
        };
        headers.set_header("Access-Control-Allow-Origin", value);
        if self.allow_credentials {
            headers.set_header("Access-Control-Allow-Credentials", "true");
        }
        if echo {
            add_vary(headers, "Origin");
        }
    }
}

/// An application reachable from other origins as its settings say.
///
/// A browser asks before a cross-origin request that is not "simple" (a
/// preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`),
/// and checks the `Access-Control-Allow-*` headers of every cross-origin
/// response. This layer:
///
/// - answers preflights itself: `204` with the allowed origin, methods,
///   headers, credentials and max-age when the origin, the method and every
///   requested header are allowed; `403` without CORS headers otherwise (the
///   browser then blocks the request). The application never sees a preflight.
/// - adds `Access-Control-Allow-Origin` (and `-Credentials`,
///   `-Expose-Headers`) to the responses of other requests from an allowed
///   origin; a request from another origin goes through untouched, and the
///   browser keeps its response from the page.
/// - adds `Vary: Origin` whenever the answer depends on the origin, so a
///   cache does not hand one origin's answer to another.
#[derive(Debug)]
pub struct Cors<A> {
    inner: A,
    layer: CorsLayer,
}

impl<A: Application> Cors<A> {
    /// Apply the CORS policy `layer` to `inner`.
    pub fn new(inner: A, layer: CorsLayer) -> Cors<A> {
        Cors { inner, layer }
    }

    /// The wrapped application.
    pub fn get_ref(&self) -> &A {
        &self.inner
    }

    /// Unwrap, giving the application back.
    pub fn into_inner(self) -> A {
        self.inner
    }

    fn preflight(
        &self,
        environ: &Environ,
        origin: &str,
        start_response: &StartResponse,
    ) -> Result<Body, AppError> {
        let layer = &self.layer;
        let method = environ
            .header("Access-Control-Request-Method")
            .unwrap_or("");
        let requested = environ
            .header("Access-Control-Request-Headers")
            .unwrap_or("");
        let mut headers = Headers::new();
        add_vary(&mut headers, "Origin");
        add_vary(&mut headers, "Access-Control-Request-Method");
        add_vary(&mut headers, "Access-Control-Request-Headers");
        let refusal = if !layer.allows_origin(origin) {
            Some("origin not allowed")
        } else if !layer.allows_method(method) {
            Some("method not allowed")
        } else if !layer.allows_headers(requested) {
            Some("request headers not allowed")
        } else {
            None
        };
        if let Some(reason) = refusal {
            let text = format!("403 Forbidden: CORS preflight refused, {reason}");
            return text_response(start_response, "OPTIONS", "403 Forbidden", headers, &text);
        }
        layer.allow_origin_headers(origin, &mut headers);
        headers.push((
            "Access-Control-Allow-Methods".into(),
            layer.allowed_methods.join(", ").into(),
        ));
        if !requested.trim().is_empty() {
            // Echo what was asked: it is all allowed, and "*" is not honoured
            // by browsers for credentialed requests.
            headers.push((
                "Access-Control-Allow-Headers".into(),
                requested.to_owned().into(),
            ));
        }
        if let Some(seconds) = layer.max_age {
            headers.push(("Access-Control-Max-Age".into(), seconds.to_string().into()));
        }
        start_response.call("204 No Content", headers)?;
        Ok(Body::empty())
    }
}

impl<A: Application> Application for Cors<A> {
    fn call(&self, environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        let Some(origin) = environ.header("Origin").map(str::to_owned) else {
            return self.inner.call(environ, start_response);
        };
        let is_preflight = environ.request_method() == "OPTIONS"
            && environ.header("Access-Control-Request-Method").is_some();
        if is_preflight {
            return self.preflight(&environ, &origin, &start_response);
        }
        let layer = self.layer.clone();
        let outer = start_response;
        let start_response = StartResponse::wrap(move |status, mut headers, exc_info| {
            if layer.allows_origin(&origin) {
                layer.allow_origin_headers(&origin, &mut headers);
                if !layer.exposed_headers.is_empty() {
                    headers.set_header(
                        "Access-Control-Expose-Headers",
                        layer.exposed_headers.join(", "),
                    );
                }
            } else if layer.allowed_origins != AllowedOrigins::Any {
                add_vary(&mut headers, "Origin");
            }
            outer.forward(status, headers, exc_info)
        });
        self.inner.call(environ, start_response)
    }
}

impl<A: Application> Layer<A> for CorsLayer {
    type Wrapped = Cors<A>;

    fn layer(self, inner: A) -> Cors<A> {
        Cors::new(inner, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{get, request, run, text_app, Response};

    const SITE: &str = "https://app.example.com";

    fn layer() -> CorsLayer {
        CorsLayer {
            allowed_methods: vec!["GET".into(), "PUT".into()],
            allowed_headers: vec!["Content-Type".into(), "X-Token".into()],
            exposed_headers: vec!["X-Total".into()],
            allow_credentials: true,
            max_age: Some(600),
            ..CorsLayer::allow_origins([SITE])
        }
    }

    fn preflight(layer: CorsLayer, origin: &str, method: &str, headers: Option<&str>) -> Response {
        let mut environ = request("OPTIONS", "/items");
        environ.set("HTTP_ORIGIN", origin.to_owned());
        environ.set("HTTP_ACCESS_CONTROL_REQUEST_METHOD", method.to_owned());
        if let Some(headers) = headers {
            environ.set("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", headers.to_owned());
        }
        run(&Cors::new(text_app("the app ran"), layer), environ)
    }

    fn from(origin: &str, layer: CorsLayer) -> Response {
        let mut environ = get("/items");
        environ.set("HTTP_ORIGIN", origin.to_owned());
        run(&Cors::new(text_app("items"), layer), environ)
    }

    #[test]
    fn an_allowed_preflight_is_answered_without_the_app() {
        let response = preflight(layer(), SITE, "PUT", Some("content-type, x-token"));
        assert_eq!(response.code(), Some(204));
        assert!(response.body().is_empty());
        assert_eq!(response.header("Access-Control-Allow-Origin"), Some(SITE));
        assert_eq!(
            response.header("Access-Control-Allow-Methods"),
            Some("GET, PUT")
        );
        assert_eq!(
            response.header("Access-Control-Allow-Headers"),
            Some("content-type, x-token")
        );
        assert_eq!(
            response.header("Access-Control-Allow-Credentials"),
            Some("true")
        );
        assert_eq!(response.header("Access-Control-Max-Age"), Some("600"));
        assert!(response.header("Vary").unwrap().contains("Origin"));
    }

    #[test]
    fn a_refused_preflight_gets_403_and_no_cors_headers() {
        for (origin, method, headers) in [
            ("https://evil.example", "PUT", None),
            (SITE, "DELETE", None),
            (SITE, "put", None),
            (SITE, "PUT", Some("X-Token, X-Other")),
        ] {
            let response = preflight(layer(), origin, method, headers);
            assert_eq!(response.code(), Some(403), "{origin} {method} {headers:?}");
            assert_eq!(response.header("Access-Control-Allow-Origin"), None);
            assert!(!response.text().contains("the app ran"));
        }
    }

    #[test]
    fn a_request_from_an_allowed_origin_gets_the_allow_headers() {
        let response = from(SITE, layer());
        assert_eq!(response.text(), "items");
        assert_eq!(response.header("Access-Control-Allow-Origin"), Some(SITE));
        assert_eq!(
            response.header("Access-Control-Allow-Credentials"),
            Some("true")
        );
        assert_eq!(
            response.header("Access-Control-Expose-Headers"),
            Some("X-Total")
        );
        assert_eq!(response.header("Vary"), Some("Origin"));
    }

    #[test]
    fn a_request_from_another_origin_gets_none() {
        let response = from("https://evil.example", layer());
        assert_eq!(
            response.text(),
            "items",
            "the app still answers; the browser hides it"
        );
        assert_eq!(response.header("Access-Control-Allow-Origin"), None);
        assert_eq!(response.header("Access-Control-Allow-Credentials"), None);
        assert_eq!(response.header("Vary"), Some("Origin"));
    }

    #[test]
    fn a_same_origin_request_is_untouched() {
        let response = run(&Cors::new(text_app("items"), layer()), get("/items"));
        assert_eq!(
            response.headers,
            vec![("Content-Type".into(), "text/plain".into())]
        );
    }

    #[test]
    fn any_origin_is_a_star_unless_credentials_are_allowed() {
        let response = from("https://anyone.example", CorsLayer::permissive());
        assert_eq!(response.header("Access-Control-Allow-Origin"), Some("*"));
        assert_eq!(response.header("Vary"), None);
        let with_credentials = CorsLayer {
            allow_credentials: true,
            ..CorsLayer::permissive()
        };
        let response = from("https://anyone.example", with_credentials);
        assert_eq!(
            response.header("Access-Control-Allow-Origin"),
            Some("https://anyone.example")
        );
        let response = preflight(
            CorsLayer::permissive(),
            "https://x.example",
            "PATCH",
            Some("X-Anything"),
        );
        assert_eq!(response.code(), Some(204));
        assert_eq!(
            response.header("Access-Control-Allow-Headers"),
            Some("X-Anything")
        );
    }
}
