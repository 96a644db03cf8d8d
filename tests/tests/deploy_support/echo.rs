//! The `echo` example as a deployed process: started on TCP or a Unix
//! socket with extra flags, its log (startup line and access log) written to
//! a file the test reads.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use tests::process::example_binary;

use super::{send_signal, wait_for};

/// Where an instance listens.
#[derive(Debug, Clone)]
pub(crate) enum Listen {
    /// `--host 127.0.0.1 --port PORT`
    Tcp(u16),
    /// `--unix PATH --unix-mode 660`
    Unix(PathBuf),
}

/// A running `echo`; killed when dropped.
#[derive(Debug)]
pub(crate) struct Echo {
    child: Option<Child>,
    log: PathBuf,
}

impl Echo {
    /// Start `echo` on `listen` with `extra` flags, logging to `log`, and
    /// wait (bounded) until it says it is serving.
    pub(crate) fn start(listen: &Listen, log: &Path, extra: &[&str]) -> Echo {
        let mut command = Command::new(example_binary("echo"));
        match listen {
            Listen::Tcp(port) => command.args(["--host", "127.0.0.1", "--port", &port.to_string()]),
            Listen::Unix(path) => command.arg("--unix").arg(path).args(["--unix-mode", "660"]),
        };
        let child = command
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(log).expect("create the echo log"))
            .spawn()
            .expect("start examples/echo (build it with `cargo build --examples -p examples`)");
        let mut echo = Echo {
            child: Some(child),
            log: log.to_owned(),
        };
        wait_for("echo to log `serving on`", || {
            if let Some(status) = echo
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("echo exited at start ({status}): {}", echo.log());
            }
            echo.log().contains("serving on")
        });
        echo
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Everything it has logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Requests it has answered: the lines of its access log.
    pub(crate) fn requests_served(&self) -> usize {
        self.log().lines().filter(|l| is_access_log_line(l)).count()
    }

    /// SIGKILL, as a crash or the OOM killer would, and reap it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            send_signal(child.id(), "KILL");
            child.wait().expect("reap the killed echo");
        }
    }

    /// SIGTERM (graceful shutdown) and wait (bounded) for the exit.
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        send_signal(self.pid(), "TERM");
        self.wait_for_exit()
    }

    /// Wait (bounded) for the process to exit by itself.
    pub(crate) fn wait_for_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("echo is running");
        let mut status = None;
        wait_for("echo to exit", || {
            status = child.try_wait().expect("poll the echo process");
            status.is_some()
        });
        status.expect("exited")
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A Common Log Format line: `host - - [time] "GET / HTTP/1.1" 200 532`.
pub(crate) fn is_access_log_line(line: &str) -> bool {
    line.contains("] \"GET ")
}
