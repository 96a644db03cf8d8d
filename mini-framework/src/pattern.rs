//! Route patterns: `/users/<id:int>` compiled into segments, matched against
//! PATH_INFO, and run backwards to build URLs for `url_for`.
//!
//! Each converter is bottle's triple in small: what it accepts
//! ([`Converter::accepts`]), how specific it is (for precedence), and how a
//! value is written back into a URL (escaped as a segment, or as a path for
//! `<p:path>`).

use std::fmt::Display;

use crate::error::{RouteError, UrlError};
use crate::url::{encode_path, encode_segment};

/// The type of a path parameter: `<name>` or `<name:converter>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Converter {
    /// `<id:int>`: an optional `-` and digits that fit an `i64`.
    Int,
    /// `<u:uuid>`: `8-4-4-4-12` hexadecimal digits.
    Uuid,
    /// `<x:float>`: an optional `-`, digits, and an optional `.digits`.
    Float,
    /// `<name>` or `<name:string>`: one non-empty segment (no `/`).
    Str,
    /// `<p:path>`: the rest of the path, slashes included; must end the pattern.
    Path,
}

impl Converter {
    fn from_name(name: &str) -> Option<Converter> {
        match name {
            "" | "string" => Some(Converter::Str),
            "int" => Some(Converter::Int),
            "float" => Some(Converter::Float),
            "path" => Some(Converter::Path),
            "uuid" => Some(Converter::Uuid),
            _ => None,
        }
    }

    /// Whether `value` (one decoded segment, or the rest of the path for
    /// `Path`) is accepted.
    pub(crate) fn accepts(self, value: &str) -> bool {
        match self {
            Converter::Str | Converter::Path => !value.is_empty(),
            Converter::Int => is_signed_digits(value) && value.parse::<i64>().is_ok(),
            Converter::Float => is_decimal(value),
            Converter::Uuid => is_uuid(value),
        }
    }

    /// What the converter accepts, for error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Converter::Int => "integer",
            Converter::Uuid => "UUID",
            Converter::Float => "number",
            Converter::Str => "non-empty segment",
            Converter::Path => "non-empty path",
        }
    }

    /// Lower is more specific: "42" is an int before it is a float, and a
    /// float before it is any string.
    fn rank(self) -> u8 {
        match self {
            Converter::Int => 0,
            Converter::Uuid => 1,
            Converter::Float => 2,
            Converter::Str => 3,
            Converter::Path => 4,
        }
    }
}

fn is_signed_digits(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_decimal(value: &str) -> bool {
    match value.split_once('.') {
        Some((whole, fraction)) => {
            is_signed_digits(whole)
                && !fraction.is_empty()
                && fraction.bytes().all(|b| b.is_ascii_digit())
        }
        None => is_signed_digits(value),
    }
}

fn is_uuid(value: &str) -> bool {
    value.len() == 36
        && value.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// One `/`-separated piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Static(String),
    Param(Param),
}

/// A parameter segment, with optional literal text around it (`v<n:int>`,
/// `<name>.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Param {
    prefix: String,
    name: String,
    converter: Converter,
    suffix: String,
}

/// A compiled route pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    source: String,
    segments: Vec<Segment>,
    trailing_slash: bool,
}

/// Captured parameters: the pattern's names with the decoded values.
pub(crate) type Params<'p> = Vec<(&'p str, String)>;

impl Pattern {
    /// Compile `source`, or explain what is wrong with it.
    pub(crate) fn parse(source: &str) -> Result<Pattern, RouteError> {
        let invalid = |reason: &str| RouteError::InvalidPattern {
            pattern: source.to_owned(),
            reason: reason.to_owned(),
        };
        let body = source
            .strip_prefix('/')
            .ok_or_else(|| invalid("a pattern must start with '/'"))?;
        if body.contains(['?', '#']) {
            return Err(invalid(
                "patterns match the path only; '?' and '#' cannot appear in them",
            ));
        }
        let trailing_slash = body.ends_with('/');
        let body = body.strip_suffix('/').unwrap_or(body);
        let mut segments = Vec::new();
        if !body.is_empty() {
            for piece in body.split('/') {
                segments.push(parse_segment(piece).map_err(|reason| invalid(&reason))?);
            }
        }
        let pattern = Pattern {
            source: source.to_owned(),
            segments,
            trailing_slash,
        };
        pattern.check_params().map_err(|reason| invalid(&reason))?;
        Ok(pattern)
    }

