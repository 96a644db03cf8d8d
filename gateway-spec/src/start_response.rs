//! `start_response`: how an application tells the server its status and headers.
//!
//! PEP 3333 makes `start_response` a callable the server hands to the
//! application. Here it is [`StartResponse`], a cheap-to-clone handle. The
//! server creates one with [`StartResponse::new`], which also gives it a
//! [`ResponseRecord`]: the server's view of what the application asked for and
//! whether it has been sent. Middleware creates one with [`StartResponse::wrap`]
//! around the handle it was given, exactly like the PEP's middleware examples.
//!
//! The handle is `!Send` (it shares per-request state through an `Rc`): one
//! worker owns a request from the head to the close of its body.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use crate::environ::Text;
use crate::error::{AppError, StartResponseError};

/// Response headers: an ordered list of `(name, value)` pairs, duplicates kept.
///
/// This is PEP 3333's "list of `(header_name, header_value)` tuples". Order and
/// repeats matter (`Set-Cookie` may appear many times), so it is a `Vec`, not a
/// map. [`HeadersExt`] adds case-insensitive look-ups.
///
/// Names and values are [`Text`], as in the environ: a literal
/// (`"Content-Type".into()`) costs no allocation, a computed value is a
/// `String` (`length.to_string().into()`). Most names and many values are
/// literals, and a response's strings used to be a third of its allocations.
pub type Headers = Vec<(Text, Text)>;

/// Case-insensitive helpers over a [`Headers`] list (header names compare
/// case-insensitively, PEP 3333 "start_response").
///
/// ```
/// use gateway_spec::{Headers, HeadersExt};
/// let mut headers: Headers = vec![("Content-Type".into(), "text/plain".into())];
/// assert_eq!(headers.get_header("content-type"), Some("text/plain"));
/// headers.set_header("Content-Type", "text/html");
/// assert_eq!(headers.len(), 1);
/// ```
pub trait HeadersExt {
    /// The value of the first header called `name`, if any.
    fn get_header(&self, name: &str) -> Option<&str>;
    /// Whether a header called `name` is present.
    fn has_header(&self, name: &str) -> bool {
        self.get_header(name).is_some()
    }
    /// Replace every header called `name` by one with `value`.
    fn set_header(&mut self, name: impl Into<Text>, value: impl Into<Text>);
    /// Remove every header called `name`.
    fn remove_header(&mut self, name: &str);
}

impl HeadersExt for Headers {
    fn get_header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    fn set_header(&mut self, name: impl Into<Text>, value: impl Into<Text>) {
        let name = name.into();
        self.remove_header(&name);
        self.push((name, value.into()));
    }

