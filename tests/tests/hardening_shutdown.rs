//! Graceful shutdown under load: every request the application received is
//! answered in full, no client loses an admitted request to a reset, and
//! `serve_forever` returns once the grace period is over even while a
//! request is still stuck in the application.
//!
//! Ordering, not timing: the load runs until a counted number of answers
//! has come back, the stuck request is released only after `serve_forever`
//! returned, and every socket has a timeout.

use std::collections::BTreeSet;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use gateway_server::ServerConfig;
use gateway_spec::{AppError, Body, Environ, StartResponse};
use tests::{read_response, test_config, TestServer, TIMEOUT};

const CLIENTS: usize = 8;
/// Each client sends at most this many requests: the load is bounded.
const MAX_PER_CLIENT: usize = 2_000;
/// Answers to wait for before shutting down.
const ANSWERS_BEFORE_SHUTDOWN: usize = 100;
const STUCK_ID: u64 = u64::MAX;

/// What the application received and what it is waiting for.
#[derive(Default)]
struct Ledger {
    admitted: Mutex<BTreeSet<u64>>,
    answered: AtomicUsize,
    stuck_entered: (Mutex<bool>, Condvar),
    release_stuck: (Mutex<bool>, Condvar),
    stuck_finished: AtomicBool,
}

impl Ledger {
    fn stuck(&self) {
        let (entered, signal) = &self.stuck_entered;
        *entered.lock().unwrap() = true;
        signal.notify_all();
        let (release, signal) = &self.release_stuck;
        let guard = release.lock().unwrap();
        let _unused = signal
            .wait_timeout_while(guard, TIMEOUT, |released| !*released)
            .unwrap();
        self.stuck_finished.store(true, Ordering::SeqCst);
    }
}

fn app(ledger: Arc<Ledger>) -> impl Fn(Environ, StartResponse) -> Result<Body, AppError> {
    move |environ: Environ, sr: StartResponse| {
        let id: u64 = environ
            .get("HTTP_X_ID")
            .and_then(|id| id.parse().ok())
            .ok_or("no X-Id")?;
        ledger.admitted.lock().unwrap().insert(id);
        if id == STUCK_ID {
            ledger.stuck();
        } else {
            // Long enough that shutdown finds requests in every stage.
            std::thread::sleep(Duration::from_millis(2));
        }
        sr.call("200 OK", vec![])?;
        Ok(Body::from(format!("answer {id}")))
    }
}

/// One client: keep-alive requests until the server is gone. Returns the
/// ids answered in full.
fn client(addr: SocketAddr, n: usize, ledger: Arc<Ledger>) -> Vec<u64> {
    let mut answered = Vec::new();
    let mut conn: Option<BufReader<TcpStream>> = None;
    for i in 0..MAX_PER_CLIENT {
        let id = (n * MAX_PER_CLIENT + i) as u64;
        let reader = match conn.take() {
            Some(reader) => reader,
            None => match TcpStream::connect_timeout(&addr, TIMEOUT) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
                    BufReader::new(stream)
                }
                Err(_) => break, // no longer listening: done
            },
        };
        let mut reader = reader;
        let request = format!("GET /work HTTP/1.1\r\nHost: t\r\nX-Id: {id}\r\n\r\n");
        if reader.get_mut().write_all(request.as_bytes()).is_err() {
            continue; // closed before our request: never admitted
        }
        match read_response(&mut reader, false) {
            Ok(response) if response.text() == format!("answer {id}") => {
                answered.push(id);
                ledger.answered.fetch_add(1, Ordering::SeqCst);
                if response.header("connection") != Some("close") {
                    conn = Some(reader);
                }
            }
            Ok(response) => panic!("request {id}: wrong answer {response:?}"),
            Err(_) => {} // no answer: checked against what the app admitted
        }
    }
    answered
}

#[test]
fn shutdown_under_load_answers_every_admitted_request() {
    let ledger = Arc::new(Ledger::default());
    let config = ServerConfig {
        workers: 4,
        shutdown_grace: Duration::from_millis(500),
        ..test_config()
    };
    let server = TestServer::start_with(app(Arc::clone(&ledger)), config);
    let addr = server.addr;
    let stuck = std::thread::spawn(move || {
        let mut stream = tests::connect(addr);
        stream
            .write_all(
                format!("GET /stuck HTTP/1.1\r\nHost: t\r\nX-Id: {STUCK_ID}\r\n\r\n").as_bytes(),
            )
            .unwrap();
        read_response(&mut BufReader::new(stream), false).is_ok()
    });
    let (entered, signal) = &ledger.stuck_entered;
    let guard = entered.lock().unwrap();
    drop(signal.wait_timeout_while(guard, TIMEOUT, |e| !*e).unwrap());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let ledger = Arc::clone(&ledger);
            std::thread::spawn(move || client(addr, n, ledger))
        })
        .collect();
    for _ in 0..1000 {
        if ledger.answered.load(Ordering::SeqCst) >= ANSWERS_BEFORE_SHUTDOWN {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(ledger.answered.load(Ordering::SeqCst) >= ANSWERS_BEFORE_SHUTDOWN);
    server.stop();
    // serve_forever has returned while the stuck request is still inside
    // the application: the grace period bounded the wait.
    assert!(!ledger.stuck_finished.load(Ordering::SeqCst));
    let (release, signal) = &ledger.release_stuck;
    *release.lock().unwrap() = true;
    signal.notify_all();
    let mut answered = BTreeSet::new();
    for client in clients {
        answered.extend(client.join().unwrap());
    }
    assert!(
        !stuck.join().unwrap(),
        "the stuck request cannot have been answered"
    );
    let mut admitted = ledger.admitted.lock().unwrap().clone();
    admitted.remove(&STUCK_ID);
    let lost: Vec<_> = admitted.difference(&answered).collect();
    assert!(
        lost.is_empty(),
        "admitted but never answered in full: {lost:?}"
    );
    assert!(answered.len() >= ANSWERS_BEFORE_SHUTDOWN);
}
