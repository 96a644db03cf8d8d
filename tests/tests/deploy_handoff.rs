//! A graceful restart with the listening socket handed over, the way systemd
//! socket activation does it: `scripts/deploy/handoff.py` holds the socket
//! and runs `echo` A on it as fd 3 with `LISTEN_FDS=1`. Under load, it
//! starts B on the same socket and sends SIGTERM to A, which stops
//! accepting, finishes what it has and exits 0. No request fails, and every
//! answer was served (and logged) by exactly one of A and B.

mod deploy_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use deploy_support::client::{get, Connection};
use deploy_support::echo::{is_access_log_line, Echo, Listen};
use deploy_support::load::Load;
use deploy_support::{repo_file, send_signal, wait_for, ScratchDir, PATIENCE};
use tests::process::{example_binary, free_port};

/// `handoff.py` running `echo`, its output read line by line.
struct Handoff {
    child: Option<Child>,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Handoff {
    fn start() -> Handoff {
        let mut child = Command::new("python3")
            .arg(repo_file("scripts/deploy/handoff.py"))
            .args(["--bind", "127.0.0.1:0", "--"])
            .arg(example_binary("echo"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3 scripts/deploy/handoff.py");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Handoff {
            child: Some(child),
            lines,
            seen: Vec::new(),
        }
    }

    /// Wait (bounded) for the next `handoff: EVENT ...` line; its rest.
    fn next_event(&mut self, event: &str) -> String {
        let prefix = format!("handoff: {event} ");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!("no `{prefix}` line; the helper said: {:#?}", self.seen)
            });
            self.seen.push(line.clone());
            if let Some(rest) = line.strip_prefix(&prefix) {
                return rest.to_owned();
            }
        }
    }

    fn signal(&self, signal: &str) {
        send_signal(self.child.as_ref().expect("running").id(), signal);
    }

    /// SIGTERM; read its output to the end; its exit status and every line.
    fn stop(mut self) -> (ExitStatus, Vec<String>) {
        self.signal("TERM");
        let deadline = Instant::now() + PATIENCE;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        let mut child = self.child.take().expect("running");
        let status = child.wait().expect("wait for handoff.py");
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM first, so the helper stops its servers too.
            send_signal(child.id(), "TERM");
            let deadline = Instant::now() + PATIENCE;
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_restart_through_a_held_socket_fails_no_request() {
    let mut handoff = Handoff::start();
    let addr: SocketAddr = handoff.next_event("listening").parse().expect("an address");
    let a = handoff.next_event("ready");

    // Keep-alive bursts and new connections, some requests in flight (sleep).
    let load = Load::start(addr, 4, &["/", "/sleep?ms=5"]);
    load.wait_until("200 answers from A", |seen| seen.answers.len() >= 200);

    handoff.signal("HUP");
    let b = handoff.next_event("ready");
    assert_ne!(a, b, "B is a new process");
    assert_eq!(
        handoff.next_event("exited"),
        format!("{a} 0"),
        "A drained and exited 0"
    );
    load.set_phase(1);
    load.wait_until("200 answers after A exited", |seen| {
        seen.answers
            .iter()
            .filter(|answer| answer.phase == 1)
            .count()
            >= 200
    });
    let outcomes = load.stop();
    let (status, lines) = handoff.stop();

    assert_eq!(
        outcomes.failures,
        Vec::<String>::new(),
        "every request answered 200 ({} retried once on a new connection after a kept-alive one closed before any response byte)",
        outcomes.retries
    );
    assert!(status.success(), "handoff.py exits 0 after B does");
    assert!(
        lines.contains(&format!("handoff: exited {b} 0")),
        "{lines:#?}"
    );
    let served_by = |pid: &str| {
        let tag = format!("[{pid}] ");
        let access_lines = lines.iter().filter(|l| l.starts_with(&tag));
        access_lines.filter(|l| is_access_log_line(l)).count()
    };
    let (by_a, by_b) = (served_by(&a), served_by(&b));
    assert!(by_a > 0 && by_b > 0, "A served {by_a}, B served {by_b}");
    assert_eq!(
        by_a + by_b,
        outcomes.answers.len(),
        "each answer came from exactly one of A and B"
    );
}

/// A client connects, the server accepts, SIGTERM arrives, then the request
/// (a client writes right after connecting, so on a busy server this happens
/// by chance): the request is answered, with `Connection: close`. Closing
/// the connection unanswered instead would be a failure no client retries,
/// because the connection was new. By default the kernel hands the server a
/// connection only with its first bytes (`TCP_DEFER_ACCEPT`, as `handoff.py
/// --defer-accept` does for a held socket), and a connection it still holds
/// back when the server stops is reset with the listening socket
/// (`ServerConfig::defer_accept`): this case needs `--no-defer-accept`.
#[test]
fn a_connection_accepted_before_sigterm_is_answered_when_its_request_follows() {
    let dir = ScratchDir::new("handoff-fresh");
    let port = free_port();
    let mut echo = Echo::start(
        &Listen::Tcp(port),
        &dir.join("echo.log"),
        &["--no-defer-accept"],
    );
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut fresh = Connection::open(addr).expect("connect");
    // The server accepts in order: once a later connection is answered,
    // `fresh` has been accepted too.
    get(addr, "/later", &[]);
    send_signal(echo.pid(), "TERM");
    wait_for("echo to begin its shutdown", || {
        echo.log().contains("shutting down")
    });
    // The request comes a moment after the shutdown began, as it would
    // from a client preempted between connect and write.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let response = fresh.get("/fresh", &[], false);
    drop(fresh);
    let exit = echo.wait_for_exit();
    let response = response.expect("an answer to a connection accepted before SIGTERM");
    assert_eq!(response.status, 200);
    assert!(Connection::closes_after(&response), "and then a close");
    assert!(exit.success());
}
