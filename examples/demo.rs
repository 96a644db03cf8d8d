//! wsgiref's `demo_app`: "Hello world!" and the request's environ, sorted.
//!
//! Run with `cargo run --example demo` (add `-- --host H --port P`), then
//! `curl 'http://localhost:8000/some/path?x=1'`. The smallest complete look at
//! what a server hands an application.

use gateway_server::make_server;
use gateway_spec::{AppError, Body, Environ, StartResponse};

/// Python's `demo_app`, line for line: a greeting, then `key = 'value'` for
/// every variable of the environ, sorted by key.
fn demo_app(environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
    let mut out = String::from("Hello world!\n\n");
    for (key, value) in environ.sorted_vars() {
        out.push_str(&format!("{key} = {value:?}\n"));
    }
    out.push_str(&format!(
        "wsgi.url_scheme = {:?}\n",
        environ.url_scheme.as_str()
    ));
    out.push_str(&format!("wsgi.multithread = {}\n", environ.multithread));
    start_response.call(
        "200 OK",
        vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
    )?;
    Ok(Body::from(out))
}

fn main() -> std::io::Result<()> {
    examples::init_logging();
    let (host, port) = examples::cli_host_and_port("localhost", 8000);
    make_server(&host, port, demo_app)?.serve_forever()
}
