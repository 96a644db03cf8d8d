//! StaticFiles over a real directory made for each test.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::testing::{get, request, run, text_app, Response};

/// A scratch directory: `<tmp>/public` is the root, `<tmp>/secret.txt` is
/// outside it. Removed when dropped.
struct Site {
    base: PathBuf,
}

impl Site {
    fn new() -> Site {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir().join(format!(
            "middleware-static-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let public = base.join("public");
        fs::create_dir_all(public.join("css")).unwrap();
        fs::create_dir_all(public.join("sub")).unwrap();
        fs::create_dir_all(public.join("empty")).unwrap();
        fs::write(public.join("hello.txt"), "hello, world\n").unwrap();
        fs::write(public.join("css/site.css"), "body { color: red }").unwrap();
        fs::write(public.join("sub/index.html"), "<h1>sub</h1>").unwrap();
        fs::write(public.join(".env"), "SECRET=1").unwrap();
        fs::write(base.join("secret.txt"), "TOP SECRET").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(base.join("secret.txt"), public.join("escape.txt")).unwrap();
            std::os::unix::fs::symlink(public.join("hello.txt"), public.join("alias.txt")).unwrap();
        }
        Site { base }
    }

    fn app(&self, prefix: &str) -> StaticFiles<impl Application> {
        let layer = StaticFilesLayer::new(self.base.join("public"))
            .unwrap()
            .with_prefix(prefix);
        StaticFiles::new(text_app("fallback"), layer)
    }

    fn get(&self, path: &str) -> Response {
        run(&self.app(""), get(path))
    }

    fn get_with(&self, path: &str, headers: &[(&'static str, String)]) -> Response {
        let mut environ = get(path);
        for (key, value) in headers {
            environ.set(*key, value.clone());
        }
        run(&self.app(""), environ)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

#[test]
fn a_file_is_served_with_its_metadata() {
    let site = Site::new();
    let response = site.get("/hello.txt");
    assert_eq!(response.code(), Some(200));
    assert_eq!(response.text(), "hello, world\n");
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(response.header("Content-Length"), Some("13"));
    assert_eq!(response.header("Accept-Ranges"), Some("bytes"));
    assert!(response.header("ETag").unwrap().starts_with('"'));
    assert!(response.header("Last-Modified").unwrap().ends_with(" GMT"));
    assert_eq!(
        site.get("/css/site.css").header("Content-Type"),
        Some("text/css; charset=utf-8")
    );
}

#[test]
fn head_sends_the_headers_only() {
    let site = Site::new();
    let response = run(&site.app(""), request("HEAD", "/hello.txt"));
    assert_eq!(response.code(), Some(200));
    assert_eq!(response.header("Content-Length"), Some("13"));
    assert!(response.body().is_empty());
}

#[test]
fn other_methods_get_405() {
    let site = Site::new();
    let response = run(&site.app(""), request("POST", "/hello.txt"));
    assert_eq!(response.code(), Some(405));
    assert_eq!(response.header("Allow"), Some("GET, HEAD"));
}

#[test]
fn validators_give_304() {
    let site = Site::new();
    let first = site.get("/hello.txt");
    let etag = first.header("ETag").unwrap().to_owned();
    let modified = first.header("Last-Modified").unwrap().to_owned();

    let response = site.get_with("/hello.txt", &[("HTTP_IF_NONE_MATCH", etag.clone())]);
    assert_eq!(response.code(), Some(304));
    assert!(response.body().is_empty());
    assert_eq!(response.header("ETag"), Some(etag.as_str()));
    assert_eq!(response.header("Content-Length"), None);

    let response = site.get_with("/hello.txt", &[("HTTP_IF_MODIFIED_SINCE", modified)]);
    assert_eq!(response.code(), Some(304));

    let response = site.get_with("/hello.txt", &[("HTTP_IF_NONE_MATCH", "\"other\"".into())]);
    assert_eq!(response.code(), Some(200));
}

#[test]
fn ranges_give_206_or_416() {
    let site = Site::new();
    let response = site.get_with("/hello.txt", &[("HTTP_RANGE", "bytes=0-4".into())]);
    assert_eq!(response.code(), Some(206));
    assert_eq!(response.text(), "hello");
    assert_eq!(response.header("Content-Range"), Some("bytes 0-4/13"));
    assert_eq!(response.header("Content-Length"), Some("5"));

    let response = site.get_with("/hello.txt", &[("HTTP_RANGE", "bytes=-6".into())]);
    assert_eq!(response.text(), "world\n");

    let response = site.get_with("/hello.txt", &[("HTTP_RANGE", "bytes=13-".into())]);
    assert_eq!(response.code(), Some(416));
    assert_eq!(response.header("Content-Range"), Some("bytes */13"));
}

#[test]
fn if_range_lets_a_range_through_only_for_the_same_file() {
    let site = Site::new();
    let etag = site.get("/hello.txt").header("ETag").unwrap().to_owned();
    let same = site.get_with(
        "/hello.txt",
        &[("HTTP_RANGE", "bytes=0-4".into()), ("HTTP_IF_RANGE", etag)],
    );
    assert_eq!(same.code(), Some(206));
    let changed = site.get_with(
        "/hello.txt",
        &[
            ("HTTP_RANGE", "bytes=0-4".into()),
            ("HTTP_IF_RANGE", "\"old\"".into()),
        ],
    );
    assert_eq!((changed.code(), changed.text().len()), (Some(200), 13));
}

#[test]
fn directories_redirect_then_serve_their_index() {
    let site = Site::new();
    let mut environ = get("/sub");
    environ.set("SCRIPT_NAME", "/site");
    environ.set("QUERY_STRING", "x=1");
    let response = run(&site.app(""), environ);
    assert_eq!(response.code(), Some(301));
    assert_eq!(response.header("Location"), Some("/site/sub/?x=1"));
    let response = site.get("/sub/");
    assert_eq!(response.text(), "<h1>sub</h1>");
    assert_eq!(
        response.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        site.get("/empty/").text(),
        "fallback",
        "no index: the app decides"
    );
}

#[test]
fn missing_files_and_other_paths_fall_through_to_the_app() {
    let site = Site::new();
    assert_eq!(site.get("/nope.txt").text(), "fallback");
    let prefixed = site.app("/static");
    assert_eq!(
        run(&prefixed, get("/static/hello.txt")).text(),
        "hello, world\n"
    );
    assert_eq!(run(&prefixed, get("/hello.txt")).text(), "fallback");
    assert_eq!(run(&prefixed, get("/statichello.txt")).text(), "fallback");
}

#[test]
fn traversal_attempts_get_404_and_never_the_secret() {
    let site = Site::new();
    let outside = site.base.join("secret.txt");
    let absolute = format!("/{}", outside.display());
    for attack in [
        "/../secret.txt",
        "/css/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2fsecret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "/hello.txt\0.png",
        "//etc/passwd",
        absolute.as_str(),
        "/.env",
        "/CON",
        "/C:/Windows/win.ini",
    ] {
        let response = site.get(attack);
        assert_eq!(response.code(), Some(404), "{attack:?}");
        assert!(!response.text().contains("SECRET"), "{attack:?}");
        assert!(
            !response.text().contains("fallback"),
            "{attack:?} is refused, not passed on"
        );
    }
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_root_are_refused_and_inside_it_followed() {
    let site = Site::new();
    let response = site.get("/escape.txt");
    assert_eq!(response.code(), Some(404));
    assert!(!response.text().contains("SECRET"));
    assert_eq!(site.get("/alias.txt").text(), "hello, world\n");
}

#[test]
fn a_bad_root_is_an_error() {
    let site = Site::new();
    assert!(matches!(
        StaticFilesLayer::new(site.base.join("missing")),
        Err(StaticFilesError::Root { .. })
    ));
    assert!(matches!(
        StaticFilesLayer::new(site.base.join("secret.txt")),
        Err(StaticFilesError::NotADirectory { .. })
    ));
}