    fn check_params(&self) -> Result<(), String> {
        let params: Vec<&Param> = self.params().collect();
        for (i, param) in params.iter().enumerate() {
            if params[..i].iter().any(|p| p.name == param.name) {
                return Err(format!("parameter <{}> appears twice", param.name));
            }
        }
        let path_param = self
            .segments
            .iter()
            .position(|s| matches!(s, Segment::Param(p) if p.converter == Converter::Path));
        if let Some(at) = path_param {
            let last = at + 1 == self.segments.len();
            let Segment::Param(param) = &self.segments[at] else {
                return Ok(());
            };
            if !last || !param.suffix.is_empty() || self.trailing_slash {
                return Err(format!(
                    "<{}:path> takes the rest of the path, so it must end the pattern",
                    param.name
                ));
            }
        }
        Ok(())
    }

    fn params(&self) -> impl Iterator<Item = &Param> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Param(param) => Some(param),
            Segment::Static(_) => None,
        })
    }

    /// The pattern as written.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// The parameters of `path` (a decoded PATH_INFO), if it matches.
    pub(crate) fn matches(&self, path: &str) -> Option<Params<'_>> {
        let mut remaining = path.strip_prefix('/')?;
        let mut params = Params::new();
        if self.segments.is_empty() {
            return remaining.is_empty().then_some(params);
        }
        let last = self.segments.len() - 1;
        for (index, segment) in self.segments.iter().enumerate() {
            if let Segment::Param(param) = segment {
                if param.converter == Converter::Path {
                    let value = remaining.strip_prefix(param.prefix.as_str())?;
                    Converter::Path.accepts(value).then_some(())?;
                    params.push((param.name.as_str(), value.to_owned()));
                    return Some(params);
                }
            }
            let (piece, after) = match remaining.split_once('/') {
                Some((piece, after)) => (piece, Some(after)),
                None => (remaining, None),
            };
            match_segment(segment, piece, &mut params)?;
            if index == last {
                let ends_with_slash = match after {
                    None => false,
                    Some("") => true,
                    Some(_) => return None,
                };
                return (ends_with_slash == self.trailing_slash).then_some(params);
            }
            remaining = after?;
        }
        None
    }

    /// How specific the pattern is, for ordering: compared segment by
    /// segment, static text beats any parameter, a parameter with literal
    /// text around it beats a bare one, and converters go
    /// int < uuid < float < string < path.
    pub(crate) fn precedence(&self) -> Vec<u8> {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Static(_) => 0,
                Segment::Param(p) => {
                    let bare = u8::from(p.prefix.is_empty() && p.suffix.is_empty());
                    1 + p.converter.rank() * 2 + bare
                }
            })
            .collect()
    }

    /// Whether both patterns match exactly the same paths (parameter names
    /// aside): two such routes for one method would make the second dead.
    pub(crate) fn same_shape(&self, other: &Pattern) -> bool {
        self.trailing_slash == other.trailing_slash
            && self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Static(a), Segment::Static(b)) => a == b,
                    (Segment::Param(a), Segment::Param(b)) => {
                        a.converter == b.converter && a.prefix == b.prefix && a.suffix == b.suffix
                    }
                    _ => false,
                })
    }

    /// The pattern with `values` filled in, percent-encoded; values whose
    /// names are not parameters become the query string (as in Flask).
    pub(crate) fn build(
        &self,
        route: &str,
        values: &[(&str, &dyn Display)],
    ) -> Result<String, UrlError> {
        let mut url = String::new();
        for segment in &self.segments {
            url.push('/');
            match segment {
                Segment::Static(text) => url.push_str(&encode_path(text)),
                Segment::Param(param) => url.push_str(&build_param(route, param, values)?),
            }
        }
        if self.segments.is_empty() || self.trailing_slash {
            url.push('/');
        }
        let mut extra = values
            .iter()
            .filter(|(name, _)| self.params().all(|p| p.name != *name))
            .peekable();
        if extra.peek().is_some() {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (name, value) in extra {
                query.append_pair(name, &value.to_string());
            }
            url.push('?');
            url.push_str(&query.finish());
        }
        Ok(url)
    }
}

