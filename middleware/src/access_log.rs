//! `AccessLog`: one line per request, in Apache's Common or Combined Log
//! Format, with the response time at the end.

use std::cell::Cell;
use std::fmt;
use std::io::Write;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway_spec::{AppError, Application, Body, Environ, StartResponse};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::layer::Layer;

/// Which Apache format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `host ident user [time] "request" status bytes`.
    Common,
    /// Common, then `"referer" "user-agent"`.
    #[default]
    Combined,
}

/// Where the lines go.
#[derive(Clone, Default)]
pub enum LogTarget {
    /// The `log` facade, at `info` level with target `access_log`.
    #[default]
    Log,
    /// A writer (a file, stdout, a buffer in a test), one line per request.
    Writer(Arc<Mutex<dyn Write + Send>>),
}

impl fmt::Debug for LogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogTarget::Log => f.write_str("Log"),
            LogTarget::Writer(_) => f.write_str("Writer(..)"),
        }
    }
}

/// The settings of [`AccessLog`].
///
/// ```
/// use middleware::{AccessLogLayer, LogFormat};
/// let to_log_facade = AccessLogLayer::default();
/// let to_stdout = AccessLogLayer { format: LogFormat::Common, ..AccessLogLayer::to_writer(std::io::stdout()) };
/// # let _ = (to_log_facade, to_stdout);
/// ```
#[derive(Debug, Clone, Default)]
pub struct AccessLogLayer {
    /// The line format. Default: [`LogFormat::Combined`].
    pub format: LogFormat,
    /// Where lines go. Default: [`LogTarget::Log`].
    pub target: LogTarget,
}

impl AccessLogLayer {
    /// Combined-format lines written to `writer`.
    pub fn to_writer(writer: impl Write + Send + 'static) -> AccessLogLayer {
        AccessLogLayer {
            format: LogFormat::Combined,
            target: LogTarget::Writer(Arc::new(Mutex::new(writer))),
        }
    }
}

/// An application whose requests are logged.
///
/// ```text
/// 127.0.0.1 - alice [24/Nov/2026:07:30:14 +0000] "GET /todo?page=2 HTTP/1.1" 200 512 "-" "curl/8.5" 1.234ms
/// ^ REMOTE_ADDR ^ REMOTE_USER ^ time         ^ request line        status ^  ^ bytes ^ referer, user agent
///                                                                             (Combined only)  response time ^
/// ```
///
/// The line is written when the body is closed, like Rack's `CommonLogger`:
/// the byte count is what the body really produced and the response time
/// covers the whole stream. The status is the one the application gave
/// `start_response`; a request that failed before any byte was produced is
/// logged as 500 (what a server answers then).
///
/// Values a client controls (path, referer, user agent) are escaped: `"`,
/// `\`, control and non-ASCII characters become `\xNN`, so a request cannot
/// forge a log line.
///
/// `REMOTE_USER` is read from the environ this layer receives: put the log
/// outside (after) an auth layer and it shows `-`; put it inside (before)
/// and it sees the user but not the refused requests.
#[derive(Debug)]
pub struct AccessLog<A> {
    inner: A,
    layer: AccessLogLayer,
}

