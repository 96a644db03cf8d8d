//! The two error types of the contract: what an application may fail with, and
//! what `start_response` refuses.

/// Any error an application, a body or a middleware may return.
///
/// This is PEP 3333's "exception": the gateway does not care what went wrong,
/// only that something did, so it is a boxed trait object (the same choice as
/// tower's `BoxError` and axum's `BoxError`). `?` converts any error into it.
pub type AppError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why `start_response` refused a status or a header list.
///
/// Every variant names the PEP 3333 rule it enforces, so the message tells the
/// application author what to change. `start_response` returns these boxed in an
/// [`AppError`]; use `downcast_ref::<StartResponseError>()` to inspect one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartResponseError {
    /// The status is not three digits (100-599), one space and a reason phrase.
    #[error(
        "invalid status {status:?}: expected \"NNN Reason\", a code from 100 to 599, one space \
         and a reason phrase with no control characters or surrounding whitespace (PEP 3333, start_response)"
    )]
    InvalidStatus {
        /// The status as the application gave it.
        status: String,
    },
    /// A header name is empty or holds a character outside the HTTP token set.
    #[error(
        "invalid header name {name:?}: names must be HTTP tokens (letters, digits and !#$%&'*+-.^_`|~), \
         with no colon or whitespace (PEP 3333, start_response)"
    )]
    InvalidHeaderName {
        /// The offending name.
        name: String,
    },
    /// A header value holds a control character (CR and LF included) or a
    /// character outside Latin-1.
    #[error(
        "invalid value for header {name:?}: values must not contain control characters such as CR or LF, \
         nor characters above U+00FF (PEP 3333, start_response and \"Unicode Issues\")"
    )]
    InvalidHeaderValue {
        /// The name of the header whose value was refused.
        name: String,
    },
    /// The application tried to set a hop-by-hop header, which only the server may set.
    #[error(
        "hop-by-hop header {name:?} is not allowed: connection management belongs to the server \
         (PEP 3333, \"Other HTTP Features\")"
    )]
    HopByHopHeader {
        /// The offending name.
        name: String,
    },
    /// `start_response` was called a second time without an error to report.
    #[error(
        "start_response was already called: a second call is only allowed with exc_info, \
         to replace the response after an error (PEP 3333, start_response)"
    )]
    AlreadyStarted,
}
