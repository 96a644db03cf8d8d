//! The shapes of the functions an app calls, boxed so routes of different
//! closure types live in one table. Users never name these: they pass plain
//! closures or `fn`s to [`App::get`](crate::App::get) and friends.

use std::sync::Arc;

use crate::error::HttpError;
use crate::into_response::IntoResponse;
use crate::request::Request;
use crate::response::Response;

/// A route's handler, already converting its result into a [`Response`].
/// It takes `&mut Request` so a blueprint can run its own before-hooks in
/// front of it; the user's function only ever sees `&Request`.
pub(crate) type Handler = Arc<dyn Fn(&mut Request) -> Response + Send + Sync>;

/// Runs before the handler; `Some(response)` answers the request early.
pub(crate) type BeforeHook = Arc<dyn Fn(&mut Request) -> Option<Response> + Send + Sync>;

/// Runs after the handler (or an early answer) and may change the response.
pub(crate) type AfterHook = Arc<dyn Fn(&Request, &mut Response) + Send + Sync>;

/// Turns an [`HttpError`] of one status into a custom page.
pub(crate) type ErrorHandler = Arc<dyn Fn(&Request, &HttpError) -> Response + Send + Sync>;

/// Put a blueprint's hooks around one of its handlers, so they run only for
/// the blueprint's routes (Flask's `Blueprint.before_request`).
pub(crate) fn with_hooks(
    handler: Handler,
    before: Arc<[BeforeHook]>,
    after: Arc<[AfterHook]>,
) -> Handler {
    if before.is_empty() && after.is_empty() {
        return handler;
    }
    Arc::new(move |request: &mut Request| {
        let early = before.iter().find_map(|hook| hook(request));
        let mut response = early.unwrap_or_else(|| handler(request));
        for hook in after.iter() {
            hook(request, &mut response);
        }
        response
    })
}

/// Box a user's handler, converting what it returns into a [`Response`].
pub(crate) fn handler<F, R>(handler: F) -> Handler
where
    F: Fn(&Request) -> R + Send + Sync + 'static,
    R: IntoResponse,
{
    Arc::new(move |request: &mut Request| handler(request).into_response())
}

/// Box a user's error handler, converting what it returns.
pub(crate) fn error_handler<F, R>(handler: F) -> ErrorHandler
where
    F: Fn(&Request, &HttpError) -> R + Send + Sync + 'static,
    R: IntoResponse,
{
    Arc::new(move |request: &Request, error: &HttpError| handler(request, error).into_response())
}
