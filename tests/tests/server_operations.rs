//! Operating the server: overload answers 503, shutdown is graceful, slow
//! clients harm no one, and every way of binding works.

use std::io::{BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gateway_server::{AccessLogTarget, ListenAddr, Server, ServerConfig};
use tests::apps::kitchen_sink;
use tests::{connect, read_response, test_config, TestServer};

#[test]
fn slow_clients_sending_a_byte_at_a_time_delay_no_one() {
    let server = TestServer::start_with(
        kitchen_sink,
        ServerConfig {
            workers: 2,
            ..test_config()
        },
    );
    // 200 clients each send part of a head and stall (the full-scale run,
    // 1,000 clients at one byte a second, is in scripts/stress.sh).
    let mut stalled: Vec<_> = (0..200).map(|_| server.connect()).collect();
    for (i, stream) in stalled.iter_mut().enumerate() {
        write!(stream, "GET /slow{i} HTTP/1.1\r\nX-Slow: ").unwrap();
    }
    for round in 0..3 {
        for stream in stalled.iter_mut() {
            stream.write_all(b"z").unwrap();
        }
        // Answered (not timed out) while 200 heads stall and only two
        // workers exist: no worker waits on a stalled client.
        let response = ureq::get(&server.url("/")).call().unwrap();
        assert_eq!(response.status(), 200, "round {round}");
    }
    // The stalled clients still get answers once they finish.
    for stream in stalled.iter_mut().take(5) {
        stream
            .write_all(b"\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
    }
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let config = ServerConfig {
        workers: 1,
        max_queued: 1,
        ..test_config()
    };
    let server = TestServer::start_with(kitchen_sink, config);
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut stream = connect(addr);
                stream
                    .write_all(b"GET /sleep?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
                    .unwrap();
                let response = read_response(&mut BufReader::new(stream), false).unwrap();
                (
                    response.status,
                    response.header("retry-after").map(str::to_owned),
                )
            })
        })
        .collect();
    let results: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let refused: Vec<_> = results.iter().filter(|(s, _)| *s == 503).collect();
    assert!(ok >= 1, "some requests were served: {results:?}");
    assert!(
        !refused.is_empty(),
        "some requests were refused: {results:?}"
    );
    assert!(refused
        .iter()
        .all(|(_, retry)| retry.as_deref() == Some("1")));
    assert_eq!(
        ok + refused.len(),
        results.len(),
        "every answer is 200 or 503: {results:?}"
    );
    // The server recovers as soon as the load stops.
    assert_eq!(
        server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").status,
        200
    );
}

#[test]
fn past_the_connection_limit_new_clients_get_503() {
    let config = ServerConfig {
        max_connections: 5,
        ..test_config()
    };
    let server = TestServer::start_with(kitchen_sink, config);
    // Clients that have started a request: a silent one is not handed to
    // the server until it speaks (`defer_accept`).
    let held: Vec<_> = (0..5)
        .map(|_| {
            let mut client = server.connect();
            client.write_all(b"GET / HTTP/1.1\r\n").unwrap();
            client
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let response = server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(response.status, 503);
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = server
            .exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .status;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not recover after clients left"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn shutdown_finishes_requests_in_flight() {
    let server = TestServer::start(kitchen_sink);
    let in_flight: Vec<_> = (0..3)
        .map(|_| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let mut stream = connect(addr);
                stream
                    .write_all(b"GET /sleep?ms=500 HTTP/1.1\r\nHost: t\r\n\r\n")
                    .unwrap();
                read_response(&mut BufReader::new(stream), false).map(|r| (r.status, r.text()))
            })
        })
        .collect();
    let idle = server.connect();
    std::thread::sleep(Duration::from_millis(150));
    server.stop();
    for client in in_flight {
        assert_eq!(client.join().unwrap().unwrap(), (200, "slept".to_owned()));
    }
    // The idle connection was closed, and nobody listens any more.
    let mut idle = BufReader::new(idle);
    let mut rest = Vec::new();
    assert!(matches!(idle.read_to_end(&mut rest), Ok(0)) || rest.is_empty());
}

