//! `todo`: a small JSON API and the page that uses it, built with
//! `mini-framework` and wrapped in `middleware` layers.
//!
//! Run with `cargo run --example todo` (add `-- --host H --port P`, and
//! `--token T` to require `Authorization: Bearer T` for changes), open
//! <http://localhost:8000/>, or use the API:
//!
//! ```text
//! curl -i localhost:8000/api/todos -H 'Content-Type: application/json' -d '{"title": "write docs"}'
//! curl -i localhost:8000/api/todos
//! curl -i -X PATCH localhost:8000/api/todos/1 -H 'Content-Type: application/json' -d '{"done": true}'
//! curl -i -X DELETE localhost:8000/api/todos/1
//! ```
//!
//! The routes and their errors are listed in `todo/app.rs`; the way the
//! token guards writes but not reads is explained in `todo/write_guard.rs`.
//! The list lives in memory: it is empty again after a restart.

#[path = "todo/app.rs"]
mod todo_app;

use gateway_server::{AccessLogTarget, Server, ServerConfig};
use middleware::{AccessLogLayer, ApplicationExt, CompressionLayer, RequestIdLayer};

fn main() -> std::io::Result<()> {
    examples::init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (host, port) = examples::host_and_port(args.clone(), "localhost", 8000);
    let token = todo_app::token_from_args(&args).unwrap_or_else(|problem| {
        eprintln!("{problem}");
        std::process::exit(2);
    });
    // Innermost first; the order is the one middleware's crate docs give:
    // the request id is known before the access log line is written, and
    // the log counts the bytes sent, compressed.
    let app = todo_app::guard_writes(todo_app::app(), token)
        .wrap(CompressionLayer::default())
        .wrap(AccessLogLayer::default())
        .wrap(RequestIdLayer::default());
    Server::bind((host.as_str(), port), app, without_server_log())?.serve_forever()
}

/// The server's settings, minus its own access log: the `AccessLog` layer
/// writes one (with the user, referer and response time), and a request
/// logged twice is a puzzle for whoever reads the log.
fn without_server_log() -> ServerConfig {
    ServerConfig {
        access_log: AccessLogTarget::Off,
        ..ServerConfig::default()
    }
}
