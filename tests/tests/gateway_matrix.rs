//! The point of the project, checked: every gateway runs every kind of
//! application, each through the contract's Validator, and clients see the
//! same status, headers and body whichever gateway served them.
//!
//! | gateway \ app | raw closure | mini-framework | middleware-wrapped |
//! |---|---|---|---|
//! | HTTP server (`gateway_server::Server`) | ✓ | ✓ | ✓ |
//! | CGI (`gateway_server::run_cgi`) under lighttpd | ✓ | ✓ | ✓ |
//! | in-process `gateway_server::TestClient` | ✓ | ✓ | ✓ |

use std::collections::BTreeMap;

use examples::apps::AppKind;
use gateway_server::{TestClient, TestRequest};
use gateway_spec::Headers;
use middleware::{OnViolation, Validator, ValidatorLayer, Violations};
use tests::cgi_host::CgiHost;
use tests::process::example_binary;
use tests::TestServer;

/// What a client sees, minus what a gateway legitimately adds on its own
/// (dates, server names, framing, per-request ids).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    request_id: bool,
}

const GATEWAY_OWNED: [&str; 7] = [
    "date",
    "server",
    "content-length",
    "transfer-encoding",
    "connection",
    "accept-ranges",
    "x-request-id",
];

fn seen(status: u16, headers: Headers, body: Vec<u8>) -> Seen {
    let request_id = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("x-request-id"));
    let headers = headers
        .into_iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.into_owned()))
        .filter(|(n, _)| !GATEWAY_OWNED.contains(&n.as_str()))
        .collect();
    Seen {
        status,
        headers,
        body,
        request_id,
    }
}

/// (method, path, content type, body)
const REQUESTS: [(&str, &str, &str, &str); 4] = [
    ("GET", "/hello?name=Ada%20L", "", ""),
    ("POST", "/echo", "text/x-matrix", "sent through the gateway"),
    ("GET", "/missing", "", ""),
    ("HEAD", "/hello", "", ""),
];

fn via_ureq(base: &str, (method, path, content_type, body): (&str, &str, &str, &str)) -> Seen {
    let mut request = ureq::request(method, &format!("{base}{path}"));
    if !content_type.is_empty() {
        request = request.set("Content-Type", content_type);
    }
    let response = match request.send_bytes(body.as_bytes()) {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(err) => panic!("{method} {path}: {err}"),
    };
    let status = response.status();
    let headers = response.headers_names().into_iter().map(|n| {
        let v = response.header(&n).unwrap_or_default().to_owned();
        (n.into(), v.into())
    });
    let headers: Vec<_> = headers.collect();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
    seen(status, headers, bytes)
}

fn via_test_client(
    client: &TestClient,
    (method, path, content_type, body): (&str, &str, &str, &str),
) -> Seen {
    let mut request = TestRequest::new(method, path).body(body.as_bytes().to_vec());
    if !content_type.is_empty() {
        request = request.header("Content-Type", content_type);
    }
    let response = client.request(request);
    seen(response.status, response.headers, response.body)
}

fn validated(
    kind: AppKind,
) -> (
    Validator<std::sync::Arc<dyn gateway_spec::Application>>,
    Violations,
) {
    let layer = ValidatorLayer {
        on_violation: OnViolation::Fail,
        ..ValidatorLayer::default()
    };
    let violations = layer.violations.clone();
    (Validator::new(kind.build(), layer), violations)
}

#[test]
fn every_gateway_gives_every_app_kind_the_same_answers() {
    let mix = example_binary("mix");
    for kind in AppKind::ALL {
        let (app, http_violations) = validated(kind);
        let server = TestServer::start(app);
        let (app, client_violations) = validated(kind);
        let client = TestClient::new(app);
        let cgi = CgiHost::start(
            &mix,
            &["--server", "cgi", "--app", kind.name(), "--validate"],
        );
        for request in REQUESTS {
            let over_http = via_ureq(&server.url(""), request);
            let in_process = via_test_client(&client, request);
            let under_cgi = via_ureq(&cgi.url(""), request);
            let label = format!("{} {} {}", kind.name(), request.0, request.1);
            assert_eq!(over_http, in_process, "{label}: HTTP server vs test client");
            assert_eq!(
                over_http, under_cgi,
                "{label}: HTTP server vs CGI under lighttpd"
            );
            assert_eq!(
                over_http.request_id,
                kind == AppKind::Wrapped,
                "{label}: X-Request-Id"
            );
        }
        assert_eq!(
            http_violations.list(),
            vec![],
            "{}: validator, HTTP server",
            kind.name()
        );
        assert_eq!(
            client_violations.list(),
            vec![],
            "{}: validator, test client",
            kind.name()
        );
    }
}

#[test]
fn the_kinds_agree_with_each_other() {
    let answers: Vec<Vec<Seen>> = AppKind::ALL
        .iter()
        .map(|kind| {
            let client = TestClient::new(kind.build());
            REQUESTS
                .iter()
                .map(|r| via_test_client(&client, *r))
                .collect()
        })
        .collect();
    for request in 0..REQUESTS.len() {
        let statuses: Vec<u16> = answers.iter().map(|a| a[request].status).collect();
        assert!(
            statuses.iter().all(|s| *s == statuses[0]),
            "{:?}: {statuses:?}",
            REQUESTS[request]
        );
        if statuses[0] == 200 {
            let bodies: Vec<&Vec<u8>> = answers.iter().map(|a| &a[request].body).collect();
            assert!(
                bodies.iter().all(|b| *b == bodies[0]),
                "{:?}",
                REQUESTS[request]
            );
        }
    }
    assert_eq!(answers[0][0].body, b"Hello, Ada L!");
    assert_eq!(answers[0][1].body, b"sent through the gateway");
    assert_eq!(
        answers[0][1]
            .headers
            .get("content-type")
            .map(String::as_str),
        Some("text/x-matrix")
    );
    assert!(answers[0][3].body.is_empty());
}
