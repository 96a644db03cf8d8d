//! Compressed responses decoded back, and the responses left alone.

use std::io::{Read, Write};

use flate2::read::{GzDecoder, ZlibDecoder};

use super::*;
use crate::testing::{get, request, run, Response};

const TEXT: &str = "All work and no play makes Jack a dull boy. ";

fn long_text() -> String {
    TEXT.repeat(100)
}

/// An application answering `body` as `content_type`, with extra headers.
fn answering(content_type: &'static str, body: String, extra: Headers) -> impl Application {
    move |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        let mut headers = vec![("Content-Type".into(), content_type.into())];
        headers.extend(extra.clone());
        sr.call("200 OK", headers)?;
        Ok(Body::from(body.clone()))
    }
}

fn accepting(encoding: &str) -> Environ {
    let mut environ = get("/");
    environ.set("HTTP_ACCEPT_ENCODING", encoding.to_owned());
    environ
}

fn compressed(app: impl Application, environ: Environ) -> Response {
    run(&Compression::new(app, CompressionLayer::default()), environ)
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
    text
}

#[test]
fn text_is_gzipped_for_a_client_that_accepts_it() {
    let app = answering(
        "text/plain",
        long_text(),
        vec![("Content-Length".into(), "4400".into())],
    );
    let response = compressed(app, accepting("gzip, deflate, br"));
    assert_eq!(response.code(), Some(200));
    assert_eq!(response.header("Content-Encoding"), Some("gzip"));
    assert_eq!(response.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(response.header("Content-Length"), None);
    let body = response.body();
    assert!(body.len() < 200, "{} bytes", body.len());
    assert_eq!(gunzip(&body), long_text());
}

#[test]
fn deflate_when_preferred() {
    let response = compressed(
        answering("application/json", long_text(), vec![]),
        accepting("gzip;q=0.2, deflate;q=0.9"),
    );
    assert_eq!(response.header("Content-Encoding"), Some("deflate"));
    let mut text = String::new();
    ZlibDecoder::new(response.body().as_slice())
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, long_text());
}

#[test]
fn nothing_accepted_nothing_compressed_but_vary_is_set() {
    for accept in [
        None,
        Some("identity"),
        Some("gzip;q=0, deflate;q=0"),
        Some("br"),
    ] {
        let environ = match accept {
            Some(a) => accepting(a),
            None => get("/"),
        };
        let response = compressed(answering("text/html", long_text(), vec![]), environ);
        assert_eq!(response.header("Content-Encoding"), None, "{accept:?}");
        assert_eq!(
            response.header("Vary"),
            Some("Accept-Encoding"),
            "{accept:?}"
        );
        assert_eq!(response.text(), long_text());
    }
    let response = compressed(answering("text/html", long_text(), vec![]), accepting("*"));
    assert_eq!(response.header("Content-Encoding"), Some("gzip"));
}

#[test]
fn small_bodies_are_left_alone() {
    let response = compressed(
        answering("text/plain", "tiny".into(), vec![]),
        accepting("gzip"),
    );
    assert_eq!(response.header("Content-Encoding"), None);
    assert_eq!(response.text(), "tiny");

    // Known from Content-Length, even when the body is streamed.
    let streamed_small = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call(
            "200 OK",
            vec![
                ("Content-Type".into(), "text/plain".into()),
                ("Content-Length".into(), "6".into()),
            ],
        )?;
        Ok(Body::from_chunks(vec![b"abc".to_vec(), b"def".to_vec()]))
    };
    let response = compressed(streamed_small, accepting("gzip"));
    assert_eq!(
        (
            response.header("Content-Encoding"),
            response.text().as_str()
        ),
        (None, "abcdef")
    );
    assert_eq!(response.header("Content-Length"), Some("6"));
}

#[test]
fn responses_that_must_not_be_compressed_are_untouched() {
    let cases: Vec<(std::sync::Arc<dyn Application>, Environ)> = vec![
        (
            std::sync::Arc::new(answering("image/png", long_text(), vec![])),
            accepting("gzip"),
        ),
        (
            std::sync::Arc::new(answering("text/event-stream", long_text(), vec![])),
            accepting("gzip"),
        ),
        (
            std::sync::Arc::new(answering(
                "text/plain",
                long_text(),
                vec![("Content-Encoding".into(), "br".into())],
            )),
            accepting("gzip"),
        ),
        (
            std::sync::Arc::new(answering(
                "text/plain",
                long_text(),
                vec![("Cache-Control".into(), "no-transform".into())],
            )),
            accepting("gzip"),
        ),
    ];
    for (app, environ) in cases {
        let response = compressed(app, environ);
        assert_ne!(response.header("Content-Encoding"), Some("gzip"));
        assert_eq!(response.text(), long_text());
    }
    let mut head = request("HEAD", "/");
    head.set("HTTP_ACCEPT_ENCODING", "gzip");
    let response = compressed(answering("text/plain", long_text(), vec![]), head);
    assert_eq!(response.header("Content-Encoding"), None);

    let no_content = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call("304 Not Modified", vec![("ETag".into(), "\"x\"".into())])?;
        Ok(Body::empty())
    };
    let response = compressed(no_content, accepting("gzip"));
    assert_eq!(response.headers, vec![("ETag".into(), "\"x\"".into())]);
}