#[test]
fn shutdown_answers_a_request_that_was_already_received() {
    // The app says when it has the request, so the shutdown comes while the
    // server is on it (a request still in flight on the wire may meet a
    // closing keep-alive connection; RFC 9112 section 9.6 has clients retry).
    let (started, has_request) = std::sync::mpsc::channel::<()>();
    let started = Mutex::new(started);
    let app = move |environ: gateway_spec::Environ, start_response: gateway_spec::StartResponse| {
        if environ.path_info() == "/slow" {
            let _ = started.lock().map(|started| started.send(()));
            std::thread::sleep(Duration::from_millis(200));
        }
        start_response.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
        Ok(gateway_spec::Body::once(b"done".to_vec()))
    };
    let server = TestServer::start(app);
    let mut stream = server.connect();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
    let handle = server.handle();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    has_request
        .recv_timeout(Duration::from_secs(10))
        .expect("the app receives the second request");
    handle.shutdown();
    let response = read_response(&mut reader, false).unwrap();
    assert_eq!(
        (response.status, response.header("connection")),
        (200, Some("close"))
    );
    drop(server);
}

#[test]
fn binds_ipv6_unix_sockets_and_existing_listeners() {
    if let Ok(server) = Server::bind("[::1]:0", kitchen_sink, test_config()) {
        let ListenAddr::Tcp(addr) = server.local_addr().unwrap() else {
            panic!("tcp")
        };
        assert!(addr.is_ipv6() && addr.port() != 0);
        let handle = server.handle();
        let thread = std::thread::spawn(move || server.serve_forever());
        let mut reader = BufReader::new(connect(addr));
        reader
            .get_mut()
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut reader, false).unwrap().text(), "hello");
        handle.shutdown();
        thread.join().unwrap().unwrap();
    }

    let dir = std::env::temp_dir().join(format!("gateway-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("server.sock");
    let server = Server::bind_unix(&path, kitchen_sink, test_config()).unwrap();
    assert_eq!(server.local_addr().unwrap(), ListenAddr::Unix(path.clone()));
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.serve_forever());
    let mut stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(tests::TIMEOUT)).unwrap();
    stream
        .write_all(b"GET /environ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    assert!(raw.contains("\"PATH_INFO\":\"/environ\""));
    handle.shutdown();
    thread.join().unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::from_listener(listener, kitchen_sink, test_config()).unwrap();
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.serve_forever());
    assert_eq!(
        ureq::get(&format!("http://{addr}/"))
            .call()
            .unwrap()
            .into_string()
            .unwrap(),
        "hello"
    );
    handle.shutdown();
    thread.join().unwrap().unwrap();
}

#[test]
fn the_access_log_has_one_common_log_format_line_per_request() {
    let lines = Arc::new(Mutex::new(Vec::<u8>::new()));
    let config = ServerConfig {
        access_log: AccessLogTarget::Writer(lines.clone()),
        ..test_config()
    };
    let server = TestServer::start_with(kitchen_sink, config);
    ureq::get(&server.url("/hello?x=1")).call().unwrap();
    let _ = ureq::get(&server.url("/panic")).call();
    server.exchange(b"GET / HTTP/1.1\r\n\r\n");
    drop(server);
    let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    // Lines are written as responses finish, so their order may vary.
    assert!(
        lines.iter().all(|l| l.starts_with("127.0.0.1 - - [")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("] \"GET /hello?x=1 HTTP/1.1\" 200 5")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"GET /panic HTTP/1.1\" 500 ")),
        "{text}"
    );
    assert!(lines.iter().any(|l| l.ends_with("\"-\" 400 -")), "{text}");
}

#[test]
fn half_closed_connections_are_reaped() {
    let server = TestServer::start(kitchen_sink);
    let mut reader = BufReader::new(server.connect());
    reader
        .get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    reader
        .get_mut()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
    // Closed now, not at a timeout (is_closed would time out first).
    assert!(tests::is_closed(&mut reader));
}
