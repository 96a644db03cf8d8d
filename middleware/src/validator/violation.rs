//! What the validator reports: one [`Violation`] per broken rule, each naming
//! the rule it breaks, and the [`Violations`] list a test inspects.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use gateway_spec::StartResponseError;

/// Where a rule comes from. Numbers are those of the project's reference
/// notes (`REFERENCE.md`): section 1 numbers PEP 3333's rules, section 2a the
/// checks of `wsgiref.validate`, section 2b those of Rack::Lint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A rule of PEP 3333 itself (REFERENCE.md section 1).
    Pep3333(u8),
    /// A check of Python's `wsgiref.validate` (REFERENCE.md section 2a).
    WsgirefValidate(u8),
    /// A check of Ruby's Rack::Lint (REFERENCE.md section 2b).
    RackLint(u8),
    /// A warning of werkzeug's `LintMiddleware` (REFERENCE.md, end of 2b).
    WerkzeugLint,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Pep3333(n) => write!(f, "PEP 3333 rule {n}"),
            Rule::WsgirefValidate(n) => write!(f, "wsgiref.validate check {n}"),
            Rule::RackLint(n) => write!(f, "Rack::Lint check {n}"),
            Rule::WerkzeugLint => f.write_str("werkzeug lint"),
        }
    }
}

/// Who broke the rule: the server that built the environ, or the
/// application (with the middleware between it and the validator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The server or gateway: the environ or `wsgi.input` is wrong.
    Server,
    /// The application: its use of `start_response` or its body is wrong.
    Application,
}

