//! One HTTP/1.1 exchange at a time over loopback TCP, with timeouts, telling
//! apart the two ways a request fails: no answer at all (refused, or closed
//! before the first response byte; a client may retry an idempotent request
//! then) and a broken or wrong answer (never retried).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};

use tests::{read_response, RawResponse, TIMEOUT};

/// Why a request got no good answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Nothing came back: refused, reset or closed before any response byte.
    NoAnswer(String),
    /// A response began but broke off, or was not what a client can use.
    Broken(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NoAnswer(why) => write!(f, "no answer: {why}"),
            Failure::Broken(why) => write!(f, "broken answer: {why}"),
        }
    }
}

/// A client connection, kept open between requests when the server agrees.
#[derive(Debug)]
pub(crate) struct Connection {
    reader: BufReader<TcpStream>,
    answered: usize,
}

impl Connection {
    /// Connect to `addr` with [`TIMEOUT`] on the connect and every read and write.
    pub(crate) fn open(addr: SocketAddr) -> Result<Connection, Failure> {
        let no_answer = |e: std::io::Error| Failure::NoAnswer(format!("connect: {e}"));
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(no_answer)?;
        stream.set_read_timeout(Some(TIMEOUT)).map_err(no_answer)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(no_answer)?;
        Ok(Connection {
            reader: BufReader::new(stream),
            answered: 0,
        })
    }

    /// Responses this connection has carried: more than 0 means the next
    /// request reuses a kept-alive connection.
    pub(crate) fn answered(&self) -> usize {
        self.answered
    }

    /// `GET path` with extra `headers`; `close` asks for `Connection: close`.
    pub(crate) fn get(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        close: bool,
    ) -> Result<RawResponse, Failure> {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if close {
            request.push_str("Connection: close\r\n");
        }
        request.push_str("\r\n");
        let no_answer = |what: &str, e: std::io::Error| Failure::NoAnswer(format!("{what}: {e}"));
        self.reader
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(|e| no_answer("send", e))?;
        // Wait for the first byte apart from the rest: until it arrives,
        // the server cannot have acted on the request's answer.
        let first = self.reader.fill_buf().map_err(|e| no_answer("read", e))?;
        if first.is_empty() {
            return Err(Failure::NoAnswer("closed before a response".into()));
        }
        let response = read_response(&mut self.reader, false)
            .map_err(|e| Failure::Broken(format!("response cut short: {e}")))?;
        self.answered += 1;
        Ok(response)
    }

    /// Whether the server said it closes the connection after this response.
    pub(crate) fn closes_after(response: &RawResponse) -> bool {
        response
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// `GET path` on a connection of its own; panics unless the answer is a 200.
pub(crate) fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    let mut connection = Connection::open(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    let response = connection
        .get(path, headers, true)
        .unwrap_or_else(|e| panic!("GET {path} from {addr}: {e}"));
    assert_eq!(response.status, 200, "GET {path}: {}", response.text());
    response
}

/// The echo example's JSON answer to `GET path`.
pub(crate) fn get_json(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> serde_json::Value {
    let response = get(addr, path, headers);
    serde_json::from_slice(&response.body).expect("echo answers JSON")
}
