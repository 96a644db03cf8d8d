//! The response body: a lazy sequence of byte chunks that is always closed.
//!
//! PEP 3333's application returns "an iterable yielding zero or more
//! bytestrings", and the server "must call `close()`" on it whatever happens.
//! [`Body`] is an [`Iterator`] of `Result<Vec<u8>, AppError>` chunks, and
//! dropping it is `close()`: Rust runs `Drop` on success, on error, on panic
//! unwinding and when the server stops early because the client went away, so
//! the PEP's most often forgotten rule cannot be forgotten here.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;

use crate::error::AppError;

/// One step of a body: a chunk of bytes, or the error that stopped it.
pub type Chunk = Result<Vec<u8>, AppError>;

/// A response body: an iterator of byte chunks with an end-of-life step.
///
/// ```
/// use gateway_spec::Body;
/// let body = Body::from("Hello from server.");
/// let bytes: Vec<u8> = body.map(|chunk| chunk.unwrap()).flatten().collect();
/// assert_eq!(bytes, b"Hello from server.");
/// ```
///
/// A body that runs code when it is closed (PEP 3333's `close()`):
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use gateway_spec::Body;
/// let closed = Arc::new(AtomicBool::new(false));
/// let flag = Arc::clone(&closed);
/// let body = Body::from("partial").on_close(move || flag.store(true, Ordering::SeqCst));
/// drop(body); // the server stopped early: close still runs
/// assert!(closed.load(Ordering::SeqCst));
/// ```
pub struct Body {
    source: Source,
    on_close: Vec<Box<dyn FnOnce()>>,
}

enum Source {
    Done,
    /// One chunk, borrowed when it is a constant: a static page costs no copy
    /// on its way to the socket.
    Once(Cow<'static, [u8]>),
    Iter(Box<dyn Iterator<Item = Chunk>>),
}

impl Body {
    /// A body with no chunks (the response has no content).
    pub fn empty() -> Body {
        Body::with_source(Source::Done)
    }

    /// A body of one chunk. A server may compute `Content-Length` from it
    /// (PEP 3333: "if the iterable has only one item").
    pub fn once(bytes: impl Into<Vec<u8>>) -> Body {
        Body::with_source(Source::Once(Cow::Owned(bytes.into())))
    }

    /// A body of one constant chunk, kept borrowed: a server that takes it
    /// with [`next_chunk`](Self::next_chunk) writes it without a copy. The
    /// `From` conversions of `&'static str` and `&'static [u8]` use this.
    ///
    /// ```
    /// use gateway_spec::Body;
    /// let mut body = Body::from_static(b"Hello from server.");
    /// assert_eq!(body.exact_len(), Some(18));
    /// let chunk = body.next_chunk().unwrap().unwrap();
    /// assert!(matches!(chunk, std::borrow::Cow::Borrowed(b"Hello from server.")));
    /// assert!(body.next_chunk().is_none());
    /// ```
    pub fn from_static(bytes: &'static [u8]) -> Body {
        Body::with_source(Source::Once(Cow::Borrowed(bytes)))
    }

    /// The next chunk, as [`Iterator::next`] gives it, except that a
    /// constant chunk comes borrowed instead of copied into a `Vec`: what a
    /// server calls. Middleware that transforms chunks uses the `Iterator`.
    pub fn next_chunk(&mut self) -> Option<Result<Cow<'static, [u8]>, AppError>> {
        match std::mem::replace(&mut self.source, Source::Done) {
            Source::Done => None,
            Source::Once(bytes) => Some(Ok(bytes)),
            Source::Iter(mut iter) => {
                let chunk = iter.next();
                if chunk.is_some() {
                    self.source = Source::Iter(iter);
                }
                chunk.map(|chunk| chunk.map(Cow::Owned))
            }
        }
    }

    /// A body of the given chunks, produced lazily as the server asks.
    pub fn from_chunks<I>(chunks: I) -> Body
    where
        I: IntoIterator<Item = Vec<u8>>,
        I::IntoIter: 'static,
    {
        Body::from_results(chunks.into_iter().map(Ok))
    }

    /// A body of chunks that may fail: an `Err` stops the body, and the
    /// server handles it as an application error (500 if nothing was sent).
    pub fn from_results<I>(chunks: I) -> Body
    where
        I: IntoIterator<Item = Chunk>,
        I::IntoIter: 'static,
    {
        Body::with_source(Source::Iter(Box::new(chunks.into_iter())))
    }

    /// A body produced by calling `step` until it returns `None`: the shape
    /// of a Python generator. The function may call `start_response` on its
    /// first step (PEP 3333 allows a lazy start).
    pub fn from_fn(step: impl FnMut() -> Option<Chunk> + 'static) -> Body {
        Body::from_results(std::iter::from_fn(step))
    }

    /// A body read from `reader` in chunks of up to 64 KiB, like
    /// `wsgiref.util.FileWrapper`. A read error ends the body with that error.
    pub fn from_reader(reader: impl Read + 'static) -> Body {
        const BLOCK: usize = 64 * 1024;
        let mut reader = Some(reader);
        Body::from_fn(move || {
            let source = reader.as_mut()?;
            let mut block = vec![0; BLOCK];
            match source.read(&mut block) {
                Ok(0) => {
                    reader = None;
                    None
                }
                Ok(n) => {
                    block.truncate(n);
                    Some(Ok(block))
                }
                Err(err) => {
                    reader = None;
                    Some(Err(err.into()))
                }
            }
        })
    }