/// One broken rule of the gateway contract, found at run time.
///
/// Every message starts with the rule it breaks (see [`Rule`]) and says what
/// to change. [`Violation::rule`] and [`Violation::side`] give the same facts
/// as values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    // ----- the server's environ and input -----
    /// `REQUEST_METHOD` is missing or empty.
    #[error("PEP 3333 rule 12: REQUEST_METHOD is missing or empty; the server must always set it")]
    MissingRequestMethod,
    /// `REQUEST_METHOD` is not an HTTP token.
    #[error("PEP 3333 rule 12: REQUEST_METHOD {method:?} is not an HTTP method token")]
    InvalidRequestMethod {
        /// The method as the server set it.
        method: String,
    },
    /// `SERVER_NAME`, `SERVER_PORT` or `SERVER_PROTOCOL` is missing or empty.
    #[error("PEP 3333 rule 15: {key} is missing or empty; the server must always set it")]
    MissingServerVariable {
        /// The missing variable.
        key: &'static str,
    },
    /// `SERVER_PORT` is not a port number.
    #[error("PEP 3333 rule 15: SERVER_PORT {port:?} must be a port number (digits only)")]
    InvalidServerPort {
        /// The value as the server set it.
        port: String,
    },
    /// `SERVER_PROTOCOL` is not `HTTP/x` or `HTTP/x.y`.
    #[error("PEP 3333 rule 15: SERVER_PROTOCOL {protocol:?} must be the request's protocol, like \"HTTP/1.1\"")]
    InvalidServerProtocol {
        /// The value as the server set it.
        protocol: String,
    },
    /// `SCRIPT_NAME` is neither empty nor a path starting with `/` (and `/`
    /// alone is not allowed: the root is the empty string).
    #[error("PEP 3333 rule 13: SCRIPT_NAME {script_name:?} must be \"\" or start with \"/\", and must not be \"/\" alone")]
    InvalidScriptName {
        /// The value as the server (or a mounting layer) set it.
        script_name: String,
    },
    /// `PATH_INFO` is neither empty nor a path starting with `/`.
    #[error("PEP 3333 rule 13: PATH_INFO {path_info:?} must be \"\" or start with \"/\"")]
    InvalidPathInfo {
        /// The value as the server (or a mounting layer) set it.
        path_info: String,
    },
    /// Both `SCRIPT_NAME` and `PATH_INFO` are missing: the request has no path.
    #[error("PEP 3333 rule 13: PATH_INFO is missing while SCRIPT_NAME is empty; the request has no path")]
    MissingPathInfo,
    /// `CONTENT_LENGTH` is set but is not a plain decimal number.
    #[error("PEP 3333 rule 14: CONTENT_LENGTH {content_length:?} must be digits only (no sign, spaces or hex)")]
    InvalidContentLength {
        /// The value as the server set it.
        content_length: String,
    },
    /// `HTTP_CONTENT_TYPE` or `HTTP_CONTENT_LENGTH` is set.
    #[error("PEP 3333 rule 16: {key} must not be set; the request's Content-Type and Content-Length go to CONTENT_TYPE and CONTENT_LENGTH")]
    ContentHeaderAsHttp {
        /// The offending key.
        key: String,
    },
    /// A CGI variable is set to `""` where it should have been left out.
    #[error(
        "PEP 3333 rule 18: {key} is set to \"\"; a missing value must be left out of the environ"
    )]
    EmptyVariable {
        /// The offending key.
        key: String,
    },
    /// `wsgi.input` yielded more bytes than `CONTENT_LENGTH` announced.
    #[error("PEP 3333 rule 23: wsgi.input yielded {read} bytes but CONTENT_LENGTH is {content_length}; the input must end where the body ends")]
    InputPastContentLength {
        /// `CONTENT_LENGTH` as announced.
        content_length: u64,
        /// Bytes read when the violation was found.
        read: u64,
    },

    // ----- the application's use of start_response -----
    /// The status is not `NNN Reason` (refused by `start_response`).
    #[error("PEP 3333 rule 28: invalid status {status:?}: it must be three digits, one space and a reason phrase")]
    InvalidStatus {
        /// The status as the application gave it.
        status: String,
    },
    /// A header name is not an HTTP token (refused by `start_response`).
    #[error("PEP 3333 rule 29: header name {name:?} is not an HTTP token")]
    InvalidHeaderName {
        /// The offending name.
        name: String,
    },
    /// A header value holds a control character or a character above
    /// U+00FF (refused by `start_response`).
    #[error("PEP 3333 rule 29: the value of header {name:?} holds a control character (CR, LF, ...) or a character above U+00FF")]
    InvalidHeaderValue {
        /// The name of the header.
        name: String,
    },
    /// A header named `Status`: a CGI-ism that is not an HTTP header.
    #[error("PEP 3333 rule 29: a header named \"Status\" is not allowed; the status goes in start_response's first argument")]
    StatusHeader,
    /// A hop-by-hop header (refused by `start_response`).
    #[error("PEP 3333 rule 31: hop-by-hop header {name:?} is not allowed; connection management belongs to the server")]
    HopByHopHeader {
        /// The offending name.
        name: String,
    },
    /// `start_response` was called a second time without an error.
    #[error("PEP 3333 rule 37: start_response was called a second time without exc_info; only an error may replace a response")]
    StartResponseTwice,
    /// `call_with_error` handed the error back (the headers were already
    /// sent) and the application went on producing the body instead of
    /// returning that error.
    #[error("PEP 3333 rule 36: the application went on after start_response re-raised its exc_info; it must return that error")]
    TrappedReRaise,

    // ----- the application's body -----
    /// The body yielded a chunk before `start_response` was called.
    #[error("PEP 3333 rule 9: the body yielded a chunk before start_response was called")]
    ChunkBeforeStartResponse,
    /// The body ended and `start_response` was never called.
    #[error("PEP 3333 rule 9: the body ended and start_response was never called")]
    NeverStarted,
    /// The response's `Content-Length` header is not a plain decimal number.
    #[error("PEP 3333 rule 39: response Content-Length {value:?} must be digits only")]
    InvalidContentLengthHeader {
        /// The value as the application gave it.
        value: String,
    },
    /// The body produced more bytes than its `Content-Length`.
    #[error("PEP 3333 rule 39: the body produced {produced} bytes, more than its Content-Length of {declared}")]
    BodyLongerThanContentLength {
        /// `Content-Length` as the application gave it.
        declared: u64,
        /// Bytes produced when the violation was found.
        produced: u64,
    },
    /// The body ended with fewer bytes than its `Content-Length`.
    #[error("PEP 3333 rule 40: the body ended after {produced} bytes, fewer than its Content-Length of {declared}")]
    BodyShorterThanContentLength {
        /// `Content-Length` as the application gave it.
        declared: u64,
        /// Bytes produced in all.
        produced: u64,
    },
    /// A response to a `HEAD` request has body bytes.
    #[error("Rack::Lint check 15: the response to a HEAD request must have an empty body")]
    BodyForHead,
    /// A `1xx`, `204` or `304` response has body bytes.
    #[error("Rack::Lint check 14: a {code} response must have an empty body")]
    BodyForStatus {
        /// The status code.
        code: u16,
    },
    /// A `1xx`, `204` or `304` response has a `Content-Type`.
    #[error("wsgiref.validate check 16: a {code} response must not have a Content-Type header")]
    ContentTypeWithoutBody {
        /// The status code.
        code: u16,
    },
    /// A response with body bytes has no `Content-Type`.
    #[error(
        "wsgiref.validate check 16: the {code} response has a body but no Content-Type header"
    )]
    MissingContentType {
        /// The status code.
        code: u16,
    },
    /// An `ETag` that is not a quoted string.
    #[error("werkzeug lint: ETag {value:?} must be a quoted string, like \"abc\" or W/\"abc\"")]
    UnquotedEtag {
        /// The value as the application gave it.
        value: String,
    },
    /// Bodies were never closed (dropped) by the server.
    #[error("Rack::Lint check 17: {open} response bodies were never closed; the server must close every body")]
    BodyNotClosed {
        /// How many are still open.
        open: usize,
    },
}

