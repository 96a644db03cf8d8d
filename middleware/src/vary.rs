//! `Vary`: telling caches which request headers a response depends on.

use gateway_spec::{Headers, HeadersExt};

/// Add `name` to the response's `Vary` header unless it is already listed
/// (or `Vary: *` already covers everything).
pub(crate) fn add_vary(headers: &mut Headers, name: &str) {
    let existing = headers.get_header("Vary").unwrap_or("").to_owned();
    let listed = existing
        .split(',')
        .map(str::trim)
        .any(|v| v == "*" || v.eq_ignore_ascii_case(name));
    if listed {
        return;
    }
    let value = if existing.trim().is_empty() {
        name.to_owned()
    } else {
        format!("{existing}, {name}")
    };
    headers.set_header("Vary", value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_once_and_keeps_what_was_there() {
        let mut headers: Headers = vec![];
        add_vary(&mut headers, "Origin");
        add_vary(&mut headers, "origin");
        assert_eq!(headers.get_header("vary"), Some("Origin"));
        add_vary(&mut headers, "Accept-Encoding");
        assert_eq!(headers.get_header("vary"), Some("Origin, Accept-Encoding"));
        let mut star: Headers = vec![("Vary".into(), "*".into())];
        add_vary(&mut star, "Origin");
        assert_eq!(star.get_header("vary"), Some("*"));
    }
}
