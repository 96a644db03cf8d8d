//! A third gateway: the in-process test client (werkzeug's `Client`, Rack's
//! `MockRequest`). It runs a request through the same parser, environ
//! builder, handler and response writer as the HTTP server, into memory
//! instead of a socket, so a test sees exactly what a client would.

use std::sync::Arc;

use gateway_spec::{Application, Headers, HeadersExt, Input};

use crate::config::ServerConfig;
use crate::environ_builder::{build_environ, BaseEnviron, RemoteAddr};
use crate::handler::Handler;
use crate::http_date::Clock;
use crate::request_body::{buffered_body, BufferedBody, ChunkedDecoder};
use crate::request_head::{parse_head, HeadLimits};
use crate::response_writer::{simple_response, Destination, Dialect, Exchange, ResponseWriter};

/// Calls an application in-process, as the server would, and returns what a
/// client would receive.
///
/// ```
/// use gateway_server::{TestClient, TestRequest};
/// use gateway_spec::{AppError, Body, Environ, StartResponse};
///
/// fn app(environ: Environ, sr: StartResponse) -> Result<Body, AppError> {
///     sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
///     Ok(Body::from(format!("you asked for {}", environ.path_info())))
/// }
///
/// let client = TestClient::new(app);
/// let response = client.get("/hello");
/// assert_eq!(response.status, 200);
/// assert_eq!(response.text(), "you asked for /hello");
/// let response = client.request(TestRequest::new("HEAD", "/hello"));
/// assert!(response.body.is_empty());
/// ```
#[derive(Clone)]
pub struct TestClient {
    app: Arc<dyn Application>,
    config: ServerConfig,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient").finish_non_exhaustive()
    }
}

impl TestClient {
    /// A client for `app` with the server's default limits.
    pub fn new<A: Application>(app: A) -> TestClient {
        TestClient::with_config(app, ServerConfig::default())
    }

    /// A client for `app` with the given limits.
    pub fn with_config<A: Application>(app: A, config: ServerConfig) -> TestClient {
        TestClient {
            app: Arc::new(app),
            config,
        }
    }

    /// `GET target`.
    pub fn get(&self, target: &str) -> TestResponse {
        self.request(TestRequest::new("GET", target))
    }

    /// `POST target` with a body of the given content type.
    pub fn post(&self, target: &str, content_type: &str, body: impl Into<Vec<u8>>) -> TestResponse {
        self.request(
            TestRequest::new("POST", target)
                .header("Content-Type", content_type)
                .body(body),
        )
    }

    /// Send any request.
    pub fn request(&self, request: TestRequest) -> TestResponse {
        let raw = request.to_bytes();
        let mut out = Vec::new();
        self.exchange(&raw, &mut out);
        TestResponse::parse(&out, request.method == "HEAD")
    }

