//! What handlers return, as the client receives it after `finish`: status
//! lines, Content-Type and Content-Length, cookies, redirects, streams, and
//! the 500s that replace responses which cannot be sent safely.

mod support;

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gateway_spec::{Application, Body, Environ, StartResponse};
use mini_framework::{
    redirect, App, Cookie, Html, HttpError, Json, Redirect, Request, Response, SameSite,
};
use support::get;

fn app() -> App {
    let mut app = App::new();
    app.get("/str", |_req: &Request| "static text");
    app.get("/string", |_req: &Request| String::from("owned text"));
    app.get("/bytes", |_req: &Request| vec![0u8, 1, 2]);
    app.get("/html", |_req: &Request| Html("<h1>hi</h1>"));
    app.get("/json", |_req: &Request| {
        Json(serde_json::json!({"ok": true}))
    });
    app.get("/unit", |_req: &Request| ());
    app.get("/created", |_req: &Request| (201, "made"));
    app.get("/with-headers", |_req: &Request| {
        (202, [("X-Job", "17"), ("Retry-After", "5")], "queued")
    });
    app.get("/option/<n:int>", |req: &Request| {
        (req.param_str("n") == Some("1")).then_some("found")
    });
    app.get(
        "/result",
        |_req: &Request| -> Result<&'static str, HttpError> {
            Err(HttpError::new(409, "that name is taken"))
        },
    );
    app.get("/teapot", |_req: &Request| {
        Response::text("short and stout").with_status(418)
    });
    app.get("/odd-status", |_req: &Request| {
        Response::text("?").with_status(299)
    });
    app.get("/invalid-status", |_req: &Request| {
        Response::text("?").with_status(42)
    });
    app
}

