//! `CatchPanic`: a panic or an error of the application becomes a 500 page.

use std::any::Any;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use gateway_spec::{AppError, Application, Body, Chunk, Environ, StartResponse};

use crate::layer::Layer;

/// The settings of [`CatchPanic`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CatchPanicLayer {
    /// Show the error and its causes on the page, to loopback clients only.
    /// Default: `false`.
    pub debug: bool,
}

/// The error handed to the server (as `exc_info`) when the application panicked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the application panicked: {message}")]
pub struct Panicked {
    /// The panic's message, when it had one.
    pub message: String,
}

/// An application whose failures become 500 pages.
///
/// Without this layer an application error reaches the server, which
/// answers with its own bare 500, and a panic unwinds into the server's
/// worker. With it, both become the same plain-text page, while the
/// response can still be replaced (PEP 3333 rule 50: through
/// `start_response` with `exc_info`). Once the headers are out nothing can
/// be replaced, and the error goes on to the server, which cuts the
/// connection (rule 51).
///
/// Every failure is logged at `error` level to the `log` facade. The page
/// shows the error's message and its causes only in debug mode **and** for
/// a client on the loopback interface (werkzeug's lesson, REFERENCE.md
/// section 4 item 32: a traceback page reachable from elsewhere leaks the
/// inside of the application).
#[derive(Debug)]
pub struct CatchPanic<A> {
    inner: A,
    layer: CatchPanicLayer,
}

impl<A: Application> CatchPanic<A> {
    /// Catch the failures of `inner`.
    pub fn new(inner: A, layer: CatchPanicLayer) -> CatchPanic<A> {
        CatchPanic { inner, layer }
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

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

fn from_panic(payload: Box<dyn Any + Send>) -> AppError {
    Box::new(Panicked {
        message: panic_message(payload.as_ref()),
    })
}

/// The error page: the same text for everyone, plus the error chain when
/// details may be shown.
fn page(error: &AppError, details: bool) -> String {
    let mut text = String::from(
        "500 Internal Server Error\n\nThe server hit an error and could not finish the request.\n",
    );
    if details {
        let _ = write!(text, "\nerror: {error}\n");
        let mut cause = error.source();
        while let Some(inner) = cause {
            let _ = writeln!(text, "caused by: {inner}");
            cause = inner.source();
        }
    }
    text
}

/// Replace the response with the error page, if it is not too late.
///
/// # Errors
/// The original error when the headers were already sent (PEP 3333's
/// re-raise), or a refusal of the page's own headers.
fn error_page(
    start_response: &StartResponse,
    error: AppError,
    details: bool,
    head: bool,
) -> Result<Body, AppError> {
    log::error!(target: "middleware::catch_panic", "request failed: {error}");
    let text = page(&error, details);
    let headers = vec![
        ("Content-Type".into(), "text/plain; charset=utf-8".into()),
        ("Content-Length".into(), text.len().to_string().into()),
    ];
    start_response.call_with_error("500 Internal Server Error", headers, error)?;
    Ok(if head {
        Body::empty()
    } else {
        Body::from(text)
    })
}

fn is_loopback(environ: &Environ) -> bool {
    environ
        .get("REMOTE_ADDR")
        .and_then(|addr| addr.parse::<IpAddr>().ok())
        .is_some_and(|addr| addr.is_loopback())
}

impl<A: Application> Application for CatchPanic<A> {
    fn call(&self, environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        let details = self.layer.debug && is_loopback(&environ);
        let head = environ.request_method() == "HEAD";
        let handle = start_response.clone();
        let error = match catch_unwind(AssertUnwindSafe(|| {
            self.inner.call(environ, start_response)
        })) {
            Ok(Ok(body)) => return Ok(guard(body, handle, details, head)),
            Ok(Err(error)) => error,
            Err(payload) => from_panic(payload),
        };
        error_page(&handle, error, details, head)
    }
}

/// The body, with each step run under `catch_unwind`: a failure before the
/// first bytes went out still becomes the error page.
fn guard(inner: Body, start_response: StartResponse, details: bool, head: bool) -> Body {
    Body::from_results(Guarded {
        inner: Some(inner),
        replacement: None,
        start_response,
        details,
        head,
    })
}

/// The application's body, or the error page that replaced it.
struct Guarded {
    inner: Option<Body>,
    replacement: Option<Body>,
    start_response: StartResponse,
    details: bool,
    head: bool,
}

impl Iterator for Guarded {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        if let Some(page) = self.replacement.as_mut() {
            return page.next();
        }
        let body = self.inner.as_mut()?;
        let error = match catch_unwind(AssertUnwindSafe(|| body.next())) {
            Ok(Some(Err(error))) => error,
            Ok(step) => return step,
            Err(payload) => from_panic(payload),
        };
        close_quietly(self.inner.take());
        match error_page(&self.start_response, error, self.details, self.head) {
            Ok(page) => self
                .replacement
                .insert(page)
                .next()
                .or(Some(Ok(Vec::new()))),
            Err(error) => Some(Err(error)),
        }
    }

    /// The inner body's own hint, so a server still sees a single-chunk
    /// body and can send its Content-Length.
    fn size_hint(&self) -> (usize, Option<usize>) {
        match (&self.replacement, &self.inner) {
            (Some(page), _) => page.size_hint(),
            (None, Some(inner)) => inner.size_hint(),
            (None, None) => (0, Some(0)),
        }
    }
}

/// Close a failed body; a panic in its own close step is logged, not
/// passed on, since the request already failed.
fn close_quietly(body: Option<Body>) {
    if catch_unwind(AssertUnwindSafe(|| drop(body))).is_err() {
        log::error!(target: "middleware::catch_panic", "a failed body panicked while closing");
    }
}

impl<A: Application> Layer<A> for CatchPanicLayer {
    type Wrapped = CatchPanic<A>;

