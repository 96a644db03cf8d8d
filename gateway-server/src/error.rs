//! What can go wrong with a request before the application sees it, and the
//! status each problem is answered with.

use std::io;

/// Why the server refused a request (or could not finish reading it).
///
/// Each variant maps to the status the client gets ([`RequestError::status`]);
/// the message is what the access and error logs say, written for the person
/// who has to find out why a client got a 4xx.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The request is malformed; the reason says how.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The request line is longer than `ServerConfig::max_request_line`.
    #[error("request line longer than the limit (raise ServerConfig::max_request_line)")]
    RequestLineTooLong,
    /// The header section is larger than `ServerConfig::max_header_bytes` or
    /// has more than `ServerConfig::max_headers` fields.
    #[error("header section over the limit (raise ServerConfig::max_header_bytes or max_headers)")]
    HeadersTooLarge,
    /// The body is larger than `ServerConfig::max_body_bytes`.
    #[error("request body over the limit (raise ServerConfig::max_body_bytes)")]
    BodyTooLarge,
    /// The request uses a transfer coding the server does not implement.
    #[error("transfer coding not implemented: only a final \"chunked\" is supported")]
    UnsupportedTransferCoding,
    /// The request asks for an expectation other than `100-continue`.
    #[error("unsupported Expect value: only \"100-continue\" is supported")]
    ExpectationFailed,
    /// The request names an HTTP version other than 1.0 or 1.1.
    #[error("HTTP version not supported: only HTTP/1.0 and HTTP/1.1")]
    VersionNotSupported,
    /// The request head did not arrive within `ServerConfig::header_timeout`.
    #[error("request head not received within the header timeout")]
    Timeout,
    /// A large request body could not be stored in a temporary file.
    #[error("could not store the request body in a temporary file: {0} (check the space and permissions of the temporary directory, TMPDIR)")]
    Spool(io::Error),
    /// The connection failed while reading.
    #[error("i/o error while reading the request: {0}")]
    Io(#[from] io::Error),
}

impl RequestError {
    /// The status line this error is answered with, or `None` when no answer
    /// can be sent (the connection itself failed).
    pub fn status(&self) -> Option<&'static str> {
        Some(match self {
            RequestError::BadRequest(_) => "400 Bad Request",
            RequestError::Timeout => "408 Request Timeout",
            RequestError::BodyTooLarge => "413 Content Too Large",
            RequestError::RequestLineTooLong => "414 URI Too Long",
            RequestError::ExpectationFailed => "417 Expectation Failed",
            RequestError::HeadersTooLarge => "431 Request Header Fields Too Large",
            RequestError::UnsupportedTransferCoding => "501 Not Implemented",
            RequestError::VersionNotSupported => "505 HTTP Version Not Supported",
            RequestError::Spool(_) => "500 Internal Server Error",
            RequestError::Io(_) => return None,
        })
    }
}
