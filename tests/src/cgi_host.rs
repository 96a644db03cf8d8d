//! lighttpd as a real CGI host (a web server no one here wrote), running an
//! example program as its CGI script.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::free_port;

/// A lighttpd serving one CGI program at `/app.cgi`; stopped on drop.
#[derive(Debug)]
pub struct CgiHost {
    /// The port lighttpd listens on.
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl CgiHost {
    /// Start lighttpd with `program args...` as the CGI script at `/app.cgi`.
    ///
    /// # Panics
    /// When lighttpd is not installed (`scripts/install-test-deps.sh`
    /// installs it) or does not start.
    pub fn start(program: &Path, args: &[&str]) -> CgiHost {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("gateway-cgi-{}-{port}", std::process::id()));
        let www = dir.join("www");
        std::fs::create_dir_all(&www).expect("temp dir");
        let script = www.join("app.cgi");
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nexec '{}' {}\n",
                program.display(),
                quoted.join(" ")
            ),
        )
        .expect("write app.cgi");
        let status = Command::new("chmod")
            .args(["755"])
            .arg(&script)
            .status()
            .expect("chmod");
        assert!(status.success());
        let config = dir.join("lighttpd.conf");
        std::fs::write(
            &config,
            format!(
                "server.document-root = \"{}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n\
                 server.modules = ( \"mod_cgi\" )\ncgi.assign = ( \".cgi\" => \"\" )\nserver.errorlog = \"{}\"\n",
                www.display(),
                dir.join("error.log").display()
            ),
        )
        .expect("write lighttpd.conf");
        let child = Command::new(lighttpd())
            .args(["-D", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("lighttpd is not installed: run scripts/install-test-deps.sh");
        let host = CgiHost { port, dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "lighttpd did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        host
    }

    /// `http://127.0.0.1:PORT/app.cgi{path}`
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/app.cgi{}", self.port, path)
    }
}

fn lighttpd() -> &'static str {
    ["/usr/sbin/lighttpd", "/usr/bin/lighttpd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("lighttpd")
}

impl Drop for CgiHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("KEEP_CGI_DIR").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
