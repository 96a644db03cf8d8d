//! `BearerAuth`: bearer tokens (RFC 6750) in front of an application.

use std::fmt;
use std::sync::Arc;

use gateway_spec::{AppError, Application, Body, Environ, StartResponse};

use crate::authorization::{clean_realm, constant_time_eq, presented, Presented};
use crate::layer::Layer;
use crate::short_response::text_response;

/// A function that names the user a token belongs to, or `None` for an
/// unknown token.
pub type BearerVerifier = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The settings of [`BearerAuth`]: a realm and a verifier.
///
/// ```
/// use middleware::BearerAuthLayer;
/// // A fixed list of (token, user), compared in constant time:
/// let layer = BearerAuthLayer::with_tokens("api", [("t0k3n-for-ci", "ci-bot")]);
/// // Or a check of your own:
/// let layer = BearerAuthLayer::new("api", |token| token.strip_prefix("user-").map(str::to_owned));
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct BearerAuthLayer {
    realm: String,
    verify: Arc<BearerVerifier>,
}

impl BearerAuthLayer {
    /// Accept the tokens `verify` names a user for. The realm is cleaned as
    /// for [`BasicAuthLayer::new`](crate::BasicAuthLayer::new).
    pub fn new(
        realm: &str,
        verify: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> BearerAuthLayer {
        BearerAuthLayer {
            realm: clean_realm(realm),
            verify: Arc::new(verify),
        }
    }

    /// Accept exactly these `(token, user)` pairs. Every token is compared
    /// in constant time and all are always compared.
    pub fn with_tokens<T, U>(
        realm: &str,
        tokens: impl IntoIterator<Item = (T, U)>,
    ) -> BearerAuthLayer
    where
        T: Into<String>,
        U: Into<String>,
    {
        let known: Vec<(String, String)> = tokens
            .into_iter()
            .map(|(token, user)| (token.into(), user.into()))
            .collect();
        BearerAuthLayer::new(realm, move |presented| {
            known.iter().fold(None, |found, (token, user)| {
                let matches = constant_time_eq(token.as_bytes(), presented.as_bytes());
                if matches && found.is_none() {
                    Some(user.clone())
                } else {
                    found
                }
            })
        })
    }

    fn challenge(&self, error: Option<&str>) -> String {
        match error {
            Some(error) => format!("Bearer realm=\"{}\", error=\"{error}\"", self.realm),
            None => format!("Bearer realm=\"{}\"", self.realm),
        }
    }
}

impl fmt::Debug for BearerAuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuthLayer")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// An application behind bearer-token authentication.
///
/// The layer reads `Authorization: Bearer <token>` and asks a verifier who
/// the token belongs to. A known token passes the request on with
/// `REMOTE_USER` (the name the verifier gave) and `AUTH_TYPE=Bearer`;
/// otherwise the layer answers as RFC 6750 section 3 says:
///
/// | request | answer |
/// |---|---|
/// | no `Authorization`, or another scheme | `401`, `WWW-Authenticate: Bearer realm="..."` |
/// | malformed token (not RFC 6750's `b64token`) | `400`, `WWW-Authenticate: Bearer realm="...", error="invalid_request"` |
/// | unknown token | `401`, `WWW-Authenticate: Bearer realm="...", error="invalid_token"` |
///
/// The inner application is never called for a refused request.
#[derive(Debug)]
pub struct BearerAuth<A> {
    inner: A,
    layer: BearerAuthLayer,
}

impl<A: Application> BearerAuth<A> {
    /// Put `inner` behind the check `layer` describes.
    pub fn new(inner: A, layer: BearerAuthLayer) -> BearerAuth<A> {
        BearerAuth { inner, layer }
    }

    /// The wrapped application.
    pub fn get_ref(&self) -> &A {
        &self.inner
    }

