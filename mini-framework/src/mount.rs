//! Mounting: a foreign [`Application`] (a raw closure app, another `App`,
//! another framework's app) answering every path under a prefix, with
//! SCRIPT_NAME and PATH_INFO shifted as PEP 3333 says, like werkzeug's
//! `DispatcherMiddleware` and bottle's `mount`.
//!
//! The mounted app is called with the real `start_response` and its body is
//! passed through untouched, so it may start its response lazily, use
//! `exc_info`, and stream; the mounting app's hooks and error handlers do
//! not apply to it.

use gateway_spec::{AppError, Application, Body, Environ, StartResponse};

use crate::error::RouteError;

/// An application living under a path prefix.
pub(crate) struct Mount {
    prefix: String,
    app: Box<dyn Application>,
}

impl Mount {
    /// `prefix` is `/segment[/segment...]`; a trailing slash is dropped.
    pub(crate) fn new(prefix: &str, app: Box<dyn Application>) -> Result<Mount, RouteError> {
        let invalid = |reason: &str| RouteError::InvalidPrefix {
            prefix: prefix.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
        let segments = trimmed
            .strip_prefix('/')
            .ok_or_else(|| invalid("it must start with '/'"))?;
        if segments.is_empty() {
            return Err(invalid(
                "mounting at the root would hide every route; mount under a path",
            ));
        }
        if segments.split('/').any(str::is_empty) {
            return Err(invalid("it has an empty segment"));
        }
        Ok(Mount {
            prefix: trimmed.to_owned(),
            app,
        })
    }

    /// The prefix, without a trailing slash.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether `path` is this mount's prefix or below it (on a segment
    /// boundary: `/api` takes `/api` and `/api/x`, not `/apix`).
    pub(crate) fn takes(&self, path: &str) -> bool {
        path.strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Move the prefix from PATH_INFO to SCRIPT_NAME and call the app.
    pub(crate) fn call(
        &self,
        mut environ: Environ,
        start_response: StartResponse,
    ) -> Result<Body, AppError> {
        let rest = environ.path_info()[self.prefix.len()..].to_owned();
        let script_name = format!("{}{}", environ.script_name(), self.prefix);
        environ.set("SCRIPT_NAME", script_name);
        environ.set("PATH_INFO", rest);
        self.app.call(environ, start_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> Box<dyn Application> {
        Box::new(
            |environ: Environ, sr: StartResponse| -> Result<Body, AppError> {
                sr.call("200 OK", vec![])?;
                Ok(Body::from(format!(
                    "{}|{}",
                    environ.script_name(),
                    environ.path_info()
                )))
            },
        )
    }

    fn run(mount: &Mount, script_name: &str, path: &str) -> String {
        let mut environ = Environ::for_test();
        environ.set("SCRIPT_NAME", script_name.to_owned());
        environ.set("PATH_INFO", path.to_owned());
        let (sr, _record) = StartResponse::new();
        let body = mount.call(environ, sr).unwrap();
        String::from_utf8(body.map(Result::unwrap).collect::<Vec<_>>().concat()).unwrap()
    }

    #[test]
    fn shifts_the_prefix_into_script_name() {
        let mount = Mount::new("/legacy/", echo()).unwrap();
        assert_eq!(mount.prefix(), "/legacy");
        assert_eq!(run(&mount, "", "/legacy/a/b"), "/legacy|/a/b");
        assert_eq!(run(&mount, "/outer", "/legacy"), "/outer/legacy|");
    }

    #[test]
    fn takes_only_whole_segments() {
        let mount = Mount::new("/api", echo()).unwrap();
        assert!(mount.takes("/api") && mount.takes("/api/") && mount.takes("/api/v1"));
        assert!(!mount.takes("/apix") && !mount.takes("/") && !mount.takes("/ap"));
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for bad in ["", "/", "api", "/a//b"] {
            let err = Mount::new(bad, echo()).err().unwrap();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }
}
