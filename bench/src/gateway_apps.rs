//! This project's two contestants: the `hello` example's raw application
//! with a `/json` route, and the same two routes as a mini-framework app
//! behind two middleware layers, so the cost of framework and middleware
//! shows as the difference between the two.

use gateway_server::{AccessLogTarget, Dispatch, Server, ServerConfig};
use gateway_spec::{AppError, Application, Body, Environ, StartResponse};
use middleware::{AccessLogLayer, ApplicationExt, RequestIdLayer};
use mini_framework::{App, Json, Request};

use crate::{json_body, Message, PLAINTEXT};

/// The raw application: `hello`'s `my_app`, plus `/json`.
pub fn raw_app(environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
    if environ.path_info() == "/json" {
        start_response.call(
            "200 OK",
            vec![("content-type".into(), "application/json".into())],
        )?;
        return Ok(Body::from(json_body()));
    }
    start_response.call("200 OK", vec![("content-type".into(), "text/plain".into())])?;
    Ok(Body::from(PLAINTEXT))
}

/// The framework application: two routes on a mini-framework `App`, behind
/// `RequestId` (a fresh id per request, in the environ and the response)
/// and `AccessLog` writing to the `log` facade with no logger installed, so
/// each line is formatted but goes nowhere: a production log level that
/// leaves access logging off.
pub fn framework_app() -> impl Application {
    let mut app = App::new();
    app.get("/", |_req: &Request| "Hello from server.");
    app.get("/json", |_req: &Request| {
        Json(Message {
            message: "Hello, World!",
        })
    });
    app.wrap(AccessLogLayer::default())
        .wrap(RequestIdLayer::default())
}

/// The server's settings for every run: its defaults (32 workers, or
/// `--workers N`), access log off, SIGTERM handled; `--pool` sends every
/// request to the worker pool (`Dispatch::Pool`) instead of the default
/// `Dispatch::Adaptive`.
pub fn config() -> ServerConfig {
    let workers = crate::flag("--workers")
        .and_then(|w| w.parse().ok())
        .unwrap_or(ServerConfig::default().workers);
    ServerConfig {
        workers,
        access_log: AccessLogTarget::Off,
        handle_signals: true,
        dispatch: if std::env::args().any(|arg| arg == "--pool") {
            Dispatch::Pool
        } else {
            Dispatch::Adaptive
        },
        ..ServerConfig::default()
    }
}

/// Serve `--app raw|framework` (default raw) on 127.0.0.1:`--port`.
pub fn serve_from_args() -> std::io::Result<()> {
    let addr = ("127.0.0.1", crate::port_from_args());
    match crate::flag("--app").as_deref() {
        Some("framework") => Server::bind(addr, framework_app(), config())?.serve_forever(),
        _ => Server::bind(addr, raw_app, config())?.serve_forever(),
    }
}
