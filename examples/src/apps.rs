//! One small application written three ways: as a raw closure over the
//! contract, with `mini-framework`, and wrapped in `middleware`. The `mix`
//! example serves any of them through any gateway, and the workspace tests
//! check that every gateway gives every kind the same answers.
//!
//! What each kind does:
//! - `GET /hello?name=N`: `200`, `Hello, N!` (`world` by default);
//! - `POST /echo`: `200`, the body back with its Content-Type;
//! - anything else: `404`.

use std::sync::Arc;

use gateway_spec::{AppError, Application, Body, Environ, StartResponse};
use middleware::{ApplicationExt, CatchPanicLayer, RequestIdLayer};
use mini_framework::{App, Request, Response};

/// Which of the three kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppKind {
    /// A closure over the contract, nothing else.
    Raw,
    /// A `mini-framework` app.
    Framework,
    /// The raw app inside `RequestId` and `CatchPanic` layers.
    Wrapped,
}

impl AppKind {
    /// Every kind, for tests that go through them all.
    pub const ALL: [AppKind; 3] = [AppKind::Raw, AppKind::Framework, AppKind::Wrapped];

    /// `raw`, `framework` or `wrapped`.
    pub fn name(self) -> &'static str {
        match self {
            AppKind::Raw => "raw",
            AppKind::Framework => "framework",
            AppKind::Wrapped => "wrapped",
        }
    }

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Option<AppKind> {
        AppKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The application of this kind, type-erased so a program can choose at
    /// run time.
    pub fn build(self) -> Arc<dyn Application> {
        match self {
            AppKind::Raw => Arc::new(raw_app),
            AppKind::Framework => Arc::new(framework_app()),
            AppKind::Wrapped => Arc::new(wrapped_app()),
        }
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

/// wsgiref's `demo_app`, line for line: a greeting, then `key = 'value'`
/// for every variable of the environ, sorted by key. Served by the `demo`
/// example, and under `/demo` by `mount`.
pub fn demo_app(environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
    let mut out = String::from("Hello world!\n\n");
    for (key, value) in environ.sorted_vars() {
        out.push_str(&format!("{key} = {value:?}\n"));
    }
    out.push_str(&format!(
        "wsgi.url_scheme = {:?}\n",
        environ.url_scheme.as_str()
    ));
    out.push_str(&format!("wsgi.multithread = {}\n", environ.multithread));
    start_response.call(
        "200 OK",
        vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
    )?;
    Ok(Body::from(out))
}

/// The raw kind: routing by hand over the environ.
pub fn raw_app(mut environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
    let method = environ.request_method().to_owned();
    match (method.as_str(), environ.path_info()) {
        ("GET" | "HEAD", "/hello") => {
            let name =
                query_value(environ.query_string(), "name").unwrap_or_else(|| "world".into());
            start_response.call("200 OK", vec![("Content-Type".into(), TEXT.into())])?;
            if method == "HEAD" {
                // A HEAD answer has no body (RFC 9110 9.3.2; the Validator
                // checks it, as Rack::Lint does).
                return Ok(Body::empty());
            }
            Ok(Body::from(format!("Hello, {name}!")))
        }
        ("POST", "/echo") => {
            let body = environ.input.read_all()?;
            let content_type = environ
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            start_response.call("200 OK", vec![("Content-Type".into(), content_type.into())])?;
            Ok(Body::from(body))
        }
        _ => {
            start_response.call("404 Not Found", vec![("Content-Type".into(), TEXT.into())])?;
            Ok(Body::from("Not Found"))
        }
    }
}

/// The framework kind: the same routes with `mini-framework`.
pub fn framework_app() -> App {
    let mut app = App::new();
    app.get("/hello", |req: &Request| {
        let name = req.query().get("name").unwrap_or("world").to_owned();
        format!("Hello, {name}!")
    });
    app.post("/echo", |req: &Request| -> Result<Response, AppError> {
        let content_type = req
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        Ok(Response::bytes(req.body()?.to_vec()).with_header("Content-Type", content_type))
    });
    app
}

/// The wrapped kind: the raw app inside two middleware layers.
pub fn wrapped_app() -> impl Application {
    raw_app
        .wrap(CatchPanicLayer::default())
        .wrap(RequestIdLayer::default())
}

/// The first value of `name` in a query string, decoded as a form.
fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
