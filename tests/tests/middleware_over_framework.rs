//! Every middleware layer around a `mini-framework` application, driven
//! in-process (a `StartResponse::new()` and the body pulled as a server
//! would), with a `Validator` outermost so each stack is also checked
//! against the gateway contract.
//!
//! The layers' own unit tests use raw closure applications; these show the
//! same layers work around an application a framework made.

use std::io::Write;
use std::sync::{Arc, Mutex};

use gateway_spec::{AppError, Application, Environ, Headers, HeadersExt, Input, StartResponse};
use middleware::{
    AccessLogLayer, ApplicationExt, BasicAuthLayer, BearerAuthLayer, BodyLimitLayer,
    CatchPanicLayer, CompressionLayer, ConditionalGetLayer, CorsLayer, LogFormat, MountLayer,
    ProxyFixLayer, RequestIdLayer, RequestIdValue, StaticFilesLayer, ValidatorLayer, Violations,
};
use mini_framework::{App, HttpError, Request, Response};

/// The application under every test: a few routes that show what a layer did.
fn framework_app() -> App {
    let mut app = App::new();
    app.get("/", |_req: &Request| "home");
    app.get("/whoami", |req: &Request| {
        req.remote_user().unwrap_or("nobody").to_owned()
    });
    app.get("/client", |req: &Request| {
        format!(
            "{} {} {}",
            req.remote_addr().unwrap_or("-"),
            req.scheme(),
            req.host()
        )
    });
    app.get("/where", |req: &Request| {
        format!("{:?} {:?}", req.script_name(), req.path())
    });
    app.get("/big", |_req: &Request| "lorem ipsum ".repeat(1000));
    app.get("/tagged", |_req: &Request| {
        Response::text("tagged content").with_header("ETag", "\"v1\"")
    });
    app.get("/panic", |_req: &Request| -> &'static str {
        panic!("the handler exploded")
    });
    app.get("/request-id", |req: &Request| {
        let id = req
            .extensions()
            .get::<RequestIdValue>()
            .map(|id| id.as_str().to_owned());
        id.unwrap_or_else(|| "none".to_owned())
    });
    app.post("/upload", |req: &Request| -> Result<String, HttpError> {
        Ok(format!("got {} bytes", req.body()?.len()))
    });
    app
}

/// What a client would have received.
#[derive(Debug)]
struct Outcome {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
}

impl Outcome {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_header(name)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Call `app` as a server does: headers taken at the first non-empty chunk
/// or at the end, body pulled to the end, closed by dropping it.
fn drive(app: &impl Application, environ: Environ) -> Result<Outcome, AppError> {
    let (start_response, record) = StartResponse::new();
    let body = app.call(environ, start_response)?;
    let mut head = None;
    let mut bytes = Vec::new();
    for chunk in body {
        let chunk = chunk?;
        if !chunk.is_empty() && head.is_none() {
            head = record.send_headers();
        }
        bytes.extend_from_slice(&chunk);
    }
    let (status, headers) = head
        .or_else(|| record.send_headers())
        .ok_or("the response was never started")?;
    let status = status[..3].parse()?;
    Ok(Outcome {
        status,
        headers,
        body: bytes,
    })
}

fn request(method: &'static str, path: &str) -> Environ {
    let mut environ = Environ::for_test();
    environ.set("REQUEST_METHOD", method);
    environ.set("PATH_INFO", path.to_owned());
    environ
}

fn get(path: &str) -> Environ {
    request("GET", path)
}

/// Put a validator around `app`; the test checks the violations at the end.
fn validated<A: Application>(app: A) -> (impl Application, Violations) {
    let layer = ValidatorLayer::default();
    let violations = layer.violations.clone();
    (app.wrap(layer), violations)
}

/// Run one request through `app` (validated) and check the contract held.
fn exchange(app: impl Application, environ: Environ) -> Outcome {
    let (app, violations) = validated(app);
    let outcome = drive(&app, environ).expect("the request succeeds");
    violations.assert_clean();
    outcome
}

#[test]
fn the_validator_passes_the_framework_s_own_responses() {
    let (app, violations) = validated(framework_app());
    for (method, path) in [
        ("GET", "/"),
        ("HEAD", "/"),
        ("GET", "/nowhere"),
        ("POST", "/"),
        ("OPTIONS", "/"),
        ("GET", "/tagged"),
    ] {
        drive(&app, request(method, path)).unwrap();
    }
    violations.assert_clean();
}

#[test]
fn access_log_writes_one_line_per_framework_request() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let layer = AccessLogLayer {
        format: LogFormat::Common,
        ..AccessLogLayer::to_writer(Sink(Arc::clone(&lines)))
    };
    let app = framework_app().wrap(layer);
    let (app, violations) = validated(app);
    drive(&app, get("/big")).unwrap();
    drive(&app, get("/nowhere")).unwrap();
    violations.assert_clean();
    let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("\"GET /big HTTP/1.0\" 200 12000 "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("\"GET /nowhere HTTP/1.0\" 404 "),
        "{}",
        lines[1]
    );
}

