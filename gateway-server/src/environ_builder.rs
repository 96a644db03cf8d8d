//! Stage 5, the environ: a parsed head becomes the `Environ` the application
//! receives (wsgiref's `WSGIRequestHandler.get_environ`). Next stage:
//! `handler.rs`.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use gateway_spec::{header_key, Environ, Errors, Input, Text};
use percent_encoding::percent_decode_str;

use crate::error::RequestError;
use crate::request_head::RequestHead;

/// The part of every environ that is the same for all requests of one
/// server, computed once at bind time (wsgiref's `base_environ`).
#[derive(Debug, Clone)]
pub(crate) struct BaseEnviron {
    pub(crate) server_name: &'static str,
    pub(crate) server_port: &'static str,
    pub(crate) multiprocess: bool,
}

/// Who sent the request, formatted once per connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct RemoteAddr {
    pub(crate) addr: Option<Text>,
    pub(crate) port: Option<String>,
}

impl RemoteAddr {
    /// A TCP peer. Behind a reverse proxy on the same host every request
    /// comes from the loopback address, so that one is a constant: no copy
    /// of it per request.
    pub(crate) fn of(peer: SocketAddr) -> RemoteAddr {
        let addr = match peer.ip() {
            IpAddr::V4(ip) if ip == Ipv4Addr::LOCALHOST => Text::Borrowed("127.0.0.1"),
            IpAddr::V6(ip) if ip == Ipv6Addr::LOCALHOST => Text::Borrowed("::1"),
            ip => Text::Owned(ip.to_string()),
        };
        RemoteAddr {
            addr: Some(addr),
            port: Some(peer.port().to_string()),
        }
    }
}

/// The variables set besides the headers (ten, and the remote address and
/// port), plus room for a few an application or middleware adds. Sized
/// tightly on purpose: a small request's list stays under 1 KiB, which
/// glibc's allocator recycles from its per-thread cache (the earlier, roomier
/// size cost about 470 instructions per request more, by callgrind).
const VARS_BESIDES_HEADERS: usize = 12 + 4;

/// Build the environ for one request.
pub(crate) fn build_environ(
    head: &RequestHead<'_>,
    base: &BaseEnviron,
    remote: &RemoteAddr,
    input: Input,
) -> Result<Environ, RequestError> {
    let mut vars: Vec<(Text, Text)> = Vec::with_capacity(VARS_BESIDES_HEADERS + head.headers.len());
    vars.extend([
        (Text::Borrowed("REQUEST_METHOD"), method_text(head.method)),
        ("SCRIPT_NAME".into(), "".into()),
        ("PATH_INFO".into(), decode_path(head.path)?),
        ("QUERY_STRING".into(), head.query.to_owned().into()),
        ("REQUEST_URI".into(), head.target.to_owned().into()),
        ("SERVER_NAME".into(), base.server_name.into()),
        ("SERVER_PORT".into(), base.server_port.into()),
        ("SERVER_PROTOCOL".into(), head.version.as_str().into()),
        (
            "SERVER_SOFTWARE".into(),
            concat!("gateway-server/", env!("CARGO_PKG_VERSION")).into(),
        ),
        ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
    ]);
    if let Some(addr) = &remote.addr {
        vars.push(("REMOTE_ADDR".into(), addr.clone()));
    }
    if let Some(port) = &remote.port {
        vars.push(("REMOTE_PORT".into(), port.clone().into()));
    }
    let first_header = vars.len();
    for &(name, value) in &head.headers {
        add_header(&mut vars, first_header, name, value);
    }
    if let Some(authority) = head.authority {
        // RFC 9112 section 3.2.2: an absolute-form target's authority
        // replaces the Host header.
        vars.retain(|(key, _)| key != "HTTP_HOST");
        vars.push(("HTTP_HOST".into(), authority.to_owned().into()));
    }
    // Every key above is set once, so the environ takes the list as it is.
    let mut environ = Environ::from_vars(vars);
    environ.input = input;
    environ.errors = Errors::new(AppErrorLog);
    environ.multithread = true;
    environ.multiprocess = base.multiprocess;
    Ok(environ)
}

/// PATH_INFO is the percent-decoded path; it must be UTF-8 (a Rust string).
fn decode_path(path: &str) -> Result<Text, RequestError> {
    if !path.contains('%') {
        return Ok(Text::Owned(path.to_owned()));
    }
    percent_decode_str(path)
        .decode_utf8()
        .map(|decoded| Text::Owned(decoded.into_owned()))
        .map_err(|_| RequestError::BadRequest("path does not decode to UTF-8"))
}

/// Common methods as constants: no allocation for them.
fn method_text(method: &str) -> Text {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT",
    ];
    match KNOWN.iter().find(|m| **m == method) {
        Some(known) => Text::Borrowed(known),
        None => Text::Owned(method.to_owned()),
    }
}

/// One request header into the environ: Content-Type and Content-Length get
/// their CGI names, every other header `HTTP_*`, repeats joined with `,`
/// (only the header variables, from `first_header` on, can repeat).
fn add_header(vars: &mut Vec<(Text, Text)>, first_header: usize, name: &str, value: &[u8]) {
    let value = latin1(value);
    let key = cgi_key(name);
    let joins = key != "CONTENT_TYPE" && key != "CONTENT_LENGTH";
    match vars[first_header..].iter_mut().find(|(k, _)| *k == key) {
        Some((_, existing)) if joins => {
            let joined = existing.to_mut();
            joined.push(',');
            joined.push_str(&value);
        }
        Some((_, existing)) => *existing = value.into(),
        None => vars.push((key, value.into())),
    }
}