impl<A: Application> AccessLog<A> {
    /// Log every request to `inner`.
    pub fn new(inner: A, layer: AccessLogLayer) -> AccessLog<A> {
        AccessLog { inner, layer }
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

/// What is known of a request before the application runs: the line's
/// start and end, without status, size and time.
struct Entry {
    target: LogTarget,
    started: Instant,
    /// `host ident user [time] "request"`.
    head: String,
    /// ` "referer" "user-agent"`, empty in Common format.
    tail: String,
}

impl Entry {
    fn new(environ: &Environ, layer: &AccessLogLayer) -> Entry {
        let head = format!(
            "{} - {} [{}] \"{}\"",
            field(environ.get("REMOTE_ADDR")),
            field(environ.remote_user()),
            clf_time(SystemTime::now()),
            escape(&request_line(environ)),
        );
        let tail = match layer.format {
            LogFormat::Common => String::new(),
            LogFormat::Combined => format!(
                " \"{}\" \"{}\"",
                escape(environ.get("HTTP_REFERER").unwrap_or("-")),
                escape(environ.get("HTTP_USER_AGENT").unwrap_or("-")),
            ),
        };
        Entry {
            target: layer.target.clone(),
            started: Instant::now(),
            head,
            tail,
        }
    }

    fn write(&self, status: u16, bytes: u64) {
        // Apache writes "-" for a response without body bytes.
        let size = if bytes == 0 {
            "-".to_owned()
        } else {
            bytes.to_string()
        };
        let line = format!(
            "{} {status} {size}{} {}",
            self.head,
            self.tail,
            milliseconds(self.started.elapsed()),
        );
        match &self.target {
            LogTarget::Log => log::info!(target: "access_log", "{line}"),
            LogTarget::Writer(writer) => {
                let mut writer = writer.lock().unwrap_or_else(PoisonError::into_inner);
                // A log that cannot be written must not fail the request.
                let _ = writeln!(writer, "{line}");
            }
        }
    }
}

/// A value for a bare (unquoted) field: `-` when missing, escaped otherwise.
fn field(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => escape(v).replace(' ', "\\x20"),
        _ => "-".to_owned(),
    }
}

/// Characters re-encoded when the request line is rebuilt from the decoded
/// `PATH_INFO`: what cannot appear raw in a request target.
const PATH_ESCAPES: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'?').add(b'%');

/// `METHOD /script/path?query PROTOCOL`, the path re-encoded (PEP 3333
/// "URL Reconstruction").
fn request_line(environ: &Environ) -> String {
    let path = format!("{}{}", environ.script_name(), environ.path_info());
    let mut target: String = utf8_percent_encode(&path, PATH_ESCAPES).collect();
    if !environ.query_string().is_empty() {
        target.push('?');
        target.push_str(environ.query_string());
    }
    format!(
        "{} {} {}",
        environ.request_method(),
        target,
        environ.get("SERVER_PROTOCOL").unwrap_or("-")
    )
}

/// Escape what could break or forge a log line.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut buf = [0; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
            }
        }
    }
    out
}

fn milliseconds(elapsed: Duration) -> String {
    format!("{:.3}ms", elapsed.as_secs_f64() * 1000.0)
}

/// `24/Nov/2026:07:30:14 +0000`: the Common Log Format's time, in UTC.
fn clf_time(now: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_date(seconds / 86_400);
    let of_day = seconds % 86_400;
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for days after the epoch).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

impl<A: Application> Application for AccessLog<A> {
    fn call(&self, environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
        // With the `log` facade as target and nobody listening at `info`,
        // a line would be formatted only to be thrown away: pass through.
        let unheard = !log::log_enabled!(target: "access_log", log::Level::Info);
        if matches!(self.layer.target, LogTarget::Log) && unheard {
            return self.inner.call(environ, start_response);
        }
        let entry = Entry::new(&environ, &self.layer);
        // Per request, shared by the start_response wrapper and the body.
        let status = Rc::new(Cell::new(None::<u16>));
        let seen = Rc::clone(&status);
        let outer = start_response;
        let start_response = StartResponse::wrap(move |line, headers, exc_info| {
            outer.forward(line, headers, exc_info)?;
            seen.set(line.get(..3).and_then(|code| code.parse().ok()));
            Ok(())
        });
        let body = match self.inner.call(environ, start_response) {
            Ok(body) => body,
            Err(error) => {
                entry.write(500, 0);
                return Err(error);
            }
        };
        let bytes = Rc::new(Cell::new(0u64));
        let failed = Rc::new(Cell::new(false));
        let (counted, failure) = (Rc::clone(&bytes), Rc::clone(&failed));
        let counting = body.inspect(move |chunk| match chunk {
            Ok(chunk) => counted.set(counted.get() + chunk.len() as u64),
            Err(_) => failure.set(true),
        });
        Ok(Body::from_results(counting).on_close(move || {
            let sent = bytes.get();
            let code = match status.get() {
                Some(code) if !(failed.get() && sent == 0) => code,
                _ => 500,
            };
            entry.write(code, sent);
        }))
    }
}

