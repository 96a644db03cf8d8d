//! Reading requests as a handler does: query, headers, cookies, the client,
//! the body with its limits, forms, multipart uploads and JSON.

mod support;

use mini_framework::{App, HttpError, Json, Limits, Request};
use serde::Deserialize;
use serde_json::json;
use support::{get, request};

fn echo_app(limits: Limits) -> App {
    let mut app = App::new().with_limits(limits);
    app.get("/query", |req: &Request| {
        Json(json!({
            "tags": req.query().get_all("tag"),
            "q": req.query().get("q"),
            "raw": req.query_string(),
        }))
    });
    app.get("/headers", |req: &Request| {
        let mut names: Vec<String> = req.headers().into_iter().map(|(n, _)| n).collect();
        names.sort();
        Json(json!({
            "agent": req.header("user-agent"),
            "AGENT": req.header("USER-AGENT"),
            "names": names,
        }))
    });
    app.get("/cookies", |req: &Request| {
        Json(json!({
            "theme": req.cookie("theme"),
            "all": req.cookies().len(),
        }))
    });
    app.get("/client", |req: &Request| {
        Json(json!({
            "addr": req.remote_addr(),
            "scheme": req.scheme(),
            "host": req.host(),
            "url": req.url(),
            "full_path": req.full_path(),
        }))
    });
    app.post("/body", |req: &Request| -> Result<Vec<u8>, HttpError> {
        Ok(req.body()?.to_vec())
    });
    app.post(
        "/form",
        |req: &Request| -> Result<Json<serde_json::Value>, HttpError> {
            let form = req.form()?;
            let files: Vec<_> = req
                .files()?
                .iter()
                .map(|f| json!([f.name(), f.filename(), f.content_type(), f.len()]))
                .collect();
            Ok(Json(json!({
                "name": form.get("name"),
                "langs": form.get_all("lang"),
                "files": files,
            })))
        },
    );
    app.post("/json", |req: &Request| -> Result<Json<Point>, HttpError> {
        Ok(Json(req.json::<Point>()?))
    });
    app
}

#[derive(Debug, Deserialize, serde::Serialize)]
struct Point {
    x: i32,
    y: i32,
}

fn app() -> App {
    echo_app(Limits::default())
}

#[test]
fn query_arguments_are_multi_valued_and_decoded() {
    let reply = get("/query?tag=a&tag=b&q=caf%C3%A9+au+lait").send(&app());
    assert_eq!(
        reply.json(),
        json!({"tags": ["a", "b"], "q": "café au lait", "raw": "tag=a&tag=b&q=caf%C3%A9+au+lait"})
    );
}

#[test]
fn headers_are_case_insensitive_and_listed() {
    let reply = get("/headers")
        .header("User-Agent", "curl/8")
        .header("Content-Type", "text/plain")
        .send(&app());
    let body = reply.json();
    assert_eq!(body["agent"], "curl/8");
    assert_eq!(body["AGENT"], "curl/8");
    assert_eq!(body["names"], json!(["content-type", "host", "user-agent"]));
}

#[test]
fn cookies_are_parsed() {
    let reply = get("/cookies")
        .header("Cookie", "theme=dark; =evil; lang=\"en\"")
        .send(&app());
    assert_eq!(reply.json(), json!({"theme": "dark", "all": 2}));
}

#[test]
fn the_client_and_the_url() {
    let reply = get("/client?x=1")
        .script_name("/app")
        .header("Host", "example.org:8080")
        .send(&app());
    assert_eq!(
        reply.json(),
        json!({
            "addr": "127.0.0.1",
            "scheme": "http",
            "host": "example.org:8080",
            "url": "http://example.org:8080/app/client?x=1",
            "full_path": "/app/client",
        })
    );
}

#[test]
fn the_body_is_read_within_the_limit() {
    let limits = Limits {
        max_body_bytes: 8,
        ..Limits::default()
    };
    let app = echo_app(limits);
    let reply = request("POST", "/body")
        .body("text/plain", "12345678")
        .send(&app);
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, &b"12345678"[..])
    );
    let reply = request("POST", "/body")
        .body("text/plain", "123456789")
        .send(&app);
    assert_eq!(reply.status, 413);
    assert!(reply.text().contains("limit of 8 bytes"));
    let reply = request("POST", "/body")
        .unsized_body("text/plain", vec![b'x'; 100])
        .send(&app);
    assert_eq!(
        reply.status, 413,
        "an undeclared length is caught while reading"
    );
}

#[test]
fn default_limits_are_flask_and_axum_like() {
    assert_eq!(
        App::new().limits(),
        Limits {
            max_body_bytes: 2 * 1024 * 1024,
            max_form_memory: 500_000,
            max_form_parts: 1000,
        }
    );
}

#[test]
fn urlencoded_forms() {
    let reply = request("POST", "/form")
        .body(
            "application/x-www-form-urlencoded",
            "name=Ada+Lovelace&lang=en&lang=fr",
        )
        .send(&app());
    assert_eq!(
        reply.json(),
        json!({"name": "Ada Lovelace", "langs": ["en", "fr"], "files": []})
    );
}

