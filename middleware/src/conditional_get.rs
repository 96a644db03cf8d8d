//! `ConditionalGet`: `304 Not Modified` for a `GET` or `HEAD` whose
//! `If-None-Match` or `If-Modified-Since` says the client's copy is current.
//!
//! The rules are RFC 9110 section 13: `If-None-Match` is compared with the
//! response's `ETag` (weak comparison, `*` matches any); only when the
//! request has no `If-None-Match` is `If-Modified-Since` compared with the
//! response's `Last-Modified`. The functions are shared with
//! [`StaticFiles`](crate::StaticFiles), which answers 304 for files.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gateway_spec::{
    validate_headers, AppError, Application, Body, Environ, Headers, HeadersExt, StartResponse,
};

use crate::layer::Layer;

/// Whether the client's validators say its copy is current.
pub(crate) fn is_not_modified(
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
    etag: Option<&str>,
    last_modified: Option<SystemTime>,
) -> bool {
    if let Some(candidates) = if_none_match {
        return etag.is_some_and(|etag| etag_matches(candidates, etag));
    }
    match (if_modified_since.and_then(parse_date), last_modified) {
        // HTTP dates have whole seconds: compare at that precision.
        (Some(since), Some(modified)) => whole_seconds(modified) <= since,
        _ => false,
    }
}

/// Weak comparison of `etag` with a list of entity tags or `*`.
pub(crate) fn etag_matches(candidates: &str, etag: &str) -> bool {
    if candidates.trim() == "*" {
        return true;
    }
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let wanted = opaque(etag);
    split_entity_tags(candidates).any(|candidate| opaque(candidate) == wanted)
}

/// The entity tags of a comma-separated list, commas inside quotes kept.
fn split_entity_tags(list: &str) -> impl Iterator<Item = &str> {
    let mut in_quotes = false;
    list.split(move |c: char| {
        if c == '"' {
            in_quotes = !in_quotes;
        }
        c == ',' && !in_quotes
    })
    .map(str::trim)
    .filter(|tag| !tag.is_empty())
}

fn parse_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value.trim()).ok()
}

