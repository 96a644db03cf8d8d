//! A second reading of PEP 3333's environ for an accepted head: the CGI
//! variables the server must set, computed from [`Head`] with a hand-written
//! percent-decoder and header mapping.
//!
//! Mirrored policy: `%` not followed by two hex digits stays as it is (what
//! the percent-encoding crate and most servers do); PATH_INFO must decode to
//! UTF-8 or the request is refused; header values are Latin-1; repeated
//! headers join with `,`; Content-Type and Content-Length lose `HTTP_`.

use crate::reference_head::Head;

/// Server name and port the server's fuzzing entry point uses.
const SERVER_NAME: &str = "localhost";
const SERVER_PORT: &str = "80";

/// The sorted CGI variables for `head`, or why the server must refuse it.
///
/// # Errors
/// When the path does not decode to UTF-8.
pub fn environ_vars(head: &Head) -> Result<Vec<(String, String)>, &'static str> {
    let (path, query, authority) = split_target(&head.target);
    let path_info = String::from_utf8(percent_decode(path.as_bytes()))
        .map_err(|_| "path does not decode to UTF-8")?;
    let mut vars: Vec<(String, String)> = vec![
        ("REQUEST_METHOD".into(), head.method.clone()),
        ("SCRIPT_NAME".into(), String::new()),
        ("PATH_INFO".into(), path_info),
        ("QUERY_STRING".into(), query.to_owned()),
        ("REQUEST_URI".into(), head.target.clone()),
        ("SERVER_NAME".into(), SERVER_NAME.into()),
        ("SERVER_PORT".into(), SERVER_PORT.into()),
        ("SERVER_PROTOCOL".into(), head.version.into()),
        ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
    ];
    for (name, value) in &head.headers {
        let key = cgi_key(name);
        let value: String = value.iter().map(|&b| char::from(b)).collect();
        match vars.iter_mut().find(|(k, _)| *k == key) {
            Some((_, existing)) if key == "CONTENT_TYPE" || key == "CONTENT_LENGTH" => {
                *existing = value
            }
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            None => vars.push((key, value)),
        }
    }
    if let Some(authority) = authority {
        match vars.iter_mut().find(|(k, _)| k == "HTTP_HOST") {
            Some((_, existing)) => *existing = authority.to_owned(),
            None => vars.push(("HTTP_HOST".into(), authority.to_owned())),
        }
    }
    vars.sort();
    Ok(vars)
}

/// Path (still encoded), query and, for absolute-form, the authority.
pub fn split_target(target: &str) -> (&str, &str, Option<&str>) {
    if target == "*" {
        return ("", "", None);
    }
    let (authority, origin) = if target.starts_with('/') {
        (None, target)
    } else {
        let https = target
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("https"));
        let scheme_len = if https { 8 } else { 7 };
        let rest = &target[scheme_len..];
        let at = rest.find(['/', '?']).unwrap_or(rest.len());
        (Some(&rest[..at]), &rest[at..])
    };
    let (path, query) = origin.split_once('?').unwrap_or((origin, ""));
    (if path.is_empty() { "/" } else { path }, query, authority)
}

/// `%XX` to its byte; anything else, a lone `%` included, as it is.
pub fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// `HTTP_` + upper-cased name with `-` as `_`; two names lose the prefix.
fn cgi_key(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    match upper.as_str() {
        "CONTENT_TYPE" | "CONTENT_LENGTH" => upper,
        _ => format!("HTTP_{upper}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"/caf%C3%A9"), "/caf\u{e9}".as_bytes());
        assert_eq!(percent_decode(b"/a%2"), b"/a%2");
        assert_eq!(percent_decode(b"/a%zz%41"), b"/a%zzA");
        assert_eq!(percent_decode(b"%41"), b"A");
    }
}