#[test]
fn simple_values_convert_with_type_length_and_status() {
    let app = app();
    let cases = [
        ("/str", 200, "text/plain; charset=utf-8", "static text"),
        ("/string", 200, "text/plain; charset=utf-8", "owned text"),
        ("/html", 200, "text/html; charset=utf-8", "<h1>hi</h1>"),
        ("/json", 200, "application/json", r#"{"ok":true}"#),
        ("/created", 201, "text/plain; charset=utf-8", "made"),
        (
            "/teapot",
            418,
            "text/plain; charset=utf-8",
            "short and stout",
        ),
    ];
    for (path, status, content_type, body) in cases {
        let reply = get(path).send(&app);
        assert_eq!(reply.status, status, "{path}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
        assert_eq!(reply.text(), body, "{path}");
        let length = body.len().to_string();
        assert_eq!(
            reply.header("content-length"),
            Some(length.as_str()),
            "{path}"
        );
    }
    let bytes = get("/bytes").send(&app);
    assert_eq!(
        bytes.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(bytes.body, [0, 1, 2]);
}

#[test]
fn unit_is_204_without_a_body_or_length() {
    let reply = get("/unit").send(&app());
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty());
    assert_eq!(reply.header("content-length"), None);
}

#[test]
fn status_lines_carry_canonical_reasons() {
    let (start_response, record) = StartResponse::new();
    let mut environ = Environ::for_test();
    environ.set("PATH_INFO", "/teapot");
    let _body = app().call(environ, start_response).unwrap();
    assert_eq!(record.status().as_deref(), Some("418 I'm a teapot"));
    assert_eq!(get("/odd-status").send(&app()).status, 299);
}

#[test]
fn an_invalid_status_code_is_a_logged_500() {
    let reply = get("/invalid-status").send(&app());
    assert_eq!(reply.status, 500);
    assert!(reply.log.contains("status 42"), "{}", reply.log);
}

#[test]
fn headers_tuples_options_and_results() {
    let app = app();
    let reply = get("/with-headers").send(&app);
    assert_eq!((reply.status, reply.header("x-job")), (202, Some("17")));
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert_eq!(get("/option/1").send(&app).text(), "found");
    assert_eq!(get("/option/2").send(&app).status, 404);
    let reply = get("/result").send(&app);
    assert_eq!(reply.status, 409);
    assert!(reply.text().contains("that name is taken"));
}

#[test]
fn json_that_cannot_serialize_is_a_logged_500() {
    let mut app = App::new();
    app.get("/bad", |_req: &Request| {
        Json(HashMap::from([((1, 2), "tuple keys cannot be JSON keys")]))
    });
    let reply = get("/bad").send(&app);
    assert_eq!(reply.status, 500);
    assert!(!reply.text().contains("key must be a string"));
    assert!(reply.log.contains("key must be a string"), "{}", reply.log);
}

#[test]
fn cookies_are_set_and_deleted() {
    let mut app = App::new();
    app.get("/login", |_req: &Request| {
        let mut response = Response::text("hi").with_cookie(
            Cookie::new("user", "ada lovelace")
                .max_age(Duration::from_secs(60))
                .domain("example.org")
                .secure(true)
                .http_only(true)
                .same_site(SameSite::Strict),
        );
        response.delete_cookie("old");
        response
    });
    let reply = get("/login").send(&app);
    assert_eq!(
        reply.all("set-cookie"),
        [
            "user=ada%20lovelace; Max-Age=60; Path=/; Domain=example.org; Secure; HttpOnly; SameSite=Strict",
            "old=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
        ]
    );
}

#[test]
fn a_cookie_that_would_break_the_header_is_refused_with_a_500() {
    let mut app = App::new();
    app.get("/bad-cookie", |_req: &Request| {
        Response::text("x").with_cookie(Cookie::new("a;b", "v"))
    });
    let reply = get("/bad-cookie").send(&app);
    assert_eq!(reply.status, 500);
    assert_eq!(reply.header("set-cookie"), None);
    assert!(reply.log.contains("cookie name \"a;b\""), "{}", reply.log);
}

#[test]
fn a_header_with_crlf_becomes_a_500_and_the_body_is_closed() {
    let closed = Arc::new(AtomicUsize::new(0));
    let flag = Arc::clone(&closed);
    let mut app = App::new();
    app.get("/inject", move |_req: &Request| {
        let flag = Arc::clone(&flag);
        Response::stream(Body::from("secret").on_close(move || {
            flag.fetch_add(1, Ordering::SeqCst);
        }))
        .with_header("X-Next", "a\r\nSet-Cookie: admin=1")
    });
    let reply = get("/inject").send(&app);
    assert_eq!(reply.status, 500);
    assert!(reply.header("x-next").is_none());
    assert!(!reply.text().contains("secret"));
    assert!(
        reply.log.contains("start_response refused"),
        "{}",
        reply.log
    );
    assert_eq!(closed.load(Ordering::SeqCst), 1);
}

#[test]
fn redirects() {
    let mut app = App::new();
    app.get("/flask", |_req: &Request| redirect("/home"));
    app.post("/form", |_req: &Request| Redirect::to("/done"));
    app.get("/moved", |_req: &Request| Redirect::permanent("/new"));
    app.get("/user-input", |req: &Request| {
        Redirect::to(req.query().get("next").unwrap_or("/").to_owned())
    });
    let reply = get("/flask").send(&app);
    assert_eq!(
        (reply.status, reply.header("location")),
        (302, Some("/home"))
    );
    let reply = support::request("POST", "/form").send(&app);
    assert_eq!(
        (reply.status, reply.header("location")),
        (303, Some("/done"))
    );
    assert_eq!(get("/moved").send(&app).status, 308);
    let reply = get("/user-input?next=/x%0D%0ASet-Cookie:%20a=1").send(&app);
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/x%0D%0ASet-Cookie:%20a=1"));
    assert_eq!(reply.header("set-cookie"), None);
}

#[test]
fn streamed_bodies_are_produced_only_as_the_server_pulls() {
    thread_local! {
        static PRODUCED: Cell<u32> = const { Cell::new(0) };
    }
    let mut app = App::new();
    app.get("/count", |_req: &Request| {
        let mut n = 0;
        Response::stream(Body::from_fn(move || {
            n += 1;
            PRODUCED.with(|p| p.set(p.get() + 1));
            (n <= 3).then(|| Ok(format!("chunk {n}\n").into_bytes()))
        }))
        .with_header("Content-Type", "text/plain")
    });
    let (start_response, record) = StartResponse::new();
    let mut environ = Environ::for_test();
    environ.set("PATH_INFO", "/count");
    let body = app.call(environ, start_response).unwrap();
    assert_eq!(
        PRODUCED.with(Cell::get),
        0,
        "nothing built before the server pulls"
    );
    assert_eq!(record.status_code(), Some(200));
    assert!(record
        .headers()
        .unwrap()
        .iter()
        .all(|(n, _)| n != "Content-Length"));
    let chunks: Vec<Vec<u8>> = body.map(Result::unwrap).collect();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks.concat(), b"chunk 1\nchunk 2\nchunk 3\n");
}

#[test]
fn a_large_generated_body_streams_in_chunks() {
    let mut app = App::new();
    app.get("/big", |_req: &Request| {
        Body::from_chunks((0..1024).map(|_| vec![b'x'; 64 * 1024]))
    });
    let (start_response, _record) = StartResponse::new();
    let mut environ = Environ::for_test();
    environ.set("PATH_INFO", "/big");
    let body = app.call(environ, start_response).unwrap();
    let (mut largest, mut total) = (0, 0);
    for chunk in body {
        let chunk = chunk.unwrap();
        largest = largest.max(chunk.len());
        total += chunk.len();
    }
    assert_eq!(total, 64 * 1024 * 1024);
    assert_eq!(largest, 64 * 1024, "never more than one chunk at a time");
}

#[test]
fn files_are_streamed_with_type_and_length() {
    let dir = std::env::temp_dir().join(format!("mf-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("data.json"), br#"{"from":"disk"}"#).unwrap();
    let root = dir.clone();
    let mut app = App::new();
    app.get("/static/<p:path>", move |req: &Request| {
        Response::file_in(&root, req.param_str("p").unwrap_or(""))
    });
    let reply = get("/static/data.json").send(&app);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("content-length"), Some("15"));
    assert_eq!(reply.text(), r#"{"from":"disk"}"#);
    assert_eq!(get("/static/missing.txt").send(&app).status, 404);
    assert_eq!(get("/static/../etc/passwd").send(&app).status, 404);
    std::fs::remove_dir_all(&dir).unwrap();
}