fn whole_seconds(time: SystemTime) -> SystemTime {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// Drop what describes a body from a 304's headers (RFC 9110 section
/// 15.4.5): the client keeps its own copy's.
pub(crate) fn not_modified_headers(mut headers: Headers) -> Headers {
    headers.retain(|(name, _)| {
        let name = name.to_ascii_lowercase();
        !name.starts_with("content-") || name == "content-location"
    });
    headers
}

/// The settings of [`ConditionalGet`]: there are none.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConditionalGetLayer;

/// An application whose unchanged responses become `304 Not Modified`.
///
/// Only `200` responses to `GET` and `HEAD` that carry an `ETag` or a
/// `Last-Modified` are turned into 304s; the inner body is then closed
/// without being read. The application still does its work: to save that
/// too, it must check the validators itself.
#[derive(Debug)]
pub struct ConditionalGet<A> {
    inner: A,
}

impl<A: Application> ConditionalGet<A> {
    /// Answer 304 for `inner`'s unchanged responses.
    pub fn new(inner: A, _layer: ConditionalGetLayer) -> ConditionalGet<A> {
        ConditionalGet { inner }
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

impl<A: Application> Application for ConditionalGet<A> {
    fn call(&self, environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        let method = environ.request_method();
        let if_none_match = environ.header("If-None-Match").map(str::to_owned);
        let if_modified_since = environ.header("If-Modified-Since").map(str::to_owned);
        let conditional = if_none_match.is_some() || if_modified_since.is_some();
        if !(method == "GET" || method == "HEAD") || !conditional {
            return self.inner.call(environ, start_response);
        }
        let not_modified = Rc::new(Cell::new(false));
        let decided = Rc::clone(&not_modified);
        let outer = start_response;
        let start_response = StartResponse::wrap(move |status, headers, exc_info| {
            let current = status.starts_with("200 ")
                && is_not_modified(
                    if_none_match.as_deref(),
                    if_modified_since.as_deref(),
                    headers.get_header("ETag"),
                    headers.get_header("Last-Modified").and_then(parse_date),
                );
            // An invalid header goes on as it came, for the server's handle
            // to refuse (and count as the call, as without this layer),
            // before a 304 could drop it: the application's error whatever
            // the request asked.
            let current = current && validate_headers(&headers).is_ok();
            decided.set(current);
            if current {
                return outer.forward("304 Not Modified", not_modified_headers(headers), exc_info);
            }
            outer.forward(status, headers, exc_info)
        });
        let body = self.inner.call(environ, start_response)?;
        if not_modified.get() {
            return Ok(Body::empty()); // dropping `body` closes it unread
        }
        // start_response may still come from the body's first step.
        let mut inner = Some(body);
        Ok(Body::from_fn(move || {
            let step = inner.as_mut()?.next();
            if not_modified.get() {
                inner = None;
                return None;
            }
            step
        }))
    }
}

impl<A: Application> Layer<A> for ConditionalGetLayer {
    type Wrapped = ConditionalGet<A>;

    fn layer(self, inner: A) -> ConditionalGet<A> {
        ConditionalGet::new(inner, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{get, request, run, Response};

    const MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

    #[test]
    fn an_invalid_header_is_refused_even_when_the_answer_would_be_304() {
        let retries = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = std::sync::Arc::clone(&retries);
        let app = move |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
            let headers: Headers = vec![
                ("ETag".into(), "\"v1\"".into()),
                (
                    "Content-Type".into(),
                    "text/html\r\nSet-Cookie: forged=1".into(),
                ),
            ];
            let refused = sr.call("200 OK", headers);
            // As without the layer, the refused call counts: a plain retry
            // is refused too (a retry needs exc_info).
            let retry = sr.call("200 OK", vec![]).map_err(|e| e.to_string());
            if let Ok(mut seen) = seen.lock() {
                seen.push(retry);
            }
            refused?;
            Ok(Body::from("page!"))
        };
        for conditional in [true, false] {
            let mut environ = get("/");
            if conditional {
                environ.set("HTTP_IF_NONE_MATCH", "\"v1\"");
            }
            let layer = ConditionalGet::new(app.clone(), ConditionalGetLayer);
            let response = run(&layer, environ);
            let error = response.error.map(|e| e.to_string()).unwrap_or_default();
            assert!(
                error.contains("Content-Type"),
                "conditional {conditional}: {error:?}"
            );
            assert_eq!(response.status, None, "nothing was started");
        }
        let already = gateway_spec::StartResponseError::AlreadyStarted.to_string();
        let retries = retries.lock().map(|r| r.clone()).unwrap_or_default();
        assert_eq!(retries, vec![Err(already.clone()), Err(already)]);
    }

    fn page(lazy: bool) -> impl Application {
        move |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
            let headers: Headers = vec![
                ("Content-Type".into(), "text/html".into()),
                ("Content-Length".into(), "5".into()),
                ("ETag".into(), "\"v1\"".into()),
                ("Last-Modified".into(), MODIFIED.into()),
                ("Cache-Control".into(), "max-age=60".into()),
            ];
            if !lazy {
                sr.call("200 OK", headers)?;
                return Ok(Body::from("page!"));
            }
            let mut first = true;
            Ok(Body::from_fn(move || {
                std::mem::take(&mut first).then(|| {
                    sr.call("200 OK", headers.clone())
                        .map(|()| b"page!".to_vec())
                })
            }))
        }
    }

    fn with(headers: &[(&'static str, &'static str)], lazy: bool) -> Response {
        let mut environ = get("/");
        for (key, value) in headers {
            environ.set(*key, *value);
        }
        run(
            &ConditionalGet::new(page(lazy), ConditionalGetLayer),
            environ,
        )
    }

    #[test]
    fn a_matching_etag_gets_304_without_body_headers() {
        for lazy in [false, true] {
            let response = with(&[("HTTP_IF_NONE_MATCH", "\"v0\", W/\"v1\"")], lazy);
            assert_eq!(response.code(), Some(304), "lazy: {lazy}");
            assert!(response.body().is_empty());
            assert_eq!(response.header("ETag"), Some("\"v1\""));
            assert_eq!(response.header("Cache-Control"), Some("max-age=60"));
            assert_eq!(response.header("Content-Length"), None);
            assert_eq!(response.header("Content-Type"), None);
        }
    }

    #[test]
    fn a_different_etag_gets_the_page() {
        for lazy in [false, true] {
            let response = with(&[("HTTP_IF_NONE_MATCH", "\"v2\"")], lazy);
            assert_eq!(
                (response.code(), response.text().as_str()),
                (Some(200), "page!")
            );
        }
    }

    #[test]
    fn if_modified_since_compares_dates() {
        assert_eq!(
            with(&[("HTTP_IF_MODIFIED_SINCE", MODIFIED)], false).code(),
            Some(304)
        );
        let later = "Thu, 22 Oct 2015 07:28:00 GMT";
        assert_eq!(
            with(&[("HTTP_IF_MODIFIED_SINCE", later)], false).code(),
            Some(304)
        );
        let earlier = "Tue, 20 Oct 2015 07:28:00 GMT";
        assert_eq!(
            with(&[("HTTP_IF_MODIFIED_SINCE", earlier)], false).code(),
            Some(200)
        );
        assert_eq!(
            with(&[("HTTP_IF_MODIFIED_SINCE", "yesterday")], false).code(),
            Some(200)
        );
    }

    #[test]
    fn if_none_match_wins_over_if_modified_since() {
        let response = with(
            &[
                ("HTTP_IF_NONE_MATCH", "\"v2\""),
                ("HTTP_IF_MODIFIED_SINCE", MODIFIED),
            ],
            false,
        );
        assert_eq!(response.code(), Some(200));
    }

    #[test]
    fn only_get_and_head_are_conditional_here() {
        let mut environ = request("POST", "/");
        environ.set("HTTP_IF_NONE_MATCH", "*");
        let response = run(
            &ConditionalGet::new(page(false), ConditionalGetLayer),
            environ,
        );
        assert_eq!(response.code(), Some(200));
    }

    #[test]
    fn etag_lists_are_parsed_with_quotes() {
        assert!(etag_matches("*", "\"x\""));
        assert!(etag_matches("\"a,b\", \"c\"", "\"a,b\""));
        assert!(etag_matches("W/\"c\"", "\"c\""));
        assert!(!etag_matches("\"a\"", "\"b\""));
    }
}
