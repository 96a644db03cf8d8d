//! `RequestId`: one identifier per request, in the environ and the response,
//! so a log line, an error report and a client's bug report can be matched.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use gateway_spec::{
    header_key, AppError, Application, Body, Environ, HeadersExt, StartResponse, Text,
};

use crate::layer::Layer;

/// The settings of [`RequestId`].
#[derive(Debug, Clone)]
pub struct RequestIdLayer {
    /// The request and response header. Default: `X-Request-Id`.
    pub header: String,
    /// Keep a valid incoming id instead of always making a new one. Turn it
    /// off when clients, not your own proxies, reach the server. Default: `true`.
    pub trust_incoming: bool,
}

impl Default for RequestIdLayer {
    fn default() -> RequestIdLayer {
        RequestIdLayer {
            header: "X-Request-Id".into(),
            trust_incoming: true,
        }
    }
}

/// The request's id, as stored in `environ.extensions`.
///
/// ```
/// # use gateway_spec::Environ;
/// use middleware::RequestIdValue;
/// # let environ = Environ::for_test();
/// if let Some(id) = environ.extensions.get::<RequestIdValue>() {
///     println!("handling request {}", id.as_str());
/// }
/// ```
#[derive(Clone)]
pub struct RequestIdValue(IdText);

/// A fresh id's 32 hex digits are kept inline: the extension's box is then
/// its only allocation. A kept incoming id has any length up to 128.
#[derive(Clone)]
enum IdText {
    Fresh([u8; 32]),
    Kept(String),
}

impl RequestIdValue {
    /// The id.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Hex digits are ASCII: the check cannot fail.
            IdText::Fresh(hex) => std::str::from_utf8(hex).unwrap_or_default(),
            IdText::Kept(text) => text,
        }
    }

    /// A new id: 32 lowercase hex digits, unique within this process.
    fn fresh() -> RequestIdValue {
        RequestIdValue(IdText::Fresh(hex(new_id())))
    }
}

/// An id given by hand, as a test or an outer layer might.
impl From<String> for RequestIdValue {
    fn from(id: String) -> RequestIdValue {
        RequestIdValue(IdText::Kept(id))
    }
}

