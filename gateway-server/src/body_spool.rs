//! Stage 4b, the body spool: a body too large to keep in memory is written
//! to a temporary file as it arrives, and the application runs once the
//! whole body is there (waitress's design).
//!
//! The worker that reads a piece of the body gives the connection back to
//! the poller as soon as the socket has nothing more, so an upload from a
//! slow client never holds a worker; the application then reads
//! `wsgi.input` from the file, at disk speed. Next stage: `environ_builder.rs`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU64, Ordering};

use gateway_spec::Input;

use crate::error::RequestError;
use crate::request_body::ChunkedDecoder;
use crate::request_head::Framing;

/// A request body being collected into a temporary file.
#[derive(Debug)]
pub(crate) struct BodySpool {
    file: File,
    framing: SpoolFraming,
    /// Body bytes written so far.
    written: u64,
    /// Where the head ends in the connection's buffer: the body's bytes
    /// start here, and are removed once they are in the file.
    head_len: usize,
    /// Decoded chunk data on its way to the file (reused between pieces).
    decoded: Vec<u8>,
}

#[derive(Debug)]
enum SpoolFraming {
    Length { remaining: u64 },
    Chunked(ChunkedDecoder),
}

impl BodySpool {
    /// Start collecting the body of a request whose head is the first
    /// `head_len` bytes of the connection's buffer.
    pub(crate) fn create(
        framing: Framing,
        head_len: usize,
        max_body: u64,
    ) -> Result<BodySpool, RequestError> {
        let framing = match framing {
            Framing::Chunked => SpoolFraming::Chunked(ChunkedDecoder::new(max_body)),
            Framing::Length(n) => SpoolFraming::Length { remaining: n },
            Framing::Empty => SpoolFraming::Length { remaining: 0 },
        };
        Ok(BodySpool {
            file: anonymous_file().map_err(RequestError::Spool)?,
            framing,
            written: 0,
            head_len,
            decoded: Vec::new(),
        })
    }

    /// Move the body bytes that follow the head in `buf` into the file,
    /// leaving the head and whatever follows the body. Returns whether the
    /// body is complete.
    pub(crate) fn take_from(&mut self, buf: &mut Vec<u8>) -> Result<bool, RequestError> {
        let body_start = self.head_len.min(buf.len());
        let used = self.write_body(&buf[body_start..])?;
        buf.drain(body_start..body_start + used);
        Ok(self.is_complete())
    }

    fn is_complete(&self) -> bool {
        match &self.framing {
            SpoolFraming::Length { remaining } => *remaining == 0,
            SpoolFraming::Chunked(decoder) => decoder.is_done(),
        }
    }

    /// Write the body's part of `input` to the file; returns the input
    /// bytes used (the rest belongs to the next request).
    fn write_body(&mut self, input: &[u8]) -> Result<usize, RequestError> {
        let used = match &mut self.framing {
            SpoolFraming::Length { remaining } => {
                let take = input
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                self.file
                    .write_all(&input[..take])
                    .map_err(RequestError::Spool)?;
                *remaining -= take as u64;
                self.written += take as u64;
                take
            }
            SpoolFraming::Chunked(decoder) => {
                self.decoded.clear();
                let used = decoder.decode(input, &mut self.decoded)?;
                self.file
                    .write_all(&self.decoded)
                    .map_err(RequestError::Spool)?;
                self.written += self.decoded.len() as u64;
                used
            }
        };
        Ok(used)
    }

    /// The complete body as the application's `wsgi.input`.
    pub(crate) fn into_input(mut self) -> Result<Input, RequestError> {
        self.file.rewind().map_err(RequestError::Spool)?;
        Ok(Input::with_limit(BufReader::new(self.file), self.written))
    }
}

/// A new file in the temporary directory that only this process can reach:
/// created exclusively (mode 0600), then unlinked at once, so it vanishes
/// when closed, even if the server is killed.
fn anonymous_file() -> io::Result<File> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("gateway-body-{}-{n}", std::process::id()));
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        match opened {
            Ok(file) => {
                std::fs::remove_file(&path)?;
                return Ok(file);
            }
            // Left by an earlier process with our pid: take the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn body_of(spool: BodySpool) -> Vec<u8> {
        let mut input = spool.into_input().expect("rewind");
        let mut body = Vec::new();
        input.read_to_end(&mut body).expect("read back");
        body
    }

    #[test]
    fn a_length_body_arriving_in_pieces_is_stored_whole() {
        let head = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
        let mut spool = BodySpool::create(Framing::Length(10), head.len(), 1 << 20).unwrap();
        let mut buf = head.to_vec();
        buf.extend_from_slice(b"0123");
        assert!(!spool.take_from(&mut buf).unwrap());
        assert_eq!(buf, head, "stored bytes leave the buffer");
        buf.extend_from_slice(b"456789GET / HTTP/1.1\r\n");
        assert!(spool.take_from(&mut buf).unwrap());
        assert_eq!(&buf[head.len()..], b"GET / HTTP/1.1\r\n");
        assert_eq!(body_of(spool), b"0123456789");
    }

    #[test]
    fn a_chunked_body_is_stored_decoded_at_any_split() {
        let raw = b"3\r\nabc\r\na;x=1\r\n0123456789\r\n0\r\nT: v\r\n\r\nNEXT";
        for split in 0..=raw.len() {
            let mut spool = BodySpool::create(Framing::Chunked, 0, 1 << 20).unwrap();
            let mut buf = raw[..split].to_vec();
            spool.take_from(&mut buf).unwrap();
            buf.extend_from_slice(&raw[split..]);
            assert!(spool.take_from(&mut buf).unwrap(), "split at {split}");
            assert_eq!(buf, b"NEXT", "split at {split}");
            assert_eq!(body_of(spool), b"abc0123456789", "split at {split}");
        }
    }

    #[test]
    fn chunked_errors_and_limits_are_refused() {
        let mut spool = BodySpool::create(Framing::Chunked, 0, 4).unwrap();
        let mut buf = b"5\r\nhello\r\n0\r\n\r\n".to_vec();
        assert!(matches!(
            spool.take_from(&mut buf),
            Err(RequestError::BodyTooLarge)
        ));
        let mut spool = BodySpool::create(Framing::Chunked, 0, 1 << 20).unwrap();
        let mut buf = b"5\nhello\r\n".to_vec();
        assert!(matches!(
            spool.take_from(&mut buf),
            Err(RequestError::BadRequest(_))
        ));
    }

    #[test]
    fn the_file_has_no_name_left() {
        use std::os::unix::fs::MetadataExt;
        let spool = BodySpool::create(Framing::Length(1), 0, 10).unwrap();
        let links = spool.file.metadata().expect("metadata").nlink();
        assert_eq!(links, 0, "the file is unlinked, so it vanishes when closed");
    }
}
