//! A load generator that keeps every request's fate: client threads send
//! GETs until told to stop, alternating one request per new connection with
//! bursts on a kept-alive one, and record each answer with the phase of the
//! test it was sent in.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use super::client::{Connection, Failure};
use super::PATIENCE;

/// Requests sent on one kept-alive connection before a client opens the next.
const KEEP_ALIVE_BURST: usize = 8;

/// One request that was answered with `200 OK`.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The phase the test was in when the request was sent.
    pub(crate) phase: usize,
    /// The path asked for.
    pub(crate) path: &'static str,
    /// The response body.
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// The echo example's JSON answer, for `GET /`.
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Everything the clients saw.
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    /// Requests answered `200 OK`, in the order they finished.
    pub(crate) answers: Vec<Answer>,
    /// Requests that failed for good, each described.
    pub(crate) failures: Vec<String>,
    /// Requests sent again because a kept-alive connection closed before
    /// any response byte (the retry every keep-alive client makes).
    pub(crate) retries: usize,
}

#[derive(Debug)]
struct Shared {
    addr: SocketAddr,
    paths: &'static [&'static str],
    stop: AtomicBool,
    phase: AtomicUsize,
    outcomes: Mutex<Outcomes>,
}

impl Shared {
    fn outcomes(&self) -> MutexGuard<'_, Outcomes> {
        self.outcomes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Clients sending requests in the background.
#[derive(Debug)]
pub(crate) struct Load {
    shared: Arc<Shared>,
    clients: Vec<JoinHandle<()>>,
}

impl Load {
    /// Start `clients` threads asking `addr` for `paths` in turn.
    pub(crate) fn start(addr: SocketAddr, clients: usize, paths: &'static [&'static str]) -> Load {
        let shared = Arc::new(Shared {
            addr,
            paths,
            stop: AtomicBool::new(false),
            phase: AtomicUsize::new(0),
            outcomes: Mutex::new(Outcomes::default()),
        });
        let clients = (0..clients)
            .map(|id| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || run_client(&shared, id))
            })
            .collect();
        Load { shared, clients }
    }

    /// Mark the requests sent from now on as sent in `phase`.
    pub(crate) fn set_phase(&self, phase: usize) {
        self.shared.phase.store(phase, Ordering::SeqCst);
    }

    /// Wait until `done` holds for what the clients have seen so far.
    /// Panics naming `what` after [`PATIENCE`].
    pub(crate) fn wait_until(&self, what: &str, done: impl Fn(&Outcomes) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            {
                let outcomes = self.shared.outcomes();
                if done(&outcomes) {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "gave up waiting for {what}: {} answers, failures: {:?}",
                    outcomes.answers.len(),
                    outcomes.failures
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Stop the clients, wait for their last requests, and return what they saw.
    pub(crate) fn stop(mut self) -> Outcomes {
        self.shared.stop.store(true, Ordering::SeqCst);
        for client in self.clients.drain(..) {
            client.join().expect("a load client panicked");
        }
        std::mem::take(&mut *self.shared.outcomes())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

fn run_client(shared: &Shared, id: usize) {
    let mut next_path = id;
    for round in 0.. {
        let keep_alive = round % 2 == 1;
        let requests = if keep_alive { KEEP_ALIVE_BURST } else { 1 };
        let mut connection = None;
        for _ in 0..requests {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            let path = shared.paths[next_path % shared.paths.len()];
            next_path += 1;
            let phase = shared.phase.load(Ordering::SeqCst);
            let (result, retried) = send_with_retry(shared.addr, &mut connection, path, keep_alive);
            let mut outcomes = shared.outcomes();
            outcomes.retries += usize::from(retried);
            match result {
                Ok(response) if response.status == 200 => outcomes.answers.push(Answer {
                    phase,
                    path,
                    body: response.body,
                }),
                Ok(response) => outcomes.failures.push(format!(
                    "phase {phase}, GET {path}: status {}: {}",
                    response.status,
                    response.text()
                )),
                Err(failure) => outcomes
                    .failures
                    .push(format!("phase {phase}, GET {path}: {failure}")),
            }
        }
    }
}

/// Send one request, and send it once more on a new connection if a
/// kept-alive connection closed before any response byte: the server may
/// close an idle connection just as a request is sent, and RFC 9112 section
/// 9.3.1 lets a client retry an idempotent request then. A request on a new
/// connection is never retried. Returns the result and whether it retried.
fn send_with_retry(
    addr: SocketAddr,
    connection: &mut Option<Connection>,
    path: &str,
    keep_alive: bool,
) -> (Result<tests::RawResponse, Failure>, bool) {
    let reused = connection.as_ref().is_some_and(|c| c.answered() > 0);
    match send(addr, connection, path, keep_alive) {
        Err(Failure::NoAnswer(_)) if reused => (send(addr, connection, path, keep_alive), true),
        result => (result, false),
    }
}

fn send(
    addr: SocketAddr,
    connection: &mut Option<Connection>,
    path: &str,
    keep_alive: bool,
) -> Result<tests::RawResponse, Failure> {
    let mut open = match connection.take() {
        Some(open) => open,
        None => Connection::open(addr)?,
    };
    let response = open.get(path, &[], !keep_alive)?;
    if keep_alive && !Connection::closes_after(&response) {
        *connection = Some(open);
    }
    Ok(response)
}