/// Ids are equal when their text is, however each is stored.
impl PartialEq for RequestIdValue {
    fn eq(&self, other: &RequestIdValue) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RequestIdValue {}

impl std::hash::Hash for RequestIdValue {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl AsRef<str> for RequestIdValue {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for RequestIdValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestIdValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestIdValue")
            .field(&self.as_str())
            .finish()
    }
}

/// An application whose requests all carry an id.
///
/// An incoming `X-Request-Id` (set by a proxy or a calling service) is kept
/// when it looks like an identifier: 1 to 128 characters among ASCII letters,
/// digits and `-_.:+/=`. Anything else (too long, spaces, control characters
/// that could forge log lines) is replaced by a fresh id.
///
/// The application finds the id in two places: the request header variable
/// (`HTTP_X_REQUEST_ID`, now always valid) and, typed, as
/// [`RequestIdValue`] in `environ.extensions`. The response carries it in
/// the same header.
#[derive(Debug)]
pub struct RequestId<A> {
    inner: A,
    layer: RequestIdLayer,
    /// The header's name, given to each request's response hook (a literal
    /// for the default name, so the hook's copy costs nothing).
    header: HeaderName,
    /// Its environ key (`HTTP_X_REQUEST_ID`), worked out once.
    key: Text,
}

impl<A: Application> RequestId<A> {
    /// Give every request to `inner` an id.
    pub fn new(inner: A, layer: RequestIdLayer) -> RequestId<A> {
        let key = if layer.header.eq_ignore_ascii_case("x-request-id") {
            Text::Borrowed("HTTP_X_REQUEST_ID") // the default costs nothing per request
        } else {
            Text::Owned(header_key(&layer.header))
        };
        let header = if layer.header == "X-Request-Id" {
            HeaderName::Default
        } else {
            HeaderName::Custom(layer.header.as_str().into())
        };
        RequestId {
            header,
            key,
            inner,
            layer,
        }
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

/// Whether an incoming id is safe to reuse (and to write into a log line).
fn is_valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=".contains(&b))
}

/// A fresh 128-bit id. Unique, not secret: a per-process counter mixed
/// with a key drawn once per process (from the standard library's randomly
/// keyed hasher, the process id and the clock), so ids of two processes do
/// not collide; never use one as a token.
fn new_id() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: OnceLock<(u64, u64)> = OnceLock::new();
    let (key_high, key_low) = *KEYS.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let seed = RandomState::new();
        let pid = std::process::id();
        (
            seed.hash_one((pid, nanos, 1u8)),
            seed.hash_one((pid, nanos, 2u8)),
        )
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    // `mix` is a bijection: distinct counts give distinct ids.
    u128::from(mix(count ^ key_high)) << 64 | u128::from(mix(count.wrapping_add(key_low)))
}

/// `id` as 32 lowercase hex digits.
fn hex(id: u128) -> [u8; 32] {
    let mut hex = [0; 32];
    for (digits, byte) in hex.chunks_exact_mut(2).zip(id.to_be_bytes()) {
        digits.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
    }
    hex
}

/// The two hex digits of every byte value: an id takes 16 look-ups, where
/// a shift and a look-up per digit cost about 80 instructions more.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let mut pairs = [[0; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [HEX[byte >> 4], HEX[byte & 0xf]];
        byte += 1;
    }
    pairs
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The splitmix64 finalizer: scatters the bits of consecutive counts.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The response header's name: the default is a literal, which costs no
/// allocation per response; another name is shared, and copied only into
/// the response.
#[derive(Debug, Clone)]
enum HeaderName {
    Default,
    Custom(Arc<str>),
}

impl HeaderName {
    fn text(&self) -> Text {
        match self {
            HeaderName::Default => Text::Borrowed("X-Request-Id"),
            HeaderName::Custom(name) => Text::Owned(String::from(&**name)),
        }
    }
}

impl<A: Application> Application for RequestId<A> {
    fn call(&self, mut environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        let incoming = environ
            .get(&self.key)
            .filter(|id| self.layer.trust_incoming && is_valid_id(id));
        let (id, text) = match incoming {
            // A kept id is in the environ already, as it came.
            Some(text) => (RequestIdValue::from(text.to_owned()), text.to_owned()),
            None => {
                let id = RequestIdValue::fresh();
                let text = id.as_str().to_owned();
                environ.set(self.key.clone(), text.clone());
                (id, text)
            }
        };
        environ.extensions.insert(id.clone());

        // The response's copy, made now from the text at hand: the hook
        // usually runs once, and then takes it instead of making another.
        let first_copy = Cell::new(Some(text));
        let header = self.header.clone();
        let outer = start_response;
        let start_response = StartResponse::wrap(move |status, mut headers, exc_info| {
            let text = first_copy.take().unwrap_or_else(|| id.as_str().to_owned());
            let value = Text::Owned(text);
            let name = header.text();
            // Applications rarely send this header themselves: a look costs
            // less than `set_header`'s removal pass over every header.
            if headers.has_header(&name) {
                headers.set_header(name, value);
            } else {
                headers.push((name, value));
            }
            outer.forward(status, headers, exc_info)
        });
        self.inner.call(environ, start_response)
    }
}

impl<A: Application> Layer<A> for RequestIdLayer {
    type Wrapped = RequestId<A>;

