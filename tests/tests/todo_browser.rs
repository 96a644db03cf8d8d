//! The todo page in a real browser: headless Chromium, driven through
//! chromedriver over the WebDriver protocol (W3C), spoken here with ureq and
//! serde_json in a few small functions.
//!
//! Chromium and chromedriver come from Debian (`chromium`,
//! `chromium-driver`), installed by `scripts/install-test-deps.sh`. Without
//! them these tests fail, saying so: a browser test that quietly skips
//! itself would let the page break unnoticed.
//!
//! Every wait polls with a deadline and reports what the page showed last.
//! The page itself is `examples/todo/index.html`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tests::process::{free_port, ExampleProcess};

/// How long the page may take to show what a step should lead to.
const PATIENCE: Duration = Duration::from_secs(20);

/// What a failing test says when the browser is missing.
const INSTALL_HINT: &str =
    "run scripts/install-test-deps.sh, which installs Debian's chromium and chromium-driver";

/// The W3C name of an element reference in WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser at a time: on a small CI machine two Chromiums only slow
/// each other down past the deadlines.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

/// `name`'s path, if it is on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn required(name: &str) -> PathBuf {
    on_path(name).unwrap_or_else(|| panic!("{name} is not installed: {INSTALL_HINT}"))
}

/// One HTTP exchange with chromedriver: the status and the JSON answer
/// (`null` if the answer is not JSON). `Err` only when nothing came back.
/// (JSON is written by hand: the tests crate has ureq without `json`.)
fn exchange(request: ureq::Request, body: Option<&Value>) -> Result<(u16, Value), String> {
    let result = match body {
        Some(body) => request
            .set("Content-Type", "application/json")
            .send_string(&body.to_string()),
        None => request.call(),
    };
    let response = match result {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(other) => return Err(other.to_string()),
    };
    let status = response.status();
    let text = response.into_string().map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_str(&text).unwrap_or_default()))
}

/// chromedriver, running on a free port; shut down on drop.
struct Driver {
    child: Child,
    base: String,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let child = Command::new(required("chromedriver"))
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start chromedriver: {e}; {INSTALL_HINT}"));
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        driver.wait_until_ready();
        driver
    }

    fn wait_until_ready(&self) {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(2))
            .build();
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            let status = exchange(agent.get(&format!("{}/status", self.base)), None);
            if status.is_ok_and(|(_, answer)| answer["value"]["ready"] == true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("chromedriver did not become ready within {PATIENCE:?}");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Asked to shut down, chromedriver ends the browsers it started
        // before it exits; killing it is the fallback.
        let _ = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(2))
            .build()
            .get(&format!("{}/shutdown", self.base))
            .call();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session with a fresh profile.
struct Browser {
    session: String,
    agent: ureq::Agent,
    profile: PathBuf,
    // Last: dropped after the session is closed.
    driver: Driver,
}

