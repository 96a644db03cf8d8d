//! The gateway contract: how a web server and a web application meet.
//!
//! This crate is Rust's version of Python's WSGI (PEP 3333). It holds the
//! contract and nothing else: no sockets, no parsing, no threads. Servers
//! (like `gateway-server`) and frameworks (like `mini-framework`) both depend
//! on it and never on each other, so any server runs any application.
//!
//! ```
//! use gateway_spec::{AppError, Body, Environ, StartResponse};
//!
//! const RESPONSE: &[u8] = b"Hello from server.";
//!
//! fn my_app(_environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
//!     start_response.call("200 OK", vec![("content-type".into(), "text/plain".into())])?;
//!     Ok(Body::from(RESPONSE))
//! }
//!
//! // What a server does with it, in miniature:
//! let (start_response, record) = StartResponse::new();
//! let body = my_app(Environ::for_test(), start_response)?;
//! let (status, _headers) = record.send_headers().expect("the app started a response");
//! let bytes: Vec<u8> = body.collect::<Result<Vec<_>, _>>()?.concat();
//! assert_eq!((&*status, bytes.as_slice()), ("200 OK", RESPONSE));
//! # Ok::<(), AppError>(())
//! ```
//!
//! # Who depends on what
//! - Applications, frameworks and middleware depend on `gateway-spec` only.
//! - Servers and other gateways (CGI, a test client) depend on `gateway-spec`
//!   and call [`Application::call`].
//!
//! # Python to Rust
//!
//! | PEP 3333 | here |
//! |---|---|
//! | `application(environ, start_response)` | [`Application::call`], implemented by any `Fn(Environ, StartResponse) -> Result<Body, AppError>` |
//! | `environ` dict | [`Environ`]: CGI variables as strings, `wsgi.*` as typed fields, [`Extensions`] for typed values |
//! | `wsgi.input`, `wsgi.errors` | [`Input`] (`Read + BufRead`), [`Errors`] (`Write`) |
//! | `start_response(status, headers)` | [`StartResponse::call`] |
//! | `start_response(status, headers, exc_info)` | [`StartResponse::call_with_error`] |
//! | the returned iterable | [`Body`], an `Iterator` of byte chunks |
//! | `iterable.close()` | dropping the [`Body`] ([`Body::on_close`] adds steps) |
//! | an exception | [`AppError`], returned with `?` |
//!
//! # The rules, and where they come from
//! Numbers refer to the checklist in the project's reference notes, which
//! follows PEP 3333 section by section.
//!
//! 1. **An application is called with an environ and a start_response, and may
//!    be called many times, from many threads** (rules 1-2): [`Application`] is
//!    `Send + Sync` and takes `&self`.
//! 2. **The environ holds the CGI variables** (rules 12-18), with missing values
//!    left out, `HTTP_*` for each request header and repeats joined by `,`:
//!    [`Environ`]. The `wsgi.*` values (rule 19) are the fields `url_scheme`,
//!    `input`, `errors`, `multithread`, `multiprocess`, `run_once`.
//! 3. **The input never yields more than the request body; its end is the
//!    body's end** (rule 23): [`Input`] carries the bound.
//! 4. **`start_response` checks what it is given** (rules 28-32): the status
//!    must be `NNN Reason`, header names tokens, values free of control
//!    characters (CR and LF above all) and within Latin-1, and no hop-by-hop
//!    header. A bad call is an error, never a panic: [`StartResponseError`].
//! 5. **A second call is allowed only with `exc_info`, and only before the
//!    headers are sent; afterwards it re-raises** (rules 35-37):
//!    [`StartResponse::call_with_error`] returns the original error.
//! 6. **`start_response` may be called from the body's first step** (rule 9):
//!    a body made with [`Body::from_fn`] can capture a clone of the handle.
//! 7. **Nothing is sent until the body yields its first non-empty chunk or
//!    ends** (rule 33): servers send the head through
//!    [`ResponseRecord::send_headers`] at that moment, so until then an
//!    application can still replace its response with an error page.
//! 8. **The body is closed on every path** (rule 7): [`Body`]'s `Drop` is
//!    `close()`, and Rust runs it on success, error, unwinding and early stop.
//! 9. **A single-chunk body may get a computed Content-Length** (rule 41):
//!    [`Body::exact_len`].
//!
//! # Differences from PEP 3333
//! - **No `write()` callable** (rule 34, 46). The PEP keeps `write()` only for
//!   old frameworks and says new applications should not use it; a body made
//!   with [`Body::from_fn`] streams the same way without a second output path.
//! - **`exc_info` is an error value, not a traceback triple.** "Re-raise" means
//!   `call_with_error` returns the error for the application to pass on with `?`.
//! - **`close()` is `Drop`.** It cannot be forgotten, and cannot be called twice.
//! - **Strings are UTF-8 Rust strings.** PEP 3333 asks for Latin-1 "native
//!   strings" (rules 47-49). `PATH_INFO` is percent-decoded and must be valid
//!   UTF-8 (a server answers 400 otherwise); header values from the application
//!   must stay within U+0000-U+00FF, which servers write as Latin-1 bytes.
//! - **Typed `wsgi.*` values.** `wsgi.version` is [`Environ::VERSION`];
//!   `wsgi.url_scheme` is a [`UrlScheme`]; the booleans are `bool` fields.
//!   Extension keys are typed values in [`Extensions`] instead of dotted names.
//! - **`wsgi.input_terminated` always holds**: the input always ends where the
//!   body ends, so an application may read a chunked body to its end.
//! - **No `wsgi.file_wrapper`.** [`Body::from_reader`] streams a file; a server
//!   may still recognise one for a faster path later.
//! - **The body and `start_response` are `!Send`**: one thread owns a request
//!   from its head to the close of its body.

mod application;
mod body;
mod environ;
mod error;
mod input;
mod start_response;

pub use application::{assert_application, Application};
pub use body::{Body, Chunk};
pub use environ::{header_key, Environ, Extensions, Text, UrlScheme};
pub use error::{AppError, StartResponseError};
pub use input::{Errors, Input};
pub use start_response::{
    is_hop_by_hop, is_token_byte, validate_headers, Headers, HeadersExt, ResponseRecord,
    StartResponse,
};
