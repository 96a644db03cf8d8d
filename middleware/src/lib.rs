//! Layers that wrap any gateway application: a middleware is an
//! [`Application`](gateway_spec::Application) that holds an `Application`.
//!
//! ```
//! use gateway_spec::{AppError, Application, Body, Environ, StartResponse};
//! use middleware::{AccessLogLayer, ApplicationExt, BasicAuthLayer, CatchPanicLayer, RequestIdLayer};
//!
//! fn hello(environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
//!     let user = environ.remote_user().unwrap_or("stranger").to_owned();
//!     start_response.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
//!     Ok(Body::from(format!("Hello, {user}!")))
//! }
//!
//! // Innermost first: each .wrap() puts a layer around everything above it.
//! let app = hello
//!     .wrap(BasicAuthLayer::with_credentials("members", [("alice", "s3cret")]))
//!     .wrap(CatchPanicLayer::default())
//!     .wrap(RequestIdLayer::default())
//!     .wrap(AccessLogLayer::default());
//!
//! // What a server does with it, in miniature:
//! let mut environ = Environ::for_test();
//! environ.set("HTTP_AUTHORIZATION", "Basic YWxpY2U6czNjcmV0"); // alice:s3cret
//! let (start_response, record) = StartResponse::new();
//! let body = app.call(environ, start_response)?;
//! let bytes = body.collect::<Result<Vec<_>, _>>()?.concat();
//! assert_eq!(bytes, b"Hello, alice!");
//! assert!(record.headers().unwrap().iter().any(|(name, _)| name == "X-Request-Id"));
//! # Ok::<(), AppError>(())
//! ```
//!
//! # How a layer works
//! Each layer is a struct generic over the application it wraps, `Foo<A>`,
//! with `Foo::new(inner, FooLayer)`, `get_ref()` and `into_inner()`. Its
//! settings are a plain `FooLayer` value with documented defaults, which
//! also implements [`Layer`], so [`ApplicationExt::wrap`] (on every
//! application) builds the same thing: `app.wrap(FooLayer::default())` is
//! `Foo::new(app, FooLayer::default())`. Two shapes differ slightly:
//! [`validator`]`(app)` is the short form of
//! `Validator::new(app, ValidatorLayer::default())` (Python's
//! `wsgiref.validate.validator(app)`), and [`Mount`]'s inner application is
//! the fallback for paths no prefix matches. A layer may:
//! - rewrite the environ before the inner application sees it (`ProxyFix`,
//!   `Mount`, `BasicAuth` setting `REMOTE_USER`);
//! - wrap `start_response` to read or change the status and headers
//!   (`RequestId`, `Cors`), with [`StartResponse::wrap`](gateway_spec::StartResponse::wrap)
//!   (the server's handle checks the headers once, at the end of the chain;
//!   a layer that holds them, as `Compression` does, checks them itself with
//!   [`validate_headers`](gateway_spec::validate_headers));
//! - wrap the body to count, transform or watch it (`AccessLog`,
//!   `Validator`), never buffering a streamed body: one chunk out for each
//!   chunk in (PEP 3333 rules 44-45);
//! - answer on its own without calling the inner application (`BasicAuth`'s
//!   401, `BodyLimit`'s 413, `Cors` preflights).
//!
//! Layers depend on `gateway-spec` only, so each works around any server's
//! requests and any framework's application.
//!
//! # Stacking order
//! `.wrap()` calls read from the inside out: the last one wrapped is the
//! first to see a request and the last to see the response.
//!
//! ```text
//!   server
//!     │ request                                  ▲ response
//!     ▼                                          │
//!   ProxyFix        client address, scheme, host from trusted proxies
//!   RequestId       X-Request-Id in, X-Request-Id out
//!   AccessLog       one line when the body closes
//!   CatchPanic      panics and errors become a 500 page
//!   BodyLimit       413 before an oversized body is read
//!   Cors            preflights answered here
//!   BasicAuth       401, or REMOTE_USER set
//!   Compression     gzip on the way out
//!   ConditionalGet  304 on the way out
//!   StaticFiles     /static/... served from a directory
//!   Mount           /api/... to another application
//!     │                                          ▲
//!     ▼                                          │
//!   app
//! ```
//!
//! written as
//!
//! ```
//! # use gateway_spec::{AppError, Body, Environ, StartResponse};
//! # use middleware::*;
//! # fn app(_e: Environ, sr: StartResponse) -> Result<Body, AppError> { sr.call("200 OK", vec![])?; Ok(Body::empty()) }
//! # fn api(_e: Environ, sr: StartResponse) -> Result<Body, AppError> { sr.call("200 OK", vec![])?; Ok(Body::empty()) }
//! # let public = std::env::temp_dir();
//! let stack = app
//!     .wrap(MountLayer::new().at("/api", api))
//!     .wrap(StaticFilesLayer::new(public)?.with_prefix("/static"))
//!     .wrap(ConditionalGetLayer)
//!     .wrap(CompressionLayer::default())
//!     .wrap(BasicAuthLayer::with_credentials("staff", [("alice", "s3cret")]))
//!     .wrap(CorsLayer::allow_origins(["https://app.example.com"]))
//!     .wrap(BodyLimitLayer::new(1024 * 1024))
//!     .wrap(CatchPanicLayer::default())
//!     .wrap(AccessLogLayer::default())
//!     .wrap(RequestIdLayer::default())
//!     .wrap(ProxyFixLayer::new(1));
//! # gateway_spec::assert_application(&stack);
//! # Ok::<(), StaticFilesError>(())
//! ```
//!
//! Why this order:
//! - `ProxyFix` first, so every other layer sees the client's real address
//!   and scheme (the access log above all).
//! - `RequestId` before `AccessLog` and `CatchPanic`, so both can tell which
//!   request they report on.
//! - `AccessLog` outside `CatchPanic`, so it logs the 500 pages too.
//! - `BodyLimit` and `Cors` before authentication: an oversized upload is
//!   refused unread, and a browser's preflight carries no credentials.
//! - `Compression` outside `ConditionalGet`: a 304 has no body to compress,
//!   and the weakened `ETag` of a compressed response still matches.
//! - `StaticFiles` and `Mount` innermost: they decide which application
//!   answers, after every check has passed.
//! - The [`Validator`] goes right next to the server to check the server's
//!   environ and the whole stack's response, or right around one
//!   application to check that application alone.
//!
//! # The layers
//! | layer | file | what it does |
//! |---|---|---|
//! | [`Validator`] | `validator.rs` | checks both sides of the contract at run time (PEP 3333, wsgiref.validate, Rack::Lint) |
//! | [`AccessLog`] | `access_log.rs` | one Common/Combined Log Format line per request, with the response time |
//! | [`CatchPanic`] | `catch_panic.rs` | panics and errors become a 500 page |
//! | [`BasicAuth`] | `basic_auth.rs` | HTTP Basic authentication, `REMOTE_USER` |
//! | [`BearerAuth`] | `bearer_auth.rs` | bearer tokens, `REMOTE_USER` |
//! | [`Cors`] | `cors.rs` | cross-origin preflights and response headers |
//! | [`RequestId`] | `request_id.rs` | an `X-Request-Id` in the environ and the response |
//! | [`ProxyFix`] | `proxy_fix.rs` | client address, scheme, host and prefix from trusted proxies |
//! | [`Mount`] | `mount.rs` | applications under path prefixes |
//! | [`BodyLimit`] | `body_limit.rs` | 413 for request bodies over a limit |
//! | [`StaticFiles`] | `static_files.rs` | a directory, with ETag, 304, Range; never outside its root |
//! | [`Compression`] | `compression.rs` | gzip/deflate, streaming, `Vary: Accept-Encoding` |
//! | [`ConditionalGet`] | `conditional_get.rs` | 304 for unchanged responses |

