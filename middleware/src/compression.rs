//! `Compression`: gzip or deflate response bodies, chunk by chunk.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use flate2::write::{GzEncoder, ZlibEncoder};
use gateway_spec::{
    validate_headers, AppError, Application, Body, Chunk, Environ, Headers, HeadersExt,
    StartResponse, StartResponseError,
};

use crate::layer::Layer;
use crate::vary::add_vary;

/// The settings of [`Compression`].
///
/// ```
/// use middleware::CompressionLayer;
/// let layer = CompressionLayer { min_size: 256, level: 9, ..CompressionLayer::default() };
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressionLayer {
    /// Bodies known to be smaller than this many bytes are sent as they are:
    /// compressing them costs more than it saves. Default: 1024.
    pub min_size: u64,
    /// Compression level, 0 (none) to 9 (smallest, slowest). Default: 6.
    pub level: u32,
    /// Offer `gzip`. Default: `true`.
    pub gzip: bool,
    /// Offer `deflate` (the zlib format, RFC 9110 section 8.4.1.2). Default: `true`.
    pub deflate: bool,
}

impl Default for CompressionLayer {
    fn default() -> CompressionLayer {
        CompressionLayer {
            min_size: 1024,
            level: 6,
            gzip: true,
            deflate: true,
        }
    }
}

/// A content coding this layer can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// The coding the client prefers among those enabled, from its
/// `Accept-Encoding` (`gzip;q=0.8, deflate`, `*`, `gzip;q=0` refusing).
/// Ties go to gzip.
fn negotiate(accept_encoding: Option<&str>, layer: &CompressionLayer) -> Option<Coding> {
    let accept = accept_encoding?;
    let weight = |name: &str| -> f32 {
        let mut star = None;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
                .unwrap_or(0.0);
            if coding.eq_ignore_ascii_case(name) {
                return q;
            }
            if coding == "*" {
                star = Some(q);
            }
        }
        star.unwrap_or(0.0)
    };
    let mut candidates = Vec::new();
    if layer.gzip {
        candidates.push((Coding::Gzip, weight("gzip")));
    }
    if layer.deflate {
        candidates.push((Coding::Deflate, weight("deflate")));
    }
    candidates
        .into_iter()
        .filter(|(_, q)| *q > 0.0)
        .fold(
            None,
            |best: Option<(Coding, f32)>, (coding, q)| match best {
                Some((_, best_q)) if best_q >= q => best,
                _ => Some((coding, q)),
            },
        )
        .map(|(coding, _)| coding)
}

/// Whether a body of this type shrinks when compressed: text and the
/// structured text formats, not images, audio, video or archives (already
/// compressed). Server-sent events are left alone, as tower-http does:
/// some proxies hold compressed event streams back.
fn is_compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "text/event-stream" {
        return false;
    }
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/wasm"
                | "image/svg+xml"
        )
}

/// Whether this response may be compressed at all (whatever the client accepts).
fn is_eligible(code: u16, headers: &Headers) -> bool {
    let no_body = (100..200).contains(&code) || code == 204 || code == 304;
    let encoded = headers
        .get_header("Content-Encoding")
        .is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity"));
    let no_transform = headers
        .get_header("Cache-Control")
        .is_some_and(|c| c.to_ascii_lowercase().contains("no-transform"));
    let compressible = headers
        .get_header("Content-Type")
        .is_some_and(is_compressible);
    // A 206 is part of a representation: compressing it would make its
    // Content-Range wrong.
    !no_body && code != 206 && !encoded && !no_transform && compressible
}

/// A streaming encoder: each chunk in gives the compressed bytes for it,
/// flushed so that a streamed response still streams.
enum Encoder {
    Gzip(GzEncoder<Vec<u8>>),
    Deflate(ZlibEncoder<Vec<u8>>),
}

impl Encoder {
    fn new(coding: Coding, level: u32) -> Encoder {
        let level = flate2::Compression::new(level.min(9));
        match coding {
            Coding::Gzip => Encoder::Gzip(GzEncoder::new(Vec::new(), level)),
            Coding::Deflate => Encoder::Deflate(ZlibEncoder::new(Vec::new(), level)),
        }
    }

    /// Compress `chunk` and sync-flush: the output decodes to every input so far.
    fn compress(&mut self, chunk: &[u8]) -> std::io::Result<Vec<u8>> {
        if chunk.is_empty() {
            // PEP 3333 rule 45: still one value out for the value in.
            return Ok(Vec::new());
        }
        match self {
            Encoder::Gzip(encoder) => {
                encoder.write_all(chunk)?;
                encoder.flush()?;
                Ok(std::mem::take(encoder.get_mut()))
            }
            Encoder::Deflate(encoder) => {
                encoder.write_all(chunk)?;
                encoder.flush()?;
                Ok(std::mem::take(encoder.get_mut()))
            }
        }
    }

    /// The end of the stream (and, for gzip, the checksum trailer).
    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Deflate(e) => e.finish(),
        }
    }
}

/// What one request's `start_response` wrapper and body share.
///
/// The inner application's status and headers are held back until the
/// body is known (after `call` returns) or its first chunk is made, so a
/// single-chunk body's size can decide whether compressing is worth it.
/// Holding them is allowed: PEP 3333 lets headers wait for the first chunk.
#[derive(Default)]
struct Exchange {
    held: Option<(String, Headers)>,
    /// Set once the head went to the outer `start_response`.
    forwarded: bool,
    encoder: Option<Encoder>,
}

