//! `echo`: a raw application for exercising servers.
//!
//! Run with `cargo run --example echo` (add `-- --host H --port P`, or
//! `--unix PATH`; `--trusted-proxies N` when it runs behind N reverse
//! proxies; `--reuse-port` to run several on one port; it also serves on a
//! socket inherited through systemd socket activation). Then:
//! - `POST`/`PUT` any path: the request body back, with its Content-Type;
//! - `GET /panic`: the application panics (the server answers 500);
//! - `GET /stream?n=N`: N chunks `chunk i\n`, with no Content-Length;
//! - `GET /sleep?ms=N` (or `?us=N`, microseconds): sleeps, then answers
//!   `slept` (an application waiting on a database, say);
//! - any other `GET`: the environ's CGI variables as a JSON object, plus
//!   `url_scheme`.

use std::time::Duration;

use gateway_spec::{AppError, Body, Environ, StartResponse};
use middleware::{ApplicationExt, ProxyFixLayer};

/// The CGI variables the JSON answer carries (plus every `HTTP_*`).
const CGI_KEYS: [&str; 11] = [
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "REMOTE_PORT",
];

/// The whole application: one function, dispatching on method and path.
pub fn echo_app(mut environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
    let method = environ.request_method().to_owned();
    if method == "POST" || method == "PUT" {
        let body = environ.input.read_all()?;
        let content_type = environ
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        start_response.call("200 OK", vec![("Content-Type".into(), content_type.into())])?;
        return Ok(Body::from(body));
    }
    match environ.path_info() {
        "/panic" => panic!("echo was asked to panic"),
        "/stream" => {
            let n = query_number(&environ, "n").unwrap_or(3);
            start_response.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
            // Produced lazily, one chunk per pull: the server sends each as it comes.
            Ok(Body::from_chunks(
                (0..n).map(|i| format!("chunk {i}\n").into_bytes()),
            ))
        }
        "/sleep" => {
            let wait = match query_number(&environ, "us") {
                Some(micros) => Duration::from_micros(micros),
                None => Duration::from_millis(query_number(&environ, "ms").unwrap_or(100)),
            };
            std::thread::sleep(wait);
            start_response.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
            Ok(Body::from("slept"))
        }
        _ => {
            let json = serde_json::to_vec(&environ_json(&environ))?;
            start_response.call(
                "200 OK",
                vec![("Content-Type".into(), "application/json".into())],
            )?;
            Ok(Body::from(json))
        }
    }
}

fn environ_json(environ: &Environ) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    for (key, value) in environ.vars() {
        if CGI_KEYS.contains(&key) || key.starts_with("HTTP_") {
            map.insert(key.to_owned(), value.into());
        }
    }
    map.insert("url_scheme".into(), environ.url_scheme.as_str().into());
    map
}

fn query_number(environ: &Environ, name: &str) -> Option<u64> {
    environ.query_string().split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.parse().ok()).flatten()
    })
}

fn main() -> std::io::Result<()> {
    examples::init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Behind N reverse proxies, believe N hops of X-Forwarded-* (and no more).
    match examples::flag_value(&args, "--trusted-proxies").and_then(|n| n.parse().ok()) {
        Some(proxies) if proxies > 0 => {
            examples::serve(echo_app.wrap(ProxyFixLayer::new(proxies)), 8000)
        }
        _ => examples::serve(echo_app, 8000),
    }
}