#[test]
fn a_strong_etag_becomes_weak() {
    let app = answering(
        "text/plain",
        long_text(),
        vec![("ETag".into(), "\"v1\"".into())],
    );
    let response = compressed(app, accepting("gzip"));
    assert_eq!(response.header("ETag"), Some("W/\"v1\""));
}

#[test]
fn a_streamed_body_streams_one_chunk_out_per_chunk_in() {
    let app = Compression::new(text_stream(), CompressionLayer::default());
    let (start_response, record) = StartResponse::new();
    let mut body = app.call(accepting("gzip"), start_response).unwrap();
    assert!(!record.is_started(), "the head waits for the first chunk");

    let first = body.next().unwrap().unwrap();
    assert!(!first.is_empty(), "the first chunk goes out at once");
    assert_eq!(
        record.headers().unwrap().get_header("Content-Encoding"),
        Some("gzip")
    );
    // What went out so far decodes to the first event, without the rest.
    let mut decoder = flate2::write::GzDecoder::new(Vec::new());
    decoder.write_all(&first).unwrap();
    decoder.flush().unwrap();
    let so_far = String::from_utf8(decoder.get_ref().clone()).unwrap();
    assert!(
        so_far.starts_with("event 1: ") && !so_far.contains("event 2"),
        "{so_far:.40}"
    );

    let rest: Vec<Vec<u8>> = body.map(Result::unwrap).collect();
    assert_eq!(rest.len(), 3, "two more events and the gzip trailer");
    let all = [first, rest.concat()].concat();
    let text = gunzip(&all);
    assert_eq!(text.matches("event ").count(), 3);
}

/// Three events of text, started lazily from the body's first step.
fn text_stream() -> impl Application {
    |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        let mut step = 0;
        Ok(Body::from_fn(move || {
            step += 1;
            if step == 1 {
                if let Err(e) =
                    sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])
                {
                    return Some(Err(e));
                }
            }
            (step <= 3).then(|| Ok(format!("event {step}: {}\n", TEXT.repeat(30)).into_bytes()))
        }))
    }
}

#[test]
fn an_error_page_goes_out_uncompressed() {
    let failing = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
        sr.call_with_error(
            "500 Internal Server Error",
            vec![("Content-Type".into(), "text/plain".into())],
            "db down".into(),
        )?;
        Ok(Body::from(long_text()))
    };
    let response = compressed(failing, accepting("gzip"));
    assert_eq!(response.code(), Some(500));
    assert_eq!(response.header("Content-Encoding"), None);
    assert_eq!(response.text(), long_text());
}

#[test]
fn a_second_call_without_error_is_refused() {
    let twice = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        sr.call("200 OK", vec![])?;
        sr.call("200 OK", vec![])?;
        Ok(Body::empty())
    };
    let response = compressed(twice, accepting("gzip"));
    let error = response.error.expect("refused");
    assert_eq!(
        error.downcast_ref::<StartResponseError>(),
        Some(&StartResponseError::AlreadyStarted)
    );
}

#[test]
fn negotiation_follows_q_values() {
    let layer = CompressionLayer::default();
    assert_eq!(negotiate(Some("gzip"), &layer), Some(Coding::Gzip));
    assert_eq!(
        negotiate(Some("deflate, gzip"), &layer),
        Some(Coding::Gzip),
        "a tie goes to gzip"
    );
    assert_eq!(
        negotiate(Some("gzip;q=0.5, deflate"), &layer),
        Some(Coding::Deflate)
    );
    assert_eq!(
        negotiate(Some("*;q=0.1, gzip;q=0"), &layer),
        Some(Coding::Deflate)
    );
    assert_eq!(negotiate(Some("gzip;q=abc"), &layer), None);
    let gzip_only = CompressionLayer {
        deflate: false,
        ..layer
    };
    assert_eq!(negotiate(Some("deflate"), &gzip_only), None);
}

#[test]
fn a_held_invalid_header_fails_the_applications_own_call() {
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let said = std::sync::Arc::clone(&seen);
    let app = move |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
        let result = sr.call("200 OK", vec![("X-Bad".into(), "a\nb".into())]);
        // The refused call counts, as without the layer: a plain retry is
        // refused too.
        let retry = sr.call("200 OK", vec![]);
        if result.is_err() && retry.is_err() {
            said.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        result?;
        Ok(Body::from(long_text()))
    };
    let response = compressed(app, accepting("gzip"));
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the application's own call failed, and so did a plain retry"
    );
    let error = response.error.expect("an error");
    assert!(matches!(
        error.downcast_ref::<StartResponseError>(),
        Some(StartResponseError::InvalidHeaderValue { .. })
    ));
}