    fn remove_header(&mut self, name: &str) {
        self.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

/// The function a middleware's [`StartResponse::wrap`] forwards to.
type Forward = dyn Fn(&str, Headers, Option<AppError>) -> Result<(), AppError>;

/// PEP 3333's `start_response(status, response_headers, exc_info=None)`.
///
/// Call it once, before (or while) the body yields its first bytes:
///
/// ```
/// use gateway_spec::{Body, StartResponse};
/// let (start_response, record) = StartResponse::new();
/// start_response.call("200 OK", vec![("Content-Type".into(), "text/plain".into())]).unwrap();
/// assert_eq!(record.status_code(), Some(200));
/// ```
///
/// The rules it enforces, each returned as an error and never a panic:
/// - the status is `NNN Reason` and the headers are valid (see
///   [`StartResponseError`]);
/// - a second call is refused ([`StartResponseError::AlreadyStarted`]) unless it
///   comes from [`call_with_error`](Self::call_with_error);
/// - `call_with_error` after the headers were sent returns the error it was
///   given (PEP 3333's "re-raise"), so `?` propagates it to the server.
///
/// Cloning is cheap and every clone is the same callable: a lazy body captures
/// one to start the response from its first step.
#[derive(Clone)]
pub struct StartResponse {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    /// Created by a server: keeps the state machine.
    Record(Rc<RefCell<RecordState>>),
    /// Created by middleware: checks the status, then forwards to the outer
    /// handle.
    Wrap(Rc<Forward>),
}

impl StartResponse {
    /// A fresh `start_response` for one request, and the server's view of it.
    ///
    /// Servers (and test clients) call this once per request, pass the
    /// `StartResponse` to the application and keep the [`ResponseRecord`].
    pub fn new() -> (StartResponse, ResponseRecord) {
        let state = Rc::new(RefCell::new(RecordState::default()));
        let start_response = StartResponse {
            kind: Kind::Record(Rc::clone(&state)),
        };
        (start_response, ResponseRecord { state })
    }

    /// A `start_response` that middleware hands to the application it wraps.
    ///
    /// `forward` receives the status (already checked: `NNN Reason`), the
    /// headers and the optional error, and usually calls the outer
    /// `start_response` with them, perhaps changed: this is how a middleware
    /// adds or rewrites headers.
    ///
    /// The headers are checked once, by the server's handle at the end of
    /// the chain, not again at every layer: an invalid header comes back as
    /// the error of `outer.forward`, which the forwarding closure passes on
    /// to the application. As with the server's handle itself, that refused
    /// call counts as the call: a retry needs
    /// [`call_with_error`](Self::call_with_error) (an invalid status is
    /// refused by the wrap, before any layer or the server sees it, and
    /// does not count). A middleware that holds, filters or replaces the
    /// headers instead of forwarding them as they are checks them itself
    /// with [`validate_headers`], so the application still hears of a bad
    /// header from its own call.
    ///
    /// ```
    /// use gateway_spec::{StartResponse, HeadersExt};
    /// let (outer, record) = StartResponse::new();
    /// let inner = StartResponse::wrap(move |status, mut headers, exc_info| {
    ///     headers.set_header("X-Powered-By", "gateway");
    ///     outer.forward(status, headers, exc_info)
    /// });
    /// inner.call("204 No Content", vec![]).unwrap();
    /// assert_eq!(record.headers().unwrap().len(), 1);
    /// ```
    pub fn wrap(
        forward: impl Fn(&str, Headers, Option<AppError>) -> Result<(), AppError> + 'static,
    ) -> StartResponse {
        StartResponse {
            kind: Kind::Wrap(Rc::new(forward)),
        }
    }

    /// Start the response: `start_response(status, headers)`.
    ///
    /// # Errors
    /// A [`StartResponseError`] (boxed) when the status or a header is invalid,
    /// or when the response was already started.
    pub fn call(&self, status: &str, headers: Headers) -> Result<(), AppError> {
        self.forward(status, headers, None)
    }

    /// Replace the response after an error: `start_response(status, headers, exc_info)`.
    ///
    /// While nothing has been sent this replaces the status and headers given
    /// earlier, so an application can still show an error page. Once the
    /// headers are out it is too late: the call returns `Err(exc_info)`, the
    /// original error, for the application to propagate (PEP 3333's re-raise).
    ///
    /// # Errors
    /// `exc_info` itself when the headers were already sent; a
    /// [`StartResponseError`] when the new status or headers are invalid.
    pub fn call_with_error(
        &self,
        status: &str,
        headers: Headers,
        exc_info: AppError,
    ) -> Result<(), AppError> {
        self.forward(status, headers, Some(exc_info))
    }

    /// `call` or `call_with_error`, chosen by `exc_info`: what a middleware's
    /// forwarding closure uses to pass a call on unchanged in kind.
    ///
    /// # Errors
    /// As [`call`](Self::call) and [`call_with_error`](Self::call_with_error).
    pub fn forward(
        &self,
        status: &str,
        headers: Headers,
        exc_info: Option<AppError>,
    ) -> Result<(), AppError> {
        match &self.kind {
            Kind::Record(state) => state.borrow_mut().start(status, headers, exc_info),
            Kind::Wrap(forward) => {
                validate_status(status)?;
                forward(status, headers, exc_info)
            }
        }
    }
}

impl fmt::Debug for StartResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Record(_) => "record",
            Kind::Wrap(_) => "wrap",
        };
        f.debug_struct("StartResponse")
            .field("kind", &kind)
            .finish()
    }
}

/// The server's side of one request's `start_response`: the status and
/// headers the application gave, and whether they have been sent.
///
/// This is the state wsgiref's `BaseHandler` keeps in `status`, `headers` and
/// `headers_sent`. PEP 3333 says the server must not send the headers when
/// `start_response` is called, only when the body yields its first non-empty
/// chunk or ends; [`send_headers`](Self::send_headers) marks that moment, after
/// which an error can no longer replace the response.
#[derive(Debug)]
pub struct ResponseRecord {
    state: Rc<RefCell<RecordState>>,
}

