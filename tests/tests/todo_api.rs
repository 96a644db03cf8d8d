//! The `todo` example's JSON API, over HTTP with a real client, against the
//! example started as a process: every rule of the API, the bearer token on
//! writes, and the middleware layers it is wrapped in (access log, request
//! id, compression).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tests::process::{example_binary, free_port, served_port, ExampleProcess};
use tests::RawResponse;

/// A client with timeouts, and no automatic decompression hiding what the
/// server sent: it asks for `identity` unless a test says otherwise.
fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .redirects(0)
        .build()
}

/// What a client sees of one answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: Option<String>,
    location: Option<String>,
    allow: Option<String>,
    www_authenticate: Option<String>,
    request_id: Option<String>,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// The `error` message of a JSON error answer, checked to be one.
    fn error_message(&self) -> String {
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/json"),
            "{self:?}"
        );
        let message = self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message: {self:?}"))
            .to_owned();
        assert!(!message.is_empty());
        message
    }
}

fn reply(result: Result<ureq::Response, ureq::Error>) -> Reply {
    let response = match result {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(other) => panic!("no answer: {other}"),
    };
    let header = |name: &str| response.header(name).map(str::to_owned);
    Reply {
        status: response.status(),
        content_type: header("content-type"),
        location: header("location"),
        allow: header("allow"),
        www_authenticate: header("www-authenticate"),
        request_id: header("x-request-id"),
        text: response.into_string().unwrap(),
    }
}

/// The running example and the ways to talk to it.
struct Todo {
    process: ExampleProcess,
    agent: ureq::Agent,
    token: Option<&'static str>,
}

impl Todo {
    fn start() -> Todo {
        Todo {
            process: ExampleProcess::start("todo", &[]),
            agent: agent(),
            token: None,
        }
    }

    /// Started with `--token T`; its requests send the token.
    fn start_with_token(token: &'static str) -> Todo {
        Todo {
            process: ExampleProcess::start("todo", &["--token", token]),
            agent: agent(),
            token: Some(token),
        }
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        let request = self
            .agent
            .request(method, &self.process.url(path))
            .set("Accept-Encoding", "identity");
        match self.token {
            Some(token) => request.set("Authorization", &format!("Bearer {token}")),
            None => request,
        }
    }

    fn get(&self, path: &str) -> Reply {
        reply(self.request("GET", path).call())
    }

    /// `method` with a JSON body.
    fn send(&self, method: &str, path: &str, body: &str) -> Reply {
        self.send_as(method, path, "application/json", body)
    }

    fn send_as(&self, method: &str, path: &str, content_type: &str, body: &str) -> Reply {
        reply(
            self.request(method, path)
                .set("Content-Type", content_type)
                .send_string(body),
        )
    }

    fn delete(&self, path: &str) -> Reply {
        reply(self.request("DELETE", path).call())
    }

    /// Add a todo, checking the answer.
    fn add(&self, title: &str) -> Value {
        let created = self.send("POST", "/api/todos", &json!({ "title": title }).to_string());
        assert_eq!(created.status, 201, "{created:?}");
        created.json()
    }

    fn list(&self) -> Value {
        let listed = self.get("/api/todos");
        assert_eq!(listed.status, 200, "{listed:?}");
        listed.json()
    }
}

#[test]
fn a_new_todo_is_created_with_a_location_and_listed_in_id_order() {
    let todo = Todo::start();
    assert_eq!(todo.list(), json!([]));

    let created = todo.send("POST", "/api/todos", r#"{"title": "buy milk"}"#);
    assert_eq!(created.status, 201);
    assert_eq!(created.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        created.json(),
        json!({"id": 1, "title": "buy milk", "done": false})
    );
    assert_eq!(created.location.as_deref(), Some("/api/todos/1"));

    let fetched = todo.get("/api/todos/1");
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), created.json());

    todo.add("walk the dog");
    todo.add("write the report");
    let titles: Vec<(i64, String)> = todo
        .list()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_i64().unwrap(),
                t["title"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        titles,
        [
            (1, "buy milk".to_owned()),
            (2, "walk the dog".to_owned()),
            (3, "write the report".to_owned())
        ]
    );
}

