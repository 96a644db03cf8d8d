//! Signed-cookie sessions, Flask's `session`: the data lives in the client's
//! cookie, signed so the client can read it but not change it.
//!
//! The cookie is `base64url(payload) "." base64url(HMAC-SHA256)`, where the
//! payload is JSON `{"exp": unix_seconds, "data": {...}}` and the MAC covers
//! the cookie's name and the encoded payload. A cookie whose MAC does not
//! verify (tampered, or signed with another key) or whose `exp` has passed is
//! ignored: the request sees an empty session. The data is *signed, not
//! encrypted*: never store secrets in it.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::cookies::{Cookie, SameSite};
use crate::error::RequestError;
use crate::response::Response;

/// The shortest secret [`App::with_sessions`](crate::App::with_sessions) accepts.
pub const MIN_SECRET_BYTES: usize = 16;

/// Browsers drop cookies larger than about 4 KB (Flask warns at 4093 bytes).
const MAX_COOKIE_BYTES: usize = 4093;

/// How sessions are signed and how their cookie is set. Field defaults
/// follow Flask's `SESSION_COOKIE_*` settings.
///
/// ```
/// use std::time::Duration;
/// use mini_framework::{App, SessionConfig};
/// let app = App::new().with_sessions(SessionConfig {
///     max_age: Duration::from_secs(3600),
///     secure: true,
///     ..SessionConfig::new(*b"a long random secret, not this one")
/// });
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct SessionConfig {
    /// The signing key; keep it secret and at least 16 bytes (32 random
    /// bytes is a good choice). No default: [`SessionConfig::new`] takes it.
    pub secret: Vec<u8>,
    /// Older secrets still accepted when verifying, so a key can be rotated
    /// without logging everyone out (Flask's `SECRET_KEY_FALLBACKS`); new
    /// cookies are always signed with `secret`. Default: none.
    pub fallback_secrets: Vec<Vec<u8>>,
    /// The cookie's name. Default: `"session"`.
    pub cookie_name: String,
    /// How long a session lives after it was last changed; older cookies
    /// are refused. Default: 31 days (Flask's `PERMANENT_SESSION_LIFETIME`).
    pub max_age: Duration,
    /// The cookie's `Path`. Default: `"/"`.
    pub path: String,
    /// The cookie's `Domain`. Default: none (this host only).
    pub domain: Option<String>,
    /// Send the cookie over HTTPS only. Default: false (turn it on in production).
    pub secure: bool,
    /// Hide the cookie from JavaScript. Default: true.
    pub http_only: bool,
    /// The cookie's `SameSite`. Default: `Some(SameSite::Lax)`.
    pub same_site: Option<SameSite>,
}

impl SessionConfig {
    /// A configuration signing with `secret`, all else default.
    pub fn new(secret: impl Into<Vec<u8>>) -> SessionConfig {
        SessionConfig {
            secret: secret.into(),
            fallback_secrets: Vec::new(),
            cookie_name: "session".to_owned(),
            max_age: Duration::from_secs(31 * 24 * 3600),
            path: "/".to_owned(),
            domain: None,
            secure: false,
            http_only: true,
            same_site: Some(SameSite::Lax),
        }
    }

    fn cookie(&self, value: String) -> Cookie {
        let mut cookie = Cookie::new(self.cookie_name.clone(), value)
            .path(self.path.clone())
            .secure(self.secure)
            .http_only(self.http_only);
        if let Some(domain) = &self.domain {
            cookie = cookie.domain(domain.clone());
        }
        if let Some(same_site) = self.same_site {
            cookie = cookie.same_site(same_site);
        }
        cookie
    }

    /// The MAC of `payload` under `key`; it covers the cookie's name too, so
    /// a value signed for one cookie is not valid in another.
    fn mac(&self, key: &[u8], payload: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(self.cookie_name.as_bytes());
        mac.update(b"\0");
        mac.update(payload.as_bytes());
        mac
    }

    fn keys(&self) -> impl Iterator<Item = &[u8]> {
        std::iter::once(self.secret.as_slice())
            .chain(self.fallback_secrets.iter().map(Vec::as_slice))
    }
}

/// The secret never appears in logs.
impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("secret", &"<redacted>")
            .field("fallback_secrets", &self.fallback_secrets.len())
            .field("cookie_name", &self.cookie_name)
            .field("max_age", &self.max_age)
            .field("path", &self.path)
            .field("domain", &self.domain)
            .field("secure", &self.secure)
            .field("http_only", &self.http_only)
            .field("same_site", &self.same_site)
            .finish()
    }
}