    /// Unwrap, giving the application back.
    pub fn into_inner(self) -> A {
        self.inner
    }
}

/// RFC 6750's `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

impl<A: Application> Application for BearerAuth<A> {
    fn call(&self, mut environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        let method = environ.request_method().to_owned();
        let refuse = |status: &str, error: Option<&str>, text: &str| {
            let challenge = vec![(
                "WWW-Authenticate".into(),
                self.layer.challenge(error).into(),
            )];
            text_response(&start_response, &method, status, challenge, text)
        };
        let token = match presented(environ.header("Authorization"), "Bearer") {
            Presented::Missing | Presented::OtherScheme => {
                return refuse(
                    "401 Unauthorized",
                    None,
                    "401 Unauthorized: a bearer token is required",
                )
            }
            Presented::Credentials(token) => token,
        };
        if !is_b64token(token) {
            return refuse(
                "400 Bad Request",
                Some("invalid_request"),
                "400 Bad Request: malformed bearer token",
            );
        }
        // An empty name could not be put in REMOTE_USER (PEP 3333 rule 18).
        let user = (self.layer.verify)(token).filter(|user| !user.is_empty());
        let Some(user) = user else {
            return refuse(
                "401 Unauthorized",
                Some("invalid_token"),
                "401 Unauthorized: unknown bearer token",
            );
        };
        environ.set("REMOTE_USER", user);
        environ.set("AUTH_TYPE", "Bearer");
        self.inner.call(environ, start_response)
    }
}

impl<A: Application> Layer<A> for BearerAuthLayer {
    type Wrapped = BearerAuth<A>;

    fn layer(self, inner: A) -> BearerAuth<A> {
        BearerAuth::new(inner, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{get, run};

    fn whoami(environ: Environ, sr: StartResponse) -> Result<Body, AppError> {
        let text = environ.remote_user().unwrap_or("nobody").to_owned();
        sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
        Ok(Body::from(text))
    }

    fn guarded() -> impl Application {
        BearerAuth::new(
            whoami,
            BearerAuthLayer::with_tokens("api", [("abc.DEF-123_~+/=", "ci"), ("second", "ops")]),
        )
    }

    fn with_authorization(value: &str) -> Environ {
        let mut environ = get("/");
        environ.set("HTTP_AUTHORIZATION", value.to_owned());
        environ
    }

    #[test]
    fn a_known_token_reaches_the_app_as_its_user() {
        let response = run(&guarded(), with_authorization("Bearer abc.DEF-123_~+/="));
        assert_eq!(
            (response.code(), response.text().as_str()),
            (Some(200), "ci")
        );
        assert_eq!(
            run(&guarded(), with_authorization("bearer second")).text(),
            "ops"
        );
    }

    #[test]
    fn a_missing_token_gets_the_bare_challenge() {
        for environ in [get("/"), with_authorization("Basic YTpi")] {
            let response = run(&guarded(), environ);
            assert_eq!(response.code(), Some(401));
            assert_eq!(
                response.header("WWW-Authenticate"),
                Some("Bearer realm=\"api\"")
            );
        }
    }

    #[test]
    fn an_unknown_token_gets_invalid_token() {
        for wrong in ["Bearer abc", "Bearer secondx", "Bearer SECOND"] {
            let response = run(&guarded(), with_authorization(wrong));
            assert_eq!(response.code(), Some(401), "{wrong}");
            assert_eq!(
                response.header("WWW-Authenticate"),
                Some("Bearer realm=\"api\", error=\"invalid_token\"")
            );
            assert!(!response.text().contains("ci"));
        }
    }

    #[test]
    fn a_malformed_token_gets_400_invalid_request() {
        for malformed in [
            "Bearer",
            "Bearer a b",
            "Bearer tok\"en",
            "Bearer =",
            "Bearer a,Bearer b",
        ] {
            let response = run(&guarded(), with_authorization(malformed));
            assert_eq!(response.code(), Some(400), "{malformed}");
            assert_eq!(
                response.header("WWW-Authenticate"),
                Some("Bearer realm=\"api\", error=\"invalid_request\"")
            );
        }
    }

    #[test]
    fn a_verifier_naming_nobody_is_a_refusal() {
        let app = BearerAuth::new(whoami, BearerAuthLayer::new("api", |_| Some(String::new())));
        assert_eq!(
            run(&app, with_authorization("Bearer anything")).code(),
            Some(401)
        );
    }
}
