//! From a request path to a file under the root, and never outside it.
//!
//! The request path is attacker-controlled. A path is refused (never
//! resolved) when any segment could climb out of the root or name something
//! other than a plain file name: `..` and `.`, hidden names (`.git`, `.env`),
//! empty segments (`//etc/passwd`), backslashes and NUL bytes, `:` (Windows
//! drive letters and streams), Windows device names (`CON`, `nul.txt`, ...),
//! and segments that still decode to any of those (`%2e%2e`, `%2f`: a
//! server decodes `PATH_INFO` once; a second decoding somewhere must not
//! open a door). Finally the resolved path, symlinks followed, must still
//! be under the root: a symlink pointing out of it is refused too.

use std::fs::Metadata;
use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;

/// Where a request path leads.
#[derive(Debug)]
pub(super) enum Resolved {
    /// A regular file (symlinks followed), with its metadata.
    File(PathBuf, Metadata),
    /// A directory.
    Directory,
    /// Nothing there.
    NotFound,
    /// A path that tries to leave the root, or names what must not be served.
    Refused,
}

/// Resolve `relative` (like `/css/site.css`, already percent-decoded once)
/// under `root`, which must be canonical.
pub(super) fn resolve(root: &Path, relative: &str) -> Resolved {
    let Some(segments) = safe_segments(relative) else {
        return Resolved::Refused;
    };
    let mut path = root.to_path_buf();
    path.extend(segments);
    let Ok(real) = path.canonicalize() else {
        return Resolved::NotFound;
    };
    if !real.starts_with(root) {
        return Resolved::Refused;
    }
    match real.metadata() {
        Ok(meta) if meta.is_file() => Resolved::File(real, meta),
        Ok(meta) if meta.is_dir() => Resolved::Directory,
        _ => Resolved::NotFound,
    }
}

/// The segments of `relative`, or `None` when one of them is unsafe. A
/// trailing `/` (a directory) is allowed; other empty segments are not.
fn safe_segments(relative: &str) -> Option<Vec<&str>> {
    if relative.contains(['\0', '\\']) {
        return None;
    }
    let path = match relative.strip_prefix('/') {
        Some(rest) => rest,
        None if relative.is_empty() => "",
        None => return None,
    };
    let path = path.strip_suffix('/').unwrap_or(path);
    if path.is_empty() {
        return Some(Vec::new());
    }
    let segments: Vec<&str> = path.split('/').collect();
    segments
        .iter()
        .all(|s| is_safe_segment(s))
        .then_some(segments)
}

fn is_safe_segment(segment: &str) -> bool {
    let decoded = percent_decode_str(segment).decode_utf8_lossy();
    let plain = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && !s.contains(['/', '\\', ':', '\0'])
            && !is_windows_device(s)
    };
    plain(segment) && plain(&decoded) && is_one_normal_component(segment)
}

/// Belt and braces: the platform agrees that the segment is one plain name.
fn is_one_normal_component(segment: &str) -> bool {
    let mut components = Path::new(segment).components();
    matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(_)), None)
    )
}

/// `CON`, `PRN`, `AUX`, `NUL`, `COM1`-`COM9`, `LPT1`-`LPT9`, with any
/// extension or trailing spaces and dots: names Windows opens as devices
/// (werkzeug's `safe_join` advisories, REFERENCE.md section 4 item 34).
fn is_windows_device(segment: &str) -> bool {
    let stem = segment.split('.').next().unwrap_or("");
    let stem = stem.trim_end_matches([' ', '.']).to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit()
            && stem.as_bytes()[3] != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_are_split() {
        assert_eq!(
            safe_segments("/css/site.css"),
            Some(vec!["css", "site.css"])
        );
        assert_eq!(safe_segments("/docs/"), Some(vec!["docs"]));
        assert_eq!(safe_segments("/"), Some(vec![]));
        assert_eq!(safe_segments(""), Some(vec![]));
        assert_eq!(
            safe_segments("/caf\u{e9} menu.txt"),
            Some(vec!["caf\u{e9} menu.txt"])
        );
    }

    #[test]
    fn traversal_attempts_are_refused() {
        for attack in [
            "/../etc/passwd",
            "/css/../../etc/passwd",
            "/./site.css",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/%2e%2e/etc/passwd",
            "/css%2f..%2f..%2fetc/passwd",
            "/..%5c..%5cwindows",
            "//etc/passwd",
            "/css//site.css",
            "etc/passwd",
            "/..\\..\\etc\\passwd",
            "/site.css\0.png",
            "/C:/Windows/win.ini",
            "/c:",
            "/.git/config",
            "/.env",
            "/CON",
            "/nul.txt",
            "/lpt1",
            "/com9.log",
            "/aux .txt",
        ] {
            assert_eq!(safe_segments(attack), None, "{attack:?}");
        }
        assert!(safe_segments("/com0.txt").is_some());
        assert!(safe_segments("/console.log").is_some());
    }
}