impl ResponseRecord {
    /// Whether `start_response` has been called with a valid status and headers.
    pub fn is_started(&self) -> bool {
        self.state.borrow().head.is_some()
    }

    /// Whether [`send_headers`](Self::send_headers) has been called.
    pub fn headers_sent(&self) -> bool {
        self.state.borrow().headers_sent
    }

    /// The numeric status code, once started.
    pub fn status_code(&self) -> Option<u16> {
        let state = self.state.borrow();
        let (status, _) = state.head.as_ref()?;
        status.get(..3)?.parse().ok()
    }

    /// The status line given to `start_response`, once started.
    pub fn status(&self) -> Option<String> {
        self.state
            .borrow()
            .head
            .as_ref()
            .map(|(s, _)| s.to_string())
    }

    /// A copy of the headers given to `start_response`, once started.
    pub fn headers(&self) -> Option<Headers> {
        self.state.borrow().head.as_ref().map(|(_, h)| h.clone())
    }

    /// Take the status and headers for transmission and mark them sent.
    ///
    /// Returns `None` if the response was never started (or was already
    /// taken). From now on `call_with_error` re-raises instead of replacing.
    pub fn send_headers(&self) -> Option<(Text, Headers)> {
        let mut state = self.state.borrow_mut();
        let head = state.head.take()?;
        state.headers_sent = true;
        Some(head)
    }
}

#[derive(Debug, Default)]
struct RecordState {
    /// True from the first call on, even if that call was refused: PEP 3333
    /// says a retry must then come with exc_info.
    called: bool,
    head: Option<(Text, Headers)>,
    headers_sent: bool,
}

impl RecordState {
    fn start(
        &mut self,
        status: &str,
        headers: Headers,
        exc_info: Option<AppError>,
    ) -> Result<(), AppError> {
        match exc_info {
            // PEP 3333: "if exc_info is provided, and the HTTP headers have
            // already been sent, start_response must raise an error, and
            // should re-raise using the exc_info tuple".
            Some(original) if self.headers_sent => return Err(original),
            Some(_) => {}
            None if self.called => return Err(StartResponseError::AlreadyStarted.into()),
            None => {}
        }
        // Record the call before checking it, as PEP 3333 asks, so that a
        // refused first call still needs exc_info to be retried.
        self.called = true;
        self.head = None;
        validate(status, &headers)?;
        self.head = Some((status_text(status), headers));
        Ok(())
    }
}

/// The status line to keep: a literal for the usual ones, so most responses
/// cost no allocation here.
fn status_text(status: &str) -> Text {
    const COMMON: [&str; 6] = [
        "200 OK",
        "404 Not Found",
        "304 Not Modified",
        "204 No Content",
        "302 Found",
        "500 Internal Server Error",
    ];
    match COMMON.iter().find(|common| **common == status) {
        Some(common) => Text::Borrowed(common),
        None => Text::Owned(status.to_owned()),
    }
}

/// Check a status and header list against PEP 3333's rules.
fn validate(status: &str, headers: &Headers) -> Result<(), StartResponseError> {
    validate_status(status)?;
    validate_headers(headers)
}

/// Check response headers as the server's `start_response` does: token
/// names, no hop-by-hop header, values without control characters (tab
/// aside) or characters above U+00FF.
///
/// For a middleware that holds an application's headers before forwarding
/// them (see [`StartResponse::wrap`]).
///
/// ```
/// use gateway_spec::validate_headers;
/// assert!(validate_headers(&vec![("Content-Type".into(), "text/plain".into())]).is_ok());
/// assert!(validate_headers(&vec![("X-Bad".into(), "a\r\nSet-Cookie: x".into())]).is_err());
/// ```
///
/// # Errors
/// The first invalid header, as [`StartResponseError::InvalidHeaderName`],
/// [`StartResponseError::HopByHopHeader`] or
/// [`StartResponseError::InvalidHeaderValue`].
pub fn validate_headers(headers: &Headers) -> Result<(), StartResponseError> {
    for (name, value) in headers {
        validate_header(name, value)?;
    }
    Ok(())
}