impl<A: Application> Layer<A> for AccessLogLayer {
    type Wrapped = AccessLog<A>;

    fn layer(self, inner: A) -> AccessLog<A> {
        AccessLog::new(inner, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{get, run, text_app};

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn logged(app: impl Application, format: LogFormat, environ: Environ) -> String {
        let lines = Lines::default();
        let layer = AccessLogLayer {
            format,
            ..AccessLogLayer::to_writer(lines.clone())
        };
        let logged = AccessLog::new(app, layer);
        let _ = run(&logged, environ);
        lines.text()
    }

    #[test]
    fn a_combined_line_has_every_field() {
        let mut environ = get("/caf\u{e9} menu");
        environ.set("QUERY_STRING", "page=2");
        environ.set("SERVER_PROTOCOL", "HTTP/1.1");
        environ.set("REMOTE_USER", "alice");
        environ.set("HTTP_REFERER", "http://example.com/");
        environ.set("HTTP_USER_AGENT", "curl/8.5");
        let line = logged(text_app("hello"), LogFormat::Combined, environ);
        let (start, rest) = line.split_once(" [").unwrap();
        assert_eq!(start, "127.0.0.1 - alice");
        let (time, rest) = rest.split_once("] ").unwrap();
        assert_eq!(time.len(), "24/Nov/2026:07:30:14 +0000".len(), "{time}");
        assert!(time.ends_with(" +0000"));
        assert!(
            rest.starts_with(
                "\"GET /caf%C3%A9%20menu?page=2 HTTP/1.1\" 200 5 \"http://example.com/\" \"curl/8.5\" "
            ),
            "{rest}"
        );
        assert!(rest.trim_end().ends_with("ms"), "{rest}");
        assert!(line.ends_with('\n') && line.lines().count() == 1);
    }

    #[test]
    fn a_common_line_stops_after_the_size() {
        let line = logged(text_app(""), LogFormat::Common, get("/"));
        let after_request = line.split_once("\" ").unwrap().1;
        let fields: Vec<&str> = after_request.split_whitespace().collect();
        assert_eq!(fields.len(), 3, "{line}");
        assert_eq!(
            &fields[..2],
            ["200", "-"],
            "an empty body logs its size as -"
        );
    }

    #[test]
    fn streamed_bytes_are_counted_when_the_body_closes() {
        let streaming = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
            sr.call(
                "206 Partial Content",
                vec![("Content-Type".into(), "text/plain".into())],
            )?;
            Ok(Body::from_chunks(vec![
                b"abc".to_vec(),
                Vec::new(),
                b"defg".to_vec(),
            ]))
        };
        let line = logged(streaming, LogFormat::Common, get("/"));
        assert!(line.contains("\" 206 7 "), "{line}");
    }

    #[test]
    fn a_failed_request_is_logged_as_500() {
        let failing =
            |_env: Environ, _sr: StartResponse| -> Result<Body, AppError> { Err("boom".into()) };
        let line = logged(failing, LogFormat::Common, get("/"));
        assert!(line.contains("\" 500 - "), "{line}");

        let failing_body = |_env: Environ, sr: StartResponse| -> Result<Body, AppError> {
            sr.call("200 OK", vec![])?;
            Ok(Body::from_results(vec![Err("disk".into())]))
        };
        let line = logged(failing_body, LogFormat::Common, get("/"));
        assert!(line.contains("\" 500 - "), "{line}");
    }

    #[test]
    fn client_values_cannot_forge_a_line() {
        let mut environ = get("/");
        environ.set("HTTP_USER_AGENT", "x\"\n127.0.0.1 - admin [forged]");
        let line = logged(text_app("ok"), LogFormat::Combined, environ);
        assert_eq!(line.lines().count(), 1);
        assert!(
            line.contains("\"x\\\"\\x0a127.0.0.1 - admin [forged]\""),
            "{line}"
        );
    }

    #[test]
    fn clf_time_is_utc_civil_time() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(clf_time(at), "14/Nov/2023:22:13:20 +0000");
        assert_eq!(
            clf_time(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "29/Feb/2000:00:00:00 +0000"
        );
    }
}