mod access_log;
mod authorization;
mod basic_auth;
mod bearer_auth;
mod body_limit;
mod catch_panic;
mod compression;
mod conditional_get;
mod cors;
mod layer;
mod mount;
mod proxy_fix;
mod request_id;
mod short_response;
mod static_files;
#[cfg(test)]
mod testing;
mod validator;
mod vary;

pub use access_log::{AccessLog, AccessLogLayer, LogFormat, LogTarget};
pub use basic_auth::{BasicAuth, BasicAuthLayer, BasicVerifier};
pub use bearer_auth::{BearerAuth, BearerAuthLayer, BearerVerifier};
pub use body_limit::{BodyLimit, BodyLimitLayer, BodyTooLarge};
pub use catch_panic::{CatchPanic, CatchPanicLayer, Panicked};
pub use compression::{Compression, CompressionLayer};
pub use conditional_get::{ConditionalGet, ConditionalGetLayer};
pub use cors::{AllowedOrigins, Cors, CorsLayer};
pub use layer::{ApplicationExt, Layer};
pub use mount::{Mount, MountLayer};
pub use proxy_fix::{ProxyFix, ProxyFixLayer, ProxyFixOriginal};
pub use request_id::{RequestId, RequestIdLayer, RequestIdValue};
pub use static_files::{StaticFiles, StaticFilesError, StaticFilesLayer};
pub use validator::{
    validator, OnViolation, Rule, Side, Validator, ValidatorLayer, Violation, Violations,
};