impl Browser {
    fn start() -> Browser {
        let chromium = required("chromium");
        let driver = Driver::start();
        let profile = std::env::temp_dir().join(format!(
            "todo-browser-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        // Starting Chromium is the slow part; commands after it are quick.
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                // Running as root in a container needs --no-sandbox, and a
                // small /dev/shm needs --disable-dev-shm-usage; the rest
                // keep Chromium from calling home or popping up first-run UI.
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
            "timeouts": {"implicit": 0, "pageLoad": 20_000, "script": 10_000},
        }}});
        let created = exchange(
            agent.post(&format!("{}/session", driver.base)),
            Some(&capabilities),
        );
        let session = match created {
            Ok((200, answer)) => answer["value"]["sessionId"]
                .as_str()
                .expect("a session id")
                .to_owned(),
            Ok((code, answer)) => panic!(
                "chromedriver could not start chromium ({code}): {}; {INSTALL_HINT}",
                answer["value"]["message"]
            ),
            Err(problem) => panic!("chromedriver did not answer: {problem}"),
        };
        Browser {
            session,
            agent,
            profile,
            driver,
        }
    }

    /// One WebDriver command; its `value`, or the error WebDriver reported.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.driver.base, self.session);
        let (status, mut answer) = exchange(self.agent.request(method, &url), body.as_ref())
            .map_err(|problem| format!("{method} {path}: {problem}"))?;
        if status == 200 {
            Ok(answer["value"].take())
        } else {
            let error = &answer["value"];
            Err(format!(
                "{method} {path}: {status} {} {}",
                error["error"], error["message"]
            ))
        }
    }

    fn go_to(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })))
            .unwrap_or_else(|e| panic!("could not open {url}: {e}"));
    }

    /// Elements matching `css`, under `parent` or in the whole page.
    fn find(&self, parent: Option<&str>, css: &str) -> Result<Vec<String>, String> {
        let path = match parent {
            Some(parent) => format!("/element/{parent}/elements"),
            None => "/elements".to_owned(),
        };
        let found = self.command(
            "POST",
            &path,
            Some(json!({"using": "css selector", "value": css})),
        )?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT_KEY].as_str().map(str::to_owned))
            .collect())
    }

    /// The one element matching `css` (under `parent`).
    fn one(&self, parent: Option<&str>, css: &str) -> Result<String, String> {
        let mut found = self.find(parent, css)?;
        match found.len() {
            1 => Ok(found.remove(0)),
            n => Err(format!("{n} elements match {css:?}")),
        }
    }

    fn click(&self, element: &str) -> Result<(), String> {
        self.command(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .map(drop)
    }

    fn type_into(&self, element: &str, text: &str) -> Result<(), String> {
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .map(drop)
    }

    fn text(&self, element: &str) -> Result<String, String> {
        let text = self.command("GET", &format!("/element/{element}/text"), None)?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    fn is_selected(&self, element: &str) -> Result<bool, String> {
        let selected = self.command("GET", &format!("/element/{element}/selected"), None)?;
        Ok(selected == true)
    }

    fn value(&self, element: &str) -> Result<String, String> {
        let value = self.command("GET", &format!("/element/{element}/property/value"), None)?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session ends Chromium; then the driver is killed.
        let _ = self.command("DELETE", "", None);
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// What the page shows a user.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    /// Each todo's title and whether its box is ticked, top to bottom.
    todos: Vec<(String, bool)>,
    /// The error line (empty when all went well).
    status: String,
    /// "N of M left to do." or "Nothing to do."
    summary: String,
}

/// The page as it is now. Errors (an element replaced while being read,
/// as the list re-renders) mean "look again".
fn read_page(browser: &Browser) -> Result<Shown, String> {
    let mut todos = Vec::new();
    for item in browser.find(None, "#todos li")? {
        let title = browser.text(&browser.one(Some(&item), ".title")?)?;
        let done = browser.is_selected(&browser.one(Some(&item), ".toggle")?)?;
        todos.push((title, done));
    }
    Ok(Shown {
        todos,
        status: browser.text(&browser.one(None, "#status")?)?,
        summary: browser.text(&browser.one(None, "#summary")?)?,
    })
}

/// Look at the page until `expected` holds, or fail with what it showed.
fn wait_for(browser: &Browser, what: &str, expected: impl Fn(&Shown) -> bool) -> Shown {
    let deadline = Instant::now() + PATIENCE;
    let mut last = Err("not looked yet".to_owned());
    while Instant::now() < deadline {
        last = read_page(browser);
        if let Ok(shown) = &last {
            if expected(shown) {
                return shown.clone();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the page never showed {what} within {PATIENCE:?}; last seen: {last:?}");
}

fn todos(items: &[(&str, bool)]) -> Vec<(String, bool)> {
    items.iter().map(|(t, d)| ((*t).to_owned(), *d)).collect()
}

/// Type a title and press Add.
fn add(browser: &Browser, title: &str) {
    let input = browser.one(None, "#title").unwrap();
    browser.type_into(&input, title).unwrap();
    browser
        .click(&browser.one(None, "#new-todo button").unwrap())
        .unwrap();
}

/// The control `css` on the row showing `title`.
fn control_of(browser: &Browser, title: &str, css: &str) -> String {
    for item in browser.find(None, "#todos li").unwrap() {
        let shown = browser
            .one(Some(&item), ".title")
            .and_then(|t| browser.text(&t));
        if shown.as_deref() == Ok(title) {
            return browser.one(Some(&item), css).unwrap();
        }
    }
    panic!("no todo {title:?} on the page");
}

fn api_list(process: &ExampleProcess, path: &str) -> Value {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let (status, list) = exchange(agent.get(&process.url(path)), None).unwrap();
    assert_eq!(status, 200);
    list
}

#[test]
fn the_page_adds_completes_and_deletes_todos_with_the_token() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(PoisonError::into_inner);
    let todo = ExampleProcess::start("todo", &["--token", "page-T0ken"]);
    let browser = Browser::start();
    browser.go_to(&todo.url("/"));
    wait_for(&browser, "the empty list", |s| {
        s.summary == "Nothing to do."
    });

    // Without the token the server refuses, and the page says so.
    add(&browser, "buy milk");
    let refused = wait_for(&browser, "a 401 message", |s| s.status.starts_with("401"));
    assert_eq!(refused.todos, todos(&[]));
    let title = browser.one(None, "#title").unwrap();
    assert_eq!(
        browser.value(&title).unwrap(),
        "buy milk",
        "the typed title was lost"
    );

    // The token field sits in a closed <details>: open it, as a user would.
    browser
        .click(&browser.one(None, "details summary").unwrap())
        .unwrap();
    browser
        .type_into(&browser.one(None, "#token").unwrap(), "page-T0ken")
        .unwrap();
    browser
        .click(&browser.one(None, "#new-todo button").unwrap())
        .unwrap();
    let one = wait_for(&browser, "the first todo", |s| !s.todos.is_empty());
    assert_eq!(one.todos, todos(&[("buy milk", false)]));
    assert_eq!(one.status, "", "the error line stayed after a success");
    assert_eq!(
        browser.value(&title).unwrap(),
        "",
        "the field was not cleared"
    );

    add(&browser, "walk the dog");
    let two = wait_for(&browser, "two todos", |s| s.todos.len() == 2);
    assert_eq!(
        two.todos,
        todos(&[("buy milk", false), ("walk the dog", false)])
    );
    assert_eq!(two.summary, "2 of 2 left to do.");

    browser
        .click(&control_of(&browser, "buy milk", ".toggle"))
        .unwrap();
    let completed = wait_for(&browser, "buy milk done", |s| {
        s.todos.first().is_some_and(|(_, done)| *done)
    });
    assert_eq!(
        completed.todos,
        todos(&[("buy milk", true), ("walk the dog", false)])
    );
    assert_eq!(completed.summary, "1 of 2 left to do.");

    browser
        .click(&control_of(&browser, "walk the dog", ".delete"))
        .unwrap();
    let deleted = wait_for(&browser, "one todo left", |s| s.todos.len() == 1);
    assert_eq!(deleted.todos, todos(&[("buy milk", true)]));
    assert_eq!(deleted.summary, "0 of 1 left to do.");

    // What the page shows is what the server holds.
    assert_eq!(
        api_list(&todo, "/api/todos"),
        json!([{"id": 1, "title": "buy milk", "done": true}])
    );
}

#[test]
fn the_page_works_under_the_mount_prefix() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(PoisonError::into_inner);
    let site = ExampleProcess::start("mount", &[]);
    let browser = Browser::start();
    // Without the trailing slash too: the page's API URL is absolute.
    browser.go_to(&site.url("/todo"));
    wait_for(&browser, "the empty list", |s| {
        s.summary == "Nothing to do."
    });

    add(&browser, "mounted");
    let shown = wait_for(&browser, "the new todo", |s| !s.todos.is_empty());
    assert_eq!(shown.todos, todos(&[("mounted", false)]));
    browser
        .click(&control_of(&browser, "mounted", ".toggle"))
        .unwrap();
    wait_for(&browser, "the todo done", |s| {
        s.todos == todos(&[("mounted", true)])
    });
    assert_eq!(
        api_list(&site, "/todo/api/todos"),
        json!([{"id": 1, "title": "mounted", "done": true}])
    );
}
