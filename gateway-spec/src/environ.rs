//! `environ`: everything the server knows about one request.
//!
//! PEP 3333's environ is a dict of CGI variables (`REQUEST_METHOD`,
//! `PATH_INFO`, `HTTP_HOST`, ...) plus `wsgi.*` entries. Here the CGI variables
//! stay strings under their CGI names, so code reads like the PEP, while the
//! `wsgi.*` entries are typed fields, and values that are not strings (a
//! parsed session, a database handle) go into [`Extensions`].

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::input::{Errors, Input};

/// A string that is usually a literal (`"REQUEST_METHOD"`, `"GET"`) and
/// sometimes owned: the environ's keys and values cost no allocation when
/// they are constants.
pub type Text = Cow<'static, str>;

/// `wsgi.url_scheme`: the scheme of the URL the client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum UrlScheme {
    /// Plain HTTP.
    #[default]
    Http,
    /// HTTP over TLS (usually terminated by a proxy in front of the server).
    Https,
}

impl UrlScheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            UrlScheme::Http => "http",
            UrlScheme::Https => "https",
        }
    }

    /// The port a URL of this scheme uses when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            UrlScheme::Http => 80,
            UrlScheme::Https => 443,
        }
    }
}

impl fmt::Display for UrlScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The environ of one request: CGI variables, the `wsgi.*` values and room
/// for extensions.
///
/// ```
/// use gateway_spec::Environ;
/// let mut environ = Environ::for_test();
/// environ.set("PATH_INFO", "/hello");
/// environ.set("HTTP_ACCEPT", "text/html");
/// assert_eq!(environ.path_info(), "/hello");
/// assert_eq!(environ.header("Accept"), Some("text/html"));
/// ```
///
/// The CGI variables a server sets (PEP 3333, "environ Variables"):
/// `REQUEST_METHOD`, `SCRIPT_NAME`, `PATH_INFO` (percent-decoded),
/// `QUERY_STRING` (raw), `CONTENT_TYPE`, `CONTENT_LENGTH`, `SERVER_NAME`,
/// `SERVER_PORT`, `SERVER_PROTOCOL`, `REMOTE_ADDR`, `REMOTE_PORT`, and one
/// `HTTP_*` variable per request header, repeats joined by `,`. Missing values
/// are left out rather than set to `""` (rule 18), except `SCRIPT_NAME`,
/// `PATH_INFO` and `QUERY_STRING`, which may be empty.
pub struct Environ {
    /// CGI variables, in the order they were set (few enough that a scan
    /// beats hashing).
    vars: Vec<(Text, Text)>,
    /// `wsgi.url_scheme`.
    pub url_scheme: UrlScheme,
    /// `wsgi.input`: the request body.
    pub input: Input,
    /// `wsgi.errors`: where diagnostics go.
    pub errors: Errors,
    /// `wsgi.multithread`: other threads may run the application at the same time.
    pub multithread: bool,
    /// `wsgi.multiprocess`: other processes may run the application at the same time.
    pub multiprocess: bool,
    /// `wsgi.run_once`: the application will run once in this process (CGI).
    pub run_once: bool,
    /// Typed values added by servers and middleware.
    pub extensions: Extensions,
}

impl Environ {
    /// `wsgi.version`: the version of the contract, as PEP 3333 numbers it.
    pub const VERSION: (u32, u32) = (1, 0);

    /// An environ with no variables, an empty body and default `wsgi.*` values.
    /// Servers start from this and fill it.
    pub fn new() -> Environ {
        Environ::with_capacity(0)
    }

    /// Like [`new`](Self::new), with room for `vars` variables (a server knows
    /// roughly how many it will set).
    pub fn with_capacity(vars: usize) -> Environ {
        Environ {
            vars: Vec::with_capacity(vars),
            url_scheme: UrlScheme::Http,
            input: Input::empty(),
            errors: Errors::default(),
            multithread: false,
            multiprocess: false,
            run_once: false,
            extensions: Extensions::default(),
        }
    }

    /// An environ holding exactly `vars`, in order, with default `wsgi.*`
    /// values: how a server hands over variables it has already collected.
    /// Keys must be unique (a repeated key would hide the later value).
    pub fn from_vars(vars: Vec<(Text, Text)>) -> Environ {
        Environ {
            vars,
            ..Environ::new()
        }
    }

