//! Shared helpers for the workspace's end-to-end tests: start a real server
//! on `127.0.0.1:0`, talk raw HTTP over a `TcpStream`, and read responses
//! back byte for byte. Every socket gets a timeout, so no test can hang.
//!
//! ```no_run
//! use gateway_spec::{AppError, Body, Environ, StartResponse};
//! fn app(_e: Environ, sr: StartResponse) -> Result<Body, AppError> {
//!     sr.call("200 OK", vec![])?;
//!     Ok(Body::from("hi"))
//! }
//! let server = tests::TestServer::start(app);
//! let response = server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
//! assert_eq!(response.status, 200);
//! ```

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod apps;
pub mod cgi_host;
pub mod process;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gateway_server::{AccessLogTarget, ListenAddr, Server, ServerConfig, ServerHandle};
use gateway_spec::Application;

/// How long any socket operation in a test may wait.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A server running in a background thread for the length of a test.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Serve `app` with a test configuration: no signal handling, no access log.
    pub fn start<A: Application>(app: A) -> TestServer {
        TestServer::start_with(app, test_config())
    }

    /// Serve `app` with `config`.
    pub fn start_with<A: Application>(app: A, config: ServerConfig) -> TestServer {
        let server = Server::bind("127.0.0.1:0", app, config).expect("bind 127.0.0.1:0");
        let addr = match server.local_addr().expect("local address") {
            ListenAddr::Tcp(addr) => addr,
            other => panic!("expected a TCP address, got {other}"),
        };
        let handle = server.handle();
        let thread = std::thread::spawn(move || server.serve_forever());
        TestServer {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT{path}`
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A new connection with read and write timeouts.
    pub fn connect(&self) -> TcpStream {
        connect(self.addr)
    }

    /// Send `request` on a new connection and read one response.
    pub fn exchange(&self, request: &[u8]) -> RawResponse {
        let mut stream = self.connect();
        stream.write_all(request).unwrap();
        read_response(&mut BufReader::new(stream), false).expect("a response")
    }

    /// Send a HEAD `request` on a new connection and read the response head.
    pub fn exchange_head(&self, request: &[u8]) -> RawResponse {
        let mut stream = self.connect();
        stream.write_all(request).unwrap();
        read_response(&mut BufReader::new(stream), true).expect("a response")
    }

    /// Shut down and wait (bounded) for `serve_forever` to return.
    pub fn stop(mut self) -> Duration {
        self.shutdown_and_join()
    }

    /// A handle to shut the server down from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    fn shutdown_and_join(&mut self) -> Duration {
        let started = Instant::now();
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() && started.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(
                thread.is_finished(),
                "serve_forever did not return after shutdown"
            );
            thread.join().unwrap().unwrap();
        }
        started.elapsed()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_some() && !std::thread::panicking() {
            self.shutdown_and_join();
        } else {
            self.handle.shutdown();
        }
    }
}

/// The configuration tests start from: quiet, and no signal handlers.
pub fn test_config() -> ServerConfig {
    ServerConfig {
        handle_signals: false,
        access_log: AccessLogTarget::Off,
        workers: 4,
        ..ServerConfig::default()
    }
}

/// A connection to `addr` with timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// One HTTP response as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The whole status line.
    pub status_line: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether the body was chunked on the wire.
    pub chunked: bool,
}

impl RawResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Read one response (skipping `100 Continue`s). `head_only` for responses
/// to HEAD. Bodies are delimited by Content-Length, chunked coding, or EOF.
pub fn read_response(
    reader: &mut BufReader<TcpStream>,
    head_only: bool,
) -> std::io::Result<RawResponse> {
    loop {
        let response = read_head(reader)?;
        if response.status == 100 {
            continue;
        }
        return read_body(reader, response, head_only);
    }
}

/// Read one response head, `100 Continue` included.
pub fn read_head(reader: &mut BufReader<TcpStream>) -> std::io::Result<RawResponse> {
    let status_line = read_line(reader)?;
    if status_line.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before a response",
        ));
    }
    let status = status_line
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(RawResponse {
        status,
        status_line,
        headers,
        body: Vec::new(),
        chunked: false,
    })
}

fn read_body(
    reader: &mut BufReader<TcpStream>,
    mut response: RawResponse,
    head_only: bool,
) -> std::io::Result<RawResponse> {
    let no_body =
        head_only || response.status == 204 || response.status == 304 || response.status < 200;
    if no_body {
        return Ok(response);
    }
    if let Some(length) = response.header("content-length") {
        let length: usize = length.parse().unwrap();
        response.body = vec![0; length];
        reader.read_exact(&mut response.body)?;
    } else if response
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        response.chunked = true;
        loop {
            let size_line = read_line(reader)?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .unwrap();
            if size == 0 {
                while !read_line(reader)?.is_empty() {}
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            response.body.extend_from_slice(&chunk[..size]);
        }
    } else {
        reader.read_to_end(&mut response.body)?;
    }
    Ok(response)
}

fn read_line(reader: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Whether the server has closed the connection: the next read sees end of
/// stream (or a reset) within the timeout, with no further bytes.
pub fn is_closed(reader: &mut BufReader<TcpStream>) -> bool {
    let mut rest = Vec::new();
    match reader.read_to_end(&mut rest) {
        Ok(_) => rest.is_empty(),
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
        ),
    }
}

/// Threads of this process, from `/proc/self/task`.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Open file descriptors of this process, from `/proc/self/fd`.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}
