//! `StaticFiles`: a directory served under a path prefix.

mod range;
mod safe_path;

use std::fs::{File, Metadata};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use gateway_spec::{AppError, Application, Body, Environ, Headers, StartResponse};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::conditional_get::is_not_modified;
use crate::layer::Layer;
use crate::short_response::text_response;
use range::{requested_part, Part};
use safe_path::{resolve, Resolved};

/// Why a static files root cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StaticFilesError {
    /// The root does not exist or cannot be read.
    #[error("the static files root {path:?} cannot be opened: {source}")]
    Root {
        /// The root as given.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The root is a file, not a directory.
    #[error("the static files root {path:?} is not a directory")]
    NotADirectory {
        /// The root as given.
        path: PathBuf,
    },
}

/// The settings of [`StaticFiles`]: the directory, and where it is served.
///
/// ```no_run
/// use middleware::StaticFilesLayer;
/// let layer = StaticFilesLayer::new("./public")?
///     .with_prefix("/static")
///     .with_cache_control("public, max-age=3600");
/// # Ok::<(), middleware::StaticFilesError>(())
/// ```
#[derive(Debug, Clone)]
pub struct StaticFilesLayer {
    /// Canonical: symlinks resolved, so "is it under the root" is a prefix test.
    root: PathBuf,
    prefix: String,
    index_file: Option<String>,
    cache_control: Option<String>,
}

impl StaticFilesLayer {
    /// Serve the files under `root`, at every path (prefix `""`), with
    /// `index.html` for directories and no `Cache-Control`.
    ///
    /// # Errors
    /// [`StaticFilesError`] when `root` is missing, unreadable or not a directory.
    pub fn new(root: impl AsRef<Path>) -> Result<StaticFilesLayer, StaticFilesError> {
        let path = root.as_ref();
        let root = path
            .canonicalize()
            .map_err(|source| StaticFilesError::Root {
                path: path.to_owned(),
                source,
            })?;
        if !root.is_dir() {
            return Err(StaticFilesError::NotADirectory {
                path: path.to_owned(),
            });
        }
        Ok(StaticFilesLayer {
            root,
            prefix: String::new(),
            index_file: Some("index.html".into()),
            cache_control: None,
        })
    }

    /// Serve the files under this URL path prefix (like `/static`) only.
    /// Default: `""`, every path.
    pub fn with_prefix(mut self, prefix: &str) -> StaticFilesLayer {
        self.prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// The file served for a directory, or `None` to serve none. Default: `index.html`.
    pub fn with_index_file(mut self, index_file: Option<&str>) -> StaticFilesLayer {
        self.index_file = index_file.map(str::to_owned);
        self
    }

    /// A `Cache-Control` value for every file. Default: none.
    pub fn with_cache_control(mut self, value: &str) -> StaticFilesLayer {
        self.cache_control = Some(value.to_owned());
        self
    }

    /// The path below the prefix, if `path_info` is under it.
    fn below_prefix<'p>(&self, path_info: &'p str) -> Option<&'p str> {
        let rest = path_info.strip_prefix(self.prefix.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }
}

/// An application with a directory of files in front of it.
///
/// For a request under the prefix, the layer:
/// - serves the file, with `Content-Type` guessed from its extension
///   (`; charset=utf-8` added to `text/*`), `Content-Length`, `ETag`,
///   `Last-Modified` and `Accept-Ranges: bytes`;
/// - answers `304 Not Modified` when `If-None-Match` or `If-Modified-Since`
///   says the client's copy is current;
/// - answers one `Range` with `206 Partial Content`, or `416` when no byte
///   is in range (honouring `If-Range`);
/// - sends headers only for `HEAD`, and `405` with `Allow: GET, HEAD` for
///   other methods;
/// - serves `index.html` for a directory, redirecting `/dir` to `/dir/`
///   first so relative links work;
/// - answers `404` for any path that tries to leave the root or names a
///   hidden file (see below), without calling the inner application;
/// - passes every other request (a missing file, a path outside the
///   prefix) to the inner application, like werkzeug's `SharedDataMiddleware`.
///
/// # Never outside the root
/// `PATH_INFO` is percent-decoded by the server. A path is refused when a
/// segment is `..` or `.`, starts with `.`, is empty (`//etc/passwd`), holds
/// a backslash, a NUL byte or `:`, is a Windows device name (`CON`,
/// `nul.txt`), or still decodes to one of those (`%2e%2e`, `%2f`); and when
/// the resolved file, symlinks followed, is not under the root.
#[derive(Debug)]
pub struct StaticFiles<A> {
    inner: A,
    layer: StaticFilesLayer,
}

impl<A: Application> StaticFiles<A> {
    /// Serve `layer`'s directory in front of `inner`.
    pub fn new(inner: A, layer: StaticFilesLayer) -> StaticFiles<A> {
        StaticFiles { inner, layer }
    }

    /// The wrapped application.
    pub fn get_ref(&self) -> &A {
        &self.inner
    }

    /// Unwrap, giving the application back.
    pub fn into_inner(self) -> A {
        self.inner
    }
}

