//! Everything around the handlers: hooks, error handlers, shared state,
//! blueprints, mounting foreign apps, sessions, and sharing an app between
//! threads.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_spec::{AppError, Application, Body, Environ, StartResponse};
use mini_framework::{abort, App, Blueprint, HttpError, Json, Request, Response, SessionConfig};
use serde_json::json;
use support::{get, request};

// ----- hooks -------------------------------------------------------------------

struct CurrentUser(String);

fn hooked_app() -> App {
    let mut app = App::new();
    app.before_request(|req: &mut Request| {
        let key = req.header("X-Api-Key").map(str::to_owned);
        match key.as_deref() {
            Some("secret") => {
                req.extensions_mut().insert(CurrentUser("ada".to_owned()));
                None
            }
            Some(_) => Some(abort(403).into()),
            None => Some(Response::text("log in first").with_status(401)),
        }
    });
    app.after_request(|req: &Request, response: &mut Response| {
        response.set_header("X-Frame-Options", "DENY");
        response.set_header("X-Route", req.route_name().unwrap_or("-").to_owned());
    });
    app.get("/me", |req: &Request| {
        req.extensions()
            .get::<CurrentUser>()
            .map(|user| format!("you are {}", user.0))
    })
    .name("me");
    app
}

#[test]
fn before_hooks_can_answer_early_or_pass_values_to_the_handler() {
    let app = hooked_app();
    let reply = get("/me").header("X-Api-Key", "secret").send(&app);
    assert_eq!(reply.text(), "you are ada");
    assert_eq!(
        get("/me").header("X-Api-Key", "wrong").send(&app).status,
        403
    );
    let reply = get("/me").send(&app);
    assert_eq!((reply.status, reply.text().as_str()), (401, "log in first"));
}

#[test]
fn after_hooks_change_every_response_including_errors() {
    let app = hooked_app();
    let ok = get("/me").header("X-Api-Key", "secret").send(&app);
    assert_eq!(ok.header("x-frame-options"), Some("DENY"));
    assert_eq!(ok.header("x-route"), Some("me"));
    let early = get("/me").send(&app);
    assert_eq!(early.header("x-frame-options"), Some("DENY"));
    let missing = get("/nope").header("X-Api-Key", "secret").send(&app);
    assert_eq!(
        (missing.status, missing.header("x-route")),
        (404, Some("-"))
    );
    assert_eq!(missing.header("x-frame-options"), Some("DENY"));
}

// ----- error handlers ------------------------------------------------------------

fn erroring_app() -> App {
    let mut app = App::new();
    app.get(
        "/gone",
        |_req: &Request| -> Result<&'static str, HttpError> { Err(abort(410)) },
    );
    app.get("/own-404", |_req: &Request| (404, "a plain 404 response"));
    app.get("/io", |_req: &Request| -> Result<String, AppError> {
        let text = std::fs::read_to_string("/definitely/not/here")?;
        Ok(text)
    });
    app.post("/only-post", |_req: &Request| "posted");
    app.error_handler(404, |req: &Request, _err: &HttpError| {
        Json(json!({"error": "not found", "path": req.path()}))
    });
    app.error_handler(410, |_req: &Request, err: &HttpError| {
        Response::text(format!("custom: {}", err.public_message())).with_status(451)
    });
    app.error_handler(405, |_req: &Request, _err: &HttpError| "wrong method");
    app
}

#[test]
fn error_handlers_render_http_errors_keeping_their_status() {
    let app = erroring_app();
    let reply = get("/missing").send(&app);
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json(),
        json!({"error": "not found", "path": "/missing"})
    );
    let reply = get("/gone").send(&app);
    assert_eq!(reply.status, 451, "a handler may choose another status");
    assert!(reply.text().starts_with("custom: "));
}

#[test]
fn error_handlers_keep_the_errors_headers() {
    let reply = get("/only-post").send(&erroring_app());
    assert_eq!(reply.status, 405);
    assert_eq!(reply.text(), "wrong method");
    assert_eq!(reply.header("allow"), Some("OPTIONS, POST"));
}