#[test]
fn forms_of_another_type_are_415_and_large_ones_413() {
    let reply = request("POST", "/form")
        .body("text/csv", "a,b")
        .send(&app());
    assert_eq!(reply.status, 415);
    let small = echo_app(Limits {
        max_form_memory: 5,
        ..Limits::default()
    });
    let reply = request("POST", "/form")
        .body("application/x-www-form-urlencoded", "name=toolong")
        .send(&small);
    assert_eq!(reply.status, 413);
}

fn multipart(boundary: &str, parts: &[(&str, Option<&str>, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (name, filename, value) in parts {
        body.push_str(&format!("--{boundary}\r\n"));
        match filename {
            Some(file) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                 Content-Type: text/plain\r\n\r\n{value}\r\n"
            )),
            None => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )),
        }
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body.into_bytes()
}

#[test]
fn multipart_forms_with_files() {
    let body = multipart(
        "----wb7",
        &[
            ("name", None, "Ada"),
            ("lang", None, "en"),
            ("cv", Some("cv.txt"), "line one\r\nline two"),
        ],
    );
    let reply = request("POST", "/form")
        .body("multipart/form-data; boundary=----wb7", body)
        .send(&app());
    assert_eq!(
        reply.json(),
        json!({
            "name": "Ada",
            "langs": ["en"],
            "files": [["cv", "cv.txt", "text/plain", 18]],
        })
    );
}

#[test]
fn multipart_part_count_and_field_size_are_capped() {
    let limits = Limits {
        max_form_parts: 2,
        max_form_memory: 10,
        ..Limits::default()
    };
    let app = echo_app(limits);
    let three = multipart("b", &[("a", None, "1"), ("b", None, "2"), ("c", None, "3")]);
    let reply = request("POST", "/form")
        .body("multipart/form-data; boundary=b", three)
        .send(&app);
    assert_eq!(reply.status, 413);
    assert!(
        reply.text().contains("more than 2 parts"),
        "{}",
        reply.text()
    );

    let big_field = multipart("b", &[("bio", None, "eleven char")]);
    let reply = request("POST", "/form")
        .body("multipart/form-data; boundary=b", big_field)
        .send(&app);
    assert_eq!(reply.status, 413);
    assert!(reply.text().contains("\"bio\""), "{}", reply.text());

    let big_file = multipart(
        "b",
        &[("f", Some("f.txt"), "a file may exceed the field cap")],
    );
    let reply = request("POST", "/form")
        .body("multipart/form-data; boundary=b", big_file)
        .send(&app);
    assert_eq!(reply.status, 200);
}

#[test]
fn json_bodies_deserialize() {
    let reply = request("POST", "/json")
        .body("application/json", r#"{"x": 1, "y": -2}"#)
        .send(&app());
    assert_eq!(reply.json(), json!({"x": 1, "y": -2}));
    let reply = request("POST", "/json")
        .body(
            "application/vnd.api+json; charset=utf-8",
            r#"{"x": 0, "y": 0}"#,
        )
        .send(&app());
    assert_eq!(reply.status, 200);
}

#[test]
fn json_with_a_wrong_content_type_is_415() {
    let reply = request("POST", "/json")
        .body("text/plain", r#"{"x": 1, "y": 2}"#)
        .send(&app());
    assert_eq!(reply.status, 415);
    assert!(reply.text().contains("application/json"));
    assert!(reply.text().contains("text/plain"));
}

#[test]
fn bad_json_is_400_saying_where() {
    let reply = request("POST", "/json")
        .body("application/json", "{\"x\": 1,\n \"y\": }")
        .send(&app());
    assert_eq!(reply.status, 400);
    assert!(reply.text().contains("line 2 column"), "{}", reply.text());
    let reply = request("POST", "/json")
        .body("application/json", r#"{"x": "one", "y": 2}"#)
        .send(&app());
    assert_eq!(reply.status, 400);
    assert!(reply.text().contains("invalid type"), "{}", reply.text());
}

#[test]
fn json_over_the_body_limit_is_413() {
    let app = echo_app(Limits {
        max_body_bytes: 10,
        ..Limits::default()
    });
    let reply = request("POST", "/json")
        .body("application/json", r#"{"x": 1, "y": 2}"#)
        .send(&app);
    assert_eq!(reply.status, 413);
}

#[test]
fn a_body_read_twice_is_the_same_body() {
    let mut app = App::new();
    app.post("/twice", |req: &Request| -> Result<String, HttpError> {
        let first = req.text()?.to_owned();
        let json: serde_json::Value = req.json()?;
        Ok(format!("{first}|{json}"))
    });
    let reply = request("POST", "/twice")
        .body("application/json", "[1]")
        .send(&app);
    assert_eq!(reply.text(), "[1]|[1]");
}

#[test]
fn a_large_upload_can_be_streamed_from_wsgi_input() {
    use std::io::Read;
    let mut app = App::new();
    app.post("/upload", |req: &Request| -> Result<String, HttpError> {
        let mut input = req.input();
        let (mut total, mut reads, mut block) = (0, 0, [0u8; 4096]);
        loop {
            let n = input.read(&mut block).map_err(HttpError::internal)?;
            if n == 0 {
                break;
            }
            total += n;
            reads += 1;
        }
        Ok(format!("{total} bytes in {reads} reads"))
    });
    let body = vec![7u8; 5 * 1024 * 1024]; // over the 2 MiB buffered limit
    let reply = request("POST", "/upload")
        .body("application/octet-stream", body)
        .send(&app);
    assert_eq!(reply.text(), "5242880 bytes in 1280 reads");
}
