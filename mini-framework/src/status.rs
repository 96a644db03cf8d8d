//! Status lines: turning a numeric code into the `NNN Reason` that
//! `start_response` expects, with the canonical reason phrases of RFC 9110.

/// The canonical reason phrase for `code`, if it is a registered status.
pub(crate) fn reason_phrase(code: u16) -> Option<&'static str> {
    let phrase = match code {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => return None,
    };
    Some(phrase)
}

/// Whether `code` can be sent at all (RFC 9110 defines 100-599).
pub(crate) fn is_valid(code: u16) -> bool {
    (100..=599).contains(&code)
}

/// `"404 Not Found"`. Unregistered codes get the phrase of their class, so the
/// line still satisfies `start_response` (`"299 Success"`).
pub(crate) fn status_line(code: u16) -> std::borrow::Cow<'static, str> {
    // The everyday statuses cost no formatting and no allocation.
    let common = match code {
        200 => "200 OK",
        201 => "201 Created",
        204 => "204 No Content",
        301 => "301 Moved Permanently",
        302 => "302 Found",
        303 => "303 See Other",
        304 => "304 Not Modified",
        400 => "400 Bad Request",
        404 => "404 Not Found",
        500 => "500 Internal Server Error",
        _ => "",
    };
    if !common.is_empty() {
        return common.into();
    }
    let phrase = reason_phrase(code).unwrap_or(match code / 100 {
        1 => "Informational",
        2 => "Success",
        3 => "Redirection",
        4 => "Client Error",
        _ => "Server Error",
    });
    format!("{code} {phrase}").into()
}

/// Statuses whose responses never carry content (RFC 9110 sections 15.2,
/// 15.3.5 and 15.4.5), so the framework sends no body and no Content-Length.
pub(crate) fn forbids_body(code: u16) -> bool {
    code < 200 || code == 204 || code == 304
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_codes_get_their_canonical_phrase() {
        assert_eq!(status_line(200), "200 OK");
        assert_eq!(status_line(404), "404 Not Found");
        assert_eq!(status_line(308), "308 Permanent Redirect");
        assert_eq!(status_line(413), "413 Content Too Large");
    }

    #[test]
    fn unregistered_codes_fall_back_to_their_class() {
        assert_eq!(status_line(299), "299 Success");
        assert_eq!(status_line(499), "499 Client Error");
        assert_eq!(status_line(599), "599 Server Error");
    }

    #[test]
    fn only_100_to_599_are_valid() {
        assert!(!is_valid(99) && is_valid(100) && is_valid(599) && !is_valid(600));
    }
}