#[test]
fn a_custom_500_page_still_logs_the_cause() {
    let mut app = App::new();
    app.get("/db", |_req: &Request| -> Result<&'static str, HttpError> {
        Err(HttpError::internal("connection refused by db:5432"))
    });
    app.error_handler(500, |_req: &Request, _err: &HttpError| "sorry, try again");
    let reply = get("/db").send(&app);
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (500, "sorry, try again")
    );
    assert!(
        reply.log.contains("connection refused by db:5432"),
        "{}",
        reply.log
    );
    assert_eq!(
        reply.log.matches("connection refused").count(),
        1,
        "{}",
        reply.log
    );
}

#[test]
fn a_response_built_with_an_error_status_is_not_an_error() {
    let reply = get("/own-404").send(&erroring_app());
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (404, "a plain 404 response")
    );
}

#[test]
fn any_error_becomes_a_500_whose_cause_is_logged_not_shown() {
    let reply = get("/io").send(&erroring_app());
    assert_eq!(reply.status, 500);
    assert!(reply.text().starts_with("500 Internal Server Error"));
    assert!(!reply.text().contains("No such file"));
    assert!(reply.log.contains("GET /io"), "{}", reply.log);
    assert!(reply.log.contains("No such file"), "{}", reply.log);
}

#[test]
fn a_panicking_handler_is_left_to_the_server() {
    let mut app = App::new();
    app.get("/boom", |_req: &Request| -> &'static str {
        panic!("handler bug")
    });
    // Servers catch panics the same way, around the whole call.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (start_response, _record) = StartResponse::new();
        let mut environ = Environ::for_test();
        environ.set("PATH_INFO", "/boom");
        app.call(environ, start_response).map(drop)
    }));
    assert!(
        outcome.is_err(),
        "the panic reaches the caller, who answers 500"
    );
}

// ----- state ---------------------------------------------------------------------

#[derive(Default)]
struct Db {
    names: Mutex<Vec<String>>,
}

#[test]
fn state_is_shared_by_every_handler() {
    let mut app = App::new()
        .with_state(AtomicU64::new(0))
        .with_state(Db::default());
    app.post(
        "/names/<name>",
        |req: &Request| -> Result<(u16, String), HttpError> {
            let db = req.state::<Db>()?;
            let mut names = db.names.lock().map_err(|_| abort(500))?;
            names.push(req.param("name")?);
            Ok((201, names.len().to_string()))
        },
    );
    app.get("/hits", |req: &Request| -> Result<String, HttpError> {
        let hits = req.state::<AtomicU64>()?;
        Ok((hits.fetch_add(1, Ordering::SeqCst) + 1).to_string())
    });
    assert_eq!(request("POST", "/names/ada").send(&app).text(), "1");
    assert_eq!(request("POST", "/names/alan").send(&app).text(), "2");
    assert_eq!(get("/hits").send(&app).text(), "1");
    assert_eq!(get("/hits").send(&app).text(), "2");
}

#[test]
fn missing_state_is_a_500_naming_the_type() {
    let mut app = App::new();
    app.get("/", |req: &Request| -> Result<String, HttpError> {
        Ok(req
            .state::<Db>()?
            .names
            .lock()
            .map_err(|_| abort(500))?
            .join(","))
    });
    let reply = get("/").send(&app);
    assert_eq!(reply.status, 500);
    assert!(reply.log.contains("composition::Db"), "{}", reply.log);
}

#[test]
fn an_app_is_send_sync_static_and_served_from_many_threads() {
    fn assert_send_sync_static<T: Send + Sync + 'static>() {}
    assert_send_sync_static::<App>();
    let mut app = App::new().with_state(AtomicU64::new(0));
    app.get("/", |req: &Request| -> Result<String, HttpError> {
        Ok(req
            .state::<AtomicU64>()?
            .fetch_add(1, Ordering::SeqCst)
            .to_string())
    });
    let app: Arc<App> = Arc::new(app);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let app = Arc::clone(&app);
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| get("/").send(&app).status)
                    .filter(|s| *s == 200)
                    .count()
            })
        })
        .collect();
    let ok: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(ok, 100);
    assert_eq!(get("/").send(&app).text(), "100");
}

