//! nginx, started by the test on free loopback ports with
//! `scripts/deploy/nginx/gateway.conf` (the file docs/deploy.md installs)
//! in front of two `echo` instances, one on TCP and one on a Unix socket.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tests::process::free_ports;

use super::{repo_file, wait_for, ScratchDir};

/// A running nginx; stopped when dropped.
#[derive(Debug)]
pub(crate) struct Nginx {
    child: Option<Child>,
    dir: PathBuf,
    /// Plain HTTP, as `listen @LISTEN@`.
    pub(crate) port: u16,
    /// HTTPS, as `listen @LISTEN_TLS@ ssl`.
    pub(crate) tls_port: u16,
    /// The test's stand-in for a client on another host: a plain HTTP port
    /// from which nginx itself connects to `tls_port` over TLS, from the
    /// address 127.0.0.2. The application can then tell the client's address
    /// and scheme (127.0.0.2, https) from its own socket's (127.0.0.1, http).
    pub(crate) remote_client_port: u16,
}

impl Nginx {
    /// Render the deploy config for an instance on `app_port` and one on
    /// `app_socket`, start nginx in `dir`, and wait (bounded) until it accepts.
    ///
    /// A port is chosen free, then bound by nginx: a test running alongside
    /// may take it in between, and nginx then exits at start (after retrying
    /// the bind for a few seconds). A start is tried three times, each with
    /// fresh ports.
    pub(crate) fn start(dir: &ScratchDir, app_port: u16, app_socket: &Path) -> Nginx {
        let (cert, key) = self_signed_certificate(dir);
        let mut failures = Vec::new();
        while failures.len() < 3 {
            let mut nginx = Nginx::launch(dir, (&cert, &key), app_port, app_socket);
            match nginx.wait_until_accepting() {
                Ok(()) => return nginx,
                Err(failure) => failures.push(failure),
            }
        }
        panic!("nginx exited at start, three times: {failures:#?}");
    }

    /// Write the configuration with fresh ports and start nginx.
    fn launch(
        dir: &ScratchDir,
        (cert, key): (&Path, &Path),
        app_port: u16,
        app_socket: &Path,
    ) -> Nginx {
        let [port, tls_port, remote_client_port] = free_ports();
        let site = render_site(&[
            ("@LISTEN@", format!("127.0.0.1:{port}")),
            ("@LISTEN_TLS@", format!("127.0.0.1:{tls_port}")),
            ("@TLS_CERT@", cert.display().to_string()),
            ("@TLS_KEY@", key.display().to_string()),
            ("@APP_TCP@", format!("127.0.0.1:{app_port}")),
            ("@APP_UNIX@", app_socket.display().to_string()),
        ]);
        std::fs::write(dir.join("gateway.conf"), site).expect("write gateway.conf");
        let main = main_config(dir.path(), remote_client_port, tls_port);
        std::fs::write(dir.join("nginx.conf"), main).expect("write nginx.conf");
        // A fresh log, to tell why this start failed, and no pid file:
        // nginx writes it once every listener is bound.
        std::fs::write(dir.join("error.log"), "").expect("empty error.log");
        let _ = std::fs::remove_file(dir.join("nginx.pid"));
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).expect("nginx stderr"))
            .spawn()
            .expect("start nginx (scripts/install-test-deps.sh installs it)");
        Nginx {
            child: Some(child),
            dir: dir.path().to_owned(),
            port,
            tls_port,
            remote_client_port,
        }
    }

    /// The plain HTTP listener.
    pub(crate) fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// The stand-in for a remote client speaking HTTPS.
    pub(crate) fn remote_client_addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.remote_client_port).into()
    }

    /// What nginx logged: upstream errors and retries among it.
    pub(crate) fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// Wait (bounded) until nginx has bound every listener and each
    /// accepts; if it exits first, what it said.
    fn wait_until_accepting(&mut self) -> Result<(), String> {
        let ports = [self.port, self.tls_port, self.remote_client_port];
        let mut exited = None;
        wait_for("nginx to accept connections", || {
            exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            // A port another program holds accepts too: the pid file says
            // nginx itself got through binding.
            exited.is_some()
                || self.dir.join("nginx.pid").exists()
                    && ports
                        .iter()
                        .all(|port| std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok())
        });
        match exited {
            None => Ok(()),
            Some(status) => {
                let stderr = std::fs::read_to_string(self.dir.join("stderr.log"));
                Err(format!(
                    "{status}: {}{}",
                    stderr.unwrap_or_default(),
                    self.error_log()
                ))
            }
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `scripts/deploy/nginx/gateway.conf` with its placeholders filled in.
fn render_site(values: &[(&str, String)]) -> String {
    let template = std::fs::read_to_string(repo_file("scripts/deploy/nginx/gateway.conf"))
        .expect("read scripts/deploy/nginx/gateway.conf");
    let mut site = template;
    for (placeholder, value) in values {
        assert!(
            site.contains(placeholder),
            "{placeholder} not in gateway.conf"
        );
        site = site.replace(placeholder, value);
    }
    let config: String = site
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect();
    assert!(!config.contains('@'), "an unfilled placeholder: {site}");
    site
}

/// What the Debian package's nginx.conf provides, with every path inside
/// the test's directory and one process (`master_process off`) so that
/// killing it stops everything. Also the remote-client stand-in.
fn main_config(dir: &Path, remote_client_port: u16, tls_port: u16) -> String {
    let dir = dir.display();
    format!(
        "daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log notice;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/gateway.conf;
    server {{
        listen 127.0.0.1:{remote_client_port};
        location / {{
            proxy_pass https://127.0.0.1:{tls_port};
            proxy_bind 127.0.0.2;
        }}
    }}
}}
"
    )
}

/// A throwaway certificate for `localhost` (nginx needs one for `ssl`).
fn self_signed_certificate(dir: &ScratchDir) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl to make a test certificate");
    assert!(made.success(), "openssl could not make a certificate");
    (cert, key)
}

fn nginx_binary() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}
