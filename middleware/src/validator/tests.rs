//! Deliberately broken applications and environs, one per rule, and clean
//! ones that must pass.

use std::io::Read;
use std::sync::Arc;

use gateway_spec::{AppError, Application, Body, Environ, Headers, Input, StartResponse};

use super::*;
use crate::testing::{self, get, request, Response};

fn text_headers() -> Headers {
    vec![("Content-Type".into(), "text/plain".into())]
}

/// Run `app` behind a validator in `mode`; the response and what was found.
fn check_in(
    mode: OnViolation,
    app: impl Application,
    environ: Environ,
) -> (Response, Vec<Violation>) {
    let validator = Validator::new(
        app,
        ValidatorLayer {
            on_violation: mode,
            ..ValidatorLayer::default()
        },
    );
    let violations = validator.violations();
    let response = testing::run(&validator, environ);
    assert_eq!(
        violations.open_bodies(),
        0,
        "the test gateway closes every body"
    );
    (response, violations.list())
}

/// The violations `app` commits for `GET /`, in record mode.
fn found(app: impl Application) -> Vec<Violation> {
    check_in(OnViolation::Record, app, get("/")).1
}

// ----- clean applications pass -----

#[test]
fn clean_applications_pass() {
    let plain = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call("200 OK", text_headers())?;
        Ok(Body::from("hello"))
    };
    let lazy = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        let mut first = true;
        Ok(Body::from_fn(move || {
            if !std::mem::take(&mut first) {
                return None;
            }
            let mut headers = text_headers();
            headers.push(("Content-Length".into(), "4".into()));
            Some(sr.call("200 OK", headers).map(|()| b"lazy".to_vec()))
        }))
    };
    let no_content = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call("204 No Content", vec![])?;
        Ok(Body::empty())
    };
    let error_page = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call("200 OK", text_headers())?;
        sr.call_with_error(
            "500 Internal Server Error",
            text_headers(),
            "db down".into(),
        )?;
        Ok(Body::from("sorry"))
    };
    for (name, app) in [
        ("plain", Arc::new(plain) as Arc<dyn Application>),
        ("lazy", Arc::new(lazy)),
        ("no content", Arc::new(no_content)),
        ("error page", Arc::new(error_page)),
    ] {
        let validator = validator(app);
        let response = testing::run(&validator, get("/"));
        assert!(response.error.is_none(), "{name}: {:?}", response.error);
        validator.violations().assert_clean();
    }
}

#[test]
fn a_head_response_may_announce_the_length_it_does_not_carry() {
    let app = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        let mut headers = text_headers();
        headers.push(("Content-Length".into(), "1000".into()));
        sr.call("200 OK", headers)?;
        Ok(Body::empty())
    };
    let (response, violations) = check_in(OnViolation::Fail, app, request("HEAD", "/"));
    assert_eq!(response.code(), Some(200));
    assert_eq!(violations, vec![]);
}

// ----- the server's side -----

#[test]
fn environ_violations_fail_the_request_before_the_app_runs() {
    let called = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&called);
    let app = move |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        sr.call("200 OK", text_headers())?;
        Ok(Body::from("x"))
    };
    let mut environ = get("/");
    environ.set("HTTP_CONTENT_LENGTH", "3");
    let (response, violations) = check_in(OnViolation::Fail, app, environ);
    assert!(!called.load(std::sync::atomic::Ordering::SeqCst));
    let error = response.error.expect("the request failed");
    assert!(error.to_string().starts_with("PEP 3333 rule 16"), "{error}");
    assert_eq!(
        violations,
        vec![Violation::ContentHeaderAsHttp {
            key: "HTTP_CONTENT_LENGTH".into()
        }]
    );
}

#[test]
fn environ_violations_in_record_mode_let_the_request_through() {
    let mut environ = get("/");
    environ.set("SCRIPT_NAME", "/");
    environ.set("REMOTE_USER", "");
    let (response, violations) = check_in(OnViolation::Record, testing::text_app("fine"), environ);
    assert_eq!(response.text(), "fine");
    assert_eq!(
        violations,
        vec![
            Violation::InvalidScriptName {
                script_name: "/".into()
            },
            Violation::EmptyVariable {
                key: "REMOTE_USER".into()
            },
        ]
    );
}

