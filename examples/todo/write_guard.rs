//! Reads open, writes behind a bearer token.
//!
//! `BearerAuth` guards a whole application: every request without the
//! token gets its 401. The todo app wants less: anyone may read, only the
//! token's holder may change. Three ways to get there were weighed:
//!
//! - a `before_request` hook in the app, checking `Authorization` itself.
//!   It would write RFC 6750 again (the challenge, `invalid_token`, the
//!   `b64token` syntax), which the middleware already gets right;
//! - two apps, one with the read routes and one with the write routes
//!   behind `BearerAuth`. Then neither route table is whole, and the
//!   router's 405 would name the wrong methods in `Allow`;
//! - (chosen) one app reached through two doors. Requests with a safe
//!   method (GET, HEAD, OPTIONS: RFC 9110 section 9.2.1, "read-only")
//!   reach the app directly; every other method goes through `BearerAuth`
//!   first. The middleware does the authentication, the single route table
//!   does the routing, and a method the app does not route (PUT) is not a
//!   way around the token.
//!
//! A consequence worth knowing: without the token, a write to a path the
//! app would answer 404 or 405 gets 401 instead. The client learns nothing
//! about the routes until it authenticates, which is what the token is for.

use std::sync::Arc;

use gateway_spec::{AppError, Application, Body, Environ, StartResponse};
use middleware::{ApplicationExt, BearerAuth, BearerAuthLayer};

/// The name `REMOTE_USER` gets for the holder of the token.
const WRITER: &str = "todo-writer";

/// An application whose unsafe methods need a bearer token.
#[derive(Debug)]
pub(crate) struct WritesNeedToken<A> {
    open: Arc<A>,
    guarded: BearerAuth<Arc<A>>,
}

impl<A: Application> WritesNeedToken<A> {
    /// Let safe requests through to `app`; others only with `token`.
    pub(crate) fn new(app: A, token: &str) -> WritesNeedToken<A> {
        let open = Arc::new(app);
        let guarded = Arc::clone(&open).wrap(BearerAuthLayer::with_tokens(
            "todo",
            [(token.to_owned(), WRITER.to_owned())],
        ));
        WritesNeedToken { open, guarded }
    }
}

/// RFC 9110's safe methods: the ones a client expects to change nothing.
fn is_safe(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

impl<A: Application> Application for WritesNeedToken<A> {
    fn call(&self, environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        if is_safe(environ.request_method()) {
            self.open.call(environ, start_response)
        } else {
            self.guarded.call(environ, start_response)
        }
    }
}

/// `app` with its writes behind `token`, or open to all without one.
pub(crate) fn guard_writes(app: impl Application, token: Option<String>) -> Arc<dyn Application> {
    match token {
        Some(token) => Arc::new(WritesNeedToken::new(app, &token)),
        None => Arc::new(app),
    }
}

/// The value of `--token`, checked: a token no request could present would
/// lock every write out, and `--token` with no value would leave them open
/// while the user believes they are guarded. Both are refused at start-up.
pub(crate) fn token_from_args(args: &[String]) -> Result<Option<String>, String> {
    if !args.iter().any(|a| a == "--token") {
        return Ok(None);
    }
    match examples::flag_value(args, "--token") {
        Some(token) if is_b64token(&token) => Ok(Some(token)),
        Some(token) => Err(format!(
            "--token {token:?} cannot be sent as a bearer token: use letters, digits and -._~+/ (RFC 6750)"
        )),
        None => Err("--token needs a value".to_owned()),
    }
}

/// RFC 6750's `b64token`, the only tokens `Authorization: Bearer` can carry.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}