/// One request's session: string keys, any serde value. Changes are saved
/// into the response's cookie when the handler is done.
///
/// ```
/// use mini_framework::{App, HttpError, Request, SessionConfig};
/// let mut app = App::new().with_sessions(SessionConfig::new(*b"0123456789abcdef0123"));
/// app.get("/visit", |req: &Request| -> Result<String, HttpError> {
///     let session = req.session()?;
///     let visits = session.get::<u32>("visits").unwrap_or(0) + 1;
///     session.insert("visits", visits)?;
///     Ok(format!("visit number {visits}"))
/// });
/// ```
#[derive(Debug, Default)]
pub struct Session {
    values: RefCell<BTreeMap<String, Value>>,
    modified: Cell<bool>,
    from_cookie: bool,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    exp: u64,
    data: BTreeMap<String, Value>,
}

impl Session {
    /// The value under `key`, if present and of type `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let values = self.values.borrow();
        T::deserialize(values.get(key)?).ok()
    }

    /// Store `value` under `key`.
    ///
    /// # Errors
    /// [`RequestError::SessionValue`] when the value cannot be serialized
    /// to JSON (a map with non-string keys, for example).
    pub fn insert(&self, key: &str, value: impl Serialize) -> Result<(), RequestError> {
        let value = serde_json::to_value(value).map_err(|err| RequestError::SessionValue {
            key: key.to_owned(),
            message: err.to_string(),
        })?;
        self.values.borrow_mut().insert(key.to_owned(), value);
        self.modified.set(true);
        Ok(())
    }

    /// Remove `key`; returns whether it was there.
    pub fn remove(&self, key: &str) -> bool {
        let removed = self.values.borrow_mut().remove(key).is_some();
        if removed {
            self.modified.set(true);
        }
        removed
    }

    /// Remove everything (log out): the cookie is deleted.
    pub fn clear(&self) {
        self.values.borrow_mut().clear();
        self.modified.set(true);
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.values.borrow().contains_key(key)
    }

    /// Whether the session holds nothing.
    pub fn is_empty(&self) -> bool {
        self.values.borrow().is_empty()
    }

    /// The keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.values.borrow().keys().cloned().collect()
    }

    /// The session carried by `cookie`, or an empty one if the cookie is
    /// missing, tampered with, signed with another key, or expired.
    pub(crate) fn load(config: &SessionConfig, cookie: Option<&str>, now: u64) -> Session {
        let values = cookie.and_then(|value| verify(config, value, now));
        Session {
            from_cookie: values.is_some(),
            values: RefCell::new(values.unwrap_or_default()),
            modified: Cell::new(false),
        }
    }

    /// Write the session into `response` if it changed: a fresh signed
    /// cookie, or a deletion when it was emptied. Returns a warning when the
    /// cookie is too large for browsers to keep.
    pub(crate) fn save(
        &self,
        config: &SessionConfig,
        response: &mut Response,
        now: u64,
    ) -> Option<String> {
        add_vary_cookie(response);
        if !self.modified.get() {
            return None;
        }
        let values = self.values.borrow();
        if values.is_empty() {
            if self.from_cookie {
                response.set_cookie(config.cookie("".to_owned()).expired());
            }
            return None;
        }
        let value = sign(config, &values, now);
        let warning = (value.len() > MAX_COOKIE_BYTES).then(|| {
            format!(
                "the session cookie is {} bytes; browsers ignore cookies over {MAX_COOKIE_BYTES}",
                value.len()
            )
        });
        response.set_cookie(config.cookie(value).max_age(config.max_age));
        warning
    }
}

/// The session depends on the Cookie header: tell caches (Flask does too).
fn add_vary_cookie(response: &mut Response) {
    let vary = response.header("Vary").unwrap_or("").to_owned();
    let already = vary
        .split(',')
        .any(|v| v.trim().eq_ignore_ascii_case("cookie") || v.trim() == "*");
    if !already {
        let value = if vary.is_empty() {
            "Cookie".to_owned()
        } else {
            format!("{vary}, Cookie")
        };
        response.set_header("Vary", value);
    }
}

/// The cookie value for `values`, issued at `now` (unix seconds).
pub(crate) fn sign(config: &SessionConfig, values: &BTreeMap<String, Value>, now: u64) -> String {
    let payload = Payload {
        exp: now.saturating_add(config.max_age.as_secs()),
        data: values.clone(),
    };
    // A BTreeMap of JSON values always serializes.
    let json = serde_json::to_vec(&payload).unwrap_or_default();
    let encoded = URL_SAFE_NO_PAD.encode(json);
    let tag = URL_SAFE_NO_PAD.encode(config.mac(&config.secret, &encoded).finalize().into_bytes());
    format!("{encoded}.{tag}")
}

