//! Cookies: reading the request's `Cookie` header, and [`Cookie`], the
//! builder for a response's `Set-Cookie` header (RFC 6265).
//!
//! Values are percent-encoded when set and percent-decoded when read, so any
//! string survives the round trip and nothing a value holds can break the
//! header (no `;`, no CR/LF).

use std::time::Duration;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// Bytes that are not RFC 6265 `cookie-octet`s, plus `%` so decoding is exact.
const NOT_COOKIE_OCTET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

/// Parse a `Cookie` request header into `(name, value)` pairs, in order.
///
/// Pairs without a name are dropped (werkzeug CVE-2023-23934: a header
/// starting with `=` must not produce a cookie with an empty key). Values in
/// double quotes are unquoted; values are percent-decoded when the result is
/// UTF-8, and kept as sent otherwise.
pub(crate) fn parse_cookie_header(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = name.trim();
            if name.is_empty() {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            let decoded = percent_decode_str(value)
                .decode_utf8()
                .map_or_else(|_| value.to_owned(), |v| v.into_owned());
            Some((name.to_owned(), decoded))
        })
        .collect()
}

/// The `SameSite` attribute of a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent only with requests from the same site.
    Strict,
    /// Sent with same-site requests and top-level navigations (the browsers' default).
    Lax,
    /// Sent with every request; browsers require `Secure` with it.
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// A cookie to set on a response, built like Flask's `set_cookie` arguments.
///
/// ```
/// use std::time::Duration;
/// use mini_framework::{Cookie, Response, SameSite};
/// let response = Response::text("hi").with_cookie(
///     Cookie::new("theme", "dark")
///         .max_age(Duration::from_secs(3600))
///         .http_only(true)
///         .same_site(SameSite::Lax),
/// );
/// assert_eq!(
///     response.header("set-cookie"),
///     Some("theme=dark; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax")
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    max_age: Option<Duration>,
    expired: bool,
    path: Option<String>,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
}

impl Cookie {
    /// A session cookie (no Max-Age) valid for the whole site (`Path=/`, as
    /// in Flask). The name must be an HTTP token; the value may be any text.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Cookie {
        Cookie {
            name: name.into(),
            value: value.into(),
            max_age: None,
            expired: false,
            path: Some("/".to_owned()),
            domain: None,
            secure: false,
            http_only: false,
            same_site: None,
        }
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cookie's value, unencoded.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Keep the cookie for this long (`Max-Age`, in whole seconds).
    pub fn max_age(mut self, max_age: Duration) -> Cookie {
        self.max_age = Some(max_age);
        self
    }

    /// Make this cookie delete the browser's copy: empty value, `Max-Age=0`
    /// and an `Expires` date in 1970 for old clients.
    pub fn expired(mut self) -> Cookie {
        self.value.clear();
        self.max_age = Some(Duration::ZERO);
        self.expired = true;
        self
    }

    /// Restrict the cookie to paths under `path` (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Cookie {
        self.path = Some(path.into());
        self
    }

    /// Send no `Path`, leaving it to the browser's default (the directory
    /// of the request that set the cookie).
    pub fn without_path(mut self) -> Cookie {
        self.path = None;
        self
    }

    /// Share the cookie with `domain` and its subdomains.
    pub fn domain(mut self, domain: impl Into<String>) -> Cookie {
        self.domain = Some(domain.into());
        self
    }

    /// Send the cookie over HTTPS only.
    pub fn secure(mut self, secure: bool) -> Cookie {
        self.secure = secure;
        self
    }

    /// Hide the cookie from JavaScript.
    pub fn http_only(mut self, http_only: bool) -> Cookie {
        self.http_only = http_only;
        self
    }

    /// Set the `SameSite` attribute.
    pub fn same_site(mut self, same_site: SameSite) -> Cookie {
        self.same_site = Some(same_site);
        self
    }

    /// The `Set-Cookie` header value, or why this cookie cannot be sent: a
    /// name that is not a token, or a path or domain holding `;` or a control
    /// character (either would let a value rewrite the header).
    pub(crate) fn to_header_value(&self) -> Result<String, String> {
        if self.name.is_empty() || !self.name.bytes().all(gateway_spec::is_token_byte) {
            return Err(format!(
                "cookie name {:?} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)",
                self.name
            ));
        }
        let mut header = format!(
            "{}={}",
            self.name,
            utf8_percent_encode(&self.value, NOT_COOKIE_OCTET)
        );
        if let Some(max_age) = self.max_age {
            header.push_str(&format!("; Max-Age={}", max_age.as_secs()));
        }
        if self.expired {
            header.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
        for (attribute, value) in [("Path", &self.path), ("Domain", &self.domain)] {
            if let Some(value) = value {
                if value.chars().any(|c| c == ';' || c.is_control()) {
                    return Err(format!(
                        "cookie {:?}: {attribute} {value:?} holds ';' or a control character",
                        self.name
                    ));
                }
                header.push_str(&format!("; {attribute}={value}"));
            }
        }
        if self.secure {
            header.push_str("; Secure");
        }
        if self.http_only {
            header.push_str("; HttpOnly");
        }
        if let Some(same_site) = self.same_site {
            header.push_str("; SameSite=");
            header.push_str(same_site.as_str());
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_in_order_and_trims() {
        let cookies = parse_cookie_header("a=1;  b = two ; c=\"quoted\"");
        assert_eq!(
            cookies,
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "two".to_owned()),
                ("c".to_owned(), "quoted".to_owned()),
            ]
        );
    }

    #[test]
    fn drops_nameless_pairs() {
        let cookies = parse_cookie_header("=__Host-admin; ok=1; ;");
        assert_eq!(cookies, vec![("ok".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn values_round_trip_through_encoding() {
        let original = "semi;colon, spaces and \"quotes\" 100% ünïcode\r\n";
        let header = Cookie::new("v", original).to_header_value().unwrap();
        assert!(!header.contains('\r') && !header.contains("colon,"));
        let value = header
            .split_once('=')
            .unwrap()
            .1
            .split("; ")
            .next()
            .unwrap();
        let parsed = parse_cookie_header(&format!("v={value}"));
        assert_eq!(parsed[0].1, original);
    }

    #[test]
    fn all_attributes_are_written() {
        let header = Cookie::new("id", "42")
            .max_age(Duration::from_secs(60))
            .path("/app")
            .domain("example.com")
            .secure(true)
            .http_only(true)
            .same_site(SameSite::Strict)
            .to_header_value()
            .unwrap();
        assert_eq!(
            header,
            "id=42; Max-Age=60; Path=/app; Domain=example.com; Secure; HttpOnly; SameSite=Strict"
        );
    }

    #[test]
    fn the_path_can_be_left_to_the_browser() {
        let header = Cookie::new("a", "1")
            .without_path()
            .to_header_value()
            .unwrap();
        assert_eq!(header, "a=1");
    }

    #[test]
    fn expired_cookies_delete_the_browser_copy() {
        let header = Cookie::new("id", "42").expired().to_header_value().unwrap();
        assert_eq!(
            header,
            "id=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
        );
    }

    #[test]
    fn refuses_names_and_attributes_that_would_break_the_header() {
        assert!(Cookie::new("a b", "x").to_header_value().is_err());
        assert!(Cookie::new("a;b", "x").to_header_value().is_err());
        assert!(Cookie::new("", "x").to_header_value().is_err());
        assert!(Cookie::new("a", "x")
            .domain("evil.com\r\nX: y")
            .to_header_value()
            .is_err());
        assert!(Cookie::new("a", "x")
            .path("/;Secure")
            .to_header_value()
            .is_err());
    }
}
