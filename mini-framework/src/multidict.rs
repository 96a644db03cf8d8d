//! [`MultiDict`]: an ordered list of name/value pairs where a name may
//! repeat, as werkzeug calls it. Query strings and forms are both one.

use std::str::FromStr;

use crate::error::RequestError;

/// Multi-valued, ordered parameters: `?tag=a&tag=b&page=2`.
///
/// ```
/// use mini_framework::MultiDict;
/// let args = MultiDict::parse_urlencoded("tag=a&tag=b&page=2&q=caf%C3%A9+au+lait");
/// assert_eq!(args.get("tag"), Some("a"));
/// assert_eq!(args.get_all("tag"), vec!["a", "b"]);
/// assert_eq!(args.get_as::<u32>("page"), Ok(Some(2)));
/// assert_eq!(args.get("q"), Some("café au lait"));
/// assert_eq!(args.get("missing"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultiDict {
    pairs: Vec<(String, String)>,
}

impl MultiDict {
    /// An empty dictionary.
    pub fn new() -> MultiDict {
        MultiDict::default()
    }

    /// Parse `application/x-www-form-urlencoded` text (a query string or a
    /// form body): `+` is a space, `%XX` escapes are decoded, and invalid
    /// UTF-8 becomes U+FFFD.
    pub fn parse_urlencoded(text: &str) -> MultiDict {
        form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The first value for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value for `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value for `name`, parsed.
    ///
    /// # Errors
    /// [`RequestError::InvalidParam`] (a 400) when the value does not parse.
    pub fn get_as<T: FromStr>(&self, name: &str) -> Result<Option<T>, RequestError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        value
            .parse()
            .map(Some)
            .map_err(|_| RequestError::InvalidParam {
                name: name.to_owned(),
                value: value.to_owned(),
                expected: std::any::type_name::<T>(),
            })
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// Add a pair at the end.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((name.into(), value.into()));
    }

    /// All pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl FromIterator<(String, String)> for MultiDict {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> MultiDict {
        MultiDict {
            pairs: pairs.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_repeats() {
        let d = MultiDict::parse_urlencoded("a=1&b=2&a=3&flag");
        let pairs: Vec<_> = d.iter().collect();
        assert_eq!(pairs, [("a", "1"), ("b", "2"), ("a", "3"), ("flag", "")]);
        assert!(d.contains("flag"));
        assert_eq!(d.len(), 4);
    }

    #[test]
    fn bad_numbers_are_a_400() {
        let d = MultiDict::parse_urlencoded("page=two");
        let err = d.get_as::<u32>("page").unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains("\"two\""));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let d = MultiDict::parse_urlencoded("x=%FF");
        assert_eq!(d.get("x"), Some("\u{FFFD}"));
    }
}