/// The values in `cookie` if its signature verifies and it has not expired.
fn verify(config: &SessionConfig, cookie: &str, now: u64) -> Option<BTreeMap<String, Value>> {
    let (encoded, tag) = cookie.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    // verify_slice compares in constant time, so the MAC cannot be guessed
    // byte by byte from response timings.
    config
        .keys()
        .find(|key| config.mac(key, encoded).verify_slice(&tag).is_ok())?;
    let json = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    let payload: Payload = serde_json::from_slice(&json).ok()?;
    (payload.exp > now).then_some(payload.data)
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn config() -> SessionConfig {
        SessionConfig::new(*b"test secret of enough length")
    }

    fn values() -> BTreeMap<String, Value> {
        BTreeMap::from([("user".to_owned(), Value::from("ada"))])
    }

    #[test]
    fn a_signed_cookie_loads_back() {
        let cookie = sign(&config(), &values(), NOW);
        let session = Session::load(&config(), Some(&cookie), NOW + 10);
        assert_eq!(session.get::<String>("user").as_deref(), Some("ada"));
    }

    #[test]
    fn a_tampered_cookie_is_rejected() {
        let cookie = sign(&config(), &values(), NOW);
        let (encoded, tag) = cookie.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&serde_json::json!({"exp": NOW + 999, "data": {"user": "admin"}}))
                .unwrap(),
        );
        for forged in [
            format!("{forged_payload}.{tag}"),
            format!("{encoded}.{}", URL_SAFE_NO_PAD.encode([0u8; 32])),
            format!("{encoded}x.{tag}"),
            encoded.to_owned(),
            String::new(),
        ] {
            let session = Session::load(&config(), Some(&forged), NOW);
            assert!(session.is_empty(), "{forged}");
        }
    }

    #[test]
    fn another_key_or_cookie_name_does_not_verify() {
        let cookie = sign(&config(), &values(), NOW);
        let other_key = SessionConfig::new(*b"another secret of enough length");
        assert!(Session::load(&other_key, Some(&cookie), NOW).is_empty());
        let other_name = SessionConfig {
            cookie_name: "other".into(),
            ..config()
        };
        assert!(Session::load(&other_name, Some(&cookie), NOW).is_empty());
    }

    #[test]
    fn rotated_keys_still_verify_through_fallbacks() {
        let old = config();
        let cookie = sign(&old, &values(), NOW);
        let rotated = SessionConfig {
            fallback_secrets: vec![old.secret.clone()],
            ..SessionConfig::new(*b"the new secret, also long enough")
        };
        let session = Session::load(&rotated, Some(&cookie), NOW);
        assert_eq!(session.get::<String>("user").as_deref(), Some("ada"));
        let resigned = sign(&rotated, &values(), NOW);
        assert!(Session::load(&old, Some(&resigned), NOW).is_empty());
    }

    #[test]
    fn an_expired_cookie_is_rejected() {
        let config = config();
        let cookie = sign(&config, &values(), NOW);
        let expiry = NOW + config.max_age.as_secs();
        assert!(!Session::load(&config, Some(&cookie), expiry - 1).is_empty());
        assert!(Session::load(&config, Some(&cookie), expiry).is_empty());
    }

    #[test]
    fn saving_sets_or_deletes_the_cookie_only_when_changed() {
        let config = config();
        let mut response = Response::new(200);
        let untouched = Session::load(&config, None, NOW);
        assert!(untouched.save(&config, &mut response, NOW).is_none());
        assert!(response.header("set-cookie").is_none());
        assert_eq!(response.header("vary"), Some("Cookie"));

        untouched.insert("n", 1).unwrap();
        untouched.save(&config, &mut response, NOW);
        let set = response.header("set-cookie").unwrap();
        assert!(set.starts_with("session="));
        assert!(set.contains("Max-Age=2678400") && set.contains("HttpOnly"));

        let cookie = sign(&config, &values(), NOW);
        let loaded = Session::load(&config, Some(&cookie), NOW);
        loaded.clear();
        let mut response = Response::new(200);
        loaded.save(&config, &mut response, NOW);
        assert!(response.header("set-cookie").unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn oversized_sessions_warn() {
        let config = config();
        let session = Session::load(&config, None, NOW);
        session.insert("blob", "x".repeat(5000)).unwrap();
        let warning = session.save(&config, &mut Response::new(200), NOW);
        assert!(warning.unwrap().contains("browsers ignore"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", config());
        assert!(!shown.contains("test secret"));
    }
}
