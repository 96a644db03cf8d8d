//! The application side of the contract: `app(environ, start_response) -> body`.

use std::sync::Arc;

use crate::body::Body;
use crate::environ::Environ;
use crate::error::AppError;
use crate::start_response::StartResponse;

/// A web application: PEP 3333's `application(environ, start_response)`.
///
/// The server calls [`call`](Application::call) once per request. The
/// application calls `start_response` with a status and headers (now, or
/// later from its body's first step) and returns the body.
///
/// It takes `&self` and is `Send + Sync + 'static` because one application is
/// shared by every worker thread of a server (PEP 3333 rule 1: "invocable more
/// than once"); state lives behind a `Mutex` or in atomics.
///
/// A plain function is an application:
///
/// ```
/// use gateway_spec::{AppError, Body, Environ, StartResponse};
///
/// fn my_app(_environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
///     start_response.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
///     Ok(Body::from("Hello from server."))
/// }
/// # gateway_spec::assert_application(&my_app);
/// ```
///
/// So is a struct holding state:
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use gateway_spec::{AppError, Application, Body, Environ, StartResponse};
///
/// struct Counter { hits: AtomicU64 }
///
/// impl Application for Counter {
///     fn call(&self, _environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
///         let n = self.hits.fetch_add(1, Ordering::Relaxed) + 1;
///         start_response.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
///         Ok(Body::from(format!("hit number {n}")))
///     }
/// }
/// # gateway_spec::assert_application(&Counter { hits: AtomicU64::new(0) });
/// ```
pub trait Application: Send + Sync + 'static {
    /// Handle one request.
    ///
    /// # Errors
    /// Any error the application did not turn into a response itself; the
    /// server answers `500` if nothing was sent yet, and closes the
    /// connection otherwise.
    fn call(&self, environ: Environ, start_response: StartResponse) -> Result<Body, AppError>;
}

/// Any function or closure with the right signature is an application.
impl<F> Application for F
where
    F: Fn(Environ, StartResponse) -> Result<Body, AppError> + Send + Sync + 'static,
{
    fn call(&self, environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        self(environ, start_response)
    }
}

/// A shared application is an application; `Arc<dyn Application>` erases
/// the type when a program picks one of several at run time.
impl<A: Application + ?Sized> Application for Arc<A> {
    fn call(&self, environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        (**self).call(environ, start_response)
    }
}

/// Compile-time check that `app` is an [`Application`]; useful in doc tests
/// and generic code. Does nothing at run time.
pub fn assert_application<A: Application + ?Sized>(app: &A) {
    let _ = app;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::start_response::HeadersExt;
    use std::sync::Mutex;

    fn hello(_environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        start_response.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
        Ok(Body::from("Hello from server."))
    }

    /// What every gateway does, reduced to its core: call, then pull the body.
    fn run(app: &dyn Application) -> (Option<u16>, Vec<u8>) {
        let (start_response, record) = StartResponse::new();
        let body = app.call(Environ::for_test(), start_response).unwrap();
        let bytes = body.map(Result::unwrap).collect::<Vec<_>>().concat();
        (record.status_code(), bytes)
    }

    #[test]
    fn a_function_is_an_application() {
        assert_eq!(run(&hello), (Some(200), b"Hello from server.".to_vec()));
    }

    #[test]
    fn a_closure_with_captured_state_is_an_application() {
        let greeting = String::from("hi");
        let app = move |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
            sr.call("200 OK", vec![])?;
            Ok(Body::from(greeting.clone()))
        };
        assert_eq!(run(&app).1, b"hi");
    }

    #[test]
    fn a_struct_with_a_mutex_is_shared_across_threads() {
        struct Log(Mutex<Vec<String>>);
        impl Application for Log {
            fn call(&self, environ: Environ, sr: StartResponse) -> Result<Body, AppError> {
                self.0
                    .lock()
                    .map_err(|_| "poisoned")?
                    .push(environ.path_info().to_owned());
                sr.call("204 No Content", vec![])?;
                Ok(Body::empty())
            }
        }
        let app: Arc<dyn Application> = Arc::new(Log(Mutex::new(Vec::new())));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let app = Arc::clone(&app);
                std::thread::spawn(move || run(&app).0)
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), Some(204));
        }
    }

    #[test]
    fn start_response_may_be_called_lazily_from_the_body() {
        let app = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
            let mut first = true;
            Ok(Body::from_fn(move || {
                if std::mem::take(&mut first) {
                    if let Err(e) = sr.call("200 OK", vec![("X-Lazy".into(), "yes".into())]) {
                        return Some(Err(e));
                    }
                    return Some(Ok(b"late".to_vec()));
                }
                None
            }))
        };
        let (start_response, record) = StartResponse::new();
        let mut body = app(Environ::for_test(), start_response).unwrap();
        assert!(
            !record.is_started(),
            "nothing is started until the body runs"
        );
        let chunk = body.next().unwrap().unwrap();
        assert_eq!(chunk, b"late");
        assert_eq!(record.headers().unwrap().get_header("x-lazy"), Some("yes"));
    }

    #[test]
    fn an_app_can_change_its_mind_before_anything_is_sent() {
        // The PEP's error-handling idiom: try, and on failure restart with exc_info.
        let app = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
            sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
            let work: Result<Vec<u8>, AppError> = Err("database unavailable".into());
            match work {
                Ok(bytes) => Ok(Body::from(bytes)),
                Err(exc_info) => {
                    sr.call_with_error("503 Service Unavailable", vec![], exc_info)?;
                    Ok(Body::from("try again later"))
                }
            }
        };
        assert_eq!(run(&app), (Some(503), b"try again later".to_vec()));
    }
}
