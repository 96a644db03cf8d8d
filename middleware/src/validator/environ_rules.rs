//! The server's side of the contract: what a well-built environ looks like
//! (PEP 3333 rules 12-18, with wsgiref.validate's and Rack::Lint's shape checks).

use gateway_spec::{is_token_byte, Environ};

use super::violation::Violation;

/// Variables that may be present and empty (PEP 3333 rules 13-14). Request
/// headers (`HTTP_*`) may be empty too: a client may send an empty value.
const MAY_BE_EMPTY: [&str; 5] = [
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
];

/// Variables checked on their own below, so `EmptyVariable` skips them.
const REQUIRED: [&str; 4] = [
    "REQUEST_METHOD",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
];

/// Every rule `environ` breaks, in the order of PEP 3333's list.
pub(super) fn check(environ: &Environ) -> Vec<Violation> {
    let mut found = Vec::new();
    check_request_method(environ, &mut found);
    check_path(environ, &mut found);
    check_content_length(environ, &mut found);
    check_server(environ, &mut found);
    check_header_names(environ, &mut found);
    check_empty_values(environ, &mut found);
    found
}

fn check_request_method(environ: &Environ, found: &mut Vec<Violation>) {
    match environ.get("REQUEST_METHOD") {
        None | Some("") => found.push(Violation::MissingRequestMethod),
        Some(method) if !method.bytes().all(is_token_byte) => {
            found.push(Violation::InvalidRequestMethod {
                method: method.to_owned(),
            });
        }
        Some(_) => {}
    }
}

fn check_path(environ: &Environ, found: &mut Vec<Violation>) {
    let script_name = environ.get("SCRIPT_NAME").unwrap_or("");
    if !script_name.is_empty() && (!script_name.starts_with('/') || script_name == "/") {
        found.push(Violation::InvalidScriptName {
            script_name: script_name.to_owned(),
        });
    }
    match environ.get("PATH_INFO") {
        None if script_name.is_empty() => found.push(Violation::MissingPathInfo),
        // Rack::Lint: "*" is the request target of a server-wide OPTIONS.
        Some("*") if environ.request_method() == "OPTIONS" => {}
        Some(path) if !path.is_empty() && !path.starts_with('/') => {
            found.push(Violation::InvalidPathInfo {
                path_info: path.to_owned(),
            });
        }
        _ => {}
    }
}

fn check_content_length(environ: &Environ, found: &mut Vec<Violation>) {
    if let Some(value) = environ.get("CONTENT_LENGTH") {
        if !value.is_empty() && !value.bytes().all(|b| b.is_ascii_digit()) {
            found.push(Violation::InvalidContentLength {
                content_length: value.to_owned(),
            });
        }
    }
}

fn check_server(environ: &Environ, found: &mut Vec<Violation>) {
    for key in ["SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL"] {
        if environ.get(key).unwrap_or("").is_empty() {
            found.push(Violation::MissingServerVariable { key });
        }
    }
    if let Some(port) = environ.get("SERVER_PORT").filter(|p| !p.is_empty()) {
        if !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err() {
            found.push(Violation::InvalidServerPort {
                port: port.to_owned(),
            });
        }
    }
    if let Some(protocol) = environ.get("SERVER_PROTOCOL").filter(|p| !p.is_empty()) {
        if !is_http_version(protocol) {
            found.push(Violation::InvalidServerProtocol {
                protocol: protocol.to_owned(),
            });
        }
    }
}

/// `HTTP/d` or `HTTP/d.d` (Rack::Lint check 5).
fn is_http_version(protocol: &str) -> bool {
    let Some(version) = protocol.strip_prefix("HTTP/") else {
        return false;
    };
    match version.as_bytes() {
        [major] => major.is_ascii_digit(),
        [major, b'.', minor] => major.is_ascii_digit() && minor.is_ascii_digit(),
        _ => false,
    }
}

fn check_header_names(environ: &Environ, found: &mut Vec<Violation>) {
    for key in ["HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"] {
        if environ.get(key).is_some() {
            found.push(Violation::ContentHeaderAsHttp {
                key: key.to_owned(),
            });
        }
    }
}