/// The CGI name of a header; the common ones are constants.
fn cgi_key(name: &str) -> Text {
    const KNOWN: [(&str, &str); 14] = [
        ("host", "HTTP_HOST"),
        ("user-agent", "HTTP_USER_AGENT"),
        ("accept", "HTTP_ACCEPT"),
        ("accept-encoding", "HTTP_ACCEPT_ENCODING"),
        ("accept-language", "HTTP_ACCEPT_LANGUAGE"),
        ("connection", "HTTP_CONNECTION"),
        ("content-type", "CONTENT_TYPE"),
        ("content-length", "CONTENT_LENGTH"),
        ("cookie", "HTTP_COOKIE"),
        ("authorization", "HTTP_AUTHORIZATION"),
        ("referer", "HTTP_REFERER"),
        ("cache-control", "HTTP_CACHE_CONTROL"),
        ("origin", "HTTP_ORIGIN"),
        ("x-forwarded-for", "HTTP_X_FORWARDED_FOR"),
    ];
    match KNOWN.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some((_, key)) => Text::Borrowed(key),
        None => Text::Owned(header_key(name)),
    }
}

/// Header bytes as text: PEP 3333 decodes them as Latin-1, so every byte
/// maps to one character and nothing is lost.
fn latin1(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if bytes.is_ascii() => text.to_owned(),
        _ => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// `wsgi.errors`: what the application writes there goes to the `log`
/// facade (target `gateway_server::app`), one record per write.
#[derive(Debug)]
struct AppErrorLog;

impl Write for AppErrorLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let text = text.trim_end();
        if !text.is_empty() {
            log::error!(target: "gateway_server::app", "{text}");
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_head::{parse_head, HeadLimits};

    const LIMITS: HeadLimits = HeadLimits {
        max_request_line: 8192,
        max_header_bytes: 65536,
        max_headers: 100,
        max_body_bytes: 1 << 30,
    };

    fn environ_of(raw: &str) -> Result<Environ, RequestError> {
        let head = parse_head(raw.as_bytes(), &LIMITS)?.expect("complete head");
        let base = BaseEnviron {
            server_name: "localhost",
            server_port: "2017",
            multiprocess: false,
        };
        let remote = RemoteAddr {
            addr: Some("10.1.2.3".into()),
            port: Some("5555".into()),
        };
        build_environ(&head, &base, &remote, Input::empty())
    }

    #[test]
    fn carries_the_cgi_variables() {
        let env = environ_of(
            "POST /caf%C3%A9/a%2Fb?q=%20x HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\n\
             Content-Length: 0\r\nX-Many: 1\r\nx-many: 2\r\nAccept: */*\r\n\r\n",
        )
        .unwrap();
        assert_eq!(env.request_method(), "POST");
        assert_eq!(env.script_name(), "");
        assert_eq!(env.path_info(), "/caf\u{e9}/a/b");
        assert_eq!(env.query_string(), "q=%20x");
        assert_eq!(env.get("REQUEST_URI"), Some("/caf%C3%A9/a%2Fb?q=%20x"));
        assert_eq!(env.content_type(), Some("text/plain"));
        assert_eq!(env.get("CONTENT_LENGTH"), Some("0"));
        assert_eq!(env.get("HTTP_CONTENT_TYPE"), None);
        assert_eq!(env.get("HTTP_X_MANY"), Some("1,2"));
        assert_eq!(env.get("HTTP_HOST"), Some("example.com"));
        assert_eq!(env.get("SERVER_NAME"), Some("localhost"));
        assert_eq!(env.get("SERVER_PORT"), Some("2017"));
        assert_eq!(env.get("SERVER_PROTOCOL"), Some("HTTP/1.1"));
        assert_eq!(env.get("REMOTE_ADDR"), Some("10.1.2.3"));
        assert_eq!(env.get("REMOTE_PORT"), Some("5555"));
        assert!(env.multithread);
    }

    #[test]
    fn remote_addresses_are_formatted_as_cgi_expects() {
        let v4 = RemoteAddr::of("127.0.0.1:4000".parse().unwrap());
        assert_eq!(v4.addr.as_deref(), Some("127.0.0.1"));
        assert_eq!(v4.port.as_deref(), Some("4000"));
        let v6 = RemoteAddr::of("[::1]:80".parse().unwrap());
        assert_eq!(v6.addr.as_deref(), Some("::1"));
        let other = RemoteAddr::of("[2001:db8::7]:9".parse().unwrap());
        assert_eq!(other.addr.as_deref(), Some("2001:db8::7"));
        let other_v4 = RemoteAddr::of("10.0.0.2:1".parse().unwrap());
        assert_eq!(other_v4.addr.as_deref(), Some("10.0.0.2"));
    }

    #[test]
    fn refuses_paths_that_are_not_utf8() {
        assert!(matches!(
            environ_of("GET /%FF HTTP/1.1\r\nHost: h\r\n\r\n"),
            Err(RequestError::BadRequest(_))
        ));
    }

    #[test]
    fn header_bytes_are_latin1() {
        let raw = b"GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xe9\r\n\r\n";
        let head = parse_head(raw, &LIMITS).unwrap().unwrap();
        let env = build_environ(
            &head,
            &BaseEnviron {
                server_name: "h",
                server_port: "80",
                multiprocess: false,
            },
            &RemoteAddr::default(),
            Input::empty(),
        )
        .unwrap();
        assert_eq!(env.get("HTTP_X_NAME"), Some("caf\u{e9}"));
    }

    #[test]
    fn absolute_form_sets_the_host() {
        let env = environ_of("GET http://other:81/x HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!(env.get("HTTP_HOST"), Some("other:81"));
        assert_eq!(env.path_info(), "/x");
    }
}