#[test]
fn patch_changes_only_the_fields_it_is_given() {
    let todo = Todo::start();
    todo.add("first");
    todo.add("second");

    let done = todo.send("PATCH", "/api/todos/2", r#"{"done": true}"#);
    assert_eq!(done.status, 200);
    assert_eq!(
        done.json(),
        json!({"id": 2, "title": "second", "done": true})
    );

    let renamed = todo.send("PATCH", "/api/todos/2", r#"{"title": "2nd"}"#);
    assert_eq!(
        renamed.json(),
        json!({"id": 2, "title": "2nd", "done": true})
    );

    let both = todo.send("PATCH", "/api/todos/1", r#"{"title": "1st", "done": true}"#);
    assert_eq!(both.json(), json!({"id": 1, "title": "1st", "done": true}));

    let nothing = todo.send("PATCH", "/api/todos/1", "{}");
    assert_eq!(
        nothing.json(),
        json!({"id": 1, "title": "1st", "done": true})
    );
    assert_eq!(
        todo.list(),
        json!([
            {"id": 1, "title": "1st", "done": true},
            {"id": 2, "title": "2nd", "done": true}
        ])
    );
}

#[test]
fn delete_answers_204_and_the_todo_is_gone() {
    let todo = Todo::start();
    todo.add("keep");
    todo.add("drop");

    let deleted = todo.delete("/api/todos/2");
    assert_eq!((deleted.status, deleted.text.as_str()), (204, ""));
    assert_eq!(todo.get("/api/todos/2").status, 404);
    assert_eq!(todo.delete("/api/todos/2").status, 404);
    assert_eq!(
        todo.list(),
        json!([{"id": 1, "title": "keep", "done": false}])
    );
    // Ids are not reused: a client holding /api/todos/2 never reaches a new todo.
    assert_eq!(todo.add("new")["id"], 3);
}

#[test]
fn unknown_ids_are_404_with_a_json_error() {
    let todo = Todo::start();
    todo.add("only");
    for reply in [
        todo.get("/api/todos/99"),
        todo.send("PATCH", "/api/todos/99", r#"{"done": true}"#),
        todo.delete("/api/todos/99"),
        todo.get("/api/todos/-1"),
    ] {
        assert_eq!(reply.status, 404, "{reply:?}");
        assert!(reply.error_message().contains("no todo"), "{reply:?}");
    }
    // Not an id at all: no route matches, and the error is JSON too.
    let not_a_number = todo.get("/api/todos/abc");
    assert_eq!(not_a_number.status, 404);
    not_a_number.error_message();
    assert_eq!(
        todo.list(),
        json!([{"id": 1, "title": "only", "done": false}])
    );
}

#[test]
fn bad_bodies_are_400_with_a_message_and_change_nothing() {
    let todo = Todo::start();
    todo.add("untouched");
    let before = todo.list();

    let cases = [
        ("POST", "/api/todos", r#"{"title": "#, "invalid JSON"),
        ("POST", "/api/todos", "{}", "missing field `title`"),
        (
            "POST",
            "/api/todos",
            r#"{"title": ""}"#,
            "must not be empty",
        ),
        (
            "POST",
            "/api/todos",
            r#"{"title": "   "}"#,
            "must not be empty",
        ),
        ("POST", "/api/todos", r#"{"title": 7}"#, "invalid type"),
        (
            "POST",
            "/api/todos",
            r#"{"titel": "typo"}"#,
            "unknown field",
        ),
        (
            "PATCH",
            "/api/todos/1",
            r#"{"title": ""}"#,
            "must not be empty",
        ),
        (
            "PATCH",
            "/api/todos/1",
            r#"{"done": "yes"}"#,
            "invalid type",
        ),
        ("PATCH", "/api/todos/1", "not json", "invalid JSON"),
        (
            "PATCH",
            "/api/todos/1",
            r#"{"title": "ok", "x": 1}"#,
            "unknown field",
        ),
    ];
    for (method, path, body, expected) in cases {
        let refused = todo.send(method, path, body);
        assert_eq!(refused.status, 400, "{method} {body}: {refused:?}");
        let message = refused.error_message();
        assert!(
            message.contains(expected),
            "{method} {body}: {message:?} does not say {expected:?}"
        );
    }

    assert_eq!(todo.list(), before);
    // No id was used up by the refused POSTs either.
    assert_eq!(todo.add("next")["id"], 2);
}

#[test]
fn bodies_not_declared_as_json_are_415() {
    let todo = Todo::start();
    todo.add("untouched");
    let before = todo.list();
    let cases = [
        ("POST", "/api/todos", "text/plain"),
        ("POST", "/api/todos", "application/x-www-form-urlencoded"),
        ("PATCH", "/api/todos/1", "text/plain"),
    ];
    for (method, path, content_type) in cases {
        let refused = todo.send_as(method, path, content_type, r#"{"title": "sneaky"}"#);
        assert_eq!(refused.status, 415, "{method} {content_type}: {refused:?}");
        assert!(refused.error_message().contains(content_type));
    }
    // No Content-Type at all is not JSON either.
    let bare = reply(
        todo.request("POST", "/api/todos")
            .send_bytes(br#"{"title": "sneaky"}"#),
    );
    assert_eq!(bare.status, 415, "{bare:?}");
    // A JSON type with parameters is still JSON.
    let with_charset = todo.send_as(
        "POST",
        "/api/todos",
        "application/json; charset=utf-8",
        r#"{"title": "fine"}"#,
    );
    assert_eq!(with_charset.status, 201);
    assert_eq!(
        todo.list().as_array().unwrap().len(),
        before.as_array().unwrap().len() + 1
    );
}

#[test]
fn wrong_methods_are_405_with_allow() {
    let todo = Todo::start();
    todo.add("one");
    let cases = [
        ("PUT", "/api/todos", ["GET", "POST"].as_slice()),
        ("DELETE", "/api/todos", &["GET", "POST"]),
        ("POST", "/api/todos/1", &["GET", "PATCH", "DELETE"]),
        ("PUT", "/api/todos/1", &["GET", "PATCH", "DELETE"]),
        ("POST", "/", &["GET"]),
    ];
    for (method, path, allowed) in cases {
        let refused = reply(todo.request(method, path).call());
        assert_eq!(refused.status, 405, "{method} {path}: {refused:?}");
        let allow = refused.allow.clone().expect("an Allow header");
        let listed: Vec<&str> = allow.split(',').map(str::trim).collect();
        for method in allowed {
            assert!(listed.contains(method), "Allow {allow:?} lacks {method}");
        }
        assert!(!listed.contains(&method), "Allow {allow:?} lists {method}");
        refused.error_message();
    }
    assert_eq!(todo.list().as_array().unwrap().len(), 1);
}

#[test]
fn with_a_token_writes_need_it_and_reads_do_not() {
    let todo = Todo::start_with_token("s3cret-T0ken");
    let first = todo.add("guarded");
    assert_eq!(first["id"], 1);

    let without = |method: &str, path: &str, body: Option<&str>| {
        let request = todo
            .agent
            .request(method, &todo.process.url(path))
            .set("Accept-Encoding", "identity");
        reply(match body {
            Some(body) => request
                .set("Content-Type", "application/json")
                .send_string(body),
            None => request.call(),
        })
    };
    let wrong = |method: &str, path: &str, body: &str| {
        reply(
            todo.agent
                .request(method, &todo.process.url(path))
                .set("Authorization", "Bearer not-the-token")
                .set("Content-Type", "application/json")
                .send_string(body),
        )
    };

    // Writes without the token, or with another one: 401 and a challenge.
    for refused in [
        without("POST", "/api/todos", Some(r#"{"title": "x"}"#)),
        without("PATCH", "/api/todos/1", Some(r#"{"done": true}"#)),
        without("DELETE", "/api/todos/1", None),
        without("PUT", "/api/todos/1", Some("{}")),
    ] {
        assert_eq!(refused.status, 401, "{refused:?}");
        let challenge = refused.www_authenticate.clone().expect("WWW-Authenticate");
        assert!(challenge.starts_with("Bearer "), "{challenge}");
    }
    let refused = wrong("POST", "/api/todos", r#"{"title": "x"}"#);
    assert_eq!(refused.status, 401);
    assert!(refused
        .www_authenticate
        .unwrap()
        .contains("error=\"invalid_token\""));

    // Reads stay open, and show that nothing changed.
    assert_eq!(
        without("GET", "/api/todos", None).json(),
        json!([{"id": 1, "title": "guarded", "done": false}])
    );
    assert_eq!(without("GET", "/api/todos/1", None).status, 200);
    assert_eq!(without("GET", "/", None).status, 200);
    assert_eq!(without("HEAD", "/api/todos", None).status, 200);

    // With the token, every write works.
    assert_eq!(
        todo.send("PATCH", "/api/todos/1", r#"{"done": true}"#)
            .status,
        200
    );
    assert_eq!(todo.delete("/api/todos/1").status, 204);
    assert_eq!(todo.list(), json!([]));
}

#[test]
fn a_token_that_cannot_be_sent_is_refused_at_start_up() {
    for args in [
        &["--token"][..],
        &["--token", "has space"],
        &["--token", ""],
    ] {
        let status = Command::new(example_binary("todo"))
            .args(["--host", "127.0.0.1", "--port", &free_port().to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}");
    }
}

/// One request over a raw socket, to see the bytes as sent (ureq would
/// decompress them and drop Content-Encoding).
fn raw_get(port: u16, path: &str, accept_encoding: Option<&str>) -> RawResponse {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = tests::connect(addr);
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(accept) = accept_encoding {
        request.push_str(&format!("Accept-Encoding: {accept}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    tests::read_response(&mut std::io::BufReader::new(stream), false).unwrap()
}

/// Decompress with the system's `gzip`, an implementation independent of the
/// one in the server.
fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip is installed");
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    writer.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success(), "gzip could not decode it");
    out
}

#[test]
fn large_answers_are_gzipped_for_clients_that_accept_it() {
    let todo = Todo::start();
    // CompressionLayer's default min_size is 1024 bytes: twenty todos with
    // long titles make a list well past it, one todo stays under it.
    for i in 0..20 {
        todo.add(&format!(
            "todo number {i} with a title long enough to add up"
        ));
    }
    let port = todo.process.port;

    let plain = raw_get(port, "/api/todos", None);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.body.len() > 1024, "{} bytes", plain.body.len());

    let gzipped = raw_get(port, "/api/todos", Some("gzip"));
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert!(gzipped
        .header("vary")
        .is_some_and(|v| v.contains("Accept-Encoding")));
    assert!(gzipped.body.len() < plain.body.len());
    assert_eq!(gunzip(&gzipped.body), plain.body);

    // The page is large enough too.
    let page = raw_get(port, "/", Some("gzip"));
    assert_eq!(page.header("content-encoding"), Some("gzip"));
    assert!(String::from_utf8(gunzip(&page.body))
        .unwrap()
        .contains("data-api"));

    // Small answers are sent as they are, still with Vary for caches.
    let small = raw_get(port, "/api/todos/1", Some("gzip"));
    assert_eq!(small.header("content-encoding"), None);
    assert!(small.header("vary").is_some());
    assert_eq!(
        serde_json::from_slice::<Value>(&small.body).unwrap()["id"],
        1
    );
}

#[test]
fn every_answer_carries_a_request_id() {
    let todo = Todo::start();
    let answers = [
        todo.get("/api/todos"),
        todo.get("/api/todos/5"),
        todo.send("POST", "/api/todos", "{"),
        todo.get("/"),
    ];
    let ids: Vec<String> = answers
        .iter()
        .map(|a| a.request_id.clone().expect("X-Request-Id"))
        .collect();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "{ids:?}");
    // An id from upstream is kept, so one request can be followed through.
    let traced = reply(
        todo.request("GET", "/api/todos")
            .set("X-Request-Id", "trace-42")
            .call(),
    );
    assert_eq!(traced.request_id.as_deref(), Some("trace-42"));
}

#[test]
fn the_page_is_html_that_knows_where_the_api_is() {
    let todo = Todo::start();
    let page = todo.get("/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text.contains(r#"data-api="/api/todos""#));
    assert!(page.text.contains("<form id=\"new-todo\">"));
}

#[test]
fn each_request_is_written_to_the_access_log_once() {
    // Port 0: the example binds a port the OS picks and says which.
    let mut child = Command::new(example_binary("todo"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, log) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let port = loop {
        let line = log
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("todo did not log `serving on ADDR`"));
        if let Some(port) = served_port(&line) {
            break port;
        }
    };
    // Two requests on one kept-alive connection: the server finishes the
    // first (and writes whatever it logs for it) before it reads the second,
    // so once the second's line is in, every line about the first is too.
    let client = agent();
    for probe in ["probe=1", "probe=2"] {
        let answer = reply(
            client
                .get(&format!("http://127.0.0.1:{port}/api/todos?{probe}"))
                .set("User-Agent", "todo-api-test")
                .call(),
        );
        assert_eq!(answer.status, 200);
    }
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("probe=2")) {
        let line = log
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no access log line for probe=2 in {seen:#?}"));
        seen.push(line);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    let first: Vec<&String> = seen.iter().filter(|l| l.contains("probe=1")).collect();
    assert_eq!(first.len(), 1, "{seen:#?}");
    // The Combined format, with the user agent: the AccessLog layer's line.
    assert!(
        first[0].contains("\"GET /api/todos?probe=1 HTTP/1.1\" 200 2 ")
            && first[0].contains("\"todo-api-test\""),
        "{}",
        first[0]
    );
}
