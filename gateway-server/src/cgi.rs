//! A second gateway: CGI (RFC 3875), wsgiref's `CGIHandler`. A web server
//! runs the program once per request with the request in environment
//! variables and the body on standard input; the response goes to standard
//! output with a `Status:` header. The application is the same one the HTTP
//! server runs, through the same handler.

use std::io::{self, BufReader, Read, Write};

use gateway_spec::{Application, Environ, Errors, Input, UrlScheme};

use crate::handler::Handler;
use crate::request_head::Version;
use crate::response_writer::{Destination, Dialect, Exchange, ResponseWriter};

/// CGI variables copied from the process environment into the environ (RFC
/// 3875 section 4.1), besides every `HTTP_*` variable.
const CGI_VARIABLES: [&str; 17] = [
    "AUTH_TYPE",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "GATEWAY_INTERFACE",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_PORT",
    "REMOTE_USER",
    "REQUEST_METHOD",
    "REQUEST_URI",
    "SCRIPT_NAME",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
];

/// Run `app` once as a CGI program: read the request from the environment
/// and standard input, write the response to standard output.
///
/// ```no_run
/// use gateway_spec::{AppError, Body, Environ, StartResponse};
/// fn app(_e: Environ, sr: StartResponse) -> Result<Body, AppError> {
///     sr.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
///     Ok(Body::from("Hello from CGI."))
/// }
/// fn main() -> std::io::Result<()> {
///     gateway_server::run_cgi(app)
/// }
/// ```
///
/// # Errors
/// When standard output cannot be written.
pub fn run_cgi<A: Application>(app: A) -> io::Result<()> {
    let stdin = BufReader::new(io::stdin());
    let mut stdout = io::stdout().lock();
    run_cgi_with(&app, std::env::vars(), stdin, &mut stdout)
}

/// [`run_cgi`] with the environment, input and output given explicitly.
///
/// # Errors
/// When `output` cannot be written.
pub fn run_cgi_with(
    app: &dyn Application,
    vars: impl IntoIterator<Item = (String, String)>,
    input: impl Read + Send + 'static,
    output: &mut dyn Write,
) -> io::Result<()> {
    let environ = cgi_environ(vars, input);
    let request_line = format!(
        "{} {}{}",
        environ.request_method(),
        environ.script_name(),
        environ.path_info()
    );
    let version = match environ.get("SERVER_PROTOCOL") {
        Some("HTTP/1.1") => Version::Http11,
        _ => Version::Http10,
    };
    let is_head = environ.request_method() == "HEAD";
    let mut scratch = Vec::new();
    let exchange = Exchange {
        destination: Destination::Writer(output),
        dialect: Dialect::Cgi,
        version,
        is_head,
        keep_alive: false,
        stopping: None,
        write_timeout: std::time::Duration::from_secs(60),
        date: "",
        server_name: "",
        streamed: None,
        max_drain: 0,
        hold_complete: false,
    };
    Handler::new(ResponseWriter::new(exchange, &mut scratch), &request_line).run(app, environ);
    Ok(())
}

/// The environ of a CGI request: its variables, the body on `input` (at most
/// CONTENT_LENGTH bytes), and the `wsgi.*` values of a one-shot process.
fn cgi_environ(
    vars: impl IntoIterator<Item = (String, String)>,
    input: impl Read + Send + 'static,
) -> Environ {
    let mut environ = Environ::new();
    let mut https = false;
    for (key, value) in vars {
        if key == "HTTPS" {
            https = matches!(value.to_ascii_lowercase().as_str(), "on" | "1" | "yes");
        }
        // Some hosts (lighttpd) also pass the body headers as HTTP_*; PEP
        // 3333 rule 16 keeps them only as CONTENT_TYPE and CONTENT_LENGTH.
        let body_header = key == "HTTP_CONTENT_TYPE" || key == "HTTP_CONTENT_LENGTH";
        if (key.starts_with("HTTP_") && !body_header) || CGI_VARIABLES.contains(&key.as_str()) {
            environ.set(key, value);
        }
    }
    for required in ["SCRIPT_NAME", "PATH_INFO", "QUERY_STRING"] {
        if environ.get(required).is_none() {
            environ.set(required, "");
        }
    }
    let length = environ.content_length().unwrap_or(0);
    environ.input = Input::with_limit(BufReader::new(input), length);
    environ.errors = Errors::new(io::stderr());
    environ.url_scheme = if https {
        UrlScheme::Https
    } else {
        UrlScheme::Http
    };
    environ.multithread = false;
    environ.multiprocess = true;
    environ.run_once = true;
    environ
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_spec::{AppError, Body, StartResponse};

    fn echo(mut environ: Environ, sr: StartResponse) -> Result<Body, AppError> {
        let body = environ.input.read_all()?;
        sr.call(
            "201 Created",
            vec![("Content-Type".into(), "text/plain".into())],
        )?;
        Ok(Body::from(format!(
            "{} {} {}",
            environ.request_method(),
            environ.path_info(),
            String::from_utf8_lossy(&body)
        )))
    }

    fn run(vars: &[(&str, &str)], stdin: &'static [u8], app: &dyn Application) -> String {
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let mut out = Vec::new();
        run_cgi_with(app, vars, stdin, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_a_cgi_response_from_cgi_variables() {
        let out = run(
            &[
                ("REQUEST_METHOD", "POST"),
                ("PATH_INFO", "/x"),
                ("CONTENT_LENGTH", "3"),
                ("SERVER_PROTOCOL", "HTTP/1.1"),
                ("PATH", "/bin"),
            ],
            b"abcdef",
            &echo,
        );
        assert_eq!(out, "Status: 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nPOST /x abc");
    }

    #[test]
    fn body_headers_are_only_cgi_variables() {
        let vars = [
            ("CONTENT_LENGTH", "0"),
            ("HTTP_CONTENT_LENGTH", "0"),
            ("HTTP_CONTENT_TYPE", "text/x"),
            ("HTTP_HOST", "h"),
            ("HTTPS", "on"),
        ];
        let environ = cgi_environ(
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            std::io::empty(),
        );
        assert_eq!(environ.get("HTTP_CONTENT_LENGTH"), None);
        assert_eq!(environ.get("HTTP_CONTENT_TYPE"), None);
        assert_eq!(environ.get("HTTP_HOST"), Some("h"));
        assert_eq!(environ.url_scheme, UrlScheme::Https);
        assert!(environ.run_once && environ.multiprocess && !environ.multithread);
    }

    #[test]
    fn errors_become_a_500_and_head_has_no_body() {
        let failing =
            |_e: Environ, _sr: StartResponse| -> Result<Body, AppError> { Err("broken".into()) };
        let out = run(&[("REQUEST_METHOD", "GET")], b"", &failing);
        assert!(
            out.starts_with("Status: 500 Internal Server Error\r\n"),
            "{out}"
        );
        let out = run(
            &[("REQUEST_METHOD", "HEAD"), ("PATH_INFO", "/")],
            b"",
            &echo,
        );
        assert!(out.ends_with("\r\n\r\n"), "{out}");
    }
}
