//! wsgiref's `demo_app`: "Hello world!" and the request's environ, sorted.
//!
//! Run with `cargo run --example demo` (add `-- --host H --port P`), then
//! `curl 'http://localhost:8000/some/path?x=1'`. The smallest complete look at
//! what a server hands an application. The application itself is
//! `examples::apps::demo_app` (in `src/apps.rs`), which `mount` serves too.

use gateway_server::make_server;

fn main() -> std::io::Result<()> {
    examples::init_logging();
    let (host, port) = examples::cli_host_and_port("localhost", 8000);
    make_server(&host, port, examples::apps::demo_app)?.serve_forever()
}