impl Violation {
    /// The rule this violation breaks.
    pub fn rule(&self) -> Rule {
        use Violation::*;
        match self {
            MissingRequestMethod | InvalidRequestMethod { .. } => Rule::Pep3333(12),
            MissingServerVariable { .. }
            | InvalidServerPort { .. }
            | InvalidServerProtocol { .. } => Rule::Pep3333(15),
            InvalidScriptName { .. } | InvalidPathInfo { .. } | MissingPathInfo => {
                Rule::Pep3333(13)
            }
            InvalidContentLength { .. } => Rule::Pep3333(14),
            ContentHeaderAsHttp { .. } => Rule::Pep3333(16),
            EmptyVariable { .. } => Rule::Pep3333(18),
            InputPastContentLength { .. } => Rule::Pep3333(23),
            InvalidStatus { .. } => Rule::Pep3333(28),
            InvalidHeaderName { .. } | InvalidHeaderValue { .. } | StatusHeader => {
                Rule::Pep3333(29)
            }
            HopByHopHeader { .. } => Rule::Pep3333(31),
            StartResponseTwice => Rule::Pep3333(37),
            TrappedReRaise => Rule::Pep3333(36),
            ChunkBeforeStartResponse | NeverStarted => Rule::Pep3333(9),
            InvalidContentLengthHeader { .. } | BodyLongerThanContentLength { .. } => {
                Rule::Pep3333(39)
            }
            BodyShorterThanContentLength { .. } => Rule::Pep3333(40),
            BodyForHead => Rule::RackLint(15),
            BodyForStatus { .. } => Rule::RackLint(14),
            ContentTypeWithoutBody { .. } | MissingContentType { .. } => Rule::WsgirefValidate(16),
            UnquotedEtag { .. } => Rule::WerkzeugLint,
            BodyNotClosed { .. } => Rule::RackLint(17),
        }
    }

    /// Who broke the rule.
    pub fn side(&self) -> Side {
        use Violation::*;
        match self {
            MissingRequestMethod
            | InvalidRequestMethod { .. }
            | MissingServerVariable { .. }
            | InvalidServerPort { .. }
            | InvalidServerProtocol { .. }
            | InvalidScriptName { .. }
            | InvalidPathInfo { .. }
            | MissingPathInfo
            | InvalidContentLength { .. }
            | ContentHeaderAsHttp { .. }
            | EmptyVariable { .. }
            | InputPastContentLength { .. }
            | BodyNotClosed { .. } => Side::Server,
            _ => Side::Application,
        }
    }

