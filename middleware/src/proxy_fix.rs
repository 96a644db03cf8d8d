//! `ProxyFix`: the client's address, scheme, host and prefix as a reverse
//! proxy saw them, taken from the headers the proxy added.

use std::net::IpAddr;

use gateway_spec::{AppError, Application, Body, Environ, StartResponse, UrlScheme};

use crate::layer::Layer;

/// How many proxies to trust, per header (0 = ignore that header).
///
/// ```
/// use middleware::ProxyFixLayer;
/// // One nginx in front, which sets X-Forwarded-For, -Proto and -Host:
/// let layer = ProxyFixLayer { x_host: 1, ..ProxyFixLayer::new(1) };
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyFixLayer {
    /// Trusted proxies appending to `X-Forwarded-For`.
    pub x_for: usize,
    /// Trusted proxies appending to `X-Forwarded-Proto`.
    pub x_proto: usize,
    /// Trusted proxies appending to `X-Forwarded-Host`.
    pub x_host: usize,
    /// Trusted proxies appending to `X-Forwarded-Port`.
    pub x_port: usize,
    /// Trusted proxies appending to `X-Forwarded-Prefix`.
    pub x_prefix: usize,
    /// Trusted proxies appending to `Forwarded`. When it is trusted and
    /// present, its `for`, `proto` and `host` win over the `X-` headers.
    pub forwarded: usize,
}

impl ProxyFixLayer {
    /// Trust `proxies` proxies for `X-Forwarded-For` and `X-Forwarded-Proto`,
    /// the two headers every proxy sets; the others stay off (0) until you
    /// know your proxies set them.
    pub fn new(proxies: usize) -> ProxyFixLayer {
        ProxyFixLayer {
            x_for: proxies,
            x_proto: proxies,
            x_host: 0,
            x_port: 0,
            x_prefix: 0,
            forwarded: 0,
        }
    }
}

/// The environ's values before [`ProxyFix`] changed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyFixOriginal {
    /// `REMOTE_ADDR` as the server saw it (the nearest proxy).
    pub remote_addr: Option<String>,
    /// `wsgi.url_scheme` as the server saw it.
    pub url_scheme: UrlScheme,
    /// `HTTP_HOST` as received.
    pub host: Option<String>,
    /// `SERVER_NAME` as the server set it.
    pub server_name: Option<String>,
    /// `SERVER_PORT` as the server set it.
    pub server_port: Option<String>,
    /// `SCRIPT_NAME` as the server set it.
    pub script_name: Option<String>,
}

/// An application that sees requests as the client made them.
///
/// Behind a proxy, `REMOTE_ADDR` is the proxy's address and the scheme is
/// whatever the proxy spoke to the server. Proxies report the original
/// values in `X-Forwarded-For`, `-Proto`, `-Host`, `-Port`, `-Prefix` (or
/// the standard `Forwarded` header, RFC 7239). But any client can send those
/// headers too, so they are only believed as far as there are proxies you
/// trust: each proxy *appends* to a list, so with `n` trusted proxies the
/// `n`-th value from the right is the one the outermost trusted proxy wrote
/// (werkzeug's `ProxyFix` rule). A list shorter than `n` means the request
/// did not come through all the proxies, and the header is ignored.
///
/// | header | sets |
/// |---|---|
/// | `X-Forwarded-For` / `Forwarded: for=` | `REMOTE_ADDR` (an IP address, else ignored) |
/// | `X-Forwarded-Proto` / `Forwarded: proto=` | `wsgi.url_scheme` (`http` or `https`) |
/// | `X-Forwarded-Host` / `Forwarded: host=` | `HTTP_HOST`, `SERVER_NAME`, `SERVER_PORT` |
/// | `X-Forwarded-Port` | `SERVER_PORT`, and the port in `HTTP_HOST` |
/// | `X-Forwarded-Prefix` | `SCRIPT_NAME` (the path the proxy mounts the app at) |
///
/// Only trust a header your proxies set: if a proxy passes a client's
/// `X-Forwarded-Host` through untouched, the client chooses your host.
/// The values before the fix are kept in `environ.extensions` as
/// [`ProxyFixOriginal`].
#[derive(Debug)]
pub struct ProxyFix<A> {
    inner: A,
    layer: ProxyFixLayer,
}

