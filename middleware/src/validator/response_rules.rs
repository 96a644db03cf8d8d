//! The application's side of the contract: how it calls `start_response`
//! and what its body yields (PEP 3333 rules 9, 29, 36-40, with Rack::Lint's
//! and wsgiref.validate's response checks).
//!
//! `start_response` refuses a malformed status or header itself (rules 28,
//! 29, 31) before any middleware sees the call, so those are reported when
//! the refusal comes back through the validator: as the application's error
//! or as an error chunk of its body ([`check_error`]).

use std::cell::RefCell;
use std::rc::Rc;

use gateway_spec::{
    validate_headers, AppError, Body, Chunk, Headers, HeadersExt, StartResponse, StartResponseError,
};

use super::reporter::Reporter;
use super::violation::Violation;

/// What the validator knows about one request's response so far; shared by
/// the `start_response` wrapper and the body wrapper.
#[derive(Debug, Default)]
pub(super) struct Exchange {
    is_head: bool,
    /// The last status and headers the outer `start_response` accepted.
    head: Option<Head>,
    /// `call_with_error` handed the error back: the application must stop.
    reraised: bool,
    /// Body bytes yielded so far.
    produced: u64,
    /// Rules already reported for this response, so a long body does not
    /// repeat the same message for every chunk.
    reported: Vec<&'static str>,
}

#[derive(Debug, Clone, Copy)]
struct Head {
    code: u16,
    content_length: Option<u64>,
    has_content_type: bool,
}

impl Exchange {
    pub(super) fn new(is_head: bool) -> Rc<RefCell<Exchange>> {
        Rc::new(RefCell::new(Exchange {
            is_head,
            ..Exchange::default()
        }))
    }

    /// True the first time `rule` is reported for this response.
    fn first_time(&mut self, rule: &'static str) -> bool {
        if self.reported.contains(&rule) {
            return false;
        }
        self.reported.push(rule);
        true
    }
}

/// Statuses whose responses never have a body (RFC 9110; Rack::Lint check 14).
fn forbids_body(code: u16) -> bool {
    (100..200).contains(&code) || code == 204 || code == 304
}

/// The `start_response` the application gets: checks the call, then
/// forwards it to the server's.
pub(super) fn watch_start_response(
    outer: StartResponse,
    exchange: Rc<RefCell<Exchange>>,
    reporter: Reporter,
) -> StartResponse {
    StartResponse::wrap(move |status, headers, exc_info| {
        let replacing = exc_info.is_some();
        if exchange.borrow().head.is_some() && !replacing {
            reporter.report(Violation::StartResponseTwice)?;
        }
        let head = Head::read(status, &headers);
        // A call the server's handle will refuse gets that refusal, not a
        // second report: the rules below judge only calls whose headers
        // all pass it.
        if validate_headers(&headers).is_ok() {
            for violation in header_rules(head.code, &headers) {
                reporter.report(violation)?;
            }
        }
        let result = outer.forward(status, headers, exc_info);
        let mut exchange = exchange.borrow_mut();
        match &result {
            Ok(()) => exchange.head = Some(head),
            Err(_) if replacing => exchange.reraised = true,
            Err(_) => {}
        }
        result
    })
}

impl Head {
    fn read(status: &str, headers: &Headers) -> Head {
        // start_response already checked the status shape: three digits first.
        let code = status.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        Head {
            code,
            content_length: headers
                .get_header("Content-Length")
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse().ok()),
            has_content_type: headers.has_header("Content-Type"),
        }
    }
}

/// What `start_response`'s own validation (`validate_headers`) lets through
/// but the validators of PEP 3333's family still refuse.
fn header_rules(code: u16, headers: &Headers) -> Vec<Violation> {
    let mut found = Vec::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("status") {
            found.push(Violation::StatusHeader);
        } else if name.eq_ignore_ascii_case("content-length")
            && (value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()))
        {
            found.push(Violation::InvalidContentLengthHeader {
                value: value.to_string(),
            });
        } else if name.eq_ignore_ascii_case("etag") && !is_quoted_etag(value) {
            found.push(Violation::UnquotedEtag {
                value: value.to_string(),
            });
        }
    }
    if forbids_body(code) && headers.has_header("Content-Type") {
        found.push(Violation::ContentTypeWithoutBody { code });
    }
    found
}

