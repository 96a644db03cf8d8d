//! `wsgi.input` under watch: it must never yield more bytes than
//! `CONTENT_LENGTH` announced (PEP 3333 rule 23).

use std::io::{self, BufRead, Read};

use gateway_spec::Input;

use super::reporter::Reporter;
use super::violation::Violation;

/// Put a byte counter between the application and the server's input.
///
/// The result keeps the input's own bound, so the application sees the same
/// `remaining()` as before.
pub(super) fn watch(input: Input, content_length: Option<u64>, reporter: Reporter) -> Input {
    let remaining = input.remaining();
    let checked = CheckedInput {
        inner: input,
        content_length,
        read: 0,
        reporter,
        failure: None,
    };
    match remaining {
        Some(limit) => Input::with_limit(checked, limit),
        None => Input::new(checked),
    }
}

struct CheckedInput {
    inner: Input,
    content_length: Option<u64>,
    read: u64,
    reporter: Reporter,
    /// Set once the violation was found in fail mode: every later read fails.
    failure: Option<String>,
}

impl CheckedInput {
    fn count(&mut self, amount: usize) {
        self.read += amount as u64;
        let Some(content_length) = self.content_length else {
            return;
        };
        if self.read > content_length && self.failure.is_none() {
            let violation = Violation::InputPastContentLength {
                content_length,
                read: self.read,
            };
            // Reported once: the message is the same for every later byte.
            self.content_length = None;
            if let Err(error) = self.reporter.report(violation) {
                self.failure = Some(error.to_string());
            }
        }
    }

    fn check_failed(&self) -> io::Result<()> {
        match &self.failure {
            Some(message) => Err(io::Error::other(message.clone())),
            None => Ok(()),
        }
    }
}

impl Read for CheckedInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check_failed()?;
        let n = self.inner.read(buf)?;
        self.count(n);
        self.check_failed()?;
        Ok(n)
    }
}

impl BufRead for CheckedInput {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.check_failed()?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.count(amount);
    }
}
