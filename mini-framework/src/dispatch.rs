//! Step one of answering a request: route it, run the before-hooks and the
//! handler, let an error handler render an error, run the after-hooks and
//! save the session. The result is a [`Response`]; `finish.rs` sends it.

use crate::app::App;
use crate::error::{abort, HttpError};
use crate::request::Request;
use crate::response::{Redirect, Response};
use crate::router::Routing;
use crate::url::encode_path;

impl App {
    /// Route `request` and produce its response (bottle's `_handle`).
    ///
    /// In order: the router picks a handler (or decides on 404, 405 with
    /// `Allow`, an automatic OPTIONS answer, or a 308 to the canonical
    /// trailing-slash form); before-hooks run and may answer early; the
    /// handler runs; an [`HttpError`] response goes to the error handler for
    /// its status, if any; after-hooks run; the session is saved.
    ///
    /// A handler that panics is not caught here: the panic reaches the
    /// server, whose job is to answer 500 and keep serving.
    ///
    /// ```
    /// use gateway_spec::Environ;
    /// use mini_framework::{App, Request};
    /// let mut app = App::new();
    /// app.get("/", |_req: &Request| "home");
    /// let mut environ = Environ::for_test();
    /// environ.set("REQUEST_METHOD", "DELETE");
    /// let mut request = app.request(environ);
    /// let response = app.dispatch(&mut request);
    /// assert_eq!(response.status(), 405);
    /// assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
    /// ```
    pub fn dispatch(&self, request: &mut Request) -> Response {
        let routing =
            self.shared
                .router
                .route(request.method(), request.path(), self.trailing_slash);
        let handler = match routing {
            Routing::Found(route, params) => {
                request.set_route(route.id(), params);
                Ok(&route.handler)
            }
            Routing::MethodNotAllowed(allow) => Err(abort(405).with_header("Allow", allow).into()),
            Routing::Options(allow) => Err(Response::new(200).with_header("Allow", allow)),
            Routing::Redirect(path) => Err(slash_redirect(request, &path)),
            Routing::NotFound => Err(abort(404).into()),
        };
        let early = self.before.iter().find_map(|hook| hook(request));
        let response = match (early, handler) {
            (Some(early), _) => early,
            (None, Ok(handler)) => handler(request),
            (None, Err(answer)) => answer,
        };
        let mut response = self.render_error(request, response);
        for hook in &self.after {
            hook(request, &mut response);
        }
        if let Some(warning) = request.save_session(&mut response) {
            request.log(&warning);
        }
        response
    }

    /// Replace an error page by the error handler registered for its status.
    fn render_error(&self, request: &Request, mut response: Response) -> Response {
        let Some(status) = response.error().map(HttpError::status) else {
            return response;
        };
        let Some(handler) = self.error_handlers.get(&status) else {
            return response;
        };
        let Some(error) = response.take_error() else {
            return response;
        };
        let mut page = handler(request, &error);
        if page.status() == 200 {
            page.set_status(status);
        }
        for (name, value) in error.headers() {
            if page.header(name).is_none() {
                page.append_header(name.clone(), value.clone());
            }
        }
        // Keep the original error so `finish` still logs a 5xx's cause.
        page.attach_error(error);
        page
    }
}

/// `308 Permanent Redirect` to `path` under the same SCRIPT_NAME, with the
/// query string kept, as werkzeug's `RequestRedirect` does.
fn slash_redirect(request: &Request, path: &str) -> Response {
    let mut location = encode_path(&format!("{}{path}", request.script_name()));
    if !request.query_string().is_empty() {
        location.push('?');
        location.push_str(request.query_string());
    }
    Redirect::permanent(location).build()
}
