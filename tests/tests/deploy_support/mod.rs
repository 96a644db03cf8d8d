//! What the deployment tests share: a scratch directory, `echo` processes
//! whose log (the access log among it) goes to a file, an HTTP client that
//! tells "no answer" from "a broken answer", a load generator that records
//! every request's fate, and nginx started from `scripts/deploy/nginx/`.

// Each test file uses its own part of this module.
#![allow(dead_code)]

pub(crate) mod client;
pub(crate) mod echo;
pub(crate) mod load;
pub(crate) mod nginx;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a test waits for a process to start or for an awaited event
/// before it fails: a bound against hanging, not a speed requirement.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// A directory of its own for one test; removed when dropped.
#[derive(Debug)]
pub(crate) struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// `/tmp/gateway-deploy-NAME-PID`, empty.
    pub(crate) fn new(name: &str) -> ScratchDir {
        let path =
            std::env::temp_dir().join(format!("gateway-deploy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the scratch directory");
        ScratchDir { path }
    }

    /// A path inside the directory.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The directory itself.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Poll `done` until it holds; panic naming `what` after [`PATIENCE`].
pub(crate) fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Send `signal` (`"TERM"`, `"KILL"`, `"HUP"`) to process `pid`.
pub(crate) fn send_signal(pid: u32, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -{signal} {pid} failed");
}

/// A file of this repository, from the `tests` crate's directory.
pub(crate) fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}
