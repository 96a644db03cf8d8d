//! Idle keep-alive connections wait in the poller, not in threads. This
//! test is alone in its binary so the thread count is this server's alone.

use std::io::{BufReader, Write};

use gateway_server::ServerConfig;
use tests::apps::kitchen_sink;
use tests::{read_response, test_config, thread_count, TestServer};

#[test]
fn thousands_of_idle_connections_cost_no_threads() {
    let workers = 4;
    let before = thread_count();
    let server = TestServer::start_with(
        kitchen_sink,
        ServerConfig {
            workers,
            ..test_config()
        },
    );
    // 2,000 here; scripts/stress.sh holds 10,000 from another process.
    let mut idle = Vec::new();
    for _ in 0..2_000 {
        let mut reader = BufReader::new(server.connect());
        reader
            .get_mut()
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        idle.push(reader);
    }
    for reader in idle.iter_mut() {
        assert_eq!(read_response(reader, false).unwrap().status, 200);
    }
    // The pool, the two poller threads that take turns (handover.rs) and
    // the test server's thread, waiting in serve_forever.
    let threads = thread_count() - before;
    assert!(
        threads <= workers + 3,
        "{threads} threads for {workers} workers and 2,000 idle connections"
    );
    // A fresh client is still served while the 2,000 wait.
    assert_eq!(ureq::get(&server.url("/")).call().unwrap().status(), 200);
    // Every idle connection is still alive and usable.
    for reader in idle.iter_mut().step_by(97) {
        reader
            .get_mut()
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(reader, false).unwrap().text(), "hello");
    }
}
