//! A tiny in-process gateway for this crate's unit tests: it calls an
//! application the way a server does (headers sent at the first non-empty
//! chunk or at the end) and keeps what a client would have seen.

use gateway_spec::{AppError, Application, Body, Environ, Headers, HeadersExt, StartResponse};

/// What came back from one request.
#[derive(Debug)]
pub(crate) struct Response {
    /// The status line, once the application started a response.
    pub(crate) status: Option<String>,
    pub(crate) headers: Headers,
    /// Every chunk the body yielded, empty ones included.
    pub(crate) chunks: Vec<Vec<u8>>,
    /// The error that ended the request, if any (a server would answer 500
    /// or cut the connection).
    pub(crate) error: Option<AppError>,
}

impl Response {
    pub(crate) fn code(&self) -> Option<u16> {
        self.status.as_deref()?.get(..3)?.parse().ok()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_header(name)
    }

    pub(crate) fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body()).into_owned()
    }
}

/// Run `app` for `environ` and pull its whole body.
pub(crate) fn run(app: &impl Application, environ: Environ) -> Response {
    let (start_response, record) = StartResponse::new();
    let mut response = Response {
        status: None,
        headers: Vec::new(),
        chunks: Vec::new(),
        error: None,
    };
    let body = match app.call(environ, start_response) {
        Ok(body) => body,
        Err(error) => {
            response.error = Some(error);
            response.status = record.status();
            response.headers = record.headers().unwrap_or_default();
            return response;
        }
    };
    let send = |response: &mut Response| {
        if let Some((status, headers)) = record.send_headers() {
            response.status = Some(status.into_owned());
            response.headers = headers;
        }
    };
    for chunk in body {
        match chunk {
            Ok(bytes) => {
                if !bytes.is_empty() {
                    send(&mut response);
                }
                response.chunks.push(bytes);
            }
            Err(error) => {
                response.error = Some(error);
                break;
            }
        }
    }
    if response.error.is_some() && response.status.is_none() {
        response.status = record.status();
        response.headers = record.headers().unwrap_or_default();
    } else {
        send(&mut response);
    }
    response
}

/// An environ for `METHOD path` with the test defaults.
pub(crate) fn request(method: &'static str, path: &str) -> Environ {
    let mut environ = Environ::for_test();
    environ.set("REQUEST_METHOD", method);
    environ.set("PATH_INFO", path.to_owned());
    environ
}

/// An environ for `GET path`.
pub(crate) fn get(path: &str) -> Environ {
    request("GET", path)
}

/// An application answering `200 OK` with `text` as `text/plain`.
pub(crate) fn text_app(
    text: &'static str,
) -> impl Fn(Environ, StartResponse) -> Result<Body, AppError> + Send + Sync + 'static {
    move |_env, sr| {
        sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
        Ok(Body::from(text))
    }
}