#[test]
fn catch_panic_turns_a_handler_panic_into_a_500_page() {
    let app = framework_app().wrap(CatchPanicLayer::default());
    let outcome = exchange(app, get("/panic"));
    assert_eq!(outcome.status, 500);
    assert!(outcome.text().starts_with("500 Internal Server Error"));
    assert!(
        !outcome.text().contains("exploded"),
        "no details outside debug mode"
    );
}

#[test]
fn basic_auth_guards_framework_routes() {
    let app = || {
        framework_app().wrap(BasicAuthLayer::with_credentials(
            "staff",
            [("alice", "s3cret")],
        ))
    };
    let mut environ = get("/whoami");
    environ.set("HTTP_AUTHORIZATION", "Basic YWxpY2U6czNjcmV0"); // alice:s3cret
    assert_eq!(exchange(app(), environ).text(), "alice");

    let refused = exchange(app(), get("/whoami"));
    assert_eq!(refused.status, 401);
    assert!(refused
        .header("WWW-Authenticate")
        .unwrap()
        .starts_with("Basic realm=\"staff\""));

    let mut wrong = get("/whoami");
    wrong.set("HTTP_AUTHORIZATION", "Basic YWxpY2U6d3Jvbmc="); // alice:wrong
    assert_eq!(exchange(app(), wrong).status, 401);

    let mut malformed = get("/whoami");
    malformed.set("HTTP_AUTHORIZATION", "Basic %%%");
    assert_eq!(exchange(app(), malformed).status, 400);
}

#[test]
fn bearer_auth_guards_framework_routes() {
    let app = || framework_app().wrap(BearerAuthLayer::with_tokens("api", [("t0ken", "ci-bot")]));
    let mut environ = get("/whoami");
    environ.set("HTTP_AUTHORIZATION", "Bearer t0ken");
    assert_eq!(exchange(app(), environ).text(), "ci-bot");
    assert_eq!(exchange(app(), get("/whoami")).status, 401);
    let mut wrong = get("/whoami");
    wrong.set("HTTP_AUTHORIZATION", "Bearer nope");
    assert_eq!(exchange(app(), wrong).status, 401);
    let mut malformed = get("/whoami");
    malformed.set("HTTP_AUTHORIZATION", "Bearer two words");
    assert_eq!(exchange(app(), malformed).status, 400);
}

#[test]
fn cors_answers_preflights_and_marks_framework_responses() {
    let app = || framework_app().wrap(CorsLayer::allow_origins(["https://app.example"]));
    let mut preflight = request("OPTIONS", "/");
    preflight.set("HTTP_ORIGIN", "https://app.example");
    preflight.set("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST");
    let outcome = exchange(app(), preflight);
    assert_eq!(outcome.status, 204);
    assert_eq!(
        outcome.header("Access-Control-Allow-Origin"),
        Some("https://app.example")
    );

    let mut simple = get("/");
    simple.set("HTTP_ORIGIN", "https://app.example");
    let outcome = exchange(app(), simple);
    assert_eq!(outcome.text(), "home");
    assert_eq!(
        outcome.header("Access-Control-Allow-Origin"),
        Some("https://app.example")
    );

    let mut foreign = get("/");
    foreign.set("HTTP_ORIGIN", "https://evil.example");
    assert_eq!(
        exchange(app(), foreign).header("Access-Control-Allow-Origin"),
        None
    );
}

#[test]
fn request_id_reaches_the_handler_and_the_response() {
    let app = framework_app().wrap(RequestIdLayer::default());
    let outcome = exchange(app, get("/request-id"));
    let id = outcome.header("X-Request-Id").unwrap();
    assert_eq!(outcome.text(), id);
    assert_eq!(id.len(), 32);
}

#[test]
fn proxy_fix_shows_the_handler_the_client() {
    let app = framework_app().wrap(ProxyFixLayer {
        x_host: 1,
        ..ProxyFixLayer::new(1)
    });
    let mut environ = get("/client");
    environ.set("REMOTE_ADDR", "10.0.0.2");
    environ.set("HTTP_X_FORWARDED_FOR", "198.51.100.7");
    environ.set("HTTP_X_FORWARDED_PROTO", "https");
    environ.set("HTTP_X_FORWARDED_HOST", "shop.example");
    assert_eq!(
        exchange(app, environ).text(),
        "198.51.100.7 https shop.example"
    );
}

