//! Reading a `Content-Type` value: its essence (`type/subtype`) and its
//! parameters (`boundary=...`, `charset=...`).

/// `"multipart/form-data; boundary=x"` -> `"multipart/form-data"`, lowercased.
pub(crate) fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The value of parameter `name` (case-insensitive), unquoted.
pub(crate) fn parameter(content_type: &str, name: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case(name) {
            return None;
        }
        let value = value.trim();
        Some(
            match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
                None => value.to_owned(),
            },
        )
    })
}

/// `application/json` or any `application/*+json` (RFC 6839).
pub(crate) fn is_json(content_type: &str) -> bool {
    let essence = essence(content_type);
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essence_and_parameters() {
        let ct = "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b\\\"c\"";
        assert_eq!(essence(ct), "multipart/form-data");
        assert_eq!(parameter(ct, "boundary").as_deref(), Some("a b\"c"));
        assert_eq!(parameter(ct, "charset").as_deref(), Some("utf-8"));
        assert_eq!(parameter(ct, "missing"), None);
    }

    #[test]
    fn json_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/problem+json"));
        assert!(!is_json("text/json+plain"));
        assert!(!is_json("text/plain"));
    }
}
