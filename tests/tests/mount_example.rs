//! The `mount` example: three applications in one process, each under its
//! prefix, checked over HTTP against the example started as a process.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tests::process::ExampleProcess;

/// What a client sees of one answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: Option<String>,
    location: Option<String>,
    request_id: Option<String>,
    www_authenticate: Option<String>,
    text: String,
}

struct Mounted {
    process: ExampleProcess,
    agent: ureq::Agent,
}

impl Mounted {
    fn start(extra: &[&str]) -> Mounted {
        Mounted {
            process: ExampleProcess::start("mount", extra),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .redirects(0)
                .build(),
        }
    }

    fn call(&self, request: ureq::Request, body: Option<&str>) -> Reply {
        let result = match body {
            Some(body) => request
                .set("Content-Type", "application/json")
                .send_string(body),
            None => request.call(),
        };
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(other) => panic!("no answer: {other}"),
        };
        let header = |name: &str| response.header(name).map(str::to_owned);
        Reply {
            status: response.status(),
            content_type: header("content-type"),
            location: header("location"),
            request_id: header("x-request-id"),
            www_authenticate: header("www-authenticate"),
            text: response.into_string().unwrap(),
        }
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        self.agent.request(method, &self.process.url(path))
    }

    fn get(&self, path: &str) -> Reply {
        self.call(self.request("GET", path), None)
    }
}

/// `KEY = "value"` lines of the demo app's answer, as a map.
fn demo_environ(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, value)| (key.to_owned(), value.trim_matches('"').to_owned()))
        .collect()
}

fn var<'a>(environ: &'a [(String, String)], key: &str) -> &'a str {
    environ
        .iter()
        .find(|(k, _)| k == key)
        .map_or_else(|| panic!("no {key} in {environ:?}"), |(_, v)| v.as_str())
}

#[test]
fn the_demo_app_sees_its_prefix_in_script_name() {
    let site = Mounted::start(&[]);
    let demo = site.get("/demo/some/path?x=1");
    assert_eq!(demo.status, 200);
    assert!(demo.text.starts_with("Hello world!\n\n"), "{}", demo.text);
    let environ = demo_environ(&demo.text);
    assert_eq!(var(&environ, "SCRIPT_NAME"), "/demo");
    assert_eq!(var(&environ, "PATH_INFO"), "/some/path");
    assert_eq!(var(&environ, "QUERY_STRING"), "x=1");

    // The prefix itself reaches the app with an empty PATH_INFO.
    let environ = demo_environ(&site.get("/demo").text);
    assert_eq!(var(&environ, "SCRIPT_NAME"), "/demo");
    assert_eq!(var(&environ, "PATH_INFO"), "");

    // A path that only starts with the same letters is not under the mount.
    assert_eq!(site.get("/demonstration").status, 404);
}

fn static_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples")
        .join("static")
}

#[test]
fn static_files_are_served_under_static() {
    let site = Mounted::start(&[]);
    let cases = [
        ("style.css", "text/css; charset=utf-8"),
        ("hello.txt", "text/plain; charset=utf-8"),
        ("index.html", "text/html; charset=utf-8"),
    ];
    for (file, content_type) in cases {
        let served = site.get(&format!("/static/{file}"));
        assert_eq!(served.status, 200, "{file}");
        assert_eq!(served.content_type.as_deref(), Some(content_type), "{file}");
        let on_disk = std::fs::read_to_string(static_dir().join(file)).unwrap();
        assert_eq!(served.text, on_disk, "{file}");
    }
    // The directory: its index, after a redirect that keeps the prefix.
    let bare = site.get("/static");
    assert_eq!(bare.status, 301);
    assert_eq!(bare.location.as_deref(), Some("/static/"));
    let index = site.get("/static/");
    assert_eq!(index.status, 200);
    assert!(index.text.contains("<h1>Static files</h1>"));

    assert_eq!(site.get("/static/missing.txt").status, 404);
    assert_eq!(site.get("/static/.hidden").status, 404);
}

#[test]
fn the_todo_app_works_under_todo_and_links_with_its_prefix() {
    let site = Mounted::start(&[]);
    for path in ["/todo/", "/todo"] {
        let page = site.get(path);
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(
            page.content_type.as_deref(),
            Some("text/html; charset=utf-8")
        );
        assert!(
            page.text.contains(r#"data-api="/todo/api/todos""#),
            "{path}: the page does not call the API under /todo"
        );
    }

    let created = site.call(
        site.request("POST", "/todo/api/todos"),
        Some(r#"{"title": "mounted"}"#),
    );
    assert_eq!(created.status, 201, "{created:?}");
    let location = created.location.clone().expect("a Location");
    assert_eq!(location, "/todo/api/todos/1");

    let fetched = site.get(&location);
    assert_eq!(fetched.status, 200);
    let todo: Value = serde_json::from_str(&fetched.text).unwrap();
    assert_eq!(todo, json!({"id": 1, "title": "mounted", "done": false}));
    let listed: Value = serde_json::from_str(&site.get("/todo/api/todos").text).unwrap();
    assert_eq!(listed, json!([todo]));

    // Outside its prefix the todo app is not reachable.
    assert_eq!(site.get("/api/todos").status, 404);
}

#[test]
fn the_home_page_links_to_each_mount_and_other_paths_are_404() {
    let site = Mounted::start(&[]);
    let home = site.get("/");
    assert_eq!(home.status, 200);
    for link in [
        r#"href="/todo/""#,
        r#"href="/demo/some/path?x=1""#,
        r#"href="/static/""#,
    ] {
        assert!(
            home.text.contains(link),
            "{link} missing from {}",
            home.text
        );
    }
    assert_eq!(site.get("/nowhere").status, 404);
}

#[test]
fn the_layers_around_the_mounts_apply_to_every_app() {
    let site = Mounted::start(&[]);
    let ids: Vec<String> = ["/", "/demo/", "/static/hello.txt", "/todo/api/todos"]
        .into_iter()
        .map(|path| site.get(path).request_id.expect("X-Request-Id"))
        .collect();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "{ids:?}");
}

#[test]
fn a_token_guards_the_todo_writes_and_nothing_else() {
    let site = Mounted::start(&["--token", "mount-T0ken"]);
    let body = Some(r#"{"title": "x"}"#);
    let refused = site.call(site.request("POST", "/todo/api/todos"), body);
    assert_eq!(refused.status, 401);
    assert!(refused.www_authenticate.unwrap().starts_with("Bearer "));
    let accepted = site.call(
        site.request("POST", "/todo/api/todos")
            .set("Authorization", "Bearer mount-T0ken"),
        body,
    );
    assert_eq!(accepted.status, 201);
    assert_eq!(site.get("/todo/api/todos").status, 200);
    assert_eq!(site.get("/demo/").status, 200);
    assert_eq!(site.get("/static/hello.txt").status, 200);
}
