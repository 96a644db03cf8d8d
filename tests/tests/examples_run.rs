//! Every example is started as a process and exercised over HTTP with a
//! real client.

use tests::process::ExampleProcess;

#[test]
fn hello_serves_the_seeds_response_and_stops_on_sigterm() {
    let hello = ExampleProcess::start("hello", &[]);
    let response = ureq::get(&hello.url("/")).call().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("content-type"), Some("text/plain"));
    assert_eq!(response.into_string().unwrap(), "Hello from server.");
    let (clean, _took) = hello.terminate();
    assert!(clean, "hello did not exit cleanly on SIGTERM");
}

#[test]
fn demo_prints_hello_world_and_the_sorted_environ() {
    let demo = ExampleProcess::start("demo", &[]);
    let text = ureq::get(&demo.url("/some/path?x=1"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(text.starts_with("Hello world!\n\n"));
    assert!(text.contains("PATH_INFO = \"/some/path\"\n"));
    assert!(text.contains("QUERY_STRING = \"x=1\"\n"));
    let keys: Vec<&str> = text
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with("wsgi."))
        .map(|l| l.split(" = ").next().unwrap())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn echo_answers_each_of_its_routes() {
    let echo = ExampleProcess::start("echo", &[]);
    let response = ureq::post(&echo.url("/anything"))
        .set("Content-Type", "text/x-test")
        .send_string("round trip")
        .unwrap();
    assert_eq!(response.header("content-type"), Some("text/x-test"));
    assert_eq!(response.into_string().unwrap(), "round trip");
    let response = ureq::put(&echo.url("/x")).send_bytes(b"\x00\x01").unwrap();
    assert_eq!(
        response.header("content-type"),
        Some("application/octet-stream")
    );
    let response = ureq::get(&echo.url("/stream?n=4")).call().unwrap();
    assert!(response.header("content-length").is_none());
    assert_eq!(
        response.into_string().unwrap(),
        "chunk 0\nchunk 1\nchunk 2\nchunk 3\n"
    );
    assert_eq!(
        ureq::get(&echo.url("/sleep?ms=50"))
            .call()
            .unwrap()
            .into_string()
            .unwrap(),
        "slept"
    );
    match ureq::get(&echo.url("/panic")).call() {
        Err(ureq::Error::Status(500, _)) => {}
        other => panic!("expected a 500, got {other:?}"),
    }
    let text = ureq::get(&echo.url("/p?q=1"))
        .set("X-Test", "yes")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["REQUEST_METHOD"], "GET");
    assert_eq!(json["PATH_INFO"], "/p");
    assert_eq!(json["QUERY_STRING"], "q=1");
    assert_eq!(json["HTTP_X_TEST"], "yes");
    assert_eq!(json["SERVER_PORT"], echo.port.to_string());
    assert_eq!(json["url_scheme"], "http");
    assert!(json.get("wsgi.input").is_none());
}

#[test]
fn mix_serves_each_app_kind_over_http() {
    for kind in ["raw", "framework", "wrapped"] {
        let mix = ExampleProcess::start("mix", &["--server", "http", "--app", kind]);
        let text = ureq::get(&mix.url("/hello?name=Mix"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        assert_eq!(text, "Hello, Mix!", "{kind}");
        match ureq::get(&mix.url("/nowhere")).call() {
            Err(ureq::Error::Status(404, _)) => {}
            other => panic!("{kind}: expected 404, got {other:?}"),
        }
    }
}
