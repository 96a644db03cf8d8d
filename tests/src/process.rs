//! Running the example programs as real processes, as a user would.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An example program running on a free loopback port; killed on drop.
#[derive(Debug)]
pub struct ExampleProcess {
    /// The port it listens on.
    pub port: u16,
    child: Option<Child>,
}

impl ExampleProcess {
    /// Start `examples/NAME` with `--host 127.0.0.1 --port P` and `extra`
    /// arguments, and wait (bounded) until it answers.
    pub fn start(name: &str, extra: &[&str]) -> ExampleProcess {
        // A port free a moment ago may be taken by a test alongside before
        // the example binds it: the example then exits, while the port
        // answers (the other test's server). Try again with a fresh port.
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(example_binary(name))
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "could not start example {name}: {e} (run `cargo build --examples` first)"
                    )
                });
            let mut process = ExampleProcess {
                port,
                child: Some(child),
            };
            if process.wait_until_listening() {
                return process;
            }
        }
        panic!("example {name} exited at start three times (see its --port)");
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

    /// Wait until the port answers and the example is still running a
    /// moment later (one that could not bind exits at once); false if it
    /// exited.
    fn wait_until_listening(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.has_exited() {
                return false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                std::thread::sleep(Duration::from_millis(50));
                return !self.has_exited();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("example did not start listening on port {}", self.port);
    }

    fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|child| !matches!(child.try_wait(), Ok(None)))
    }
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
