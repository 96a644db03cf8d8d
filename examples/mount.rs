//! `mount`: three applications in one server, each under its own prefix.
//!
//! Run with `cargo run --example mount` (add `-- --host H --port P`,
//! `--token T` to guard the todo app's writes, and `--static-dir D` to
//! serve another directory), then open <http://localhost:8000/>:
//!
//! | prefix | application |
//! |---|---|
//! | `/todo` | the `todo` example's app (page and JSON API) |
//! | `/demo` | wsgiref's `demo_app`: shows SCRIPT_NAME and PATH_INFO as it got them |
//! | `/static` | the files of `examples/static/`, through `StaticFiles` |
//! | anything else | a home page with links, or 404 |
//!
//! `Mount` moves the prefix from PATH_INFO to SCRIPT_NAME (PEP 3333), so
//! no mounted app knows its prefix and each still links correctly: the todo
//! page calls `/todo/api/todos`, and a new todo's `Location` is
//! `/todo/api/todos/1`, because both are built with `url_for`.

#[path = "todo/app.rs"]
mod todo_app;

use std::path::PathBuf;

use gateway_server::{AccessLogTarget, Server, ServerConfig};
use gateway_spec::{AppError, Body, Environ, StartResponse};
use middleware::{
    AccessLogLayer, ApplicationExt, CompressionLayer, MountLayer, RequestIdLayer, StaticFilesLayer,
};

/// What no mount takes: the home page at `/`, and 404 for anything else.
fn home(environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
    if !matches!(environ.path_info(), "" | "/") {
        return not_found(environ, start_response);
    }
    // The links carry our own SCRIPT_NAME, so they stay right if this whole
    // server is itself mounted somewhere (behind a proxy's prefix).
    let root = environ.script_name().trim_end_matches('/');
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mount</title></head>\n\
         <body><h1>Three apps, one server</h1><ul>\n\
         <li><a href=\"{root}/todo/\">todo</a>: a JSON API and its page</li>\n\
         <li><a href=\"{root}/demo/some/path?x=1\">demo</a>: the environ as an app sees it</li>\n\
         <li><a href=\"{root}/static/\">static</a>: files from a directory</li>\n\
         </ul></body></html>\n"
    );
    start_response.call(
        "200 OK",
        vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
    )?;
    Ok(Body::from(page))
}

fn not_found(_environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
    start_response.call(
        "404 Not Found",
        vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
    )?;
    Ok(Body::from("404 Not Found"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (host, port) = examples::host_and_port(args.clone(), "localhost", 8000);
    let token = todo_app::token_from_args(&args)?;
    let static_dir = examples::flag_value(&args, "--static-dir").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static"),
        PathBuf::from,
    );

    let todo = todo_app::guard_writes(todo_app::app(), token);
    // Under the mount, StaticFiles sees PATH_INFO without `/static`, so it
    // serves every path it gets (no prefix of its own); files it does not
    // have fall through to the 404.
    let files = not_found.wrap(StaticFilesLayer::new(&static_dir)?);
    let app = home
        .wrap(
            MountLayer::new()
                .at("/todo", todo)
                .at("/demo", examples::apps::demo_app)
                .at("/static", files),
        )
        .wrap(CompressionLayer::default())
        .wrap(AccessLogLayer::default())
        .wrap(RequestIdLayer::default());
    // The AccessLog layer writes the log, so the server's own is off: one
    // line per request, not two.
    let config = ServerConfig {
        access_log: AccessLogTarget::Off,
        ..ServerConfig::default()
    };
    Server::bind((host.as_str(), port), app, config)?.serve_forever()?;
    Ok(())
}
