//! `BodyLimit`: `413 Content Too Large` for request bodies over a limit,
//! before the application spends memory on them.

use std::cell::Cell;
use std::io::{self, BufRead, Read};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gateway_spec::{
    validate_headers, AppError, Application, Body, Chunk, Environ, Headers, Input, StartResponse,
};

use crate::layer::Layer;
use crate::short_response::text_response;

const STATUS: &str = "413 Content Too Large";

/// The settings of [`BodyLimit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimitLayer {
    /// The largest request body accepted, in bytes.
    pub max_bytes: u64,
}

impl BodyLimitLayer {
    /// Accept bodies of at most `max_bytes` bytes.
    pub fn new(max_bytes: u64) -> BodyLimitLayer {
        BodyLimitLayer { max_bytes }
    }
}

/// The error a read of `wsgi.input` past the limit fails with (inside an
/// `io::Error`; find it with `get_ref()` and `downcast_ref`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body is larger than the limit of {limit} bytes")]
pub struct BodyTooLarge {
    /// The limit, in bytes.
    pub limit: u64,
}

/// An application that never sees a request body over the limit.
///
/// - A request whose `CONTENT_LENGTH` is over the limit is answered at once;
///   the application never runs and the body is never read.
/// - A request of unknown length (a chunked upload) gets a `wsgi.input` that
///   fails with [`BodyTooLarge`] when a read would go past the limit. Then,
///   whether the application fails with that error or answers anyway (a
///   framework may turn a failed read into its own 400), its response is
///   replaced by the 413, as long as nothing was sent yet.
#[derive(Debug)]
pub struct BodyLimit<A> {
    inner: A,
    layer: BodyLimitLayer,
}

impl<A: Application> BodyLimit<A> {
    /// Limit the request bodies `inner` reads.
    pub fn new(inner: A, layer: BodyLimitLayer) -> BodyLimit<A> {
        BodyLimit { inner, layer }
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

/// `wsgi.input` that refuses to go past `limit` bytes, and says so in
/// `tripped` (shared with the layer, which answers 413 afterwards).
struct LimitedInput {
    inner: Input,
    limit: u64,
    read: u64,
    tripped: Arc<AtomicBool>,
}

impl LimitedInput {
    fn too_large(&self) -> io::Error {
        self.tripped.store(true, Ordering::SeqCst);
        io::Error::new(
            io::ErrorKind::InvalidData,
            BodyTooLarge { limit: self.limit },
        )
    }
}

impl BufRead for LimitedInput {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let allowed = self.limit.saturating_sub(self.read);
        let at_limit = allowed == 0;
        let more = !self.inner.fill_buf()?.is_empty();
        if at_limit && more {
            return Err(self.too_large());
        }
        let buf = self.inner.fill_buf()?;
        let n = buf
            .len()
            .min(usize::try_from(allowed).unwrap_or(usize::MAX));
        Ok(&buf[..n])
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.read += amount as u64;
    }
}

impl Read for LimitedInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Whether `error` is (or was caused by) a read past the limit.
fn is_too_large(error: &AppError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
    while let Some(error) = cause {
        if error.is::<BodyTooLarge>() {
            return true;
        }
        if let Some(io) = error.downcast_ref::<io::Error>() {
            if io.get_ref().is_some_and(|inner| inner.is::<BodyTooLarge>()) {
                return true;
            }
        }
        cause = error.source();
    }
    false
}

/// The 413 page: its headers and text.
fn page_413(limit: u64) -> (Headers, String) {
    let text = format!("{STATUS}: the request body is over {limit} bytes\n");
    let headers = vec![
        ("Content-Type".into(), "text/plain; charset=utf-8".into()),
        ("Content-Length".into(), text.len().to_string().into()),
    ];
    (headers, text)
}

fn page_body(text: String, head: bool) -> Body {
    if head {
        Body::empty()
    } else {
        Body::from(text)
    }
}

/// Turn a failure caused by the limit into a 413, if nothing was sent yet.
fn answer_413(
    start_response: &StartResponse,
    error: AppError,
    limit: u64,
    head: bool,
) -> Result<Body, AppError> {
    let (headers, text) = page_413(limit);
    start_response.call_with_error(STATUS, headers, error)?;
    Ok(page_body(text, head))
}

impl<A: Application> Application for BodyLimit<A> {
    fn call(&self, mut environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        let limit = self.layer.max_bytes;
        let method = environ.request_method().to_owned();
        if let Some(length) = environ.content_length() {
            if length > limit {
                let text = format!("{STATUS}: the request body is over {limit} bytes");
                return text_response(&start_response, &method, STATUS, vec![], &text);
            }
            // The server's input already ends at CONTENT_LENGTH (rule 23).
            return self.inner.call(environ, start_response);
        }
        let tripped = Arc::new(AtomicBool::new(false));
        let input = std::mem::take(&mut environ.input);
        environ.input = Input::new(LimitedInput {
            inner: input,
            limit,
            read: 0,
            tripped: Arc::clone(&tripped),
        });
        let head = method == "HEAD";
        let handle = start_response.clone();
        let replaced = Rc::new(Cell::new(false));
        let start_response = {
            let (tripped, replaced) = (Arc::clone(&tripped), Rc::clone(&replaced));
            StartResponse::wrap(move |status, headers, exc_info| {
                // Invalid headers go on as they came, for the server's handle
                // to refuse (and count as the call), tripped or not.
                if !tripped.load(Ordering::SeqCst) || validate_headers(&headers).is_err() {
                    return handle.forward(status, headers, exc_info);
                }
                // A read past the limit failed, and the application answered
                // anyway (a framework turns the error into its own 400):
                // whatever it made of a cut-off body, the answer is 413.
                replaced.set(true);
                handle.forward(STATUS, page_413(limit).0, exc_info)
            })
        };
        let handle = start_response.clone();
        let body = match self.inner.call(environ, start_response) {
            Ok(body) => body,
            Err(error) if tripped.load(Ordering::SeqCst) || is_too_large(&error) => {
                return answer_413(&handle, error, limit, head)
            }
            Err(error) => return Err(error),
        };
        let watched = LimitedBody {
            inner: Some(body),
            page: None,
            replaced,
            tripped,
            start_response: handle,
            limit,
            head,
        };
        Ok(Body::from_results(watched))
    }
}

/// The application's body, switched to the 413 page when the limit was hit.
struct LimitedBody {
    inner: Option<Body>,
    /// The 413 page, once the response was replaced.
    page: Option<Body>,
    /// The application's `start_response` was turned into the 413's.
    replaced: Rc<Cell<bool>>,
    tripped: Arc<AtomicBool>,
    start_response: StartResponse,
    limit: u64,
    head: bool,
}

impl Iterator for LimitedBody {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        if let Some(page) = self.page.as_mut() {
            return page.next();
        }
        if self.replaced.get() {
            return self.show_page();
        }
        // The application may read its input lazily, from its body.
        let step = self.inner.as_mut()?.next();
        if self.replaced.get() {
            return self.show_page();
        }
        match step {
            Some(Err(error)) if self.tripped.load(Ordering::SeqCst) || is_too_large(&error) => {
                self.inner = None;
                match answer_413(&self.start_response, error, self.limit, self.head) {
                    Ok(page) => self.page.insert(page).next().or(Some(Ok(Vec::new()))),
                    Err(error) => Some(Err(error)),
                }
            }
            step => step,
        }
    }