impl<A: Application> Application for StaticFiles<A> {
    fn call(&self, environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        let layer = &self.layer;
        let path_info = environ.path_info().to_owned();
        let Some(relative) = layer.below_prefix(&path_info) else {
            return self.inner.call(environ, start_response);
        };
        let method = environ.request_method().to_owned();
        let file = match resolve(&layer.root, relative) {
            Resolved::File(path, meta) => (path, meta),
            Resolved::NotFound => return self.inner.call(environ, start_response),
            Resolved::Refused => {
                return text_response(
                    &start_response,
                    &method,
                    "404 Not Found",
                    vec![],
                    "404 Not Found",
                )
            }
            Resolved::Directory => {
                let Some(index) = layer.index_file.as_deref() else {
                    return self.inner.call(environ, start_response);
                };
                if !relative.ends_with('/') {
                    return redirect_to_directory(&environ, &start_response);
                }
                match resolve(&layer.root, &format!("{relative}{index}")) {
                    Resolved::File(path, meta) => (path, meta),
                    _ => return self.inner.call(environ, start_response),
                }
            }
        };
        if method != "GET" && method != "HEAD" {
            let allow = vec![("Allow".into(), "GET, HEAD".into())];
            let text = "405 Method Not Allowed";
            return text_response(&start_response, &method, text, allow, text);
        }
        send_file(&file.0, &file.1, &environ, layer, &start_response)
    }
}

/// Characters escaped when a decoded path goes back into a URL.
const URL_PATH_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'?')
    .add(b'%')
    .add(b'<')
    .add(b'>');

/// `301` from `/dir` to `/dir/`.
fn redirect_to_directory(
    environ: &Environ,
    start_response: &StartResponse,
) -> Result<Body, AppError> {
    let path = format!("{}{}/", environ.script_name(), environ.path_info());
    let mut location: String = utf8_percent_encode(&path, URL_PATH_ESCAPES).collect();
    if !environ.query_string().is_empty() {
        location.push('?');
        location.push_str(environ.query_string());
    }
    let headers = vec![("Location".into(), location.into())];
    let method = environ.request_method();
    text_response(
        start_response,
        method,
        "301 Moved Permanently",
        headers,
        "301 Moved Permanently",
    )
}

/// The validators of a file: a strong `ETag` from its modification time and
/// size (like WhiteNoise's `"mtime-size"`), and its `Last-Modified`.
fn validators(meta: &Metadata) -> (String, Option<SystemTime>) {
    let modified = meta.modified().ok();
    let since_epoch = modified
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    let etag = format!(
        "\"{:x}.{:x}-{:x}\"",
        since_epoch.as_secs(),
        since_epoch.subsec_nanos(),
        meta.len()
    );
    (etag, modified)
}

fn content_type(path: &Path) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    if mime.type_() == mime_guess::mime::TEXT {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.essence_str().to_owned()
    }
}

/// `If-Range` lets a `Range` through only while the file is unchanged.
fn range_still_valid(if_range: Option<&str>, etag: &str, last_modified: Option<&str>) -> bool {
    match if_range.map(str::trim) {
        None => true,
        // Strong comparison: a weak tag never validates a range.
        Some(tag) if tag.starts_with('"') || tag.starts_with("W/") => tag == etag,
        Some(date) => last_modified == Some(date),
    }
}

fn send_file(
    path: &Path,
    meta: &Metadata,
    environ: &Environ,
    layer: &StaticFilesLayer,
    start_response: &StartResponse,
) -> Result<Body, AppError> {
    let method = environ.request_method();
    let size = meta.len();
    let (etag, modified) = validators(meta);
    let last_modified = modified.map(httpdate::fmt_http_date);
    let mut headers: Headers = vec![("ETag".into(), etag.clone().into())];
    if let Some(date) = &last_modified {
        headers.push(("Last-Modified".into(), date.clone().into()));
    }
    if let Some(value) = &layer.cache_control {
        headers.push(("Cache-Control".into(), value.clone().into()));
    }
    let not_modified = is_not_modified(
        environ.header("If-None-Match"),
        environ.header("If-Modified-Since"),
        Some(&etag),
        modified,
    );
    if not_modified {
        start_response.call("304 Not Modified", headers)?;
        return Ok(Body::empty());
    }
    headers.push(("Accept-Ranges".into(), "bytes".into()));
    let ranged = method == "GET"
        && range_still_valid(environ.header("If-Range"), &etag, last_modified.as_deref());
    let part = if ranged {
        requested_part(environ.header("Range"), size)
    } else {
        Part::Whole
    };
    let (status, first, length) = match part {
        Part::Whole => ("200 OK", 0, size),
        Part::Range { first, last } => {
            headers.push((
                "Content-Range".into(),
                format!("bytes {first}-{last}/{size}").into(),
            ));
            ("206 Partial Content", first, last - first + 1)
        }
        Part::Unsatisfiable => {
            headers.push(("Content-Range".into(), format!("bytes */{size}").into()));
            let text = "416 Range Not Satisfiable";
            return text_response(start_response, method, text, headers, text);
        }
    };
    let Ok(mut file) = File::open(path) else {
        return text_response(
            start_response,
            method,
            "404 Not Found",
            vec![],
            "404 Not Found",
        );
    };
    headers.push(("Content-Type".into(), content_type(path).into()));
    headers.push(("Content-Length".into(), length.to_string().into()));
    if method == "HEAD" {
        start_response.call(status, headers)?;
        return Ok(Body::empty());
    }
    file.seek(SeekFrom::Start(first))?;
    start_response.call(status, headers)?;
    Ok(Body::from_reader(file.take(length)))
}

impl<A: Application> Layer<A> for StaticFilesLayer {
    type Wrapped = StaticFiles<A>;

    fn layer(self, inner: A) -> StaticFiles<A> {
        StaticFiles::new(inner, self)
    }
}

#[cfg(test)]
mod tests;