fn build_param(
    route: &str,
    param: &Param,
    values: &[(&str, &dyn Display)],
) -> Result<String, UrlError> {
    let value = values
        .iter()
        .find(|(name, _)| *name == param.name)
        .map(|(_, value)| value.to_string())
        .ok_or_else(|| UrlError::MissingParam {
            route: route.to_owned(),
            param: param.name.clone(),
        })?;
    if !param.converter.accepts(&value) {
        return Err(UrlError::InvalidParam {
            route: route.to_owned(),
            param: param.name.clone(),
            value,
            expected: param.converter.describe(),
        });
    }
    let encoded = match param.converter {
        Converter::Path => encode_path(&value),
        _ => encode_segment(&value),
    };
    Ok(format!(
        "{}{}{}",
        encode_path(&param.prefix),
        encoded,
        encode_path(&param.suffix)
    ))
}

fn match_segment<'p>(segment: &'p Segment, piece: &str, params: &mut Params<'p>) -> Option<()> {
    match segment {
        Segment::Static(text) => (text == piece).then_some(()),
        Segment::Param(param) => {
            let value = piece
                .strip_prefix(param.prefix.as_str())?
                .strip_suffix(param.suffix.as_str())?;
            param.converter.accepts(value).then_some(())?;
            params.push((param.name.as_str(), value.to_owned()));
            Some(())
        }
    }
}

