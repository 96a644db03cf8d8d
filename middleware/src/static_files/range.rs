//! `Range: bytes=...` (RFC 9110 section 14): which part of a file to send.

/// What to send of a file of known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// The whole file (no `Range`, or one to ignore).
    Whole,
    /// Bytes `first..=last`: a `206 Partial Content`.
    Range { first: u64, last: u64 },
    /// No byte of the file is in the range: `416 Range Not Satisfiable`.
    Unsatisfiable,
}

/// Read a `Range` header for a file of `size` bytes.
///
/// A header that is malformed, uses another unit or asks for several ranges
/// is ignored and the whole file is sent: RFC 9110 allows a server to
/// ignore `Range`, and one range covers what players and download managers
/// ask for (multipart ranges are left out, as in tower-http's `ServeDir`).
pub(super) fn requested_part(range: Option<&str>, size: u64) -> Part {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Part::Whole;
    };
    if spec.contains(',') {
        return Part::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Part::Whole;
    };
    match (number(first), number(last)) {
        // bytes=-N: the last N bytes.
        (None, Some(suffix)) if first.is_empty() => {
            if suffix == 0 || size == 0 {
                Part::Unsatisfiable
            } else {
                Part::Range {
                    first: size.saturating_sub(suffix),
                    last: size - 1,
                }
            }
        }
        // bytes=N-: from N to the end.
        (Some(first), None) if last.is_empty() => bounded(first, u64::MAX, size),
        (Some(first), Some(last)) if first <= last => bounded(first, last, size),
        _ => Part::Whole,
    }
}

fn bounded(first: u64, last: u64, size: u64) -> Part {
    if first >= size {
        return Part::Unsatisfiable;
    }
    Part::Range {
        first,
        last: last.min(size - 1),
    }
}

/// Digits only: `+5`, ` 5` and `0x5` are not numbers here (the lesson of
/// hyper's CVE-2021-32715, REFERENCE.md section 4 item 27).
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges() {
        assert_eq!(
            requested_part(Some("bytes=0-3"), 10),
            Part::Range { first: 0, last: 3 }
        );
        assert_eq!(
            requested_part(Some("bytes=5-"), 10),
            Part::Range { first: 5, last: 9 }
        );
        assert_eq!(
            requested_part(Some("bytes=-3"), 10),
            Part::Range { first: 7, last: 9 }
        );
        assert_eq!(
            requested_part(Some("bytes=-30"), 10),
            Part::Range { first: 0, last: 9 }
        );
        assert_eq!(
            requested_part(Some("bytes=8-100"), 10),
            Part::Range { first: 8, last: 9 }
        );
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(requested_part(Some("bytes=10-"), 10), Part::Unsatisfiable);
        assert_eq!(requested_part(Some("bytes=10-20"), 10), Part::Unsatisfiable);
        assert_eq!(requested_part(Some("bytes=-0"), 10), Part::Unsatisfiable);
        assert_eq!(requested_part(Some("bytes=0-"), 0), Part::Unsatisfiable);
    }

    #[test]
    fn ignored_ranges() {
        for ignored in [
            None,
            Some("items=0-3"),
            Some("bytes=0-1,4-5"),
            Some("bytes=5-3"),
            Some("bytes=+1-3"),
            Some("bytes=0x1-3"),
            Some("bytes=abc"),
            Some("bytes=-"),
            Some("bytes=99999999999999999999999-"),
        ] {
            assert_eq!(requested_part(ignored, 10), Part::Whole, "{ignored:?}");
        }
    }
}
