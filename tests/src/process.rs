//! Running the example programs as real processes, as a user would.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// An example program running on a free loopback port; killed on drop.
#[derive(Debug)]
pub struct ExampleProcess {
    /// The port it listens on.
    pub port: u16,
    child: Option<Child>,
}

impl ExampleProcess {
    /// Start `examples/NAME` with `--host 127.0.0.1 --port 0` and `extra`
    /// arguments, and wait (bounded) until it says where it listens.
    ///
    /// The example binds a port the OS picks and logs `serving on ADDR`
    /// (the server's first log line, on standard error): no port chosen
    /// here can be taken by another test before the example binds it.
    pub fn start(name: &str, extra: &[&str]) -> ExampleProcess {
        let mut child = Command::new(example_binary(name))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("could not start example {name}: {e} (run `cargo build --examples` first)")
            });
        let stderr = child.stderr.take().expect("a piped stderr");
        let (port_tx, port_rx) = mpsc::channel();
        // Reads every line, so the example never blocks on a full pipe
        // (it logs each request), and hands on the port it bound.
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            let mut reader = BufReader::new(stderr);
            let mut line = Vec::new();
            // Bytes, not `lines()`: a line that is not UTF-8 must not stop
            // the draining. Ends when the example exits (end of file).
            while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                if let Some(port) = served_port(&String::from_utf8_lossy(&line)) {
                    if let Some(tx) = port_tx.take() {
                        let _ = tx.send(port);
                    }
                }
                line.clear();
            }
        });
        let mut process = ExampleProcess {
            port: 0,
            child: Some(child),
        };
        match port_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(port) => process.port = port,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("example {name} exited before it served (see its arguments: {extra:?})")
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("example {name} did not log `serving on ADDR` within 20 s")
            }
        }
        process
    }

    /// `http://127.0.0.1:PORT{path}`
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Send SIGTERM and wait (bounded) for the process to exit; returns
    /// whether it exited successfully and how long it took.
    pub fn terminate(mut self) -> (bool, Duration) {
        let started = Instant::now();
        let Some(mut child) = self.child.take() else {
            return (false, Duration::ZERO);
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = child.try_wait() {
                return (status.success(), started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        (false, started.elapsed())
    }
}

/// The port in the server's `serving on http://127.0.0.1:PORT` log line:
/// how a test learns the port of a process it started with `--port 0`.
pub fn served_port(line: &str) -> Option<u16> {
    let addr = line.strip_prefix("serving on ")?;
    addr.rsplit_once(':')?.1.trim().parse().ok()
}

impl Drop for ExampleProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// `N` ports that are free and different from each other. Ports taken one
/// [`free_port`] at a time can repeat (each is released before the next is
/// chosen), and nginx accepts the same `listen` in two server blocks without
/// complaint: a request then reaches the wrong one.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    std::array::from_fn(|i| held[i].local_addr().expect("local address").port())
}

/// The path of a built example: `cargo test` builds examples next to the
/// test binaries (`target/<profile>/examples/`).
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir.join("examples").join(name)
}
