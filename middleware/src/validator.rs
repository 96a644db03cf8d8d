//! `Validator`: the gateway contract checked at run time, on both sides.

mod checked_input;
mod environ_rules;
mod reporter;
mod response_rules;
mod violation;

pub use violation::{Rule, Side, Violation, Violations};

use gateway_spec::{AppError, Application, Body, Environ, StartResponse};

use crate::layer::Layer;
use reporter::Reporter;
use response_rules::Exchange;

/// What the validator does after recording a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnViolation {
    /// Nothing more: the request goes on unchanged.
    Record,
    /// Fail the request with the violation as its error (the server answers
    /// 500 when the headers are not sent yet).
    #[default]
    Fail,
    /// Panic with the violation's message, like `wsgiref.validate`'s asserts.
    Panic,
}

/// The validator's settings.
///
/// ```
/// use middleware::{OnViolation, ValidatorLayer};
/// let layer = ValidatorLayer { on_violation: OnViolation::Record, ..ValidatorLayer::default() };
/// let violations = layer.violations.clone(); // keep a handle before wrapping
/// # let _ = violations;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ValidatorLayer {
    /// What to do after recording a violation. Default: [`OnViolation::Fail`].
    pub on_violation: OnViolation,
    /// Where violations are recorded. Default: a new, empty list.
    pub violations: Violations,
}

/// The contract checker around an application `A`.
///
/// This is Python's `wsgiref.validate`, Rack::Lint and werkzeug's
/// `LintMiddleware` in one layer. Put it between a server and an application
/// and it checks:
///
/// - **the environ the server built** (PEP 3333 rules 12-18):
///   `REQUEST_METHOD` a non-empty token; `SERVER_NAME`, `SERVER_PORT` (a port
///   number) and `SERVER_PROTOCOL` (`HTTP/x.y`) present; `SCRIPT_NAME` empty or
///   `/...` but never `/`; `PATH_INFO` empty or `/...` (`*` for `OPTIONS`), and
///   present when `SCRIPT_NAME` is empty; `CONTENT_LENGTH` digits only; no
///   `HTTP_CONTENT_TYPE` or `HTTP_CONTENT_LENGTH`; no variable set to `""`
///   where it should be left out;
/// - **the input** (rule 23): `wsgi.input` never yields more than
///   `CONTENT_LENGTH` bytes;
/// - **the application's use of `start_response`** (rules 28-37): the status
///   and header refusals of `start_response` itself, reported with their rule
///   when the application passes them on; no `Status` header; a
///   `Content-Length` of digits; quoted `ETag`s; no `Content-Type` on a
///   1xx/204/304; no second call without an error; no going on after an
///   error was re-raised;
/// - **the body** (rules 9, 39-40 and Rack::Lint's body checks): no chunk
///   before `start_response`, and a response started by the end; exactly
///   `Content-Length` bytes; no body bytes for `HEAD`, 1xx, 204 or 304; a
///   `Content-Type` on responses with a body; every body closed
///   ([`Violations::open_bodies`]).
///
/// # How violations are reported
/// Every violation is a [`Violation`] whose message starts with the rule it
/// breaks ([`Violation::rule`]). The validator always records it in its
/// [`Violations`] list (an `Arc<Mutex<..>>`, so a test can read it while a
/// server runs the application on other threads) and logs it at `warn` level
/// to the `log` facade. What happens next is chosen by [`OnViolation`]:
///
/// | mode | the request | like |
/// |---|---|---|
/// | [`OnViolation::Fail`] (default) | fails with the violation as its error: the server answers 500 if nothing was sent yet | |
/// | [`OnViolation::Record`] | goes on unchanged | werkzeug's lint warnings |
/// | [`OnViolation::Panic`] | panics with the violation's message | wsgiref's `assert`s |
///
/// ```
/// use gateway_spec::{AppError, Application, Body, Environ, StartResponse};
/// use middleware::{validator, Violation};
///
/// let app = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
///     sr.call("200 OK", vec![
///         ("Content-Type".into(), "text/plain".into()),
///         ("Content-Length".into(), "100".into()),
///     ])?;
///     Ok(Body::from("not a hundred bytes"))
/// };
/// let checked = validator(app);
/// let violations = checked.violations();
///
/// let (start_response, _record) = StartResponse::new();
/// let body = checked.call(Environ::for_test(), start_response)?;
/// let result: Result<Vec<Vec<u8>>, AppError> = body.collect();
/// assert!(result.is_err());
/// assert_eq!(
///     violations.list(),
///     vec![Violation::BodyShorterThanContentLength { declared: 100, produced: 19 }]
/// );
/// # Ok::<(), AppError>(())
/// ```
#[derive(Debug)]
pub struct Validator<A> {
    inner: A,
    reporter: Reporter,
}

/// Check `app` with the default settings: Python's
/// `wsgiref.validate.validator(app)`.
pub fn validator<A: Application>(app: A) -> Validator<A> {
    Validator::new(app, ValidatorLayer::default())
}

impl<A: Application> Validator<A> {
    /// Wrap `inner` with the given settings.
    pub fn new(inner: A, layer: ValidatorLayer) -> Validator<A> {
        Validator {
            inner,
            reporter: Reporter {
                violations: layer.violations,
                on_violation: layer.on_violation,
            },
        }
    }

    /// The list this validator records into.
    pub fn violations(&self) -> Violations {
        self.reporter.violations.clone()
    }

    /// The wrapped application.
    pub fn get_ref(&self) -> &A {
        &self.inner
    }

    /// Unwrap, giving the application back.
    pub fn into_inner(self) -> A {
        self.inner
    }
}

impl<A: Application> Application for Validator<A> {
    fn call(&self, mut environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        for violation in environ_rules::check(&environ) {
            self.reporter.report(violation)?;
        }
        let input = std::mem::take(&mut environ.input);
        environ.input =
            checked_input::watch(input, environ.content_length(), self.reporter.clone());

        let exchange = Exchange::new(environ.request_method() == "HEAD");
        let start_response = response_rules::watch_start_response(
            start_response,
            exchange.clone(),
            self.reporter.clone(),
        );
        match self.inner.call(environ, start_response) {
            Ok(body) => Ok(response_rules::watch_body(
                body,
                exchange,
                self.reporter.clone(),
            )),
            Err(error) => {
                response_rules::check_error(&error, &self.reporter)?;
                Err(error)
            }
        }
    }
}

impl<A: Application> Layer<A> for ValidatorLayer {
    type Wrapped = Validator<A>;

    fn layer(self, inner: A) -> Validator<A> {
        Validator::new(inner, self)
    }
}

#[cfg(test)]
mod tests;
