//! Stage 6, running the application: wsgiref's `ServerHandler.run(app)`.
//!
//! This is where the two sides of the gateway meet. The handler calls the
//! application with the environ and a fresh `start_response`, pulls the body
//! chunk by chunk, sends the head only when the first non-empty chunk (or the
//! end) arrives, and closes the body on every path. Errors and panics become a
//! `500` while nothing has been sent, and a closed connection afterwards.
//! Next stage: `response_writer.rs`.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use gateway_spec::{AppError, Application, Body, Environ, ResponseRecord, StartResponse};

use crate::response_writer::{HeadError, ResponseWriter};

/// What an exchange produced, for the access log and the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome {
    pub(crate) status: u16,
    pub(crate) body_bytes: u64,
    pub(crate) keep_alive: bool,
    /// Response bytes are left for the poller to send to a slow reader.
    pub(crate) output_waiting: bool,
    /// The socket was switched to blocking mode (the caller restores it).
    pub(crate) blocking: bool,
}

/// Runs one application call for one request.
pub(crate) struct Handler<'a> {
    // Configuration for this request.
    writer: ResponseWriter<'a>,
    request_line: &'a dyn std::fmt::Display,
    // State, shared with the application through `start_response`.
    start_response: StartResponse,
    record: ResponseRecord,
}

impl std::fmt::Debug for Handler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("request_line", &self.request_line.to_string())
            .finish_non_exhaustive()
    }
}

impl<'a> Handler<'a> {
    pub(crate) fn new(
        writer: ResponseWriter<'a>,
        request_line: &'a dyn std::fmt::Display,
    ) -> Handler<'a> {
        let (start_response, record) = StartResponse::new();
        Handler {
            writer,
            request_line,
            start_response,
            record,
        }
    }

    /// Invoke the application and send its response: the whole protocol.
    pub(crate) fn run(mut self, app: &dyn Application, environ: Environ) -> Outcome {
        let start_response = self.start_response.clone();
        // A panic is caught once, here at the application boundary, and goes
        // down the same path as an error (rouille, tower-http CatchPanic).
        let result = catch_unwind(AssertUnwindSafe(|| app.call(environ, start_response)));
        match result {
            Ok(Ok(body)) => self.finish_response(body),
            Ok(Err(err)) => self.handle_error(err),
            Err(panic) => self.handle_error(panic_error(panic)),
        }
        Outcome {
            status: self.writer.status_code(),
            body_bytes: self.writer.body_bytes(),
            keep_alive: self.writer.keep_alive(),
            output_waiting: self.writer.output_waiting(),
            blocking: self.writer.switched_to_blocking(),
        }
    }

    /// Send every chunk of the body, then close it.
    fn finish_response(&mut self, mut body: Body) {
        loop {
            // `next_chunk`, not `next`: a constant body is written from where
            // it lies, with no copy.
            match catch_unwind(AssertUnwindSafe(|| body.next_chunk())) {
                Ok(None) => break,
                Ok(Some(Ok(chunk))) if chunk.is_empty() => {}
                Ok(Some(Ok(chunk))) => {
                    // PEP 3333: the head waits for the first non-empty chunk;
                    // if it is also the last, its length is the body's.
                    let only_chunk = body.exact_len() == Some(0);
                    if !self.writer.head_sent() {
                        if let Err(err) =
                            self.send_headers(only_chunk.then_some(chunk.len() as u64))
                        {
                            return self.close_then_handle_error(body, err);
                        }
                    }
                    if self.writer.write_body(&chunk).is_err() || self.writer.is_full() {
                        break; // client gone, or Content-Length reached
                    }
                }
                Ok(Some(Err(err))) => return self.close_then_handle_error(body, err),
                Err(panic) => return self.close_then_handle_error(body, panic_error(panic)),
            }
        }
        // An empty body: the head goes out now, with Content-Length: 0.
        if !self.writer.head_sent() {
            if let Err(err) = self.send_headers(Some(0)) {
                return self.close_then_handle_error(body, err);
            }
        }
        let _ = self.writer.finish();
        close(body);
    }

    /// PEP 3333 rule 9: the application must have called `start_response`
    /// by the time its body yields bytes or ends.
    fn send_headers(&mut self, known_len: Option<u64>) -> Result<(), AppError> {
        let (status, headers) = self
            .record
            .send_headers()
            .ok_or("the application returned a body without calling start_response")?;
        match self.writer.send_head(&status, &headers, known_len) {
            Ok(()) => Ok(()),
            Err(HeadError::BadContentLength(v)) => Err(HeadError::BadContentLength(v).into()),
            // The client is gone; nothing more to do, and nothing to report.
            Err(HeadError::Io(_)) => Ok(()),
        }
    }

    fn close_then_handle_error(&mut self, body: Body, err: AppError) {
        close(body);
        self.handle_error(err);
    }

    /// wsgiref's `handle_error`: log, then send an error page if nothing has
    /// been sent; otherwise the response is broken and the connection closes.
    fn handle_error(&mut self, err: AppError) {
        log::error!(target: "gateway_server::app", "error in application for \"{}\": {err}", self.request_line);
        if self.writer.head_sent() {
            // Too late for a 500: leave the chunked body unterminated and
            // close, so the client sees a truncated response, not a whole one.
            self.writer.force_close();
            return;
        }
        match error_output(&self.start_response, err) {
            Ok(body) => self.finish_response(body),
            // start_response refuses a restart once it handed the head out,
            // which happens when the head itself was unusable (a bad
            // Content-Length): answer without it.
            Err(_) => self.send_fallback_error(),
        }
    }

    fn send_fallback_error(&mut self) {
        let headers = vec![("Content-Type".into(), "text/plain; charset=utf-8".into())];
        let page = ERROR_BODY.as_bytes();
        if self
            .writer
            .send_head(
                "500 Internal Server Error",
                &headers,
                Some(page.len() as u64),
            )
            .is_ok()
        {
            let _ = self.writer.write_body(page);
            let _ = self.writer.finish();
        }
    }
}

/// The text of the error page (wsgiref's `error_body`).
const ERROR_BODY: &str = "A server error occurred.  Please contact the administrator.\n";

/// The error page, itself a tiny application (wsgiref's `error_output`): it
/// restarts the response with `exc_info`, which succeeds because nothing was
/// sent. Details stay in the log, never in the page.
fn error_output(start_response: &StartResponse, exc_info: AppError) -> Result<Body, AppError> {
    start_response.call_with_error(
        "500 Internal Server Error",
        vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
        exc_info,
    )?;
    Ok(Body::from(ERROR_BODY))
}

/// PEP 3333's `close()`: drop the body. A panic in a close step must not take
/// the worker down, so it is caught and logged like any other.
fn close(body: Body) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| drop(body))) {
        log::error!(target: "gateway_server::app", "panic while closing a response body: {}", panic_error(panic));
    }
}

/// Turn a panic payload into an error that says what the panic said.
fn panic_error(panic: Box<dyn Any + Send>) -> AppError {
    let message = match panic.downcast::<String>() {
        Ok(text) => *text,
        Err(panic) => match panic.downcast::<&'static str>() {
            Ok(text) => (*text).to_owned(),
            Err(_) => "a panic with a non-string payload".to_owned(),
        },
    };
    format!("application panicked: {message}").into()
}