/// `"opaque"` or `W/"opaque"` (RFC 9110 section 8.8.3).
fn is_quoted_etag(value: &str) -> bool {
    let tag = value.strip_prefix("W/").unwrap_or(value);
    tag.len() >= 2
        && tag.starts_with('"')
        && tag.ends_with('"')
        && !tag[1..tag.len() - 1].contains('"')
}

/// Report a refusal of `start_response` that the application passed on.
///
/// # Errors
/// The violation, in fail mode.
pub(super) fn check_error(error: &AppError, reporter: &Reporter) -> Result<(), AppError> {
    let refusal = error.downcast_ref::<StartResponseError>();
    match refusal.and_then(Violation::from_refusal) {
        Some(violation) => reporter.report(violation),
        None => Ok(()),
    }
}

/// The body the server gets: checks each chunk and the end, and counts
/// open bodies so a test can see that every one was closed.
pub(super) fn watch_body(inner: Body, exchange: Rc<RefCell<Exchange>>, reporter: Reporter) -> Body {
    let violations = reporter.violations.clone();
    violations.body_opened();
    let mut watcher = BodyWatcher {
        inner: Some(inner),
        exchange,
        reporter,
    };
    Body::from_fn(move || watcher.next()).on_close(move || violations.body_closed())
}

struct BodyWatcher {
    /// `None` once the body ended or failed: the inner body is closed then.
    inner: Option<Body>,
    exchange: Rc<RefCell<Exchange>>,
    reporter: Reporter,
}

impl BodyWatcher {
    fn next(&mut self) -> Option<Chunk> {
        // No borrow of the exchange is held here: the inner body may call
        // start_response while it makes its first chunk (PEP 3333 rule 9).
        let step = self.inner.as_mut()?.next();
        let verdict = match &step {
            None => self.check_end(),
            Some(Ok(chunk)) => self.check_chunk(chunk.len() as u64),
            Some(Err(error)) => check_error(error, &self.reporter),
        };
        if step.is_none() {
            self.inner = None;
        }
        if let Err(violation) = verdict {
            self.inner = None;
            return Some(Err(violation));
        }
        step
    }

    fn check_chunk(&mut self, len: u64) -> Result<(), AppError> {
        let mut exchange = self.exchange.borrow_mut();
        let mut found = Vec::new();
        if exchange.reraised && exchange.first_time("reraise") {
            found.push(Violation::TrappedReRaise);
        }
        let head = exchange.head;
        match head {
            None if exchange.first_time("unstarted") => {
                found.push(Violation::ChunkBeforeStartResponse);
            }
            Some(head) if len > 0 => {
                if exchange.is_head && exchange.first_time("head") {
                    found.push(Violation::BodyForHead);
                } else if forbids_body(head.code) && exchange.first_time("status") {
                    found.push(Violation::BodyForStatus { code: head.code });
                }
                if !head.has_content_type && exchange.first_time("content-type") {
                    found.push(Violation::MissingContentType { code: head.code });
                }
            }
            _ => {}
        }
        exchange.produced += len;
        if let Some(declared) = exchange.head.and_then(|h| h.content_length) {
            if exchange.produced > declared && exchange.first_time("length") {
                found.push(Violation::BodyLongerThanContentLength {
                    declared,
                    produced: exchange.produced,
                });
            }
        }
        drop(exchange);
        found.into_iter().try_for_each(|v| self.reporter.report(v))
    }

    fn check_end(&mut self) -> Result<(), AppError> {
        let exchange = self.exchange.borrow();
        let violation = match exchange.head {
            None => Some(Violation::NeverStarted),
            // A HEAD response, a 304 or a 1xx/204 may announce the length of
            // a body it does not carry.
            Some(head) if exchange.is_head || forbids_body(head.code) => None,
            Some(head) => head
                .content_length
                .filter(|&declared| exchange.produced < declared)
                .map(|declared| Violation::BodyShorterThanContentLength {
                    declared,
                    produced: exchange.produced,
                }),
        };
        drop(exchange);
        violation.map_or(Ok(()), |v| self.reporter.report(v))
    }
}
