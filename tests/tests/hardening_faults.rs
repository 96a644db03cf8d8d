//! Clients that fail in every way a client can: they disconnect mid-head,
//! mid-body (small, and large: collected in a temporary file),
//! mid-response, or stop reading a large response. Afterwards nothing is
//! lost: every worker is free again (N workers serve N requests that can
//! only finish together), every body the application returned was closed,
//! and the process's file descriptors, threads and memory are back where
//! they were.
//!
//! One test in its own binary: it counts the process's descriptors and
//! threads, which any test running beside it would disturb. Every wait is
//! bounded by a socket timeout or a counted loop; nothing asserts a speed.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use gateway_server::ServerConfig;
use gateway_spec::{AppError, Body, Environ, StartResponse};
use tests::apps::kitchen_sink;
use tests::{open_fds, read_response, test_config, thread_count, TestServer};

const WORKERS: usize = 2;
/// How many clients of each faulty kind per round.
const PER_KIND: usize = 4;

/// What the application saw: bodies handed out and closed, and a gate where
/// `WORKERS` requests meet.
#[derive(Default)]
struct Ledger {
    bodies: AtomicUsize,
    closed: Arc<AtomicUsize>,
    gate: (Mutex<usize>, Condvar),
}

impl Ledger {
    /// Wait at the gate until `WORKERS` requests are there (true), or give
    /// up after a while (false: some worker was not free).
    fn meet(&self) -> bool {
        let (count, arrived) = &self.gate;
        let mut count = count.lock().unwrap();
        *count += 1;
        arrived.notify_all();
        let (count, timeout) = arrived
            .wait_timeout_while(count, Duration::from_secs(8), |c| *c % WORKERS != 0)
            .unwrap();
        drop(count);
        !timeout.timed_out()
    }
}

fn app(ledger: Arc<Ledger>) -> impl Fn(Environ, StartResponse) -> Result<Body, AppError> {
    move |environ: Environ, sr: StartResponse| {
        let body = if environ.path_info() == "/gate" {
            let met = ledger.meet();
            sr.call("200 OK", vec![])?;
            Body::from(if met { "together" } else { "alone" })
        } else {
            kitchen_sink(environ, sr)?
        };
        ledger.bodies.fetch_add(1, Ordering::SeqCst);
        let closed = Arc::clone(&ledger.closed);
        Ok(body.on_close(move || {
            closed.fetch_add(1, Ordering::SeqCst);
        }))
    }
}

fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// One round of every fault. Returns the clients that stopped reading,
/// still connected, so the caller decides when they go.
fn faults(server: &TestServer) -> Vec<TcpStream> {
    for _ in 0..PER_KIND {
        // Mid-head.
        let mut s = server.connect();
        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Partial: ")
            .unwrap();
        // Mid-body, a small body the server collects before the app runs.
        let mut s = server.connect();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
            .unwrap();
        s.write_all(&[b'x'; 100]).unwrap();
        // Mid-body, a large body the server collects in a temporary file.
        let mut s = server.connect();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 300000\r\n\r\n")
            .unwrap();
        s.write_all(&[b'y'; 100_000]).unwrap();
        // Mid-response: read a little of a large streamed response.
        let mut s = server.connect();
        s.write_all(b"GET /stream?n=200000 HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut some = [0u8; 1024];
        s.read_exact(&mut some).unwrap();
    }
    // Stopped reading: more of them than workers, all still connected.
    (0..WORKERS + 1)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(b"GET /stream?n=1000000 HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            s
        })
        .collect()
}

/// `WORKERS` requests that can only finish when all are in the application
/// at once: every worker is free.
fn all_workers_serve_together(server: &TestServer) {
    let clients: Vec<_> = (0..WORKERS)
        .map(|_| {
            let mut s = server.connect();
            std::thread::spawn(move || {
                s.write_all(b"GET /gate HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    .unwrap();
                read_response(&mut BufReader::new(s), false).map(|r| r.text())
            })
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap().unwrap(), "together");
    }
}

/// A reading of the process once it holds still: connections close as the
/// poller reaps them, so sample until ten samples in a row agree (a counted
/// loop, not a deadline).
fn settled(read: impl Fn() -> usize) -> usize {
    let (mut last, mut same) = (read(), 0);
    for _ in 0..1000 {
        std::thread::sleep(Duration::from_millis(10));
        let now = read();
        same = if now == last { same + 1 } else { 0 };
        last = now;
        if same == 10 {
            break;
        }
    }
    last
}

#[test]
fn after_every_kind_of_client_fault_nothing_is_lost() {
    let ledger = Arc::new(Ledger::default());
    let config = ServerConfig {
        workers: WORKERS,
        // Short, so stalled clients are given up on within the test.
        write_timeout: Duration::from_millis(150),
        body_timeout: Duration::from_millis(300),
        header_timeout: Duration::from_millis(300),
        ..test_config()
    };
    let server = TestServer::start_with(app(Arc::clone(&ledger)), config);
    // Warm-up round: the allocator's and the server's steady state.
    let stalled = faults(&server);
    all_workers_serve_together(&server);
    drop(stalled);
    let fds = settled(open_fds);
    let threads = thread_count();
    let rss = rss_kib();
    for round in 0..2 {
        let stalled = faults(&server);
        // The stalled readers still hold their connections: the workers
        // that wrote to them gave up at the write timeout.
        all_workers_serve_together(&server);
        drop(stalled);
        assert_eq!(
            server
                .exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .status,
            200,
            "round {round}: still accepting"
        );
    }
    let (fds_after, threads_after, rss_after) = (settled(open_fds), thread_count(), rss_kib());
    // The figures docs/reliability.md quotes (`-- --nocapture` shows them).
    eprintln!(
        "after two rounds, {} faulty clients: fds {fds} -> {fds_after}, threads {threads} -> {threads_after}, \
         RSS {rss} -> {rss_after} KiB",
        2 * (4 * PER_KIND + WORKERS + 1)
    );
    assert_eq!(fds_after, fds, "file descriptors leaked");
    assert_eq!(threads_after, threads, "threads leaked");
    let grown = rss_after.saturating_sub(rss);
    assert!(
        grown < 16 * 1024,
        "memory grew by {grown} KiB over two rounds"
    );
    let open_bodies =
        || ledger.bodies.load(Ordering::SeqCst) - ledger.closed.load(Ordering::SeqCst);
    assert_eq!(settled(open_bodies), 0, "bodies never closed");
}