    /// The inner body's own hint while it runs, so a server can still see
    /// a single-chunk body and send its Content-Length.
    fn size_hint(&self) -> (usize, Option<usize>) {
        match (&self.page, &self.inner) {
            (Some(page), _) => page.size_hint(),
            (None, Some(inner)) => inner.size_hint(),
            (None, None) => (0, Some(0)),
        }
    }
}

impl LimitedBody {
    /// Close the application's body and yield the 413 page instead.
    fn show_page(&mut self) -> Option<Chunk> {
        self.inner = None;
        let page = page_body(page_413(self.limit).1, self.head);
        // At least one value for the step the server asked for (rule 45).
        self.page.insert(page).next().or(Some(Ok(Vec::new())))
    }
}

impl<A: Application> Layer<A> for BodyLimitLayer {
    type Wrapped = BodyLimit<A>;

    fn layer(self, inner: A) -> BodyLimit<A> {
        BodyLimit::new(inner, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::sync::atomic::AtomicUsize;

    use crate::testing::{request, run};

    #[test]
    fn a_single_chunk_body_still_tells_its_length() {
        let app = BodyLimit::new(crate::testing::text_app("hello"), BodyLimitLayer::new(10));
        let (sr, _record) = StartResponse::new();
        let body = app.call(request("GET", "/"), sr).unwrap();
        assert_eq!(body.size_hint(), (1, Some(1)));
    }

    /// Reads the whole input and answers with its size.
    fn upload(mut environ: Environ, sr: StartResponse) -> Result<Body, AppError> {
        let bytes = environ.input.read_all()?;
        sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
        Ok(Body::from(format!("got {}", bytes.len())))
    }

    fn post(body: &[u8], content_length: bool) -> Environ {
        let mut environ = request("POST", "/upload");
        if content_length {
            environ.set("CONTENT_LENGTH", body.len().to_string());
            environ.input = Input::from_bytes(body.to_vec());
        } else {
            // A chunked body: the server's input ends where the body ends.
            environ.input = Input::new(Cursor::new(body.to_vec()));
        }
        environ
    }

    #[test]
    fn a_known_length_over_the_limit_is_refused_before_the_app_runs() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let app = move |environ: Environ, sr: StartResponse| {
            counter.fetch_add(1, Ordering::SeqCst);
            upload(environ, sr)
        };
        let limited = BodyLimit::new(app, BodyLimitLayer::new(10));
        let response = run(&limited, post(&[b'x'; 11], true));
        assert_eq!(response.code(), Some(413));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert_eq!(run(&limited, post(&[b'x'; 10], true)).text(), "got 10");
    }

    #[test]
    fn an_unknown_length_is_cut_at_the_limit() {
        let limited = BodyLimit::new(upload, BodyLimitLayer::new(10));
        assert_eq!(run(&limited, post(&[b'x'; 10], false)).text(), "got 10");
        let response = run(&limited, post(&[b'x'; 11], false));
        assert_eq!(response.code(), Some(413));
        assert!(response.text().contains("over 10 bytes"));
        assert!(response.error.is_none());
    }

    #[test]
    fn a_read_past_the_limit_fails_with_body_too_large() {
        let seen = Arc::new(std::sync::Mutex::new(String::new()));
        let report = Arc::clone(&seen);
        let app = move |mut environ: Environ, sr: StartResponse| -> Result<Body, AppError> {
            let mut buf = [0u8; 4];
            let mut total = 0;
            let outcome = loop {
                match environ.input.read(&mut buf) {
                    Ok(0) => break "end".to_owned(),
                    Ok(n) => total += n,
                    Err(e) => {
                        let inner = e.get_ref().and_then(|i| i.downcast_ref::<BodyTooLarge>());
                        break format!("{inner:?}");
                    }
                }
            };
            *report.lock().unwrap() = format!("{total} {outcome}");
            sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
            Ok(Body::from("everything is fine"))
        };
        let limited = BodyLimit::new(app, BodyLimitLayer::new(6));
        let response = run(&limited, post(b"0123456789", false));
        assert_eq!(*seen.lock().unwrap(), "6 Some(BodyTooLarge { limit: 6 })");
        assert_eq!(
            response.code(),
            Some(413),
            "the answer built on a cut-off body is replaced"
        );
        assert!(!response.text().contains("fine"));
    }

    #[test]
    fn an_app_that_answers_after_the_failed_read_still_gets_413() {
        let forgiving = |mut environ: Environ, sr: StartResponse| -> Result<Body, AppError> {
            let outcome = environ.input.read_all();
            sr.call(
                "400 Bad Request",
                vec![("Content-Type".into(), "text/plain".into())],
            )?;
            Ok(Body::from(format!("could not read: {}", outcome.is_err())))
        };
        let limited = BodyLimit::new(forgiving, BodyLimitLayer::new(4));
        let response = run(&limited, post(b"abcdefgh", false));
        assert_eq!(response.code(), Some(413));
        assert!(
            response.text().contains("over 4 bytes"),
            "{}",
            response.text()
        );
        assert_eq!(
            response.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
    }

    #[test]
    fn an_invalid_header_after_the_failed_read_is_still_the_apps_error() {
        let refused = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&refused);
        let careless = move |mut environ: Environ, sr: StartResponse| -> Result<Body, AppError> {
            let _ = environ.input.read_all();
            let call = sr.call("400 Bad Request", vec![("X-Bad".into(), "a\rb".into())]);
            // The refused call counts, as without the layer: a plain retry
            // is refused too.
            let retry = sr.call("400 Bad Request", vec![]);
            if call.is_err() && retry.is_err() {
                count.fetch_add(1, Ordering::SeqCst);
            }
            call?;
            Ok(Body::from("never sent"))
        };
        let limited = BodyLimit::new(careless, BodyLimitLayer::new(4));
        let response = run(&limited, post(b"abcdefgh", false));
        assert_eq!(refused.load(Ordering::SeqCst), 1, "both calls failed");
        assert_eq!(response.code(), Some(413));
        assert_eq!(response.header("X-Bad"), None);
    }

    #[test]
    fn a_lazy_reader_in_the_body_also_gets_413() {
        let lazy = |environ: Environ, sr: StartResponse| -> Result<Body, AppError> {
            let mut environ = Some(environ);
            Ok(Body::from_fn(move || {
                let mut environ = environ.take()?;
                Some(
                    environ
                        .input
                        .read_all()
                        .map_err(AppError::from)
                        .and_then(|bytes| {
                            sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
                            Ok(bytes)
                        }),
                )
            }))
        };
        let limited = BodyLimit::new(lazy, BodyLimitLayer::new(4));
        assert_eq!(run(&limited, post(b"abcdefgh", false)).code(), Some(413));
        assert_eq!(run(&limited, post(b"abcd", false)).text(), "abcd");
    }
}