fn validate_status(status: &str) -> Result<(), StartResponseError> {
    let invalid = || StartResponseError::InvalidStatus {
        status: status.to_owned(),
    };
    let bytes = status.as_bytes();
    if bytes.len() < 5 || !bytes[..3].iter().all(u8::is_ascii_digit) || bytes[3] != b' ' {
        return Err(invalid());
    }
    let code =
        (bytes[0] - b'0') as u16 * 100 + (bytes[1] - b'0') as u16 * 10 + (bytes[2] - b'0') as u16;
    let reason = &status[4..];
    // The usual reason is plain ASCII: checked by bytes, with no decoding.
    let (clean, trimmed) = if reason.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        (true, !reason.starts_with(' ') && !reason.ends_with(' '))
    } else {
        let clean = reason
            .chars()
            .all(|c| !c.is_control() && (c as u32) <= 0xFF);
        (clean, reason.trim() == reason)
    };
    if !(100..=599).contains(&code) || !clean || !trimmed {
        return Err(invalid());
    }
    Ok(())
}

fn validate_header(name: &str, value: &str) -> Result<(), StartResponseError> {
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(StartResponseError::InvalidHeaderName {
            name: name.to_owned(),
        });
    }
    if is_hop_by_hop(name) {
        return Err(StartResponseError::HopByHopHeader {
            name: name.to_owned(),
        });
    }
    if !is_valid_value(value) {
        return Err(StartResponseError::InvalidHeaderValue {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Whether `byte` may appear in an HTTP token (RFC 9110, section 5.6.2).
pub fn is_token_byte(byte: u8) -> bool {
    TOKEN_BYTES[usize::from(byte)]
}

/// One entry per byte value: a lookup costs less than the chain of range
/// tests, and every header name of every response goes through it.
const TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = matches!(byte as u8, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~');
        byte += 1;
    }
    table
};

/// No control characters but tab, and nothing above U+00FF (PEP 3333's
/// Latin-1 rule). The common all-ASCII value is checked a word at a time
/// and never needs decoding.
fn is_valid_value(value: &str) -> bool {
    if is_printable_ascii(value.as_bytes()) {
        return true;
    }
    value
        .chars()
        .all(|c| c == '\t' || (!c.is_control() && (c as u32) <= 0xFF))
}

/// Whether every byte is printable ASCII (0x20..=0x7E) or a tab, tested
/// eight bytes at a time: header values go through this once per
/// `start_response` layer, and a word at a time costs about a third of a
/// byte at a time. A `false` only sends the value to the exact check above.
fn is_printable_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    // Nonzero when some byte of `word` is below `n` (n <= 0x80): the
    // classic "has less" test, exact about whether any such byte exists.
    let has_byte_below = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGH;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        let word = u64::from_ne_bytes(eight);
        // Above 0x7E: the high bit is set, or adding one reaches it (0x7F).
        let high_or_del = (word | word.wrapping_add(ONES)) & HIGH;
        // A word that fails may hold only a tab: look at its bytes.
        let suspect = high_or_del | has_byte_below(word, 0x20) != 0;
        if suspect && !eight.iter().all(|&b| printable_or_tab(b)) {
            return false;
        }
    }
    words.remainder().iter().all(|&b| printable_or_tab(b))
}

fn printable_or_tab(byte: u8) -> bool {
    byte == b'\t' || (0x20..0x7f).contains(&byte)
}