/// An application that reads its whole input and echoes its length.
fn reader(mut environ: Environ, sr: StartResponse) -> Result<Body, AppError> {
    let mut bytes = Vec::new();
    environ.input.read_to_end(&mut bytes)?;
    sr.call("200 OK", text_headers())?;
    Ok(Body::from(bytes.len().to_string()))
}

fn overlong_input_environ() -> Environ {
    let mut environ = request("POST", "/");
    environ.set("CONTENT_LENGTH", "3");
    // A broken server: the input is not bounded by CONTENT_LENGTH.
    environ.input = Input::new(std::io::Cursor::new(b"abcNEXT REQUEST".to_vec()));
    environ
}

#[test]
fn reading_past_content_length_is_caught() {
    let (response, violations) = check_in(OnViolation::Record, reader, overlong_input_environ());
    assert_eq!(response.text(), "15");
    assert!(matches!(
        violations.as_slice(),
        [Violation::InputPastContentLength {
            content_length: 3,
            ..
        }]
    ));

    let (response, _) = check_in(OnViolation::Fail, reader, overlong_input_environ());
    let error = response.error.expect("the read failed");
    assert!(error.to_string().contains("rule 23"), "{error}");
}

#[test]
fn a_bounded_input_is_clean() {
    let mut environ = request("POST", "/");
    environ.set("CONTENT_LENGTH", "3");
    environ.input = Input::from_bytes(b"abc".to_vec());
    let (response, violations) = check_in(OnViolation::Fail, reader, environ);
    assert_eq!((response.text().as_str(), violations), ("3", vec![]));
}

// ----- start_response -----

/// An application that calls start_response with `status` and `headers`
/// and passes any refusal on with `?`.
fn starting(
    status: &'static str,
    headers: Headers,
) -> impl Fn(Environ, StartResponse) -> Result<Body, AppError> + Send + Sync {
    move |_env, sr| {
        sr.call(status, headers.clone())?;
        Ok(Body::from("body"))
    }
}

#[test]
fn refusals_of_start_response_are_reported_with_their_rule() {
    let cases = [
        (
            starting("200", text_headers()),
            Violation::InvalidStatus {
                status: "200".into(),
            },
        ),
        (
            starting("200 OK", vec![("Bad Name".into(), "v".into())]),
            Violation::InvalidHeaderName {
                name: "Bad Name".into(),
            },
        ),
        (
            starting(
                "200 OK",
                vec![("X-Split".into(), "a\r\nSet-Cookie: x".into())],
            ),
            Violation::InvalidHeaderValue {
                name: "X-Split".into(),
            },
        ),
        (
            starting("200 OK", vec![("Connection".into(), "close".into())]),
            Violation::HopByHopHeader {
                name: "Connection".into(),
            },
        ),
    ];
    for (app, expected) in cases {
        assert_eq!(found(app), vec![expected]);
    }
}

#[test]
fn a_header_the_server_refuses_is_not_also_reported_by_the_rules() {
    let mut headers = text_headers();
    headers.push(("Content-Length".into(), "5\r\nX-Forged: 1".into()));
    // Reported once, as the server's handle refused it; the Content-Length
    // rule, which would misread it, stays quiet.
    assert_eq!(
        found(starting("200 OK", headers)),
        vec![Violation::InvalidHeaderValue {
            name: "Content-Length".into()
        }]
    );
}