    /// A complete environ for a `GET /` request, for tests: wsgiref's
    /// `setup_testing_defaults`.
    pub fn for_test() -> Environ {
        let mut environ = Environ::new();
        for (key, value) in [
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", ""),
            ("PATH_INFO", "/"),
            ("QUERY_STRING", ""),
            ("SERVER_NAME", "127.0.0.1"),
            ("SERVER_PORT", "80"),
            ("SERVER_PROTOCOL", "HTTP/1.0"),
            ("REMOTE_ADDR", "127.0.0.1"),
            ("HTTP_HOST", "127.0.0.1"),
        ] {
            environ.set(key, value);
        }
        environ.errors = Errors::sink();
        environ
    }

    /// The value of a CGI variable.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// Set a CGI variable, replacing any earlier value.
    pub fn set(&mut self, key: impl Into<Text>, value: impl Into<Text>) {
        let key = key.into();
        let value = value.into();
        match self.vars.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.vars.push((key, value)),
        }
    }

    /// Add to a variable the way repeated request headers combine: a second
    /// value is joined to the first with `,` (PEP 3333 and RFC 9110 §5.3).
    pub fn append(&mut self, key: impl Into<Text>, value: &str) {
        let key = key.into();
        match self.vars.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => {
                let joined = slot.to_mut();
                joined.push(',');
                joined.push_str(value);
            }
            None => self.vars.push((key, Text::Owned(value.to_owned()))),
        }
    }

    /// Remove a CGI variable, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Text> {
        let at = self.vars.iter().position(|(k, _)| k == key)?;
        Some(self.vars.remove(at).1)
    }

    /// Every CGI variable, in the order they were set.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    /// Every CGI variable, sorted by name (as wsgiref's `demo_app` prints them).
    pub fn sorted_vars(&self) -> Vec<(&str, &str)> {
        let mut vars: Vec<_> = self.vars().collect();
        vars.sort_unstable();
        vars
    }

    /// `REQUEST_METHOD` (`""` if a broken server left it out).
    pub fn request_method(&self) -> &str {
        self.get("REQUEST_METHOD").unwrap_or("")
    }

    /// `SCRIPT_NAME`: where the application is mounted (`""` at the root).
    pub fn script_name(&self) -> &str {
        self.get("SCRIPT_NAME").unwrap_or("")
    }

    /// `PATH_INFO`: the percent-decoded path below `SCRIPT_NAME`.
    pub fn path_info(&self) -> &str {
        self.get("PATH_INFO").unwrap_or("")
    }

    /// `QUERY_STRING`: the raw query, without the `?`.
    pub fn query_string(&self) -> &str {
        self.get("QUERY_STRING").unwrap_or("")
    }

    /// `CONTENT_TYPE`, when the request has one.
    pub fn content_type(&self) -> Option<&str> {
        self.get("CONTENT_TYPE").filter(|v| !v.is_empty())
    }

    /// `CONTENT_LENGTH` as a number, when the request has a valid one.
    pub fn content_length(&self) -> Option<u64> {
        let value = self.get("CONTENT_LENGTH")?;
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        value.parse().ok()
    }

    /// `REMOTE_USER`, set by an authentication layer.
    pub fn remote_user(&self) -> Option<&str> {
        self.get("REMOTE_USER")
    }

    /// The request header `name`, looked up under its CGI name
    /// (`Content-Type` is `CONTENT_TYPE`, `X-Forwarded-For` is `HTTP_X_FORWARDED_FOR`).
    pub fn header(&self, name: &str) -> Option<&str> {
        if name.eq_ignore_ascii_case("content-type") {
            return self.content_type();
        }
        if name.eq_ignore_ascii_case("content-length") {
            return self.get("CONTENT_LENGTH");
        }
        self.get(&header_key(name))
    }

    /// Move the first segment of `PATH_INFO` to the end of `SCRIPT_NAME` and
    /// return it: wsgiref's `shift_path_info`, how a request is handed to an
    /// application mounted under a prefix.
    ///
    /// ```
    /// use gateway_spec::Environ;
    /// let mut environ = Environ::for_test();
    /// environ.set("PATH_INFO", "/todo/api/items");
    /// assert_eq!(environ.shift_path_info().as_deref(), Some("todo"));
    /// assert_eq!(environ.script_name(), "/todo");
    /// assert_eq!(environ.path_info(), "/api/items");
    /// ```
    pub fn shift_path_info(&mut self) -> Option<String> {
        let path = self.path_info().to_owned();
        let rest = path.strip_prefix('/')?;
        let (segment, remainder) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        if segment.is_empty() {
            return None;
        }
        let script = format!("{}/{}", self.script_name().trim_end_matches('/'), segment);
        self.set("SCRIPT_NAME", script);
        self.set("PATH_INFO", remainder.to_owned());
        Some(segment.to_owned())
    }
}

