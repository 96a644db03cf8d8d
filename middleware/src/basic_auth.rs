//! `BasicAuth`: HTTP Basic authentication (RFC 7617) in front of an application.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use gateway_spec::{AppError, Application, Body, Environ, StartResponse};

use crate::authorization::{clean_realm, constant_time_eq, presented, Presented};
use crate::layer::Layer;
use crate::short_response::text_response;

/// A function that says whether a user name and password are right.
pub type BasicVerifier = dyn Fn(&str, &str) -> bool + Send + Sync;

/// The settings of [`BasicAuth`]: a realm and a verifier.
///
/// ```
/// use middleware::BasicAuthLayer;
/// // A fixed list, compared in constant time:
/// let layer = BasicAuthLayer::with_credentials("admin area", [("alice", "s3cret")]);
/// // Or any check of your own (a database, a password hash):
/// let layer = BasicAuthLayer::new("admin area", |user, password| user == "bob" && password.len() > 8);
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct BasicAuthLayer {
    realm: String,
    verify: Arc<BasicVerifier>,
}

impl BasicAuthLayer {
    /// Accept the credentials `verify` approves. The realm names the
    /// protected area in the browser's prompt (quotes, backslashes and
    /// non-ASCII characters are dropped from it).
    pub fn new(
        realm: &str,
        verify: impl Fn(&str, &str) -> bool + Send + Sync + 'static,
    ) -> BasicAuthLayer {
        BasicAuthLayer {
            realm: clean_realm(realm),
            verify: Arc::new(verify),
        }
    }

    /// Accept exactly these `(user, password)` pairs. Every pair is compared
    /// in constant time, and all of them are always compared, so response
    /// times tell nothing about which part was wrong.
    pub fn with_credentials<U, P>(
        realm: &str,
        credentials: impl IntoIterator<Item = (U, P)>,
    ) -> BasicAuthLayer
    where
        U: Into<String>,
        P: Into<String>,
    {
        let known: Vec<(String, String)> = credentials
            .into_iter()
            .map(|(user, password)| (user.into(), password.into()))
            .collect();
        BasicAuthLayer::new(realm, move |user, password| {
            known.iter().fold(false, |found, (u, p)| {
                let user_ok = constant_time_eq(u.as_bytes(), user.as_bytes());
                let password_ok = constant_time_eq(p.as_bytes(), password.as_bytes());
                found | (user_ok & password_ok)
            })
        })
    }

    fn challenge(&self) -> String {
        format!("Basic realm=\"{}\", charset=\"UTF-8\"", self.realm)
    }
}

impl fmt::Debug for BasicAuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuthLayer")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// An application behind HTTP Basic authentication.
///
/// The layer reads `Authorization: Basic <base64(user:password)>`, asks a
/// verifier, and either passes the request on with `REMOTE_USER` and
/// `AUTH_TYPE` set in the environ (CGI's names for "who is this"), or
/// answers on its own:
///
/// | request | answer |
/// |---|---|
/// | no `Authorization`, or another scheme | `401` with `WWW-Authenticate: Basic realm="..."` |
/// | malformed: not base64, not UTF-8, no `:`, control characters | `400 Bad Request` (like Rack's `Auth::Basic`: retrying the same bytes cannot help) |
/// | wrong user or password, or an empty user name | `401` with the challenge |
/// | accepted | the application, with `REMOTE_USER` set |
///
/// The inner application is never called for a refused request.
#[derive(Debug)]
pub struct BasicAuth<A> {
    inner: A,
    layer: BasicAuthLayer,
}

