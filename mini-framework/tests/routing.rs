//! The router as a client sees it: converters, precedence, 404/405/Allow,
//! HEAD, OPTIONS, trailing slashes and url_for under a prefix.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use gateway_spec::Body;
use mini_framework::{App, HttpError, Json, Request, Response, RouteError, TrailingSlash};
use support::{get, request};

fn typed_app() -> App {
    let mut app = App::new();
    app.get(
        "/users/<id:int>",
        |req: &Request| -> Result<String, HttpError> {
            let id: i64 = req.param("id")?;
            Ok(format!("user #{}", id + 1))
        },
    );
    app.get("/users/me", |_req: &Request| "it's you");
    app.get("/users/<name>", |req: &Request| {
        format!("user named {}", req.param_str("name").unwrap_or(""))
    });
    app.get(
        "/prices/<x:float>",
        |req: &Request| -> Result<String, HttpError> {
            Ok(format!("{:.2}", req.param::<f64>("x")? * 2.0))
        },
    );
    app.get("/orders/<u:uuid>", |req: &Request| {
        req.param_str("u").unwrap_or("").to_owned()
    });
    app.get("/files/<p:path>", |req: &Request| {
        req.param_str("p").unwrap_or("").to_owned()
    });
    app
}

#[test]
fn converters_give_typed_values() {
    let app = typed_app();
    assert_eq!(get("/users/41").send(&app).text(), "user #42");
    assert_eq!(get("/users/-3").send(&app).text(), "user #-2");
    assert_eq!(get("/prices/1.25").send(&app).text(), "2.50");
    let uuid = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
    assert_eq!(get(&format!("/orders/{uuid}")).send(&app).text(), uuid);
    assert_eq!(get("/files/a/b/c.txt").send(&app).text(), "a/b/c.txt");
}

#[test]
fn values_a_converter_refuses_fall_through_to_less_specific_routes_or_404() {
    let app = typed_app();
    assert_eq!(get("/users/ada").send(&app).text(), "user named ada");
    assert_eq!(get("/prices/cheap").send(&app).status, 404);
    assert_eq!(get("/orders/not-a-uuid").send(&app).status, 404);
    assert_eq!(get("/files/").send(&app).status, 404);
}

#[test]
fn static_routes_beat_parameters_whatever_the_order() {
    let app = typed_app();
    assert_eq!(get("/users/me").send(&app).text(), "it's you");
}

#[test]
fn a_param_read_as_a_narrower_type_is_a_400() {
    let mut app = App::new();
    app.get(
        "/small/<n:int>",
        |req: &Request| -> Result<String, HttpError> { Ok(req.param::<u8>("n")?.to_string()) },
    );
    let reply = get("/small/300").send(&app);
    assert_eq!(reply.status, 400);
    assert!(reply.text().contains("\"300\""), "{}", reply.text());
    assert_eq!(get("/small/30").send(&app).text(), "30");
}

#[test]
fn unknown_paths_are_404_pages() {
    let reply = get("/nowhere").send(&typed_app());
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(reply.text().starts_with("404 Not Found"));
}

#[test]
fn other_methods_get_405_with_allow() {
    let mut app = App::new();
    app.get("/items", |_req: &Request| "list");
    app.post("/items", |_req: &Request| (201, "created"));
    let reply = request("DELETE", "/items").send(&app);
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS, POST"));
    assert_eq!(request("POST", "/items").send(&app).status, 201);
}

#[test]
fn route_accepts_several_methods_case_insensitively() {
    let mut app = App::new();
    app.route(&["get", "Put"], "/doc", |req: &Request| {
        req.method().to_owned()
    });
    assert_eq!(request("PUT", "/doc").send(&app).text(), "PUT");
    assert_eq!(get("/doc").send(&app).text(), "GET");
    assert_eq!(request("POST", "/doc").send(&app).status, 405);
}

#[test]
fn head_runs_the_get_route_keeps_headers_and_closes_the_body() {
    let closed = Arc::new(AtomicBool::new(false));
    let mut app = App::new();
    app.get("/page", |_req: &Request| "twelve bytes");
    let flag = Arc::clone(&closed);
    app.get("/stream", move |_req: &Request| {
        let flag = Arc::clone(&flag);
        Response::stream(
            Body::from_chunks(vec![b"never sent".to_vec()])
                .on_close(move || flag.store(true, Ordering::SeqCst)),
        )
    });
    let get_reply = get("/page").send(&app);
    let head_reply = request("HEAD", "/page").send(&app);
    assert_eq!(head_reply.status, 200);
    assert!(head_reply.body.is_empty());
    assert_eq!(head_reply.header("content-length"), Some("12"));
    assert_eq!(
        head_reply.header("content-length"),
        get_reply.header("content-length")
    );
    let streamed = request("HEAD", "/stream").send(&app);
    assert!(streamed.body.is_empty());
    assert!(closed.load(Ordering::SeqCst), "the GET body was closed");
}

#[test]
fn options_is_answered_with_allow_unless_a_route_takes_it() {
    let mut app = App::new();
    app.get("/a", |_req: &Request| "a");
    app.route(&["GET", "OPTIONS"], "/b", |req: &Request| {
        req.method().to_owned()
    });
    let reply = request("OPTIONS", "/a").send(&app);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert!(reply.body.is_empty());
    assert_eq!(request("OPTIONS", "/b").send(&app).text(), "OPTIONS");
    assert_eq!(request("OPTIONS", "/zzz").send(&app).status, 404);
}