// ----- blueprints ----------------------------------------------------------------

fn admin_blueprint() -> Blueprint {
    let mut admin = Blueprint::new("admin", "/admin/");
    admin.before_request(|req: &mut Request| {
        (req.remote_user() != Some("root")).then(|| abort(401).into())
    });
    admin.after_request(|_req: &Request, response: &mut Response| {
        response.set_header("Cache-Control", "no-store");
    });
    admin.get("/", |_req: &Request| "dashboard").name("index");
    admin
        .get(
            "/users/<id:int>",
            |req: &Request| -> Result<String, HttpError> { Ok(req.url_for("admin.index", &[])?) },
        )
        .name("user");
    admin
}

#[test]
fn blueprints_add_prefixed_named_routes_with_their_own_hooks() {
    let mut app = App::new();
    app.get("/", |_req: &Request| "public");
    app.register(admin_blueprint());
    let mut environ = get("/admin/users/3").environ();
    environ.set("REMOTE_USER", "root");
    let reply = support::Call::from_environ(environ).send(&app);
    assert_eq!(reply.text(), "/admin/");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(get("/admin/").send(&app).status, 401);
    let public = get("/").send(&app);
    assert_eq!((public.status, public.header("cache-control")), (200, None));
    assert_eq!(
        app.url_for("admin.user", &[("id", &9)]).unwrap(),
        "/admin/users/9"
    );
}

#[test]
#[should_panic(expected = "conflicts with \"/admin/\"")]
fn blueprint_conflicts_are_found_at_registration() {
    let mut app = App::new();
    app.get("/admin/", |_req: &Request| "mine");
    app.register(admin_blueprint());
}

#[test]
fn malformed_blueprint_patterns_are_found_when_added() {
    let mut admin = Blueprint::new("admin", "/admin");
    let err = admin
        .try_route(&["GET"], "/<", |_req: &Request| "x")
        .err()
        .unwrap();
    assert!(err.to_string().contains("\"/<\""), "{err}");
    let mut no_slash = Blueprint::new("admin", "admin");
    let err = no_slash
        .try_route(&["GET"], "/users", |_req: &Request| "x")
        .err()
        .unwrap();
    assert!(err.to_string().contains("\"admin/users\""), "{err}");
}

// ----- mounting --------------------------------------------------------------------

fn raw_app(environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
    let text = format!("raw: {}|{}", environ.script_name(), environ.path_info());
    // Start lazily, from the body's first step, as PEP 3333 allows.
    let mut pending = Some(text);
    Ok(Body::from_fn(move || {
        let text = pending.take()?;
        if let Err(err) = start_response.call("200 OK", vec![("X-Raw".into(), "1".into())]) {
            return Some(Err(err));
        }
        Some(Ok(text.into_bytes()))
    }))
}

fn api_app() -> App {
    let mut api = App::new();
    api.get("/users/<id:int>", |_req: &Request| "user")
        .name("user");
    api.get("/", |req: &Request| -> Result<String, HttpError> {
        Ok(req.url_for("user", &[("id", &7)])?)
    });
    api
}

fn mounting_app() -> App {
    let mut app = App::new();
    app.mount("/legacy", raw_app);
    app.mount("/api", api_app());
    app.mount(
        "/api/v2",
        |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
            sr.call("200 OK", vec![])?;
            Ok(Body::from("v2"))
        },
    );
    app.get("/apix", |_req: &Request| "not mounted");
    app
}

#[test]
fn mounted_apps_see_shifted_script_name_and_path_info() {
    let app = mounting_app();
    let reply = get("/legacy/a/b").script_name("/site").send(&app);
    assert_eq!(reply.text(), "raw: /site/legacy|/a/b");
    assert_eq!(reply.header("x-raw"), Some("1"));
    assert_eq!(get("/legacy").send(&app).text(), "raw: /legacy|");
}

#[test]
fn a_mounted_app_builds_links_under_its_prefix() {
    let reply = get("/api/").script_name("/site").send(&mounting_app());
    assert_eq!(reply.text(), "/site/api/users/7");
}