impl<A: Application> ProxyFix<A> {
    /// Trust the proxies `layer` counts in front of `inner`.
    pub fn new(inner: A, layer: ProxyFixLayer) -> ProxyFix<A> {
        ProxyFix { inner, layer }
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

/// The value the `trusted`-th proxy from the right appended to a
/// comma-separated list, if the list is long enough.
fn trusted_value(list: Option<&str>, trusted: usize) -> Option<String> {
    if trusted == 0 {
        return None;
    }
    let values: Vec<&str> = list?.split(',').map(str::trim).collect();
    let value = values.len().checked_sub(trusted).map(|at| values[at])?;
    (!value.is_empty()).then(|| value.to_owned())
}

/// What the trusted element of a `Forwarded` header says.
#[derive(Debug, Default, PartialEq, Eq)]
struct ForwardedElement {
    for_: Option<String>,
    proto: Option<String>,
    host: Option<String>,
}

/// Parse the `trusted`-th element from the right of `Forwarded`
/// (`for=192.0.2.1;proto=https, for="[2001:db8::1]:4711"`).
fn forwarded_element(header: Option<&str>, trusted: usize) -> Option<ForwardedElement> {
    let element = trusted_value(header, trusted)?;
    let mut parsed = ForwardedElement::default();
    for pair in element.split(';') {
        let Some((name, value)) = pair.trim().split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_owned();
        match name.trim().to_ascii_lowercase().as_str() {
            "for" => parsed.for_ = Some(value),
            "proto" => parsed.proto = Some(value),
            "host" => parsed.host = Some(value),
            _ => {}
        }
    }
    Some(parsed)
}

/// An IP address out of `for` values like `192.0.2.1`, `[2001:db8::1]:4711`
/// or `192.0.2.1:8080`; `None` for `unknown`, obfuscated names or garbage.
fn client_ip(value: &str) -> Option<String> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    let host = match value.strip_prefix('[') {
        Some(rest) => rest.split(']').next()?,
        None => value.rsplit_once(':').map_or(value, |(host, _port)| host),
    };
    host.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

/// A host with an optional port, made of the characters a host may hold.
fn is_valid_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

/// Split `example.com:8443` or `[::1]:8080` into name and optional port.
fn split_host(host: &str) -> (&str, Option<&str>) {
    if host.starts_with('[') {
        return match host.rsplit_once("]:") {
            Some((name, port)) => (&host[..name.len() + 1], Some(port)),
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    }
}

fn is_port(port: &str) -> bool {
    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok()
}

impl ProxyFixLayer {
    fn fix(&self, environ: &mut Environ) {
        let forwarded = forwarded_element(environ.header("Forwarded"), self.forwarded);
        let forwarded = forwarded.unwrap_or_default();
        let pick = |from_forwarded: Option<String>, header: &str, trusted: usize| {
            from_forwarded.or_else(|| trusted_value(environ.header(header), trusted))
        };
        let client = pick(forwarded.for_, "X-Forwarded-For", self.x_for);
        let proto = pick(forwarded.proto, "X-Forwarded-Proto", self.x_proto);
        let host = pick(forwarded.host, "X-Forwarded-Host", self.x_host);
        let port = trusted_value(environ.header("X-Forwarded-Port"), self.x_port);
        let prefix = trusted_value(environ.header("X-Forwarded-Prefix"), self.x_prefix);

        if let Some(ip) = client.as_deref().and_then(client_ip) {
            environ.set("REMOTE_ADDR", ip);
        }
        match proto.map(|p| p.to_ascii_lowercase()).as_deref() {
            Some("https") => environ.url_scheme = UrlScheme::Https,
            Some("http") => environ.url_scheme = UrlScheme::Http,
            _ => {}
        }
        if let Some(host) = host.filter(|h| is_valid_host(h)) {
            let (name, port) = split_host(&host);
            environ.set("SERVER_NAME", name.to_owned());
            let port = port.filter(|p| is_port(p)).map(str::to_owned);
            let port = port.unwrap_or_else(|| environ.url_scheme.default_port().to_string());
            environ.set("SERVER_PORT", port);
            environ.set("HTTP_HOST", host);
        }
        if let Some(port) = port.filter(|p| is_port(p)) {
            let name = environ.get("SERVER_NAME").unwrap_or("").to_owned();
            let host = environ
                .get("HTTP_HOST")
                .map(|h| split_host(h).0.to_owned())
                .unwrap_or(name);
            environ.set("HTTP_HOST", format!("{host}:{port}"));
            environ.set("SERVER_PORT", port);
        }
        if let Some(prefix) = prefix.filter(|p| p.starts_with('/') && !p.contains(['?', '#'])) {
            environ.set("SCRIPT_NAME", prefix.trim_end_matches('/').to_owned());
        }
    }
}

impl<A: Application> Application for ProxyFix<A> {
    fn call(&self, mut environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        let original = ProxyFixOriginal {
            remote_addr: environ.get("REMOTE_ADDR").map(str::to_owned),
            url_scheme: environ.url_scheme,
            host: environ.get("HTTP_HOST").map(str::to_owned),
            server_name: environ.get("SERVER_NAME").map(str::to_owned),
            server_port: environ.get("SERVER_PORT").map(str::to_owned),
            script_name: environ.get("SCRIPT_NAME").map(str::to_owned),
        };
        self.layer.fix(&mut environ);
        environ.extensions.insert(original);
        self.inner.call(environ, start_response)
    }
}

impl<A: Application> Layer<A> for ProxyFixLayer {
    type Wrapped = ProxyFix<A>;

    fn layer(self, inner: A) -> ProxyFix<A> {
        ProxyFix::new(inner, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the fix on an environ with `headers` (CGI names) and return it.
    fn fixed(layer: ProxyFixLayer, headers: &[(&'static str, &'static str)]) -> Environ {
        let mut environ = Environ::for_test();
        environ.set("REMOTE_ADDR", "10.0.0.2"); // the proxy
        for (key, value) in headers {
            environ.set(*key, *value);
        }
        layer.fix(&mut environ);
        environ
    }

    #[test]
    fn one_trusted_proxy_takes_the_last_values() {
        let environ = fixed(
            ProxyFixLayer::new(1),
            &[
                ("HTTP_X_FORWARDED_FOR", "6.6.6.6, 203.0.113.7"),
                ("HTTP_X_FORWARDED_PROTO", "https"),
            ],
        );
        assert_eq!(environ.get("REMOTE_ADDR"), Some("203.0.113.7"));
        assert_eq!(environ.url_scheme, UrlScheme::Https);
    }

    #[test]
    fn two_trusted_proxies_take_the_second_from_the_right() {
        let environ = fixed(
            ProxyFixLayer::new(2),
            &[("HTTP_X_FORWARDED_FOR", "6.6.6.6, 203.0.113.7, 10.0.0.1")],
        );
        assert_eq!(environ.get("REMOTE_ADDR"), Some("203.0.113.7"));
    }

    #[test]
    fn too_short_lists_and_untrusted_headers_are_ignored() {
        let environ = fixed(
            ProxyFixLayer::new(2),
            &[
                ("HTTP_X_FORWARDED_FOR", "6.6.6.6"),
                ("HTTP_X_FORWARDED_HOST", "evil.example"),
            ],
        );
        assert_eq!(environ.get("REMOTE_ADDR"), Some("10.0.0.2"));
        assert_eq!(
            environ.get("HTTP_HOST"),
            Some("127.0.0.1"),
            "x_host is 0 by default"
        );
        let environ = fixed(
            ProxyFixLayer::new(0),
            &[("HTTP_X_FORWARDED_FOR", "6.6.6.6")],
        );
        assert_eq!(environ.get("REMOTE_ADDR"), Some("10.0.0.2"));
    }

    #[test]
    fn garbage_values_are_ignored() {
        let environ = fixed(
            ProxyFixLayer {
                x_host: 1,
                x_port: 1,
                x_prefix: 1,
                ..ProxyFixLayer::new(1)
            },
            &[
                ("HTTP_X_FORWARDED_FOR", "not-an-ip"),
                ("HTTP_X_FORWARDED_PROTO", "gopher"),
                ("HTTP_X_FORWARDED_HOST", "evil.example/path"),
                ("HTTP_X_FORWARDED_PORT", "99999"),
                ("HTTP_X_FORWARDED_PREFIX", "relative"),
            ],
        );
        assert_eq!(environ.get("REMOTE_ADDR"), Some("10.0.0.2"));
        assert_eq!(environ.url_scheme, UrlScheme::Http);
        assert_eq!(environ.get("HTTP_HOST"), Some("127.0.0.1"));
        assert_eq!(environ.get("SERVER_PORT"), Some("80"));
        assert_eq!(environ.get("SCRIPT_NAME"), Some(""));
    }

    #[test]
    fn host_port_and_prefix_when_trusted() {
        let environ = fixed(
            ProxyFixLayer {
                x_host: 1,
                x_port: 1,
                x_prefix: 1,
                ..ProxyFixLayer::new(1)
            },
            &[
                ("HTTP_X_FORWARDED_PROTO", "https"),
                ("HTTP_X_FORWARDED_HOST", "shop.example"),
                ("HTTP_X_FORWARDED_PORT", "8443"),
                ("HTTP_X_FORWARDED_PREFIX", "/store/"),
            ],
        );
        assert_eq!(environ.get("HTTP_HOST"), Some("shop.example:8443"));
        assert_eq!(environ.get("SERVER_NAME"), Some("shop.example"));
        assert_eq!(environ.get("SERVER_PORT"), Some("8443"));
        assert_eq!(environ.get("SCRIPT_NAME"), Some("/store"));
    }

    #[test]
    fn a_host_without_port_takes_the_scheme_default() {
        let environ = fixed(
            ProxyFixLayer {
                x_host: 1,
                ..ProxyFixLayer::new(1)
            },
            &[
                ("HTTP_X_FORWARDED_PROTO", "https"),
                ("HTTP_X_FORWARDED_HOST", "shop.example"),
            ],
        );
        assert_eq!(environ.get("SERVER_PORT"), Some("443"));
    }

    #[test]
    fn the_forwarded_header_when_trusted() {
        let layer = ProxyFixLayer {
            forwarded: 1,
            ..ProxyFixLayer::new(0)
        };
        let environ = fixed(
            layer,
            &[(
                "HTTP_FORWARDED",
                "for=6.6.6.6;proto=http, for=\"[2001:db8::1]:4711\";proto=https;host=api.example",
            )],
        );
        assert_eq!(environ.get("REMOTE_ADDR"), Some("2001:db8::1"));
        assert_eq!(environ.url_scheme, UrlScheme::Https);
        assert_eq!(environ.get("HTTP_HOST"), Some("api.example"));
        let ignored = fixed(ProxyFixLayer::new(1), &[("HTTP_FORWARDED", "for=6.6.6.6")]);
        assert_eq!(
            ignored.get("REMOTE_ADDR"),
            Some("10.0.0.2"),
            "Forwarded is off by default"
        );
    }

    #[test]
    fn the_app_sees_the_fix_and_the_originals() {
        let app = |environ: Environ, sr: StartResponse| -> Result<Body, AppError> {
            let original = environ
                .extensions
                .get::<ProxyFixOriginal>()
                .expect("originals kept");
            let text = format!(
                "{} {} was {}",
                environ.get("REMOTE_ADDR").unwrap_or("-"),
                environ.url_scheme,
                original.remote_addr.as_deref().unwrap_or("-")
            );
            sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
            Ok(Body::from(text))
        };
        let mut environ = Environ::for_test();
        environ.set("REMOTE_ADDR", "10.0.0.2");
        environ.set("HTTP_X_FORWARDED_FOR", "198.51.100.4");
        environ.set("HTTP_X_FORWARDED_PROTO", "https");
        let response = crate::testing::run(&ProxyFix::new(app, ProxyFixLayer::new(1)), environ);
        assert_eq!(response.text(), "198.51.100.4 https was 10.0.0.2");
    }
}