/// Whether `name` is a hop-by-hop header (RFC 2616 section 13.5.1, as PEP 3333
/// cites it), which only the server may send.
pub fn is_hop_by_hop(name: &str) -> bool {
    const HOP_BY_HOP: [&str; 8] = [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ];
    // Most names have a length no hop-by-hop name has: no comparison then.
    matches!(name.len(), 2 | 7 | 10 | 17 | 18 | 19)
        && HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_at_a_time_check_agrees_with_the_byte_check() {
        let bytewise = |bytes: &[u8]| bytes.iter().all(|&b| printable_or_tab(b));
        // Every byte value at every position of values of several lengths,
        // in a clean value and in one with a tab elsewhere.
        for len in [1, 7, 8, 9, 16, 23] {
            for at in 0..len {
                for byte in 0..=255u8 {
                    for base in [b'a', b'\t'] {
                        let mut value = vec![base; len];
                        value[at] = byte;
                        assert_eq!(is_printable_ascii(&value), bytewise(&value), "{value:?}");
                    }
                }
            }
        }
    }

    fn error_of(result: Result<(), AppError>) -> StartResponseError {
        let err = result.expect_err("start_response should refuse this");
        err.downcast_ref::<StartResponseError>()
            .expect("a StartResponseError")
            .clone()
    }

    fn hdr(name: &str, value: &str) -> Headers {
        vec![(name.to_owned().into(), value.to_owned().into())]
    }

    #[test]
    fn records_a_valid_call() {
        let (sr, record) = StartResponse::new();
        assert!(!record.is_started());
        sr.call("200 OK", hdr("Content-Type", "text/plain"))
            .unwrap();
        assert!(record.is_started());
        assert_eq!(record.status_code(), Some(200));
        assert_eq!(record.status().as_deref(), Some("200 OK"));
        assert!(!record.headers_sent());
    }

    #[test]
    fn refuses_malformed_statuses() {
        for status in [
            "200",
            "200OK",
            "20 OK",
            "2000 OK",
            "abc OK",
            "200 ",
            " 200 OK",
            "200  OK",
            "200 OK ",
            "200 OK\r\n",
            "200 O\nK",
            "099 Low",
            "600 High",
            "",
        ] {
            let (sr, _) = StartResponse::new();
            assert!(
                matches!(
                    error_of(sr.call(status, vec![])),
                    StartResponseError::InvalidStatus { .. }
                ),
                "{status:?} should be refused"
            );
        }
    }

    #[test]
    fn accepts_well_formed_statuses() {
        for status in [
            "100 Continue",
            "204 No Content",
            "404 Not Found",
            "599 Custom Thing",
            "200 Caf\u{e9}",
            "200 Mit\u{00a0}Leerzeichen",
        ] {
            let (sr, _) = StartResponse::new();
            sr.call(status, vec![]).unwrap();
        }
    }

    #[test]
    fn refuses_reasons_with_controls_outer_spaces_or_beyond_latin1() {
        for status in [
            "200 OK\t",
            "200 \tOK",
            "200  OK",
            "200 OK ",
            "200 \u{a0}OK",
            "200 O\u{7f}K",
            "200 O\u{85}K",
            "200 \u{100}",
            "200 OK\r\nX: y",
        ] {
            let (sr, _) = StartResponse::new();
            assert!(
                matches!(
                    error_of(sr.call(status, vec![])),
                    StartResponseError::InvalidStatus { .. }
                ),
                "{status:?}"
            );
        }
    }

    #[test]
    fn refuses_header_names_that_are_not_tokens() {
        for name in [
            "",
            "Content Type",
            "X-Foo:",
            "X(1)",
            "Caf\u{e9}",
            "X\r\nY",
            "a/b",
        ] {
            let (sr, _) = StartResponse::new();
            assert!(
                matches!(
                    error_of(sr.call("200 OK", hdr(name, "v"))),
                    StartResponseError::InvalidHeaderName { .. }
                ),
                "{name:?} should be refused"
            );
        }
    }

    #[test]
    fn refuses_control_bytes_and_non_latin1_in_values() {
        for value in [
            "a\r\nSet-Cookie: x=1",
            "a\nb",
            "a\rb",
            "nul\0",
            "bell\x07",
            "del\x7f",
            "snow\u{2603}",
        ] {
            let (sr, _) = StartResponse::new();
            assert!(
                matches!(
                    error_of(sr.call("200 OK", hdr("X-Test", value))),
                    StartResponseError::InvalidHeaderValue { .. }
                ),
                "{value:?} should be refused"
            );
        }
        let (sr, _) = StartResponse::new();
        sr.call("200 OK", hdr("X-Test", "tab\tand caf\u{e9}"))
            .unwrap();
    }

    #[test]
    fn refuses_every_hop_by_hop_header() {
        for name in [
            "Connection",
            "keep-alive",
            "Transfer-Encoding",
            "TE",
            "Trailer",
            "Upgrade",
            "Proxy-Authenticate",
            "PROXY-AUTHORIZATION",
        ] {
            let (sr, _) = StartResponse::new();
            assert_eq!(
                error_of(sr.call("200 OK", hdr(name, "x"))),
                StartResponseError::HopByHopHeader {
                    name: name.to_owned()
                }
            );
        }
    }

    #[test]
    fn second_call_without_error_is_refused() {
        let (sr, record) = StartResponse::new();
        sr.call("200 OK", vec![]).unwrap();
        assert_eq!(
            error_of(sr.call("500 Oops", vec![])),
            StartResponseError::AlreadyStarted
        );
        assert_eq!(record.status_code(), Some(200), "the first response stands");
    }

    #[test]
    fn refused_first_call_still_counts_as_a_call() {
        let (sr, record) = StartResponse::new();
        assert!(sr.call("nope", vec![]).is_err());
        assert!(!record.is_started());
        assert_eq!(
            error_of(sr.call("200 OK", vec![])),
            StartResponseError::AlreadyStarted
        );
        sr.call_with_error("500 Internal Server Error", vec![], "boom".into())
            .unwrap();
        assert_eq!(record.status_code(), Some(500));
    }

    #[test]
    fn call_with_error_replaces_the_response_before_headers_are_sent() {
        let (sr, record) = StartResponse::new();
        sr.call("200 OK", hdr("Content-Type", "text/plain"))
            .unwrap();
        sr.call_with_error(
            "500 Internal Server Error",
            hdr("X-Error", "1"),
            "boom".into(),
        )
        .unwrap();
        assert_eq!(record.status_code(), Some(500));
        assert_eq!(record.headers().unwrap(), hdr("X-Error", "1"));
    }

    #[test]
    fn call_with_error_after_headers_are_sent_hands_the_error_back() {
        let (sr, record) = StartResponse::new();
        sr.call("200 OK", vec![]).unwrap();
        let (status, _) = record.send_headers().unwrap();
        assert_eq!(status, "200 OK");
        assert!(record.headers_sent());
        let err = sr
            .call_with_error(
                "500 Internal Server Error",
                vec![],
                "original failure".into(),
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "original failure");
    }

    #[test]
    fn wrapped_start_response_forwards_and_the_server_handle_validates() {
        let (outer, record) = StartResponse::new();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let log = Rc::clone(&seen);
        let inner = StartResponse::wrap(move |status, mut headers, exc_info| {
            log.borrow_mut().push(status.to_owned());
            headers.push(("X-Layer".into(), "1".into()));
            outer.forward(status, headers, exc_info)
        });
        assert!(
            matches!(
                error_of(inner.call("2OO OK", vec![])),
                StartResponseError::InvalidStatus { .. }
            ),
            "the status is checked before the layer sees it"
        );
        assert!(seen.borrow().is_empty());
        assert!(matches!(
            error_of(inner.call("200 OK", hdr("Connection", "close"))),
            StartResponseError::HopByHopHeader { .. }
        ));
        assert!(!record.is_started(), "the server refused the headers");
        inner
            .call_with_error("201 Created", vec![], "retry".into())
            .unwrap();
        assert_eq!(record.headers().unwrap(), hdr("X-Layer", "1"));
        assert_eq!(
            error_of(inner.call("200 OK", vec![])),
            StartResponseError::AlreadyStarted
        );
        assert_eq!(*seen.borrow(), ["200 OK", "201 Created", "200 OK"]);
    }

    #[test]
    fn a_layer_cannot_slip_an_invalid_header_past_the_server() {
        let (outer, record) = StartResponse::new();
        let inner = StartResponse::wrap(move |status, mut headers, exc_info| {
            headers.push(("X-Injected".into(), "a\r\nSet-Cookie: owned".into()));
            outer.forward(status, headers, exc_info)
        });
        assert!(matches!(
            error_of(inner.call("200 OK", vec![])),
            StartResponseError::InvalidHeaderValue { .. }
        ));
        assert!(!record.is_started());
    }

    #[test]
    fn validate_headers_checks_what_the_server_handle_checks() {
        assert!(validate_headers(&hdr("Content-Type", "text/plain")).is_ok());
        for (name, value) in [
            ("Bad Name", "x"),
            ("Upgrade", "h2c"),
            ("X-A", "a\nb"),
            ("X-A", "\u{100}"),
        ] {
            let (sr, _record) = StartResponse::new();
            let direct = sr.call("200 OK", hdr(name, value)).is_err();
            assert!(direct, "{name}: {value:?}");
            assert!(
                validate_headers(&hdr(name, value)).is_err(),
                "{name}: {value:?}"
            );
        }
    }

    #[test]
    fn send_headers_without_start_gives_nothing() {
        let (_sr, record) = StartResponse::new();
        assert!(record.send_headers().is_none());
        assert!(!record.headers_sent());
    }

    #[test]
    fn headers_ext_is_case_insensitive() {
        let mut headers: Headers = vec![
            ("Set-Cookie".into(), "a=1".into()),
            ("set-cookie".into(), "b=2".into()),
        ];
        assert_eq!(headers.get_header("SET-COOKIE"), Some("a=1"));
        headers.remove_header("Set-cookie");
        assert!(headers.is_empty());
        assert!(!headers.has_header("set-cookie"));
    }
}
