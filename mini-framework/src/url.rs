//! URL text: percent-encoding for paths, `Location` values and PEP 3333's
//! URL reconstruction from the environ.

use gateway_spec::Environ;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// Bytes escaped in a path: what RFC 3986 does not allow in a path, and `%`
/// itself, since PATH_INFO arrives decoded.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// As [`PATH`], and `/` too: for one segment's value in `url_for`.
const SEGMENT: &AsciiSet = &PATH.add(b'/');

/// Bytes escaped in a `Location` the application gave: only what may not
/// appear in a header or a URI at all. `%` stays, since the target may
/// already be encoded.
const LOCATION: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Percent-encode a decoded path (slashes kept).
pub(crate) fn encode_path(path: &str) -> String {
    utf8_percent_encode(path, PATH).to_string()
}

/// Percent-encode one path segment (slashes escaped).
pub(crate) fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Make a redirect target safe to put in a header: CR, LF, other control
/// characters, spaces and non-ASCII text are percent-encoded, so a target
/// built from user input cannot split the response.
pub(crate) fn sanitize_location(location: &str) -> String {
    utf8_percent_encode(location, LOCATION).to_string()
}

/// `scheme://host[:port]`, as PEP 3333's URL reconstruction builds it:
/// the `Host` header if present, else SERVER_NAME and a non-default port.
pub(crate) fn host_url(environ: &Environ) -> String {
    format!("{}://{}", environ.url_scheme, host(environ))
}

/// The host (and port, if not the scheme's default) the client asked for.
pub(crate) fn host(environ: &Environ) -> String {
    if let Some(host) = environ.get("HTTP_HOST").filter(|h| !h.is_empty()) {
        return host.to_owned();
    }
    let name = environ.get("SERVER_NAME").unwrap_or("localhost");
    let port = environ.get("SERVER_PORT").unwrap_or("");
    if port.is_empty() || port == environ.url_scheme.default_port().to_string() {
        name.to_owned()
    } else {
        format!("{name}:{port}")
    }
}

/// The full request URL (PEP 3333, "URL Reconstruction").
pub(crate) fn request_url(environ: &Environ) -> String {
    let mut url = host_url(environ);
    url.push_str(&encode_path(environ.script_name()));
    url.push_str(&encode_path(environ.path_info()));
    let query = environ.query_string();
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_spec::UrlScheme;

    #[test]
    fn reconstructs_the_url_as_pep_3333_describes() {
        let mut environ = Environ::for_test();
        environ.set("HTTP_HOST", "example.com:8080");
        environ.set("SCRIPT_NAME", "/app");
        environ.set("PATH_INFO", "/a b/ü");
        environ.set("QUERY_STRING", "x=1");
        assert_eq!(
            request_url(&environ),
            "http://example.com:8080/app/a%20b/%C3%BC?x=1"
        );
    }

    #[test]
    fn without_host_header_uses_server_name_and_non_default_port() {
        let mut environ = Environ::for_test();
        environ.remove("HTTP_HOST");
        environ.set("SERVER_NAME", "srv");
        environ.set("SERVER_PORT", "443");
        environ.url_scheme = UrlScheme::Https;
        assert_eq!(host_url(&environ), "https://srv");
        environ.set("SERVER_PORT", "8443");
        assert_eq!(host_url(&environ), "https://srv:8443");
    }

    #[test]
    fn locations_cannot_split_headers() {
        assert_eq!(
            sanitize_location("/next?to=a b\r\nSet-Cookie: x=1"),
            "/next?to=a%20b%0D%0ASet-Cookie:%20x=1"
        );
        assert_eq!(sanitize_location("/caf%C3%A9"), "/caf%C3%A9");
        assert_eq!(sanitize_location("/café"), "/caf%C3%A9");
    }

    #[test]
    fn segments_escape_slashes_but_paths_keep_them() {
        assert_eq!(encode_segment("a/b?c"), "a%2Fb%3Fc");
        assert_eq!(encode_path("a/b?c"), "a/b%3Fc");
    }
}