/// An application whose responses are compressed for clients that accept it.
///
/// A response is compressed when the client accepts `gzip` or `deflate`
/// (`Accept-Encoding`, q-values honoured, `gzip` preferred on a tie), the
/// request is not `HEAD`, the status is not 1xx, 204, 206 or 304, the
/// `Content-Type` is compressible (text, JSON, JavaScript, XML, SVG, WASM),
/// there is no `Content-Encoding` yet nor `Cache-Control: no-transform`,
/// and the body is not known to be smaller than
/// [`min_size`](CompressionLayer::min_size) (known from `Content-Length`
/// or a single-chunk body).
///
/// Then `Content-Encoding` is set, `Content-Length` is removed (the server
/// frames the body), a strong `ETag` becomes weak (the bytes differ, the
/// meaning does not), and each chunk is compressed and flushed as it comes:
/// one chunk out per chunk in, so streamed responses keep streaming (PEP
/// 3333 rules 44-45). Every response that could have been compressed gets
/// `Vary: Accept-Encoding`, so caches keep the versions apart.
///
/// An error page given with `exc_info` goes out uncompressed.
#[derive(Debug)]
pub struct Compression<A> {
    inner: A,
    layer: CompressionLayer,
}

impl<A: Application> Compression<A> {
    /// Compress `inner`'s responses.
    pub fn new(inner: A, layer: CompressionLayer) -> Compression<A> {
        Compression { inner, layer }
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

/// The per-request decision: everything needed to turn a held head into
/// the head sent and an encoder.
#[derive(Clone, Copy)]
struct Plan {
    coding: Option<Coding>,
    layer: CompressionLayer,
}

impl Plan {
    /// Forward the held head, changed for compression if it applies.
    fn forward(
        &self,
        exchange: &RefCell<Exchange>,
        outer: &StartResponse,
        body_len: Option<u64>,
    ) -> Result<(), AppError> {
        let mut state = exchange.borrow_mut();
        let Some((status, mut headers)) = state.held.take() else {
            return Ok(());
        };
        state.forwarded = true;
        let code = status.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        if is_eligible(code, &headers) {
            add_vary(&mut headers, "Accept-Encoding");
            let declared = headers
                .get_header("Content-Length")
                .and_then(|v| v.parse().ok());
            let small = declared
                .or(body_len)
                .is_some_and(|len| len < self.layer.min_size);
            if let (Some(coding), false) = (self.coding, small) {
                headers.remove_header("Content-Length");
                headers.set_header("Content-Encoding", coding.name());
                if let Some(etag) = headers.get_header("ETag").filter(|e| !e.starts_with("W/")) {
                    let weak = format!("W/{etag}");
                    headers.set_header("ETag", weak);
                }
                state.encoder = Some(Encoder::new(coding, self.layer.level));
            }
        }
        drop(state);
        outer.call(&status, headers)
    }
}

impl<A: Application> Application for Compression<A> {
    fn call(&self, environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        if environ.request_method() == "HEAD" {
            return self.inner.call(environ, start_response);
        }
        let plan = Plan {
            coding: negotiate(environ.header("Accept-Encoding"), &self.layer),
            layer: self.layer,
        };
        let exchange = Rc::new(RefCell::new(Exchange::default()));
        let outer = start_response;
        let shared = Rc::clone(&exchange);
        let forward_to = outer.clone();
        let start_response = StartResponse::wrap(move |status, headers, exc_info| {
            let mut state = shared.borrow_mut();
            if exc_info.is_some() {
                // An error page replaces whatever was held, uncompressed.
                state.held = None;
                state.encoder = None;
                state.forwarded = true;
                drop(state);
                return forward_to.forward(status, headers, exc_info);
            }
            if state.held.is_some() || state.forwarded {
                return Err(StartResponseError::AlreadyStarted.into());
            }
            // Held, not forwarded, unless invalid: a bad header goes on at
            // once, for the server's handle to refuse (and count as the
            // call, as without this layer), so it is the application's
            // error from its own call.
            if validate_headers(&headers).is_err() {
                state.forwarded = true;
                drop(state);
                return forward_to.forward(status, headers, exc_info);
            }
            state.held = Some((status.to_owned(), headers));
            Ok(())
        });
        let body = self.inner.call(environ, start_response)?;
        plan.forward(&exchange, &outer, body.exact_len())?;
        let mut inner = Some(body);
        let mut finished = false;
        Ok(Body::from_fn(move || {
            if finished {
                return None;
            }
            let step = inner.as_mut().and_then(Iterator::next);
            // A lazy application started its response in that step.
            if let Err(error) = plan.forward(&exchange, &outer, None) {
                finished = true;
                return Some(Err(error));
            }
            let step = compress_step(&exchange, step);
            if step.is_none() {
                finished = true;
                inner = None;
            }
            step
        }))
    }
}

/// Compress one step of the inner body; at its end, flush the encoder's tail.
fn compress_step(exchange: &RefCell<Exchange>, step: Option<Chunk>) -> Option<Chunk> {
    let mut state = exchange.borrow_mut();
    match step {
        Some(Ok(chunk)) => match state.encoder.as_mut() {
            Some(encoder) => Some(encoder.compress(&chunk).map_err(AppError::from)),
            None => Some(Ok(chunk)),
        },
        Some(Err(error)) => Some(Err(error)),
        None => {
            let tail = state.encoder.take()?.finish();
            match tail {
                Ok(tail) if tail.is_empty() => None,
                Ok(tail) => Some(Ok(tail)),
                Err(error) => Some(Err(error.into())),
            }
        }
    }
}

impl<A: Application> Layer<A> for CompressionLayer {
    type Wrapped = Compression<A>;

    fn layer(self, inner: A) -> Compression<A> {
        Compression::new(inner, self)
    }
}

#[cfg(test)]
mod tests;