fn parse_segment(piece: &str) -> Result<Segment, String> {
    if piece.is_empty() {
        return Err("empty segment (two slashes in a row)".to_owned());
    }
    let Some((prefix, rest)) = piece.split_once('<') else {
        if piece.contains('>') {
            return Err(format!("segment {piece:?} has '>' without '<'"));
        }
        return Ok(Segment::Static(piece.to_owned()));
    };
    let (inner, suffix) = rest
        .split_once('>')
        .ok_or_else(|| format!("segment {piece:?} has '<' without a closing '>'"))?;
    if prefix.contains('>') || inner.contains('<') || suffix.contains(['<', '>']) {
        return Err(format!(
            "segment {piece:?} has more than one parameter; use one per segment"
        ));
    }
    let (name, converter_name) = inner.split_once(':').unwrap_or((inner, ""));
    let valid_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(format!(
            "parameter name {name:?} must be letters, digits and '_', not starting with a digit"
        ));
    }
    let converter = Converter::from_name(converter_name).ok_or_else(|| {
        format!(
            "unknown converter {converter_name:?} in <{inner}>; use string, int, float, path or uuid"
        )
    })?;
    Ok(Segment::Param(Param {
        prefix: prefix.to_owned(),
        name: name.to_owned(),
        converter,
        suffix: suffix.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(source: &str) -> Pattern {
        Pattern::parse(source).unwrap()
    }

    fn matched(source: &str, path: &str) -> Option<Vec<(String, String)>> {
        let p = pattern(source);
        p.matches(path)
            .map(|params| params.into_iter().map(|(n, v)| (n.to_owned(), v)).collect())
    }

    fn one(name: &str, value: &str) -> Option<Vec<(String, String)>> {
        Some(vec![(name.to_owned(), value.to_owned())])
    }

    #[test]
    fn static_patterns_match_exactly() {
        assert_eq!(matched("/", "/"), Some(vec![]));
        assert_eq!(matched("/about", "/about"), Some(vec![]));
        assert_eq!(matched("/about", "/about/"), None);
        assert_eq!(matched("/about/", "/about"), None);
        assert_eq!(matched("/about/", "/about/"), Some(vec![]));
        assert_eq!(matched("/about", "/about/us"), None);
        assert_eq!(matched("/", "/x"), None);
    }

    #[test]
    fn string_converter_takes_one_non_empty_segment() {
        assert_eq!(
            matched("/hello/<name>", "/hello/world"),
            one("name", "world")
        );
        assert_eq!(
            matched("/hello/<name:string>", "/hello/a b"),
            one("name", "a b")
        );
        assert_eq!(matched("/hello/<name>", "/hello/"), None);
        assert_eq!(matched("/hello/<name>", "/hello/a/b"), None);
    }

    #[test]
    fn int_converter() {
        assert_eq!(matched("/u/<id:int>", "/u/42"), one("id", "42"));
        assert_eq!(matched("/u/<id:int>", "/u/-7"), one("id", "-7"));
        for bad in [
            "/u/4x",
            "/u/+4",
            "/u/-",
            "/u/1.5",
            "/u/99999999999999999999",
        ] {
            assert_eq!(matched("/u/<id:int>", bad), None, "{bad}");
        }
    }

    #[test]
    fn float_converter() {
        assert_eq!(matched("/p/<x:float>", "/p/1.5"), one("x", "1.5"));
        assert_eq!(matched("/p/<x:float>", "/p/-2"), one("x", "-2"));
        for bad in ["/p/1.", "/p/.5", "/p/1e5", "/p/NaN", "/p/inf", "/p/1.2.3"] {
            assert_eq!(matched("/p/<x:float>", bad), None, "{bad}");
        }
    }

    #[test]
    fn uuid_converter() {
        let id = "123e4567-E89B-12d3-a456-426614174000";
        assert_eq!(matched("/o/<u:uuid>", &format!("/o/{id}")), one("u", id));
        assert_eq!(
            matched("/o/<u:uuid>", "/o/123e4567e89b12d3a456426614174000"),
            None
        );
        assert_eq!(
            matched("/o/<u:uuid>", "/o/123e4567-e89b-12d3-a456-42661417400g"),
            None
        );
    }

    #[test]
    fn path_converter_takes_the_rest() {
        assert_eq!(
            matched("/files/<p:path>", "/files/a/b/c.txt"),
            one("p", "a/b/c.txt")
        );
        assert_eq!(matched("/files/<p:path>", "/files/dir/"), one("p", "dir/"));
        assert_eq!(matched("/files/<p:path>", "/files/"), None);
        assert_eq!(matched("/files/<p:path>", "/files"), None);
    }

    #[test]
    fn literal_text_around_a_parameter() {
        assert_eq!(
            matched("/<name>.json", "/report.json"),
            one("name", "report")
        );
        assert_eq!(matched("/v<n:int>/x", "/v2/x"), one("n", "2"));
        assert_eq!(matched("/<name>.json", "/.json"), None);
    }

    #[test]
    fn malformed_patterns_are_reported_with_the_pattern() {
        for bad in [
            "no-slash",
            "/a//b",
            "/<id",
            "/id>",
            "/<>",
            "/<1x>",
            "/<id:integer>",
            "/<a><b>",
            "/<a>/<a>",
            "/<p:path>/more",
            "/<p:path>.txt",
            "/<p:path>/",
            "/search?q",
        ] {
            let err = Pattern::parse(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn precedence_prefers_static_then_specific_converters() {
        let mut patterns = [
            "/<p:path>",
            "/<name>",
            "/<x:float>",
            "/<id:int>",
            "/<u:uuid>",
            "/<name>.json",
            "/about",
        ]
        .map(pattern);
        patterns.sort_by_key(Pattern::precedence);
        let order: Vec<&str> = patterns.iter().map(Pattern::source).collect();
        assert_eq!(
            order,
            [
                "/about",
                "/<id:int>",
                "/<u:uuid>",
                "/<x:float>",
                "/<name>.json",
                "/<name>",
                "/<p:path>"
            ]
        );
    }

    #[test]
    fn same_shape_ignores_names_only() {
        assert!(pattern("/u/<id:int>").same_shape(&pattern("/u/<uid:int>")));
        assert!(!pattern("/u/<id:int>").same_shape(&pattern("/u/<id>")));
        assert!(!pattern("/u/<id>").same_shape(&pattern("/u/<id>/")));
        assert!(!pattern("/u/a").same_shape(&pattern("/u/b")));
    }

    #[test]
    fn build_encodes_values_and_adds_extra_query() {
        let p = pattern("/users/<name>/files/<rest:path>");
        let url = p
            .build("f", &[("name", &"a b/c"), ("rest", &"x/y z"), ("page", &2)])
            .unwrap();
        assert_eq!(url, "/users/a%20b%2Fc/files/x/y%20z?page=2");
        assert_eq!(pattern("/").build("i", &[]).unwrap(), "/");
        assert_eq!(pattern("/dir/").build("d", &[]).unwrap(), "/dir/");
    }

    #[test]
    fn build_checks_values_against_converters() {
        let p = pattern("/users/<id:int>");
        assert_eq!(p.build("u", &[("id", &7)]).unwrap(), "/users/7");
        assert!(matches!(
            p.build("u", &[("id", &"seven")]),
            Err(UrlError::InvalidParam { .. })
        ));
        assert!(matches!(
            p.build("u", &[]),
            Err(UrlError::MissingParam { .. })
        ));
    }
}