    fn layer(self, inner: A) -> CatchPanic<A> {
        CatchPanic::new(inner, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{get, run, text_app};

    #[test]
    fn a_single_chunk_body_still_tells_its_length() {
        // Servers send Content-Length for a body known to be one chunk
        // (PEP 3333 rule 41); wrapping must not hide that.
        let app = CatchPanic::new(text_app("hello"), CatchPanicLayer::default());
        let (sr, _record) = StartResponse::new();
        let body = app.call(get("/"), sr).unwrap();
        assert_eq!(body.size_hint(), (1, Some(1)));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("query failed")]
    struct QueryFailed(#[source] std::io::Error);

    fn failing(_env: Environ, _sr: StartResponse) -> Result<Body, AppError> {
        Err(Box::new(QueryFailed(std::io::Error::other(
            "connection refused",
        ))))
    }

    fn panicking(_env: Environ, _sr: StartResponse) -> Result<Body, AppError> {
        panic!("index out of bounds: secret internals");
    }

    #[test]
    fn an_app_error_becomes_a_500_page_without_details() {
        let response = run(
            &CatchPanic::new(failing, CatchPanicLayer::default()),
            get("/"),
        );
        assert_eq!(response.code(), Some(500));
        assert!(response.error.is_none());
        assert!(response.text().starts_with("500 Internal Server Error"));
        assert!(!response.text().contains("query failed"));
        assert_eq!(
            response.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
    }

    #[test]
    fn a_panic_becomes_a_500_page() {
        let response = run(
            &CatchPanic::new(panicking, CatchPanicLayer::default()),
            get("/"),
        );
        assert_eq!(response.code(), Some(500));
        assert!(!response.text().contains("secret internals"));
    }

    #[test]
    fn debug_mode_shows_details_to_loopback_clients_only() {
        let app = CatchPanic::new(failing, CatchPanicLayer { debug: true });
        let local = run(&app, get("/"));
        assert!(
            local
                .text()
                .contains("error: query failed\ncaused by: connection refused"),
            "{}",
            local.text()
        );

        let mut remote = get("/");
        remote.set("REMOTE_ADDR", "203.0.113.9");
        assert!(!run(&app, remote).text().contains("query failed"));

        let app = CatchPanic::new(panicking, CatchPanicLayer { debug: true });
        let local = run(&app, get("/"));
        assert!(local
            .text()
            .contains("the application panicked: index out of bounds"));
    }

    #[test]
    fn a_failure_in_the_body_before_any_byte_still_gets_the_page() {
        let lazy_panic = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
            sr.call("200 OK", vec![("Content-Type".into(), "text/html".into())])?;
            Ok(Body::from_fn(|| panic!("while rendering")))
        };
        let response = run(
            &CatchPanic::new(lazy_panic, CatchPanicLayer::default()),
            get("/"),
        );
        assert_eq!(response.code(), Some(500));
        assert_eq!(
            response.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
        assert!(response.text().starts_with("500 Internal Server Error"));
    }

    #[test]
    fn a_failure_after_the_headers_went_out_reaches_the_server() {
        let late_error = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
            sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
            Ok(Body::from_results(vec![
                Ok(b"partial".to_vec()),
                Err("disk gone".into()),
            ]))
        };
        let response = run(
            &CatchPanic::new(late_error, CatchPanicLayer::default()),
            get("/"),
        );
        assert_eq!(response.code(), Some(200));
        assert_eq!(response.text(), "partial");
        assert_eq!(
            response.error.map(|e| e.to_string()).as_deref(),
            Some("disk gone")
        );
    }

    #[test]
    fn a_healthy_app_is_untouched() {
        let response = run(
            &CatchPanic::new(text_app("fine"), CatchPanicLayer { debug: true }),
            get("/"),
        );
        assert_eq!(
            (response.code(), response.text().as_str()),
            (Some(200), "fine")
        );
    }
}
