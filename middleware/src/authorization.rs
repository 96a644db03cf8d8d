//! The `Authorization` request header and the `WWW-Authenticate` challenge,
//! shared by [`BasicAuth`](crate::BasicAuth) and [`BearerAuth`](crate::BearerAuth).

/// What the `Authorization` header holds for an expected scheme.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Presented<'a> {
    /// No `Authorization` header.
    Missing,
    /// A header for another scheme (RFC 9110: the server answers with the
    /// challenge of the scheme it does accept).
    OtherScheme,
    /// The credentials after `<scheme> `, still encoded.
    Credentials(&'a str),
}

/// Split `Authorization: <scheme> <credentials>` for `scheme` (matched
/// case-insensitively, RFC 9110 section 11.1).
pub(crate) fn presented<'a>(header: Option<&'a str>, scheme: &str) -> Presented<'a> {
    let Some(value) = header.map(str::trim) else {
        return Presented::Missing;
    };
    if value.is_empty() {
        return Presented::Missing;
    }
    let (name, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !name.eq_ignore_ascii_case(scheme) {
        return Presented::OtherScheme;
    }
    Presented::Credentials(rest.trim_start_matches(' '))
}

/// A realm fit for a quoted string in a header: printable ASCII without
/// `"` or `\`, so a configured realm can never break the header.
pub(crate) fn clean_realm(realm: &str) -> String {
    realm
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
        .collect()
}

/// Compare two secrets in time that depends on their lengths only, never
/// on where they first differ, so an attacker cannot guess a secret byte by
/// byte from response times.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut difference = u8::from(a.len() != b.len());
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        difference |= std::hint::black_box(x ^ y);
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_scheme_and_credentials() {
        assert_eq!(presented(None, "Basic"), Presented::Missing);
        assert_eq!(presented(Some("  "), "Basic"), Presented::Missing);
        assert_eq!(presented(Some("Bearer x"), "Basic"), Presented::OtherScheme);
        assert_eq!(
            presented(Some("basic  YWJj"), "Basic"),
            Presented::Credentials("YWJj")
        );
        assert_eq!(
            presented(Some("Basic"), "Basic"),
            Presented::Credentials("")
        );
    }

    #[test]
    fn realms_cannot_break_the_header() {
        assert_eq!(clean_realm("a\"b\\c\r\nd\u{e9}"), "abcd");
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