#[test]
fn mount_shifts_the_path_for_a_framework_app() {
    let app = mini_framework_fallback().wrap(MountLayer::new().at("/shop", framework_app()));
    assert_eq!(
        exchange(app, get("/shop/where")).text(),
        r#""/shop" "/where""#
    );
    let app = mini_framework_fallback().wrap(MountLayer::new().at("/shop", framework_app()));
    assert_eq!(exchange(app, get("/other")).text(), "fallback");
}

fn mini_framework_fallback() -> App {
    let mut app = App::new();
    app.get("/<rest:path>", |_req: &Request| "fallback");
    app
}

#[test]
fn static_files_sit_in_front_of_a_framework_app() {
    let root =
        std::env::temp_dir().join(format!("middleware-over-framework-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("style.css"), "p { margin: 0 }").unwrap();
    std::fs::write(std::env::temp_dir().join("middleware-secret.txt"), "SECRET").unwrap();
    let layer = StaticFilesLayer::new(&root).unwrap().with_prefix("/static");
    let app = || framework_app().wrap(layer.clone());

    let file = exchange(app(), get("/static/style.css"));
    assert_eq!(
        (file.status, file.text().as_str()),
        (200, "p { margin: 0 }")
    );
    assert_eq!(file.header("Content-Type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        exchange(app(), get("/")).text(),
        "home",
        "other paths reach the framework"
    );
    assert_eq!(
        exchange(app(), get("/static/missing.css")).status,
        404,
        "the framework's 404"
    );
    let attack = exchange(app(), get("/static/../middleware-secret.txt"));
    assert_eq!(attack.status, 404);
    assert!(!attack.text().contains("SECRET"));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn compression_gzips_a_framework_response() {
    let app = framework_app().wrap(CompressionLayer::default());
    let mut environ = get("/big");
    environ.set("HTTP_ACCEPT_ENCODING", "gzip");
    let outcome = exchange(app, environ);
    assert_eq!(outcome.header("Content-Encoding"), Some("gzip"));
    assert_eq!(outcome.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(&outcome.body[..2], [0x1f, 0x8b], "the gzip magic number");
    assert!(
        outcome.body.len() < 1000,
        "12000 bytes of repetition shrink: {}",
        outcome.body.len()
    );
}

#[test]
fn conditional_get_answers_304_for_a_framework_etag() {
    let app = || framework_app().wrap(ConditionalGetLayer);
    let mut environ = get("/tagged");
    environ.set("HTTP_IF_NONE_MATCH", "\"v1\"");
    let outcome = exchange(app(), environ);
    assert_eq!(outcome.status, 304);
    assert!(outcome.body.is_empty());
    assert_eq!(exchange(app(), get("/tagged")).text(), "tagged content");
}

#[test]
fn body_limit_refuses_an_oversized_upload_before_the_framework_reads_it() {
    let app = || framework_app().wrap(BodyLimitLayer::new(8));
    let mut big = request("POST", "/upload");
    big.set("CONTENT_LENGTH", "9");
    big.set("CONTENT_TYPE", "application/octet-stream");
    big.input = Input::from_bytes(b"123456789".to_vec());
    assert_eq!(exchange(app(), big).status, 413);

    let mut small = request("POST", "/upload");
    small.set("CONTENT_LENGTH", "4");
    small.set("CONTENT_TYPE", "application/octet-stream");
    small.input = Input::from_bytes(b"1234".to_vec());
    assert_eq!(exchange(app(), small).text(), "got 4 bytes");

    // Unknown length (a chunked upload): the framework's read fails at the
    // limit and the client gets a 413, whoever writes it.
    let mut chunked = request("POST", "/upload");
    chunked.set("CONTENT_TYPE", "application/octet-stream");
    chunked.input = Input::new(std::io::Cursor::new(b"123456789".to_vec()));
    assert_eq!(exchange(app(), chunked).status, 413);
}

#[test]
fn a_whole_stack_around_a_framework_app() {
    let app = framework_app()
        .wrap(CompressionLayer::default())
        .wrap(BasicAuthLayer::with_credentials(
            "staff",
            [("alice", "s3cret")],
        ))
        .wrap(CatchPanicLayer::default())
        .wrap(RequestIdLayer::default())
        .wrap(ProxyFixLayer::new(1));
    let mut environ = get("/big");
    environ.set("HTTP_AUTHORIZATION", "Basic YWxpY2U6czNjcmV0");
    environ.set("HTTP_ACCEPT_ENCODING", "gzip");
    let outcome = exchange(app, environ);
    assert_eq!(outcome.status, 200);
    assert_eq!(outcome.header("Content-Encoding"), Some("gzip"));
    assert!(outcome.header("X-Request-Id").is_some());
}
