//! The seed's example: `my_app` served on localhost:2017.
//!
//! Run with `cargo run --example hello` (add `-- --host H --port P` to
//! change where it listens), then `curl -i http://localhost:2017/`.
//!
//! This is Python's
//!
//! ```python
//! def my_app(environ, start_response):
//!     start_response('200 OK', [('content-type', 'text/plain')])
//!     return [RESPONSE]
//!
//! httpd = make_server(HOST, PORT, my_app)
//! httpd.serve_forever()
//! ```

use gateway_server::make_server;
use gateway_spec::{AppError, Body, Environ, StartResponse};

const RESPONSE: &[u8] = b"Hello from server.";

fn my_app(_environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
    start_response.call("200 OK", vec![("content-type".into(), "text/plain".into())])?;
    Ok(Body::from(RESPONSE))
}

fn main() -> std::io::Result<()> {
    examples::init_logging();
    let (host, port) = examples::cli_host_and_port("localhost", 2017);
    let httpd = make_server(&host, port, my_app)?;
    httpd.serve_forever()
}