    /// Add a step to run when the body is closed (dropped). Steps run in the
    /// order they were added, after the chunk source itself is dropped.
    pub fn on_close(mut self, step: impl FnOnce() + 'static) -> Body {
        self.on_close.push(Box::new(step));
        self
    }

    /// The exact number of bytes left, when the body knows it without being
    /// consumed: `Some(0)` for an exhausted or empty body, the chunk's length
    /// for a single-chunk body, `None` otherwise.
    pub fn exact_len(&self) -> Option<u64> {
        match &self.source {
            Source::Done => Some(0),
            Source::Once(bytes) => Some(bytes.len() as u64),
            Source::Iter(iter) => match iter.size_hint() {
                (0, Some(0)) => Some(0),
                _ => None,
            },
        }
    }

    fn with_source(source: Source) -> Body {
        Body {
            source,
            on_close: Vec::new(),
        }
    }
}

impl Iterator for Body {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        self.next_chunk().map(|chunk| chunk.map(Cow::into_owned))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.source {
            Source::Done => (0, Some(0)),
            Source::Once(_) => (1, Some(1)),
            Source::Iter(iter) => iter.size_hint(),
        }
    }
}

/// PEP 3333's `close()`: runs however the body's life ends.
impl Drop for Body {
    fn drop(&mut self) {
        // Close the source first (a wrapped inner body closes here), then run
        // this body's own steps, so an outer layer sees the inner one closed.
        self.source = Source::Done;
        for step in self.on_close.drain(..) {
            step();
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Done => "done",
            Source::Once(_) => "once",
            Source::Iter(_) => "iter",
        };
        f.debug_struct("Body")
            .field("source", &source)
            .field("on_close", &self.on_close.len())
            .finish()
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::once(bytes)
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Body {
        Body::from_static(bytes)
    }
}

impl<const N: usize> From<&'static [u8; N]> for Body {
    fn from(bytes: &'static [u8; N]) -> Body {
        Body::from_static(bytes)
    }
}

impl From<String> for Body {
    fn from(text: String) -> Body {
        Body::once(text.into_bytes())
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Body {
        Body::from_static(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    fn counter() -> (Rc<Cell<u32>>, impl FnOnce() + 'static) {
        let count = Rc::new(Cell::new(0));
        let c = Rc::clone(&count);
        (count, move || c.set(c.get() + 1))
    }

    #[test]
    fn once_yields_one_chunk_and_knows_its_length() {
        let mut body = Body::from("abc");
        assert_eq!(body.exact_len(), Some(3));
        assert_eq!(body.next().unwrap().unwrap(), b"abc");
        assert!(body.next().is_none());
        assert_eq!(body.exact_len(), Some(0));
    }

    #[test]
    fn close_runs_once_when_fully_consumed() {
        let (count, step) = counter();
        let body = Body::from_chunks(vec![b"a".to_vec(), b"b".to_vec()]).on_close(step);
        let all: Vec<_> = body.map(Result::unwrap).collect();
        assert_eq!(all, vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(count.get(), 1);
    }

    #[test]
    fn close_runs_when_the_consumer_stops_early() {
        let (count, step) = counter();
        let mut body =
            Body::from_chunks((0..1000u32).map(|i| i.to_string().into_bytes())).on_close(step);
        let _first = body.next();
        assert_eq!(count.get(), 0);
        drop(body);
        assert_eq!(count.get(), 1);
    }

    #[test]
    fn close_runs_when_the_body_fails() {
        let (count, step) = counter();
        let chunks: Vec<Chunk> = vec![Ok(b"ok".to_vec()), Err("disk on fire".into())];
        let mut body = Body::from_results(chunks).on_close(step);
        assert!(body.next().unwrap().is_ok());
        let err = body.next().unwrap().unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
        drop(body);
        assert_eq!(count.get(), 1);
    }

    #[test]
    fn close_runs_when_a_panic_unwinds_through_the_consumer() {
        let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&closed);
        let result = std::panic::catch_unwind(move || {
            let mut body = Body::from("x")
                .on_close(move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
            let _ = body.next();
            panic!("the consumer failed");
        });
        assert!(result.is_err());
        assert!(closed.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn wrapped_bodies_close_inner_then_outer() {
        let order = Rc::new(std::cell::RefCell::new(Vec::new()));
        let (o1, o2) = (Rc::clone(&order), Rc::clone(&order));
        let inner = Body::from("x").on_close(move || o1.borrow_mut().push("inner"));
        let outer = Body::from_results(inner.map(|c| c.map(|b| b.to_ascii_uppercase())))
            .on_close(move || o2.borrow_mut().push("outer"));
        let out: Vec<_> = outer.map(Result::unwrap).collect();
        assert_eq!(out, vec![b"X".to_vec()]);
        assert_eq!(*order.borrow(), vec!["inner", "outer"]);
    }

    #[test]
    fn from_fn_is_lazy() {
        let calls = Rc::new(Cell::new(0));
        let c = Rc::clone(&calls);
        let mut body = Body::from_fn(move || {
            c.set(c.get() + 1);
            (c.get() <= 2).then(|| Ok(vec![b'.']))
        });
        assert_eq!(calls.get(), 0, "nothing runs before the server asks");
        assert!(body.next().is_some());
        assert!(body.next().is_some());
        assert!(body.next().is_none());
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn from_reader_streams_in_blocks() {
        let data = vec![7u8; 150 * 1024];
        let body = Body::from_reader(std::io::Cursor::new(data.clone()));
        let chunks: Vec<Vec<u8>> = body.map(Result::unwrap).collect();
        assert!(chunks.len() >= 3);
        assert_eq!(chunks.concat(), data);
    }
}