fn slash_app(policy: TrailingSlash) -> App {
    let mut app = App::new().with_trailing_slash(policy);
    app.get("/docs/", |_req: &Request| "docs");
    app.get("/about", |_req: &Request| "about");
    app
}

#[test]
fn trailing_slash_redirects_308_to_the_canonical_form() {
    let app = slash_app(TrailingSlash::Redirect);
    let reply = get("/docs?page=2").script_name("/site").send(&app);
    assert_eq!(reply.status, 308);
    assert_eq!(reply.header("location"), Some("/site/docs/?page=2"));
    let reply = get("/about/").send(&app);
    assert_eq!(
        (reply.status, reply.header("location")),
        (308, Some("/about"))
    );
    assert_eq!(get("/docs/").send(&app).text(), "docs");
}

#[test]
fn trailing_slash_can_be_ignored_or_strict() {
    let ignore = slash_app(TrailingSlash::Ignore);
    assert_eq!(get("/docs").send(&ignore).text(), "docs");
    assert_eq!(get("/about/").send(&ignore).text(), "about");
    let strict = slash_app(TrailingSlash::Strict);
    assert_eq!(get("/docs").send(&strict).status, 404);
    assert_eq!(get("/about/").send(&strict).status, 404);
}

#[test]
fn an_empty_path_info_is_the_root() {
    let mut app = App::new();
    app.get("/", |_req: &Request| "root");
    assert_eq!(get("").send(&app).text(), "root");
}

fn linked_app() -> App {
    let mut app = App::new();
    app.get("/users/<id:int>", |_req: &Request| "user")
        .name("user");
    app.get("/files/<p:path>", |_req: &Request| "file")
        .name("file");
    app.get(
        "/links",
        |req: &Request| -> Result<Json<Vec<String>>, HttpError> {
            Ok(Json(vec![
                req.url_for("user", &[("id", &7), ("tab", &"posts & more")])?,
                req.url_for("file", &[("p", &"a dir/ü.txt")])?,
                req.external_url_for("user", &[("id", &1)])?,
            ]))
        },
    );
    app.get("/broken", |req: &Request| -> Result<String, HttpError> {
        Ok(req.url_for("user", &[("id", &"seven")])?)
    });
    app
}

#[test]
fn url_for_builds_encoded_links_under_script_name() {
    let app = linked_app();
    let links = get("/links").script_name("/api").send(&app).json();
    assert_eq!(
        links,
        serde_json::json!([
            "/api/users/7?tab=posts+%26+more",
            "/api/files/a%20dir/%C3%BC.txt",
            "http://127.0.0.1/api/users/1"
        ])
    );
    assert_eq!(app.url_for("user", &[("id", &3)]).unwrap(), "/users/3");
}

#[test]
fn url_for_with_a_bad_value_is_a_logged_500() {
    let reply = get("/broken").send(&linked_app());
    assert_eq!(reply.status, 500);
    assert!(
        reply.log.contains("\"seven\" is not a valid integer"),
        "{}",
        reply.log
    );
}

#[test]
#[should_panic(expected = "route \"/u/<uid:int>\" conflicts with \"/u/<id:int>\"")]
fn conflicting_routes_panic_at_registration() {
    let mut app = App::new();
    app.get("/u/<id:int>", |_req: &Request| "a");
    app.get("/u/<uid:int>", |_req: &Request| "b");
}

#[test]
#[should_panic(expected = "invalid route pattern \"/u/<id:integer>\"")]
fn malformed_patterns_panic_at_registration() {
    App::new().get("/u/<id:integer>", |_req: &Request| "a");
}

#[test]
fn try_route_returns_the_error_instead() {
    let mut app = App::new();
    let err = app
        .try_route(&["GET"], "users", |_req: &Request| "x")
        .err()
        .unwrap();
    assert!(matches!(err, RouteError::InvalidPattern { .. }));
    assert!(err.to_string().contains("\"users\""));
}

#[test]
#[should_panic(expected = "route name \"home\" is already used")]
fn duplicate_names_panic() {
    let mut app = App::new();
    app.get("/", |_req: &Request| "a").name("home");
    app.get("/home", |_req: &Request| "b").name("home");
}

#[test]
fn route_name_and_pattern_are_visible_to_handlers() {
    let mut app = App::new();
    app.get("/u/<id:int>", |req: &Request| {
        format!("{:?} {:?}", req.route_name(), req.route_pattern())
    })
    .name("user");
    assert_eq!(
        get("/u/1").send(&app).text(),
        "Some(\"user\") Some(\"/u/<id:int>\")"
    );
}

#[test]
fn handlers_run_only_for_paths_they_match() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let mut app = App::new();
    app.get("/only", move |_req: &Request| {
        counter.fetch_add(1, Ordering::SeqCst);
        "x"
    });
    for (path, status) in [
        ("/only", 200),
        ("/only/more", 404),
        ("/on", 404),
        ("/onlyx", 404),
    ] {
        assert_eq!(get(path).send(&app).status, status, "{path}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