#[test]
fn mounts_match_whole_segments_longest_prefix_first() {
    let app = mounting_app();
    assert_eq!(get("/api/v2/x").send(&app).text(), "v2");
    assert_eq!(get("/apix").send(&app).text(), "not mounted");
    assert_eq!(get("/api/users/7").send(&app).text(), "user");
}

// ----- sessions ----------------------------------------------------------------------

fn session_app(max_age: Duration) -> App {
    let mut app = App::new().with_sessions(SessionConfig {
        max_age,
        ..SessionConfig::new(*b"an example secret, long enough")
    });
    app.post(
        "/login/<name>",
        |req: &Request| -> Result<&'static str, HttpError> {
            req.session()?
                .insert("user", req.param::<String>("name")?)?;
            Ok("logged in")
        },
    );
    app.get("/whoami", |req: &Request| -> Result<String, HttpError> {
        Ok(req
            .session()?
            .get::<String>("user")
            .unwrap_or_else(|| "anonymous".to_owned()))
    });
    app.post(
        "/logout",
        |req: &Request| -> Result<&'static str, HttpError> {
            req.session()?.clear();
            Ok("bye")
        },
    );
    app
}

fn session_cookie(reply: &support::Reply) -> String {
    let set_cookie = reply.header("set-cookie").expect("a Set-Cookie header");
    set_cookie.split(';').next().expect("name=value").to_owned()
}

#[test]
fn sessions_round_trip_through_a_signed_cookie() {
    let app = session_app(Duration::from_secs(3600));
    let login = request("POST", "/login/ada").send(&app);
    let cookie = session_cookie(&login);
    assert!(login.header("set-cookie").unwrap().contains("HttpOnly"));
    assert_eq!(login.header("vary"), Some("Cookie"));
    let reply = get("/whoami").header("Cookie", &cookie).send(&app);
    assert_eq!(reply.text(), "ada");
    assert_eq!(
        reply.header("set-cookie"),
        None,
        "an unchanged session is not re-sent"
    );
    let logout = request("POST", "/logout")
        .header("Cookie", &cookie)
        .send(&app);
    assert!(logout.header("set-cookie").unwrap().contains("Max-Age=0"));
}

#[test]
fn a_tampered_session_cookie_is_rejected() {
    let app = session_app(Duration::from_secs(3600));
    let cookie = session_cookie(&request("POST", "/login/ada").send(&app));
    let (name_and_payload, signature) = cookie.split_once('.').unwrap();
    let mut payload = name_and_payload.to_owned();
    let last = payload.pop().unwrap();
    payload.push(if last == 'A' { 'B' } else { 'A' });
    let tampered = format!("{payload}.{signature}");
    let reply = get("/whoami").header("Cookie", &tampered).send(&app);
    assert_eq!(reply.text(), "anonymous");
    let mut other_key = App::new().with_sessions(SessionConfig::new(*b"some other secret key!!"));
    other_key.get("/whoami", |req: &Request| -> Result<String, HttpError> {
        Ok(req.session()?.get::<String>("user").unwrap_or_default())
    });
    assert_eq!(
        get("/whoami")
            .header("Cookie", &cookie)
            .send(&other_key)
            .text(),
        ""
    );
}

#[test]
fn an_expired_session_cookie_is_rejected() {
    let app = session_app(Duration::ZERO); // expires the second it is issued
    let cookie = session_cookie(&request("POST", "/login/ada").send(&app));
    assert_eq!(
        get("/whoami").header("Cookie", &cookie).send(&app).text(),
        "anonymous"
    );
}

#[test]
fn sessions_without_a_secret_are_a_500() {
    let mut app = App::new();
    app.get("/", |req: &Request| -> Result<String, HttpError> {
        Ok(req.session()?.keys().join(","))
    });
    let reply = get("/").send(&app);
    assert_eq!(reply.status, 500);
    assert!(reply.log.contains("with_sessions"), "{}", reply.log);
}

#[test]
#[should_panic(expected = "use at least 16 random bytes")]
fn short_secrets_are_refused() {
    let _ = App::new().with_sessions(SessionConfig::new(*b"short"));
}
