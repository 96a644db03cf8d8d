//! The ways a deployment hands the server its socket: SO_REUSEPORT for
//! several processes on one port, an inherited socket (systemd socket
//! activation's `LISTEN_FDS`), and Unix sockets with chosen permissions.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use gateway_server::{ListenAddr, Server, ServerConfig};
use gateway_spec::{AppError, Body, Environ, StartResponse};
use tests::{read_response, test_config};

fn named(
    name: &'static str,
) -> impl Fn(Environ, StartResponse) -> Result<Body, AppError> + Send + Sync + 'static {
    move |_env, sr| {
        sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
        Ok(Body::from(name))
    }
}

#[test]
fn two_servers_share_a_port_with_reuse_port() {
    let config = || ServerConfig {
        reuse_port: true,
        ..test_config()
    };
    let first = Server::bind("127.0.0.1:0", named("first"), config()).unwrap();
    let ListenAddr::Tcp(addr) = first.local_addr().unwrap() else {
        panic!("tcp")
    };
    let second = Server::bind(addr, named("second"), config()).unwrap();
    let handles = [first.handle(), second.handle()];
    let threads = [
        std::thread::spawn(move || first.serve_forever()),
        std::thread::spawn(move || second.serve_forever()),
    ];
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        let mut reader = BufReader::new(tests::connect(addr));
        reader
            .get_mut()
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        seen.insert(read_response(&mut reader, false).unwrap().text());
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(
        seen,
        BTreeSet::from(["first".to_owned(), "second".to_owned()]),
        "the kernel spreads connections over both"
    );
    for handle in handles {
        handle.shutdown();
    }
    for thread in threads {
        thread.join().unwrap().unwrap();
    }
}

#[test]
fn without_reuse_port_a_second_bind_fails() {
    let first = Server::bind("127.0.0.1:0", named("first"), test_config()).unwrap();
    let ListenAddr::Tcp(addr) = first.local_addr().unwrap() else {
        panic!("tcp")
    };
    let err = Server::bind(addr, named("second"), test_config()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
}

#[test]
fn unix_sockets_get_the_configured_permissions() {
    let dir = std::env::temp_dir().join(format!("gateway-perms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (mode, expected) in [(None, 0o600), (Some(0o660), 0o660)] {
        let path = dir.join(format!("s{expected:o}.sock"));
        let mut config = test_config();
        if let Some(mode) = mode {
            config.unix_socket_mode = mode;
        }
        let server = Server::bind_unix(&path, named("unix"), config).unwrap();
        let actual = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(actual, expected, "{}", path.display());
        drop(server);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_socket_inherited_through_listen_fds_is_served() {
    // A parent (here a few lines of Python, as systemd would) binds the
    // socket, puts it at fd 3 and starts the server with LISTEN_FDS=1.
    let echo = tests::process::example_binary("echo");
    let parent = "import os, socket, sys\n\
                  s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(128)\n\
                  if s.fileno() != 3: os.dup2(s.fileno(), 3)\n\
                  os.set_inheritable(3, True)\n\
                  print(s.getsockname()[1], flush=True)\n\
                  os.environ['LISTEN_FDS'] = '1'\n\
                  os.execv(sys.argv[1], [sys.argv[1]])\n";
    let mut child = Command::new("python3")
        .args(["-c", parent])
        .arg(&echo)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 starts");
    let mut port = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let port: u16 = port.trim().parse().unwrap();
    // The socket was listening before the server started: connect at once.
    let mut reader = BufReader::new(tests::connect(([127, 0, 0, 1], port).into()));
    reader
        .get_mut()
        .write_all(b"GET /inherited HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let response = read_response(&mut reader, false).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(response.status, 200);
    let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(json["PATH_INFO"], "/inherited");
    assert_eq!(json["SERVER_PORT"], port.to_string());
}
