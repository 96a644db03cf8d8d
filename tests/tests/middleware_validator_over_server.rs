//! The `Validator` between the real server and an application: the server's
//! environ and input are checked on its worker threads, and the test thread
//! reads what was found through the shared `Violations` handle.

use std::io::Read;

use gateway_spec::{AppError, Body, Environ, StartResponse};
use middleware::{ApplicationExt, OnViolation, Side, ValidatorLayer, Violation, Violations};
use mini_framework::{App, HttpError, Request};
use tests::TestServer;

fn framework_app() -> App {
    let mut app = App::new();
    app.get("/", |_req: &Request| "home");
    app.post("/echo", |req: &Request| -> Result<Vec<u8>, HttpError> {
        Ok(req.body()?.to_vec())
    });
    app
}

/// Serve `app` behind a validator in `mode`; the server and the list.
fn serve_validated(
    app: impl gateway_spec::Application,
    mode: OnViolation,
) -> (TestServer, Violations) {
    let layer = ValidatorLayer {
        on_violation: mode,
        ..ValidatorLayer::default()
    };
    let violations = layer.violations.clone();
    (TestServer::start(app.wrap(layer)), violations)
}

#[test]
fn the_server_and_the_framework_keep_the_contract() {
    let (server, violations) = serve_validated(framework_app(), OnViolation::Fail);
    let requests: [&[u8]; 6] = [
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"GET /?a=1&b=%20 HTTP/1.0\r\n\r\n",
        b"GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"DELETE / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ];
    let statuses: Vec<u16> = requests.iter().map(|r| server.exchange(r).status).collect();
    assert_eq!(statuses, [200, 200, 404, 405, 200, 200]);
    let head = server.exchange_head(b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 200);
    server.stop();
    violations.assert_clean();
}

#[test]
fn an_application_violation_is_a_500_and_visible_to_the_test_thread() {
    // Declares 2 bytes and produces 5 in its first chunk: caught before the
    // server sent anything, so the client gets the server's 500.
    let long = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call(
            "200 OK",
            vec![
                ("Content-Type".into(), "text/plain".into()),
                ("Content-Length".into(), "2".into()),
            ],
        )?;
        Ok(Body::from("hello"))
    };
    let (server, violations) = serve_validated(long, OnViolation::Fail);
    let response = server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    server.stop();
    assert_eq!(response.status, 500);
    assert!(!response.text().contains("hello"));
    let found = violations.list();
    assert_eq!(
        found,
        vec![Violation::BodyLongerThanContentLength {
            declared: 2,
            produced: 5
        }]
    );
    assert_eq!(found[0].side(), Side::Application);
    assert!(found[0].to_string().starts_with("PEP 3333 rule 39"));
}

#[test]
fn a_missing_content_type_fails_the_request_before_anything_is_sent() {
    let untyped = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call("200 OK", vec![])?;
        Ok(Body::from("what am I?"))
    };
    let (server, violations) = serve_validated(untyped, OnViolation::Fail);
    let response = server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    server.stop();
    assert_eq!(response.status, 500);
    assert!(!response.text().contains("what am I"));
    assert_eq!(
        violations.take(),
        vec![Violation::MissingContentType { code: 200 }]
    );
}

#[test]
fn record_mode_lets_the_response_through_and_still_reports() {
    let untyped = |mut env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        let mut body = String::new();
        env.input.read_to_string(&mut body)?;
        sr.call("200 OK", vec![])?;
        Ok(Body::from(format!("read {}", body.len())))
    };
    let (server, violations) = serve_validated(untyped, OnViolation::Record);
    let response = server.exchange(
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    );
    server.stop();
    assert_eq!((response.status, response.text().as_str()), (200, "read 3"));
    assert_eq!(
        violations.list(),
        vec![Violation::MissingContentType { code: 200 }]
    );
}
