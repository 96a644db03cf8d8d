//! Disagreements between the server and the reference that were reported
//! to the server's owner. While a finding is open, its switch makes the
//! reference mirror the server's current behaviour, so fuzzing can go on
//! looking for other bugs; turn it off (`false`) once the fix lands, and the
//! targets check the fix. Each has a regression test in
//! `tests/tests/hardening_regressions.rs`. (Finding 4, a connection race,
//! needs no switch: the `connection` target reports it as a missing response.)

/// Finding 1: with two `Expect` fields, the server checks only the last one
/// (`Expect: 200-ok` then `Expect: 100-continue` is accepted and gets
/// `100 Continue`), while the same list in one field (`200-ok, 100-continue`)
/// is refused with 417. RFC 9110 section 5.3: both forms mean the same.
/// Fixed in the server (commit 30abcc9).
pub const ONLY_THE_LAST_EXPECT_COUNTS: bool = false;

/// Finding 2: a repeated `Content-Type` is accepted and the application
/// sees the last one; the reference notes (gunicorn 2026) list it with Host
/// and Content-Length as a singleton field to refuse (400).
/// Fixed in the server (commit 30abcc9).
pub const REPEATED_CONTENT_TYPE_ACCEPTED: bool = false;

/// Finding 3: empty lines before the request line are skipped without
/// counting against the head-size limit, so they are buffered without bound.
/// Fixed in the server (commits 30abcc9 and 2bd2f6a: at most 8 are skipped,
/// more get 400).
pub const LEADING_EMPTY_LINES_UNCOUNTED: bool = false;

/// Finding 5: the Host field and the authority of an absolute-form target
/// are not validated, so `Host: evil.example/path?x` or `user@evil.example`
/// reach the application as HTTP_HOST. RFC 9110 sections 7.2 and 4.2.4 call
/// for a 400. Fixed in the server (commit d9d5a00).
pub const HOST_VALUES_UNCHECKED: bool = false;

/// Finding 7: the server's Host check accepts `%` anywhere (`Host: a%zz`,
/// `Host: %`), where RFC 3986 allows it only as `%HH`. Fixed in the server
/// (commit 2bd2f6a).
pub const PERCENT_IN_HOST_UNCHECKED: bool = false;
