//! `wsgi.input` and `wsgi.errors`: the request body stream and the error stream.
//!
//! PEP 3333 asks the server not to let an application read past the request
//! body ("simulate EOF at CONTENT_LENGTH"). [`Input`] carries that bound itself,
//! so every source the server plugs in (bytes already read, or a decoder over
//! the socket) ends exactly where the body ends.

use std::fmt;
use std::io::{self, BufRead, Read, Write};

/// `wsgi.input`: the request body, readable once, ending where the body ends.
///
/// ```
/// use std::io::Read;
/// use gateway_spec::Input;
/// // A client sent more bytes than Content-Length says: the extra ones are
/// // the next request, and the application never sees them.
/// let mut input = Input::with_limit(std::io::Cursor::new(b"hello GET / HTTP/1.1".to_vec()), 5);
/// let mut body = String::new();
/// input.read_to_string(&mut body).unwrap();
/// assert_eq!(body, "hello");
/// ```
pub struct Input {
    reader: Box<dyn BufRead + Send>,
    /// Bytes still allowed; `None` when the reader's own end is the body's end
    /// (a chunked body, whose decoder knows where it stops).
    remaining: Option<u64>,
}

impl Input {
    /// An empty body.
    pub fn empty() -> Input {
        // `io::Empty` has no size, so boxing it costs no allocation.
        Input::with_limit(io::empty(), 0)
    }

    /// A body held in memory.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Input {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Input::empty();
        }
        let len = bytes.len() as u64;
        Input::with_limit(io::Cursor::new(bytes), len)
    }

    /// A body whose end is the end of `reader` (for example a chunked-body
    /// decoder, which stops at the last chunk).
    pub fn new(reader: impl BufRead + Send + 'static) -> Input {
        Input {
            reader: Box::new(reader),
            remaining: None,
        }
    }

    /// A body of at most `limit` bytes of `reader` (for example Content-Length
    /// bytes of the connection). Reads past the limit see end of stream.
    pub fn with_limit(reader: impl BufRead + Send + 'static, limit: u64) -> Input {
        Input {
            reader: Box::new(reader),
            remaining: Some(limit),
        }
    }

    /// How many bytes at most are left, when the body's length is known.
    pub fn remaining(&self) -> Option<u64> {
        self.remaining
    }

    /// Read the rest of the body into memory.
    ///
    /// # Errors
    /// Whatever error the underlying reader reports (for a server, a client
    /// that went away or a malformed chunked body).
    pub fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn allowed(&self, wanted: usize) -> usize {
        match self.remaining {
            Some(left) => wanted.min(usize::try_from(left).unwrap_or(usize::MAX)),
            None => wanted,
        }
    }
}

impl Default for Input {
    fn default() -> Input {
        Input::empty()
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.allowed(buf.len());
        if n == 0 {
            return Ok(0);
        }
        let read = self.reader.read(&mut buf[..n])?;
        self.consume_limit(read);
        Ok(read)
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let allowed = self.allowed(usize::MAX);
        if allowed == 0 {
            return Ok(&[]);
        }
        let buf = self.reader.fill_buf()?;
        let n = buf.len().min(allowed);
        Ok(&buf[..n])
    }

    fn consume(&mut self, amount: usize) {
        let amount = self.allowed(amount);
        self.reader.consume(amount);
        self.consume_limit(amount);
    }
}

impl Input {
    fn consume_limit(&mut self, amount: usize) {
        if let Some(left) = self.remaining.as_mut() {
            *left = left.saturating_sub(amount as u64);
        }
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Input")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

/// `wsgi.errors`: where an application writes diagnostics.
///
/// The server decides where it goes (its log, stderr, a file); an application
/// just writes lines to it. Defaults to the process's standard error.
pub struct Errors {
    writer: Box<dyn Write + Send>,
}

impl Errors {
    /// An error stream that writes to `writer`.
    pub fn new(writer: impl Write + Send + 'static) -> Errors {
        Errors {
            writer: Box::new(writer),
        }
    }

    /// An error stream that discards everything.
    pub fn sink() -> Errors {
        Errors::new(io::sink())
    }
}

impl Default for Errors {
    fn default() -> Errors {
        // A zero-sized writer: boxing it allocates nothing, and every
        // environ starts with this default before a server replaces it.
        Errors::new(StandardError)
    }
}

/// The process's standard error, looked up on each write.
struct StandardError;

impl Write for StandardError {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stderr().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl Write for Errors {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl fmt::Debug for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Errors").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn never_reads_past_the_limit() {
        let mut input = Input::with_limit(Cursor::new(b"0123456789".to_vec()), 4);
        let mut buf = [0u8; 16];
        let n = input.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"0123");
        assert_eq!(
            input.read(&mut buf).unwrap(),
            0,
            "end of body is end of stream"
        );
        assert_eq!(input.remaining(), Some(0));
    }

    #[test]
    fn read_line_stops_at_the_limit() {
        let mut input = Input::with_limit(Cursor::new(b"abc\ndef\nNEXT REQUEST".to_vec()), 6);
        let mut line = String::new();
        input.read_line(&mut line).unwrap();
        assert_eq!(line, "abc\n");
        line.clear();
        input.read_line(&mut line).unwrap();
        assert_eq!(line, "de");
        line.clear();
        assert_eq!(input.read_line(&mut line).unwrap(), 0);
    }

    #[test]
    fn unbounded_input_ends_with_its_reader() {
        let mut input = Input::new(Cursor::new(b"all of it".to_vec()));
        assert_eq!(input.read_all().unwrap(), b"all of it");
        assert_eq!(input.read_all().unwrap(), b"");
    }

    #[test]
    fn from_bytes_and_empty() {
        assert_eq!(Input::from_bytes(b"xy".to_vec()).read_all().unwrap(), b"xy");
        assert_eq!(Input::empty().read_all().unwrap(), b"");
    }

    #[test]
    fn short_source_ends_early_without_error() {
        let mut input = Input::with_limit(Cursor::new(b"abc".to_vec()), 10);
        assert_eq!(input.read_all().unwrap(), b"abc");
    }
}