    /// Run the raw request bytes through the server's stages, writing the
    /// response bytes to `out`.
    fn exchange(&self, raw: &[u8], out: &mut Vec<u8>) {
        let config = &self.config;
        let mut clock = Clock::new();
        let refuse = |status: &str, out: &mut Vec<u8>| {
            out.extend_from_slice(&simple_response(
                status,
                &clock_date(),
                &config.server_name,
                &[],
            ));
        };
        let limits = HeadLimits {
            max_request_line: config.max_request_line,
            max_header_bytes: config.max_header_bytes,
            max_headers: config.max_headers,
            max_body_bytes: config.max_body_bytes,
        };
        let head = match parse_head(raw, &limits) {
            Ok(Some(head)) => head,
            Ok(None) => return refuse("400 Bad Request", out),
            Err(err) => return refuse(err.status().unwrap_or("400 Bad Request"), out),
        };
        let body = match buffered_body(
            head.framing,
            &raw[head.len..],
            usize::MAX,
            config.max_body_bytes,
            &mut None,
        ) {
            Ok(BufferedBody::Complete { body, .. }) => body,
            Ok(_) => return refuse("400 Bad Request", out),
            Err(err) => return refuse(err.status().unwrap_or("400 Bad Request"), out),
        };
        let base = BaseEnviron {
            server_name: "localhost",
            server_port: "80",
            multiprocess: false,
        };
        let remote = RemoteAddr {
            addr: Some("127.0.0.1".into()),
            port: Some("50000".into()),
        };
        let environ = match build_environ(&head, &base, &remote, Input::from_bytes(body)) {
            Ok(environ) => environ,
            Err(err) => return refuse(err.status().unwrap_or("400 Bad Request"), out),
        };
        clock.tick();
        let request_line = head.request_line();
        let mut sink = Vec::new();
        let mut scratch = Vec::new();
        let exchange = Exchange {
            destination: Destination::Writer(&mut sink),
            dialect: Dialect::Http,
            version: head.version,
            is_head: head.method == "HEAD",
            keep_alive: head.keep_alive,
            stopping: None,
            write_timeout: config.write_timeout,
            date: clock.date(),
            server_name: &config.server_name,
            streamed: None,
            max_drain: 0,
            hold_complete: false,
        };
        Handler::new(ResponseWriter::new(exchange, &mut scratch), &request_line)
            .run(&*self.app, environ);
        out.extend_from_slice(&sink);
    }
}

fn clock_date() -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now())
}

/// A request for the [`TestClient`].
#[derive(Debug, Clone)]
pub struct TestRequest {
    method: String,
    target: String,
    version: &'static str,
    headers: Headers,
    body: Vec<u8>,
}

impl TestRequest {
    /// `METHOD target HTTP/1.1`, with `Host: localhost`.
    pub fn new(method: &str, target: &str) -> TestRequest {
        TestRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            version: "HTTP/1.1",
            headers: vec![("Host".into(), "localhost".into())],
            body: Vec::new(),
        }
    }

    /// Add a header (a `Host` header replaces the default one).
    pub fn header(mut self, name: &str, value: &str) -> TestRequest {
        if name.eq_ignore_ascii_case("host") {
            self.headers.remove_header("host");
        }
        self.headers
            .push((name.to_owned().into(), value.to_owned().into()));
        self
    }

    /// Set the body; `Content-Length` is added unless a framing header is set.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> TestRequest {
        self.body = body.into();
        self
    }

    /// Send it as HTTP/1.0.
    pub fn http_1_0(mut self) -> TestRequest {
        self.version = "HTTP/1.0";
        self
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut raw = format!("{} {} {}\r\n", self.method, self.target, self.version).into_bytes();
        for (name, value) in &self.headers {
            raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        let framed = self.headers.has_header("content-length")
            || self.headers.has_header("transfer-encoding");
        if !self.body.is_empty() && !framed {
            raw.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(&self.body);
        raw
    }
}

/// What a client received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResponse {
    /// The status code.
    pub status: u16,
    /// The status line after the version: `200 OK`.
    pub status_line: String,
    /// The headers, in order.
    pub headers: Headers,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_header(name)
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn parse(raw: &[u8], head_only: bool) -> TestResponse {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(raw.len(), |at| at + 4);
        let head = String::from_utf8_lossy(&raw[..end]);
        let mut lines = head.split("\r\n");
        let status_line = lines
            .next()
            .unwrap_or_default()
            .get(9..)
            .unwrap_or_default()
            .to_owned();
        let status = status_line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let headers: Headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.to_owned().into(), v.trim().to_owned().into()))
            .collect();
        let rest = &raw[end..];
        let chunked = headers
            .get_header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let body = if head_only {
            Vec::new()
        } else if chunked {
            let mut body = Vec::new();
            let _ = ChunkedDecoder::new(u64::MAX).decode(rest, &mut body);
            body
        } else {
            rest.to_vec()
        };
        TestResponse {
            status,
            status_line,
            headers,
            body,
        }
    }
}
