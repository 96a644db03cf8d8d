//! Driving an app the way a server does, without a socket: build an
//! environ, call the app, pull the body, and keep what it wrote to
//! `wsgi.errors`.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use gateway_spec::{Application, Environ, Errors, Headers, HeadersExt, Input, StartResponse};

/// What the client would receive, plus the app's error log.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Headers,
    pub(crate) body: Vec<u8>,
    pub(crate) log: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_header(name)
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
            .collect()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A request being put together.
pub(crate) struct Call {
    environ: Environ,
}

/// `GET /path?query` and friends.
pub(crate) fn request(method: &str, target: &str) -> Call {
    let mut environ = Environ::for_test();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    environ.set("REQUEST_METHOD", method.to_owned());
    environ.set("PATH_INFO", path.to_owned());
    environ.set("QUERY_STRING", query.to_owned());
    Call { environ }
}

pub(crate) fn get(target: &str) -> Call {
    request("GET", target)
}

#[derive(Clone, Default)]
struct SharedLog(Arc<Mutex<Vec<u8>>>);

impl Write for SharedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Call {
    pub(crate) fn header(mut self, name: &str, value: &str) -> Call {
        match name.to_ascii_lowercase().as_str() {
            "content-type" => self.environ.set("CONTENT_TYPE", value.to_owned()),
            "content-length" => self.environ.set("CONTENT_LENGTH", value.to_owned()),
            _ => self
                .environ
                .set(gateway_spec::header_key(name), value.to_owned()),
        }
        self
    }

    pub(crate) fn script_name(mut self, script_name: &str) -> Call {
        self.environ.set("SCRIPT_NAME", script_name.to_owned());
        self
    }

    pub(crate) fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Call {
        let body = body.into();
        self.environ.set("CONTENT_TYPE", content_type.to_owned());
        self.environ.set("CONTENT_LENGTH", body.len().to_string());
        self.environ.input = Input::from_bytes(body);
        self
    }

    /// A body of unknown length (as with chunked transfer encoding).
    pub(crate) fn unsized_body(mut self, content_type: &str, body: Vec<u8>) -> Call {
        self.environ.set("CONTENT_TYPE", content_type.to_owned());
        self.environ.input = Input::new(std::io::Cursor::new(body));
        self
    }

    pub(crate) fn from_environ(environ: Environ) -> Call {
        Call { environ }
    }

    pub(crate) fn environ(self) -> Environ {
        self.environ
    }

    pub(crate) fn send(mut self, app: &dyn Application) -> Reply {
        let log = SharedLog::default();
        self.environ.errors = Errors::new(log.clone());
        let (start_response, record) = StartResponse::new();
        let body = app
            .call(self.environ, start_response)
            .expect("the app answers");
        let mut bytes = Vec::new();
        for chunk in body {
            bytes.extend(chunk.expect("a body chunk"));
        }
        let (status, headers) = record.send_headers().expect("a started response");
        let status = status[..3].parse().expect("a numeric status");
        let log = String::from_utf8(log.0.lock().expect("log lock").clone()).expect("UTF-8 log");
        Reply {
            status,
            headers,
            body: bytes,
            log,
        }
    }
}