/// The CGI name of request header `name`: `HTTP_` and the name upper-cased
/// with `-` turned into `_`.
pub fn header_key(name: &str) -> String {
    let mut key = String::with_capacity(5 + name.len());
    key.push_str("HTTP_");
    key.extend(name.chars().map(|c| {
        if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    key
}

impl Default for Environ {
    fn default() -> Environ {
        Environ::new()
    }
}

impl fmt::Debug for Environ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environ")
            .field("vars", &self.sorted_vars())
            .field("url_scheme", &self.url_scheme)
            .field("input", &self.input)
            .field("multithread", &self.multithread)
            .field("multiprocess", &self.multiprocess)
            .field("run_once", &self.run_once)
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// Shown as one JSON object: the CGI variables and the `wsgi.*` values, sorted
/// by key (the input and error streams are left out: they are not data).
impl Serialize for Environ {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.sorted_vars() {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("wsgi.multiprocess", &self.multiprocess)?;
        map.serialize_entry("wsgi.multithread", &self.multithread)?;
        map.serialize_entry("wsgi.run_once", &self.run_once)?;
        map.serialize_entry("wsgi.url_scheme", self.url_scheme.as_str())?;
        map.serialize_entry("wsgi.version", &[Self::VERSION.0, Self::VERSION.1])?;
        map.end()
    }
}

/// Typed values in the environ, one per type: the `http` crate's `Extensions`.
///
/// A middleware that parses something once (a session, a request id, a
/// user record) stores it here so the application gets it without parsing
/// again. String values that PEP 3333 names, like `REMOTE_USER`, stay CGI
/// variables instead.
///
/// ```
/// use gateway_spec::Extensions;
/// #[derive(Debug, PartialEq)]
/// struct RequestId(String);
/// let mut ext = Extensions::default();
/// ext.insert(RequestId("abc".into()));
/// assert_eq!(ext.get::<RequestId>(), Some(&RequestId("abc".into())));
/// ```
#[derive(Default)]
pub struct Extensions {
    // The first value is kept inline and the rest in a list: most requests
    // carry none or one (a request id, a user), and then cost no allocation
    // beyond the value's box. A list, not a hash map: a request carries a
    // handful of values, and comparing a few type ids is cheaper than hashing.
    first: Option<Entry>,
    rest: Vec<Entry>,
}

type Entry = (TypeId, Box<dyn Any + Send + Sync>);

impl Extensions {
    /// Store `value`, returning the value of the same type stored before.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        let boxed: Box<dyn Any + Send + Sync> = Box::new(value);
        if let Some((_, slot)) = self.entry_mut::<T>() {
            let old = std::mem::replace(slot, boxed);
            return old.downcast().ok().map(|old| *old);
        }
        let entry = (TypeId::of::<T>(), boxed);
        match self.first {
            None => self.first = Some(entry),
            Some(_) => self.rest.push(entry),
        }
        None
    }

    /// The stored value of type `T`.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.entries()
            .find(|(stored, _)| *stored == id)
            .and_then(|(_, value)| value.downcast_ref())
    }

    /// The stored value of type `T`, mutably.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.entry_mut::<T>()
            .and_then(|(_, value)| value.downcast_mut())
    }

    /// Take out the stored value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        let id = TypeId::of::<T>();
        let boxed = if self.first.as_ref().is_some_and(|(stored, _)| *stored == id) {
            // Keep the inline slot filled while the list has values.
            let refill = self.rest.pop();
            std::mem::replace(&mut self.first, refill)?.1
        } else {
            let i = self.rest.iter().position(|(stored, _)| *stored == id)?;
            self.rest.swap_remove(i).1
        };
        boxed.downcast().ok().map(|boxed| *boxed)
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    /// Whether no value is stored.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.first.iter().chain(&self.rest)
    }

    fn entry_mut<T: 'static>(&mut self) -> Option<&mut Entry> {
        let id = TypeId::of::<T>();
        self.first
            .iter_mut()
            .chain(&mut self.rest)
            .find(|(stored, _)| *stored == id)
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_and_append_joins() {
        let mut environ = Environ::new();
        environ.set("HTTP_ACCEPT", "a");
        environ.set("HTTP_ACCEPT", "b");
        assert_eq!(environ.get("HTTP_ACCEPT"), Some("b"));
        environ.append("HTTP_X_MANY", "1");
        environ.append("HTTP_X_MANY", "2");
        assert_eq!(environ.get("HTTP_X_MANY"), Some("1,2"));
        assert_eq!(environ.remove("HTTP_ACCEPT").as_deref(), Some("b"));
        assert_eq!(environ.get("HTTP_ACCEPT"), None);
    }

    #[test]
    fn header_lookup_uses_cgi_names() {
        let mut environ = Environ::for_test();
        environ.set("CONTENT_TYPE", "application/json");
        environ.set("CONTENT_LENGTH", "12");
        environ.set("HTTP_X_FORWARDED_FOR", "10.0.0.1");
        assert_eq!(environ.header("content-type"), Some("application/json"));
        assert_eq!(environ.header("Content-Length"), Some("12"));
        assert_eq!(environ.header("X-Forwarded-For"), Some("10.0.0.1"));
        assert_eq!(environ.content_length(), Some(12));
    }

    #[test]
    fn content_length_must_be_plain_digits() {
        let mut environ = Environ::new();
        for bad in ["", "+1", "-1", "0x10", " 1", "1 "] {
            environ.set("CONTENT_LENGTH", bad);
            assert_eq!(environ.content_length(), None, "{bad:?}");
        }
    }

    #[test]
    fn shift_path_info_moves_one_segment() {
        let mut environ = Environ::for_test();
        environ.set("SCRIPT_NAME", "/app");
        environ.set("PATH_INFO", "/a/b");
        assert_eq!(environ.shift_path_info().as_deref(), Some("a"));
        assert_eq!(
            (environ.script_name(), environ.path_info()),
            ("/app/a", "/b")
        );
        assert_eq!(environ.shift_path_info().as_deref(), Some("b"));
        assert_eq!(
            (environ.script_name(), environ.path_info()),
            ("/app/a/b", "")
        );
        assert_eq!(environ.shift_path_info(), None);
    }

    #[test]
    fn serializes_sorted_with_wsgi_values() {
        let mut environ = Environ::for_test();
        environ.set("REMOTE_USER", "alice");
        let json = serde_json::to_value(&environ).unwrap();
        assert_eq!(json["REMOTE_USER"], "alice");
        assert_eq!(json["wsgi.url_scheme"], "http");
        assert_eq!(json["wsgi.version"], serde_json::json!([1, 0]));
        let text = serde_json::to_string(&environ).unwrap();
        let keys: Vec<&str> = environ.sorted_vars().into_iter().map(|(k, _)| k).collect();
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\"")).unwrap())
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "keys come out sorted"
        );
    }

    #[test]
    fn extensions_are_typed() {
        let mut environ = Environ::new();
        assert!(environ.extensions.is_empty());
        environ.extensions.insert(42u32);
        environ.extensions.insert(String::from("x"));
        assert_eq!(environ.extensions.get::<u32>(), Some(&42));
        *environ.extensions.get_mut::<u32>().unwrap() += 1;
        assert_eq!(environ.extensions.remove::<u32>(), Some(43));
        assert_eq!(environ.extensions.get::<u32>(), None);
        assert_eq!(environ.extensions.len(), 1);
        assert_eq!(
            environ.extensions.get::<String>().map(String::as_str),
            Some("x")
        );
    }

    #[test]
    fn extensions_past_the_inline_one_are_kept_and_removed_in_any_order() {
        let mut ext = Extensions::default();
        assert_eq!(ext.insert(1u8), None);
        assert_eq!(ext.insert(2u16), None);
        assert_eq!(ext.insert(3u32), None);
        assert_eq!(ext.insert(4u16), Some(2), "a second u16 replaces the first");
        assert_eq!(ext.len(), 3);
        assert_eq!(ext.remove::<u8>(), Some(1), "the inline one");
        assert_eq!((ext.get::<u16>(), ext.get::<u32>()), (Some(&4), Some(&3)));
        assert_eq!(ext.remove::<u32>(), Some(3));
        assert_eq!(ext.remove::<u16>(), Some(4));
        assert!(ext.is_empty());
        assert_eq!(ext.remove::<u16>(), None);
        ext.insert(5u64);
        assert_eq!(ext.get::<u64>(), Some(&5));
    }
}