#[test]
fn headers_start_response_lets_through_are_still_checked() {
    let mut headers = text_headers();
    headers.push(("Status".into(), "200 OK".into()));
    assert_eq!(
        found(starting("200 OK", headers)),
        vec![Violation::StatusHeader]
    );

    let mut headers = text_headers();
    headers.push(("Content-Length".into(), "four".into()));
    assert_eq!(
        found(starting("200 OK", headers)),
        vec![Violation::InvalidContentLengthHeader {
            value: "four".into()
        }]
    );

    let mut headers = text_headers();
    headers.push(("ETag".into(), "abc".into()));
    assert_eq!(
        found(starting("200 OK", headers)),
        vec![Violation::UnquotedEtag {
            value: "abc".into()
        }]
    );
}

#[test]
fn a_second_call_without_an_error_is_caught() {
    let twice = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call("200 OK", text_headers())?;
        sr.call("404 Not Found", text_headers())?;
        Ok(Body::from("x"))
    };
    assert_eq!(found(twice), vec![Violation::StartResponseTwice]);
}

#[test]
fn going_on_after_a_re_raise_is_caught() {
    let stubborn = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call("200 OK", text_headers())?;
        let mut step = 0;
        Ok(Body::from_fn(move || {
            step += 1;
            match step {
                1 => Some(Ok(b"first".to_vec())),
                2 => {
                    // The headers are out: this hands the error back...
                    let reraised = sr.call_with_error("500 Oops", vec![], "late".into());
                    assert!(reraised.is_err());
                    // ...and the application wrongly ignores it.
                    Some(Ok(b"more".to_vec()))
                }
                _ => None,
            }
        }))
    };
    assert_eq!(found(stubborn), vec![Violation::TrappedReRaise]);
}

// ----- the body -----

#[test]
fn a_chunk_before_start_response_is_caught() {
    let early = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        let mut step = 0;
        Ok(Body::from_fn(move || {
            step += 1;
            match step {
                1 => Some(Ok(b"too early".to_vec())),
                2 => Some(sr.call("200 OK", text_headers()).map(|()| Vec::new())),
                _ => None,
            }
        }))
    };
    assert_eq!(found(early), vec![Violation::ChunkBeforeStartResponse]);
}

#[test]
fn a_body_that_never_starts_is_caught() {
    let silent =
        |_env: Environ, _sr: StartResponse| -> Result<Body, AppError> { Ok(Body::empty()) };
    assert_eq!(found(silent), vec![Violation::NeverStarted]);
}

fn with_length(length: &str, body: &'static str) -> impl Application {
    let mut headers = text_headers();
    headers.push(("Content-Length".into(), length.to_owned().into()));
    move |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call("200 OK", headers.clone())?;
        Ok(Body::from_chunks(
            body.as_bytes()
                .chunks(2)
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>(),
        ))
    }
}

#[test]
fn content_length_must_match_the_bytes_produced() {
    assert_eq!(found(with_length("5", "hello")), vec![]);
    assert_eq!(
        found(with_length("2", "hello")),
        vec![Violation::BodyLongerThanContentLength {
            declared: 2,
            produced: 4
        }]
    );
    assert_eq!(
        found(with_length("9", "hello")),
        vec![Violation::BodyShorterThanContentLength {
            declared: 9,
            produced: 5
        }]
    );
}

#[test]
fn fail_mode_stops_a_body_at_its_first_violation() {
    let (response, violations) = check_in(OnViolation::Fail, with_length("2", "hello"), get("/"));
    assert_eq!(
        response.body(),
        b"he",
        "only the chunk within the length went out"
    );
    assert!(response.error.is_some());
    assert_eq!(violations.len(), 1);
}

#[test]
fn bodies_are_refused_where_http_has_none() {
    let (_, violations) = check_in(
        OnViolation::Record,
        testing::text_app("x"),
        request("HEAD", "/"),
    );
    assert_eq!(violations, vec![Violation::BodyForHead]);

    let no_content = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call("204 No Content", vec![])?;
        Ok(Body::from("oops"))
    };
    assert_eq!(
        found(no_content),
        vec![
            Violation::BodyForStatus { code: 204 },
            Violation::MissingContentType { code: 204 }
        ]
    );

    assert_eq!(
        found(starting("304 Not Modified", text_headers())),
        vec![
            Violation::ContentTypeWithoutBody { code: 304 },
            Violation::BodyForStatus { code: 304 },
        ]
    );
}