fn check_empty_values(environ: &Environ, found: &mut Vec<Violation>) {
    for (key, value) in environ.vars() {
        let may_be_empty =
            MAY_BE_EMPTY.contains(&key) || REQUIRED.contains(&key) || key.starts_with("HTTP_");
        if value.is_empty() && !may_be_empty {
            found.push(Violation::EmptyVariable {
                key: key.to_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violations_after(change: impl FnOnce(&mut Environ)) -> Vec<Violation> {
        let mut environ = Environ::for_test();
        change(&mut environ);
        check(&environ)
    }

    #[test]
    fn the_test_environ_is_clean() {
        assert_eq!(check(&Environ::for_test()), vec![]);
    }

    #[test]
    fn request_method_must_be_a_non_empty_token() {
        assert_eq!(
            violations_after(|e| {
                e.remove("REQUEST_METHOD");
            }),
            vec![Violation::MissingRequestMethod]
        );
        assert_eq!(
            violations_after(|e| e.set("REQUEST_METHOD", "")),
            vec![Violation::MissingRequestMethod]
        );
        assert_eq!(
            violations_after(|e| e.set("REQUEST_METHOD", "GE T")),
            vec![Violation::InvalidRequestMethod {
                method: "GE T".into()
            }]
        );
        assert_eq!(
            violations_after(|e| e.set("REQUEST_METHOD", "PROPFIND")),
            vec![]
        );
    }

    #[test]
    fn script_name_and_path_info_have_the_pep_shape() {
        for bad in ["app", "/"] {
            assert_eq!(
                violations_after(|e| e.set("SCRIPT_NAME", bad)),
                vec![Violation::InvalidScriptName {
                    script_name: bad.into()
                }]
            );
        }
        assert_eq!(
            violations_after(|e| e.set("PATH_INFO", "hello")),
            vec![Violation::InvalidPathInfo {
                path_info: "hello".into()
            }]
        );
        assert_eq!(
            violations_after(|e| {
                e.remove("PATH_INFO");
            }),
            vec![Violation::MissingPathInfo]
        );
        // An application mounted at /app, asked for its root, has no PATH_INFO.
        assert_eq!(
            violations_after(|e| {
                e.set("SCRIPT_NAME", "/app");
                e.set("PATH_INFO", "");
            }),
            vec![]
        );
        assert_eq!(
            violations_after(|e| {
                e.set("REQUEST_METHOD", "OPTIONS");
                e.set("PATH_INFO", "*");
            }),
            vec![]
        );
    }

    #[test]
    fn content_length_is_digits_only() {
        for bad in ["-1", "+5", "0x10", " 5", "5 "] {
            assert_eq!(
                violations_after(|e| e.set("CONTENT_LENGTH", bad)),
                vec![Violation::InvalidContentLength {
                    content_length: bad.into()
                }],
                "{bad:?}"
            );
        }
        assert_eq!(violations_after(|e| e.set("CONTENT_LENGTH", "42")), vec![]);
        assert_eq!(violations_after(|e| e.set("CONTENT_LENGTH", "")), vec![]);
    }

    #[test]
    fn server_variables_are_required_and_well_formed() {
        assert_eq!(
            violations_after(|e| {
                e.remove("SERVER_NAME");
            }),
            vec![Violation::MissingServerVariable { key: "SERVER_NAME" }]
        );
        assert_eq!(
            violations_after(|e| e.set("SERVER_PORT", "")),
            vec![Violation::MissingServerVariable { key: "SERVER_PORT" }]
        );
        assert_eq!(
            violations_after(|e| e.set("SERVER_PORT", "http")),
            vec![Violation::InvalidServerPort {
                port: "http".into()
            }]
        );
        assert_eq!(
            violations_after(|e| e.set("SERVER_PORT", "70000")),
            vec![Violation::InvalidServerPort {
                port: "70000".into()
            }]
        );
        assert_eq!(
            violations_after(|e| e.set("SERVER_PROTOCOL", "HTTP/1.10")),
            vec![Violation::InvalidServerProtocol {
                protocol: "HTTP/1.10".into()
            }]
        );
        assert_eq!(
            violations_after(|e| e.set("SERVER_PROTOCOL", "HTTP/2")),
            vec![]
        );
    }

    #[test]
    fn content_headers_never_appear_as_http_variables() {
        assert_eq!(
            violations_after(|e| e.set("HTTP_CONTENT_TYPE", "text/plain")),
            vec![Violation::ContentHeaderAsHttp {
                key: "HTTP_CONTENT_TYPE".into()
            }]
        );
        assert_eq!(
            violations_after(|e| e.set("HTTP_CONTENT_LENGTH", "3")),
            vec![Violation::ContentHeaderAsHttp {
                key: "HTTP_CONTENT_LENGTH".into()
            }]
        );
    }

    #[test]
    fn missing_values_are_left_out_not_empty() {
        assert_eq!(
            violations_after(|e| e.set("REMOTE_USER", "")),
            vec![Violation::EmptyVariable {
                key: "REMOTE_USER".into()
            }]
        );
        // An empty request header is a real, empty header.
        assert_eq!(violations_after(|e| e.set("HTTP_X_EMPTY", "")), vec![]);
        assert_eq!(violations_after(|e| e.set("QUERY_STRING", "")), vec![]);
    }
}