impl<A: Application> BasicAuth<A> {
    /// Put `inner` behind the check `layer` describes.
    pub fn new(inner: A, layer: BasicAuthLayer) -> BasicAuth<A> {
        BasicAuth { inner, layer }
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

/// Why credentials were not even worth checking.
#[derive(Debug, PartialEq, Eq)]
enum Decoded {
    Credentials { user: String, password: String },
    Malformed,
}

/// Decode `base64(user ":" password)`.
fn decode(credentials: &str) -> Decoded {
    let engine = base64::engine::general_purpose::STANDARD;
    let Ok(bytes) = engine.decode(credentials) else {
        return Decoded::Malformed;
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return Decoded::Malformed;
    };
    // A user name ends at the first colon (RFC 7617); the password may hold more.
    let Some((user, password)) = text.split_once(':') else {
        return Decoded::Malformed;
    };
    if text.chars().any(char::is_control) {
        return Decoded::Malformed;
    }
    Decoded::Credentials {
        user: user.to_owned(),
        password: password.to_owned(),
    }
}

impl<A: Application> Application for BasicAuth<A> {
    fn call(&self, mut environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        let method = environ.request_method().to_owned();
        let unauthorized = |start_response: &StartResponse| {
            let challenge = vec![("WWW-Authenticate".into(), self.layer.challenge().into())];
            text_response(
                start_response,
                &method,
                "401 Unauthorized",
                challenge,
                "401 Unauthorized: credentials required",
            )
        };
        let credentials = match presented(environ.header("Authorization"), "Basic") {
            Presented::Missing | Presented::OtherScheme => return unauthorized(&start_response),
            Presented::Credentials(credentials) => decode(credentials),
        };
        let (user, password) = match credentials {
            Decoded::Malformed => {
                return text_response(
                    &start_response,
                    &method,
                    "400 Bad Request",
                    vec![],
                    "400 Bad Request: malformed Basic Authorization header",
                )
            }
            Decoded::Credentials { user, password } => (user, password),
        };
        // An empty user could not be named in REMOTE_USER (PEP 3333 rule 18).
        if user.is_empty() || !(self.layer.verify)(&user, &password) {
            return unauthorized(&start_response);
        }
        environ.set("REMOTE_USER", user);
        environ.set("AUTH_TYPE", "Basic");
        self.inner.call(environ, start_response)
    }
}

impl<A: Application> Layer<A> for BasicAuthLayer {
    type Wrapped = BasicAuth<A>;

    fn layer(self, inner: A) -> BasicAuth<A> {
        BasicAuth::new(inner, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{get, request, run};

    /// An application that greets `REMOTE_USER`.
    fn whoami(environ: Environ, sr: StartResponse) -> Result<Body, AppError> {
        let text = format!(
            "{} via {}",
            environ.remote_user().unwrap_or("nobody"),
            environ.get("AUTH_TYPE").unwrap_or("-")
        );
        sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
        Ok(Body::from(text))
    }

    fn guarded() -> impl Application {
        BasicAuth::new(
            whoami,
            BasicAuthLayer::with_credentials(
                "staff \"only\"",
                [("alice", "s3cret:x"), ("bob", "hunter2")],
            ),
        )
    }

    fn with_authorization(value: &str) -> Environ {
        let mut environ = get("/");
        environ.set("HTTP_AUTHORIZATION", value.to_owned());
        environ
    }

    fn basic(user_password: &str) -> Environ {
        let encoded = base64::engine::general_purpose::STANDARD.encode(user_password);
        with_authorization(&format!("Basic {encoded}"))
    }

    #[test]
    fn right_credentials_reach_the_app_with_remote_user() {
        let response = run(&guarded(), basic("alice:s3cret:x"));
        assert_eq!(response.code(), Some(200));
        assert_eq!(response.text(), "alice via Basic");
        assert_eq!(
            run(&guarded(), basic("bob:hunter2")).text(),
            "bob via Basic"
        );
    }

    #[test]
    fn missing_credentials_get_the_challenge() {
        let response = run(&guarded(), get("/"));
        assert_eq!(response.code(), Some(401));
        assert_eq!(
            response.header("WWW-Authenticate"),
            Some("Basic realm=\"staff only\", charset=\"UTF-8\"")
        );
        let other_scheme = run(&guarded(), with_authorization("Bearer abc"));
        assert_eq!(other_scheme.code(), Some(401));
    }

    #[test]
    fn wrong_credentials_get_401_and_never_reach_the_app() {
        for wrong in [
            "alice:wrong",
            "alice:s3cret",
            "mallory:hunter2",
            "bob:",
            ":hunter2",
            "BOB:hunter2",
        ] {
            let response = run(&guarded(), basic(wrong));
            assert_eq!(response.code(), Some(401), "{wrong}");
            assert!(!response.text().contains("via"), "{wrong}");
        }
    }

    #[test]
    fn malformed_credentials_get_400() {
        let not_utf8 = base64::engine::general_purpose::STANDARD.encode([0xff, b':', b'x']);
        for malformed in [
            "Basic !!!not-base64!!!".to_owned(),
            "Basic".to_owned(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("no-colon")
            ),
            format!("Basic {not_utf8}"),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("eve\n:x")
            ),
            // Two headers joined by the server (PEP 3333 rule 16).
            "Basic YWxpY2U6czNjcmV0Ong=,Basic Ym9iOmh1bnRlcjI=".to_owned(),
        ] {
            let response = run(&guarded(), with_authorization(&malformed));
            assert_eq!(response.code(), Some(400), "{malformed}");
            assert_eq!(response.header("WWW-Authenticate"), None);
        }
    }

    #[test]
    fn a_custom_verifier_decides() {
        let app = BasicAuth::new(
            whoami,
            BasicAuthLayer::new("r", |user, password| user == password),
        );
        assert_eq!(run(&app, basic("same:same")).code(), Some(200));
        assert_eq!(run(&app, basic("same:other")).code(), Some(401));
    }

    #[test]
    fn a_head_refusal_has_no_body() {
        let response = run(&guarded(), request("HEAD", "/"));
        assert_eq!(response.code(), Some(401));
        assert!(response.body().is_empty());
    }
}