    fn layer(self, inner: A) -> RequestId<A> {
        RequestId::new(inner, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{get, run, Response};

    /// Answers with the id it found in the environ, both ways.
    fn echo_id(environ: Environ, sr: StartResponse) -> Result<Body, AppError> {
        let typed = environ
            .extensions
            .get::<RequestIdValue>()
            .map(|id| id.as_str().to_owned());
        let text = format!("{:?} {:?}", typed, environ.get("HTTP_X_REQUEST_ID"));
        sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
        Ok(Body::from(text))
    }

    fn call_with(incoming: Option<&str>, layer: RequestIdLayer) -> (Response, String) {
        let mut environ = get("/");
        if let Some(id) = incoming {
            environ.set("HTTP_X_REQUEST_ID", id.to_owned());
        }
        let response = run(&RequestId::new(echo_id, layer), environ);
        let id = response
            .header("X-Request-Id")
            .expect("an id header")
            .to_owned();
        (response, id)
    }

    #[test]
    fn ids_compare_by_their_text_however_they_are_kept() {
        let fresh = RequestIdValue::fresh();
        let kept = RequestIdValue::from(fresh.as_str().to_owned());
        assert_eq!(fresh, kept);
        assert_eq!(fresh.to_string(), kept.as_ref());
        assert_ne!(fresh, RequestIdValue::fresh());
        assert_eq!(
            format!("{kept:?}"),
            format!("RequestIdValue({:?})", fresh.as_str())
        );
    }

    #[test]
    fn a_fresh_id_is_made_and_shown_on_both_sides() {
        let (response, id) = call_with(None, RequestIdLayer::default());
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(response.text(), format!("Some({id:?}) Some({id:?})"));
    }

    #[test]
    fn ids_differ_between_requests() {
        let ids: std::collections::HashSet<String> = (0..100)
            .map(|_| call_with(None, RequestIdLayer::default()).1)
            .collect();
        assert_eq!(ids.len(), 100);
    }

    #[test]
    fn a_valid_incoming_id_is_reused() {
        let (response, id) = call_with(Some("req-42.abc"), RequestIdLayer::default());
        assert_eq!(id, "req-42.abc");
        assert!(response.text().contains("req-42.abc"));
    }

    #[test]
    fn an_invalid_incoming_id_is_replaced() {
        let long = "a".repeat(129);
        for bad in ["", "has space", "line\nbreak", "quote\"", long.as_str()] {
            let (response, id) = call_with(Some(bad), RequestIdLayer::default());
            assert_ne!(id, bad);
            assert_eq!(id.len(), 32);
            assert_eq!(response.text(), format!("Some({id:?}) Some({id:?})"));
        }
    }

    /// Starts a response, then replaces it with an error page before any
    /// byte is sent (PEP 3333's `exc_info` call), echoing the typed id.
    fn replaces_its_response(environ: Environ, sr: StartResponse) -> Result<Body, AppError> {
        let typed = environ
            .extensions
            .get::<RequestIdValue>()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default();
        sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
        let failure: AppError = "the page failed after starting".into();
        sr.call_with_error("500 Internal Server Error", vec![], failure)?;
        Ok(Body::from(typed))
    }

    #[test]
    fn a_replaced_response_carries_the_same_id() {
        for incoming in [None, Some("proxy-7")] {
            let mut environ = get("/");
            if let Some(id) = incoming {
                environ.set("HTTP_X_REQUEST_ID", id);
            }
            let app = RequestId::new(replaces_its_response, RequestIdLayer::default());
            let response = run(&app, environ);
            assert_eq!(response.code(), Some(500));
            let id = response.header("X-Request-Id").expect("an id header");
            assert_eq!(id, response.text(), "{incoming:?}");
            if let Some(incoming) = incoming {
                assert_eq!(id, incoming);
            }
        }
    }

    #[test]
    fn incoming_ids_can_be_ignored_and_the_header_renamed() {
        let layer = RequestIdLayer {
            header: "X-Trace".into(),
            trust_incoming: false,
        };
        let mut environ = get("/");
        environ.set("HTTP_X_TRACE", "client-chosen");
        let response = run(&RequestId::new(echo_id, layer), environ);
        let id = response.header("X-Trace").unwrap();
        assert_ne!(id, "client-chosen");
        assert_eq!(id.len(), 32);
    }
}