#[test]
fn a_body_needs_a_content_type() {
    assert_eq!(
        found(starting("200 OK", vec![])),
        vec![Violation::MissingContentType { code: 200 }]
    );
}

#[test]
fn a_body_that_is_never_closed_is_caught() {
    let validator = validator(testing::text_app("leak"));
    let violations = validator.violations();
    let (start_response, _record) = StartResponse::new();
    let body = validator.call(get("/"), start_response).unwrap();
    assert_eq!(violations.open_bodies(), 1);
    std::mem::forget(body); // a server that never calls close()
    let caught = std::panic::catch_unwind(|| violations.assert_clean());
    let message = caught.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("Rack::Lint check 17"), "{message}");
}

#[test]
fn panic_mode_panics_like_wsgiref_asserts() {
    let validator = Validator::new(
        starting("200 OK", vec![]),
        ValidatorLayer {
            on_violation: OnViolation::Panic,
            ..ValidatorLayer::default()
        },
    );
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        testing::run(&validator, get("/"))
    }));
    let message = caught.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.starts_with("wsgiref.validate check 16"),
        "{message}"
    );
}

#[test]
fn violations_are_visible_from_another_thread() {
    let layer = ValidatorLayer::default();
    let violations = layer.violations.clone();
    let app = Arc::new(Validator::new(starting("200 OK", vec![]), layer));
    let worker = std::thread::spawn(move || testing::run(&app, get("/")).error.is_some());
    assert!(worker.join().unwrap(), "the request failed");
    assert_eq!(
        violations.take(),
        vec![Violation::MissingContentType { code: 200 }]
    );
    assert!(violations.is_empty());
}

#[test]
fn every_message_starts_with_its_rule() {
    let all = [
        Violation::MissingRequestMethod,
        Violation::InvalidRequestMethod {
            method: "a b".into(),
        },
        Violation::MissingServerVariable { key: "SERVER_NAME" },
        Violation::InvalidServerPort { port: "x".into() },
        Violation::InvalidServerProtocol {
            protocol: "x".into(),
        },
        Violation::InvalidScriptName {
            script_name: "/".into(),
        },
        Violation::InvalidPathInfo {
            path_info: "x".into(),
        },
        Violation::MissingPathInfo,
        Violation::InvalidContentLength {
            content_length: "x".into(),
        },
        Violation::ContentHeaderAsHttp {
            key: "HTTP_CONTENT_TYPE".into(),
        },
        Violation::EmptyVariable { key: "X".into() },
        Violation::InputPastContentLength {
            content_length: 1,
            read: 2,
        },
        Violation::InvalidStatus { status: "x".into() },
        Violation::InvalidHeaderName { name: "x".into() },
        Violation::InvalidHeaderValue { name: "x".into() },
        Violation::StatusHeader,
        Violation::HopByHopHeader { name: "TE".into() },
        Violation::StartResponseTwice,
        Violation::TrappedReRaise,
        Violation::ChunkBeforeStartResponse,
        Violation::NeverStarted,
        Violation::InvalidContentLengthHeader { value: "x".into() },
        Violation::BodyLongerThanContentLength {
            declared: 1,
            produced: 2,
        },
        Violation::BodyShorterThanContentLength {
            declared: 2,
            produced: 1,
        },
        Violation::BodyForHead,
        Violation::BodyForStatus { code: 204 },
        Violation::ContentTypeWithoutBody { code: 204 },
        Violation::MissingContentType { code: 200 },
        Violation::UnquotedEtag { value: "x".into() },
        Violation::BodyNotClosed { open: 1 },
    ];
    for violation in all {
        let message = violation.to_string();
        assert!(
            message.starts_with(&format!("{}: ", violation.rule())),
            "{message}"
        );
    }
    assert_eq!(Violation::MissingRequestMethod.side(), Side::Server);
    assert_eq!(Violation::NeverStarted.side(), Side::Application);
}