    /// The violation behind a refusal of `start_response`, so that an
    /// application passing the refusal on with `?` gets it reported with its
    /// rule. `AlreadyStarted` gives `None`: the validator sees second calls
    /// itself and reports [`Violation::StartResponseTwice`].
    pub fn from_refusal(error: &StartResponseError) -> Option<Violation> {
        Some(match error {
            StartResponseError::InvalidStatus { status } => Violation::InvalidStatus {
                status: status.clone(),
            },
            StartResponseError::InvalidHeaderName { name } => {
                Violation::InvalidHeaderName { name: name.clone() }
            }
            StartResponseError::InvalidHeaderValue { name } => {
                Violation::InvalidHeaderValue { name: name.clone() }
            }
            StartResponseError::HopByHopHeader { name } => {
                Violation::HopByHopHeader { name: name.clone() }
            }
            _ => return None,
        })
    }
}

/// Every violation a validator found, shared between the validator (which
/// may run on a server's worker threads) and the test that inspects it.
///
/// Cloning is cheap: every clone is the same list.
///
/// ```
/// use gateway_spec::{AppError, Body, Environ, StartResponse};
/// use middleware::{validator, Violation};
///
/// let forgetful = |_env: Environ, _sr: StartResponse| -> Result<Body, AppError> {
///     Ok(Body::empty()) // never calls start_response
/// };
/// let checked = validator(forgetful);
/// let violations = checked.violations();
///
/// let (start_response, _record) = StartResponse::new();
/// let body = gateway_spec::Application::call(&checked, Environ::for_test(), start_response)?;
/// let outcome: Result<Vec<_>, AppError> = body.collect();
/// assert!(outcome.is_err(), "the default mode fails the request");
/// assert_eq!(violations.list(), vec![Violation::NeverStarted]);
/// # Ok::<(), AppError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Violations {
    shared: Arc<Mutex<Found>>,
}

#[derive(Debug, Default)]
struct Found {
    list: Vec<Violation>,
    open_bodies: usize,
}

impl Violations {
    /// An empty list.
    pub fn new() -> Violations {
        Violations::default()
    }

    /// Every violation found so far, oldest first.
    pub fn list(&self) -> Vec<Violation> {
        self.lock().list.clone()
    }

    /// Whether no violation was found so far.
    pub fn is_empty(&self) -> bool {
        self.lock().list.is_empty()
    }

    /// Take the violations found so far, leaving the list empty.
    pub fn take(&self) -> Vec<Violation> {
        std::mem::take(&mut self.lock().list)
    }

    /// How many bodies returned through the validator are not closed yet.
    /// Once every request is over this must be 0 (Rack::Lint check 17).
    pub fn open_bodies(&self) -> usize {
        self.lock().open_bodies
    }

    /// Check that no violation was found and every body was closed.
    ///
    /// # Panics
    /// When a violation was found or a body is still open; the message
    /// lists every violation with its rule.
    pub fn assert_clean(&self) {
        let mut all = self.list();
        let open = self.open_bodies();
        if open > 0 {
            all.push(Violation::BodyNotClosed { open });
        }
        if !all.is_empty() {
            let lines: Vec<String> = all.iter().map(|v| format!("  - {v}")).collect();
            panic!("the gateway contract was broken:\n{}", lines.join("\n"));
        }
    }

    pub(crate) fn record(&self, violation: Violation) {
        self.lock().list.push(violation);
    }

    pub(crate) fn body_opened(&self) {
        self.lock().open_bodies += 1;
    }

    pub(crate) fn body_closed(&self) {
        let mut found = self.lock();
        found.open_bodies = found.open_bodies.saturating_sub(1);
    }

    fn lock(&self) -> MutexGuard<'_, Found> {
        // A panicking test thread must not hide the violations from the others.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
