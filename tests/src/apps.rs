//! Small applications the end-to-end tests run, each showing one behaviour.

use std::time::Duration;

use gateway_spec::{AppError, Body, Environ, StartResponse};

fn text(sr: &StartResponse, status: &str) -> Result<(), AppError> {
    sr.call(status, vec![("Content-Type".into(), "text/plain".into())])
}

fn query_number(environ: &Environ, name: &str) -> Option<u64> {
    environ
        .query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

/// One application with a route per behaviour under test:
///
/// - `/echo`: the request body back, with its Content-Type;
/// - `/ignore-body`: answers without reading the body;
/// - `/stream?n=N`: N chunks `chunk i\n`, no Content-Length (`&ms=M`: after
///   sleeping M ms);
/// - `/panic`: panics before starting the response;
/// - `/panic-mid-body`: panics after the first chunk was sent;
/// - `/error`: returns an error;
/// - `/sleep?ms=N`: sleeps, then answers `slept`;
/// - `/environ`: the environ as JSON;
/// - `/lazy`: calls start_response from the body's first step;
/// - `/no-content`: 204; `/not-modified`: 304 with a body the server must drop;
/// - `/bad-header`: a header value with CR LF (start_response refuses it);
/// - `/short`: declares Content-Length 10, sends 4 bytes;
/// - `/long`: declares Content-Length 4, sends 10 bytes;
/// - `/empty-chunks`: empty chunks before the first real one;
/// - `/own-server`: sets its own `Server` header;
/// - `/head-aware`: an empty body for HEAD, `twelve bytes` otherwise;
/// - anything else: `hello`.
pub fn kitchen_sink(mut environ: Environ, sr: StartResponse) -> Result<Body, AppError> {
    match environ.path_info() {
        "/echo" => {
            let body = environ.input.read_all()?;
            let content_type = environ
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            sr.call("200 OK", vec![("Content-Type".into(), content_type.into())])?;
            Ok(Body::from(body))
        }
        "/ignore-body" => {
            text(&sr, "200 OK")?;
            Ok(Body::from("ignored"))
        }
        "/stream" => {
            let n = query_number(&environ, "n").unwrap_or(3);
            let ms = query_number(&environ, "ms").unwrap_or(0);
            std::thread::sleep(Duration::from_millis(ms));
            text(&sr, "200 OK")?;
            Ok(Body::from_chunks(
                (0..n).map(|i| format!("chunk {i}\n").into_bytes()),
            ))
        }
        "/panic" => panic!("the application blew up"),
        "/panic-mid-body" => {
            text(&sr, "200 OK")?;
            let mut step = 0;
            Ok(Body::from_fn(move || {
                step += 1;
                match step {
                    1 => Some(Ok(b"first part".to_vec())),
                    _ => panic!("blew up mid-body"),
                }
            }))
        }
        "/error" => Err("the database is down".into()),
        "/sleep" => {
            let ms = query_number(&environ, "ms").unwrap_or(100);
            std::thread::sleep(Duration::from_millis(ms));
            text(&sr, "200 OK")?;
            Ok(Body::from("slept"))
        }
        "/environ" => {
            let json = serde_json::to_vec(&environ)?;
            sr.call(
                "200 OK",
                vec![("Content-Type".into(), "application/json".into())],
            )?;
            Ok(Body::from(json))
        }
        "/lazy" => {
            let mut started = false;
            Ok(Body::from_fn(move || {
                if started {
                    return None;
                }
                started = true;
                Some(text(&sr, "200 OK").map(|()| b"started late".to_vec()))
            }))
        }
        "/no-content" => {
            sr.call("204 No Content", vec![])?;
            Ok(Body::empty())
        }
        "/not-modified" => {
            sr.call("304 Not Modified", vec![("ETag".into(), "\"x\"".into())])?;
            Ok(Body::from("must not be sent"))
        }
        "/bad-header" => {
            sr.call(
                "200 OK",
                vec![("X-Injected".into(), "a\r\nSet-Cookie: evil=1".into())],
            )?;
            Ok(Body::from("unreachable"))
        }
        "/short" => {
            sr.call("200 OK", vec![("Content-Length".into(), "10".into())])?;
            Ok(Body::from("four"))
        }
        "/long" => {
            sr.call("200 OK", vec![("Content-Length".into(), "4".into())])?;
            Ok(Body::from("0123456789"))
        }
        "/own-server" => {
            sr.call(
                "200 OK",
                vec![
                    ("Content-Type".into(), "text/plain".into()),
                    ("Server".into(), "my-app/1.0".into()),
                ],
            )?;
            Ok(Body::from("mine"))
        }
        "/head-aware" => {
            text(&sr, "200 OK")?;
            Ok(if environ.request_method() == "HEAD" {
                Body::empty()
            } else {
                Body::from("twelve bytes")
            })
        }
        "/empty-chunks" => {
            text(&sr, "200 OK")?;
            Ok(Body::from_chunks(vec![
                Vec::new(),
                Vec::new(),
                b"after empties".to_vec(),
            ]))
        }
        _ => {
            text(&sr, "200 OK")?;
            Ok(Body::from("hello"))
        }
    }
}
