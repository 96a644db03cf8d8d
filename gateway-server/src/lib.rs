//! An HTTP/1.1 server that runs any [`gateway_spec::Application`]: the Rust
//! counterpart of Python's `wsgiref.simple_server`, built for production.
//!
//! ```no_run
//! use gateway_spec::{AppError, Body, Environ, StartResponse};
//!
//! fn my_app(_environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
//!     start_response.call("200 OK", vec![("content-type".into(), "text/plain".into())])?;
//!     Ok(Body::from("Hello from server."))
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     let httpd = gateway_server::make_server("localhost", 2017, my_app)?;
//!     httpd.serve_forever()
//! }
//! ```
//!
//! # How a request flows
//! The modules below are listed in the order a request passes through them.
//!
//! 0. `server`: [`make_server`] binds the socket and computes the part of the
//!    environ that never changes (wsgiref's `WSGIServer`).
//! 1. `poller`: one thread at a time owns every idle connection and, when bytes
//!    arrive, serves the connection itself or hands it to the worker pool
//!    (`worker_pool`); `socket` hides the TCP/Unix difference.
//!    `handover` decides which: the poller's thread while requests are
//!    quick (no thread switch, hyper's shape), the pool once one blocks, and
//!    a standby thread takes the polling over from a request that holds it.
//! 2. `connection`: a worker reads what arrived and serves every complete
//!    request (wsgiref's `WSGIRequestHandler.handle`); an incomplete one goes
//!    back to the poller, so no worker ever waits for a slow client.
//! 3. `request_head`: httparse plus strict checks; the status for a bad head.
//! 4. `request_body`: Content-Length or chunked; small bodies collected
//!    first, large ones streamed into `wsgi.input`.
//! 5. `environ_builder`: the environ (wsgiref's `get_environ`).
//! 6. `handler`: runs the application (wsgiref's `ServerHandler.run`):
//!    `start_response`, lazy headers, error pages, closing the body.
//! 7. `response_writer`: status line, headers and body framing on the wire.
//!
//! # Other gateways
//! The same handler also serves an application as a CGI program
//! ([`run_cgi`], wsgiref's `CGIHandler`) and in-process for tests
//! ([`TestClient`], werkzeug's test client).
//!
//! # Security
//! The parser refuses the request-smuggling shapes of the last decade's
//! advisories (bare LF, duplicate or signed Content-Length, Transfer-Encoding
//! lists, malformed chunks, ...) with the right 4xx and a closed connection.
//! There is no TLS: put a proxy that terminates TLS in front.

mod access_log;
mod body_spool;
mod cgi;
mod config;
mod connection;
mod deferred_accept;
mod environ_builder;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod handler;
mod handover;
mod http_date;
mod poller;
mod request_body;
mod request_head;
mod response_writer;
mod server;
mod socket;
mod test_client;
mod worker_pool;

pub use cgi::{run_cgi, run_cgi_with};
pub use config::{AccessLogTarget, Dispatch, ServerConfig};
pub use error::RequestError;
pub use server::{make_server, Server, ServerHandle};
pub use socket::{inherited_listener, ListenAddr, Listener};
pub use test_client::{TestClient, TestRequest, TestResponse};
