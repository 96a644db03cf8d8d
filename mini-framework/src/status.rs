//! Status lines: turning a numeric code into the `NNN Reason` that
//! `start_response` expects, with the canonical reason phrases of RFC 9110.

/// The canonical reason phrase for `code`, if it is a registered status.
pub(crate) fn reason_phrase(code: u16) -> Option<&'static str> {
    registered_line(code).map(|line| &line[4..])
}

/// The whole status line of a registered status, as one static string, so
/// the usual responses cost no formatting and no allocation.
fn registered_line(code: u16) -> Option<&'static str> {
    let line = match code {
        100 => "100 Continue",
        101 => "101 Switching Protocols",
        103 => "103 Early Hints",
        200 => "200 OK",
        201 => "201 Created",
        202 => "202 Accepted",
        203 => "203 Non-Authoritative Information",
        204 => "204 No Content",
        205 => "205 Reset Content",
        206 => "206 Partial Content",
        300 => "300 Multiple Choices",
        301 => "301 Moved Permanently",
        302 => "302 Found",
        303 => "303 See Other",
        304 => "304 Not Modified",
        307 => "307 Temporary Redirect",
        308 => "308 Permanent Redirect",
        400 => "400 Bad Request",
        401 => "401 Unauthorized",
        402 => "402 Payment Required",
        403 => "403 Forbidden",
        404 => "404 Not Found",
        405 => "405 Method Not Allowed",
        406 => "406 Not Acceptable",
        407 => "407 Proxy Authentication Required",
        408 => "408 Request Timeout",
        409 => "409 Conflict",
        410 => "410 Gone",
        411 => "411 Length Required",
        412 => "412 Precondition Failed",
        413 => "413 Content Too Large",
        414 => "414 URI Too Long",
        415 => "415 Unsupported Media Type",
        416 => "416 Range Not Satisfiable",
        417 => "417 Expectation Failed",
        418 => "418 I'm a teapot",
        421 => "421 Misdirected Request",
        422 => "422 Unprocessable Content",
        425 => "425 Too Early",
        426 => "426 Upgrade Required",
        428 => "428 Precondition Required",
        429 => "429 Too Many Requests",
        431 => "431 Request Header Fields Too Large",
        451 => "451 Unavailable For Legal Reasons",
        500 => "500 Internal Server Error",
        501 => "501 Not Implemented",
        502 => "502 Bad Gateway",
        503 => "503 Service Unavailable",
        504 => "504 Gateway Timeout",
        505 => "505 HTTP Version Not Supported",
        _ => return None,
    };
    Some(line)
}

/// Whether `code` can be sent at all (RFC 9110 defines 100-599).
pub(crate) fn is_valid(code: u16) -> bool {
    (100..=599).contains(&code)
}

/// `"404 Not Found"`. Unregistered codes get the phrase of their class, so the
/// line still satisfies `start_response` (`"299 Success"`).
pub(crate) fn status_line(code: u16) -> std::borrow::Cow<'static, str> {
    if let Some(line) = registered_line(code) {
        return line.into();
    }
    let class = match code / 100 {
        1 => "Informational",
        2 => "Success",
        3 => "Redirection",
        4 => "Client Error",
        _ => "Server Error",
    };
    format!("{code} {class}").into()
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
    fn every_registered_line_starts_with_its_own_code() {
        for code in 100..600u16 {
            if let Some(line) = registered_line(code) {
                assert!(line.starts_with(&format!("{code} ")), "{line}");
                assert!(line.len() > 4, "{line} has no phrase");
            }
        }
    }

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
