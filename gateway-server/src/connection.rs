//! Stage 2, the connection: wsgiref's `WSGIRequestHandler.handle`, run each
//! time the poller finds a connection with bytes to read, by a worker or by
//! the poller's own thread (`handover.rs`); "worker" below means either.
//!
//! A connection belongs either to the poller (idle: waiting for bytes) or to
//! exactly one worker (busy). Ownership moves through one atomic, so a
//! readiness event that arrives while a worker is busy is never lost: it is
//! recorded as `NOTIFIED`, and the worker reads again before letting go.
//! Workers never wait for a client: when a request is incomplete, the bytes
//! so far are kept and the connection goes back to the poller.

use std::io::{self, BufReader, Read};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use gateway_spec::Input;

use crate::body_spool::BodySpool;
use crate::environ_builder::{build_environ, RemoteAddr};
use crate::error::RequestError;
use crate::handler::{Handler, Outcome};
use crate::request_body::{buffered_body, BodyEnd, BufferedBody, ChunkedProgress, StreamedBody};
use crate::request_head::{parse_head_resuming, Framing, HeadScan, RequestHead};
use crate::response_writer::{
    send_all, send_until_full, simple_response, Destination, Dialect, Exchange, ResponseWriter,
};
use crate::server::{Shared, WorkerState};
use crate::socket::Stream;

/// How long a fresh connection may still send its first request once a
/// shutdown has begun: long enough for a client that connected just before.
const FIRST_REQUEST_WAIT_WHEN_STOPPING: std::time::Duration = std::time::Duration::from_secs(2);

/// Who owns a connection right now.
pub(crate) mod owner {
    /// The poller has it; nobody is reading.
    pub(crate) const IDLE: u8 = 0;
    /// A worker (or the poller, for a moment) is serving it.
    pub(crate) const BUSY: u8 = 1;
    /// Busy, and new bytes arrived meanwhile: read again before releasing.
    pub(crate) const NOTIFIED: u8 = 2;
    /// Closed; waiting for the poller to forget it.
    pub(crate) const CLOSED: u8 = 3;
}

/// What an idle connection is waiting for, so the poller's timer knows what
/// to do when the wait is too long.
pub(crate) mod waiting {
    /// A new request on a kept-alive connection: close silently.
    pub(crate) const NEXT_REQUEST: u8 = 0;
    /// The rest of a request head or small body: answer 408, then close.
    pub(crate) const REQUEST_REST: u8 = 1;
    /// The client to finish after the server closed its side: close.
    pub(crate) const LINGER: u8 = 2;
    /// A slow reader to take the rest of a response: close.
    pub(crate) const FLUSH: u8 = 3;
}

/// One client connection, shared between the poller and the workers.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) token: usize,
    pub(crate) stream: Arc<Stream>,
    owner: AtomicU8,
    waiting: AtomicU8,
    /// The client shut down its side. Set by the poller, which sees it in the
    /// readiness event; a short read cannot tell (the FIN may have come with
    /// the last bytes, and an edge-triggered poller reports that only once).
    peer_closed: AtomicBool,
    /// Milliseconds since the server started when the current wait expires.
    deadline: AtomicU64,
    /// The poller's epoll set has this socket. A fresh connection goes to a
    /// worker straight from `accept` and joins the set only the first time
    /// it has to wait. Only the owner reads or sets it.
    registered: AtomicBool,
    remote: RemoteAddr,
    /// Only the owner locks this, so it is never contended.
    state: Mutex<ConnState>,
}

#[derive(Debug, Default)]
struct ConnState {
    /// Bytes received but not yet used: the start of the next request.
    pending: Vec<u8>,
    /// When the request being received was first found incomplete, in the
    /// round that read its first bytes: its head's deadline counts from
    /// then. Set lazily, so a request that arrives whole costs no clock read.
    request_started: Option<u64>,
    /// Whether `100 Continue` was sent for the request being received.
    continue_sent: bool,
    /// Whether the head being received is complete and its body is not.
    awaiting_body: bool,
    /// Whether a request was answered on this connection (it is then a
    /// kept-alive connection, not a fresh one).
    served_one: bool,
    /// How far the head being received has been checked.
    head_scan: HeadScan,
    /// The decoding so far of a small chunked body being collected.
    chunked: Option<ChunkedProgress>,
    /// A large body being collected into a temporary file.
    spool: Option<BodySpool>,
    /// Response bytes a slow reader has not taken yet (sent by the next
    /// worker the poller hands the connection to when the client is ready).
    unsent: Vec<u8>,
    /// Close once `unsent` is out (the response said `Connection: close`).
    close_after_flush: bool,
    /// The poller also reports this socket as writable (asked for the first
    /// time a response had to wait, then kept).
    watching_writable: bool,
}

impl Conn {
    /// A connection the poller just accepted; `registered`: it is already
    /// in the poller's epoll set.
    pub(crate) fn new(
        token: usize,
        stream: Stream,
        remote: RemoteAddr,
        deadline: u64,
        registered: bool,
    ) -> Conn {
        Conn {
            token,
            stream: Arc::new(stream),
            owner: AtomicU8::new(owner::IDLE),
            waiting: AtomicU8::new(waiting::NEXT_REQUEST),
            peer_closed: AtomicBool::new(false),
            deadline: AtomicU64::new(deadline),
            registered: AtomicBool::new(registered),
            remote,
            state: Mutex::new(ConnState::default()),
        }
    }

    /// Poller: take ownership to hand the connection to a worker. If a
    /// worker already has it, leave a note that new bytes arrived.
    pub(crate) fn claim(&self) -> bool {
        let mut current = self.owner.load(Ordering::Acquire);
        loop {
            let next = match current {
                owner::IDLE => owner::BUSY,
                owner::BUSY => owner::NOTIFIED,
                _ => return false,
            };
            match self.owner.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return current == owner::IDLE,
                Err(actual) => current = actual,
            }
        }
    }

    /// Owner: give the connection back to the poller. Returns `false` when
    /// bytes arrived meanwhile: the caller still owns it and must read.
    fn release(&self) -> bool {
        match self.owner.compare_exchange(
            owner::BUSY,
            owner::IDLE,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => true,
            Err(_) => {
                self.owner.store(owner::BUSY, Ordering::Release);
                false
            }
        }
    }

    /// Poller: the client closed its side of the connection.
    pub(crate) fn mark_peer_closed(&self) {
        self.peer_closed.store(true, Ordering::Release);
    }

    /// The client's address, for log lines.
    pub(crate) fn remote_addr(&self) -> &str {
        self.remote.addr.as_deref().unwrap_or("-")
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.owner.load(Ordering::Acquire) == owner::CLOSED
    }

    /// Whether the poller's epoll set has this socket. Read by the poller
    /// once the connection is closed (or, in a shutdown, being forced shut).
    pub(crate) fn is_registered(&self) -> bool {
        self.registered.load(Ordering::Relaxed)
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.owner.load(Ordering::Acquire) == owner::IDLE
    }

    /// What the idle connection waits for, and until when.
    pub(crate) fn wait(&self) -> (u8, u64) {
        (
            self.waiting.load(Ordering::Acquire),
            self.deadline.load(Ordering::Acquire),
        )
    }

    fn set_wait(&self, what: u8, deadline: u64) {
        self.waiting.store(what, Ordering::Release);
        self.deadline.store(deadline, Ordering::Release);
    }

    /// Owner, before letting go: make sure the poller hears when bytes
    /// arrive. Most connections asking to close never get here, so they
    /// cost no `epoll_ctl` at all.
    fn watch_readable(&self, shared: &Shared) -> io::Result<()> {
        if self.registered.load(Ordering::Relaxed) {
            return Ok(());
        }
        shared.watch(self, false, false)?;
        self.registered.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Owner: have the poller also report when the socket can take more
    /// bytes, for a response a slow reader has not taken yet.
    fn watch_writable(&self, shared: &Shared) -> io::Result<()> {
        let again = self.registered.load(Ordering::Relaxed);
        shared.watch(self, true, again)?;
        self.registered.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Owner: close at once (the poller forgets it on its next turn).
    pub(crate) fn close(&self, shared: &Shared) {
        self.stream.shutdown(Shutdown::Both);
        self.owner.store(owner::CLOSED, Ordering::Release);
        shared.forget(self.token);
    }

    /// Owner: close after a final response. Shutting down only our side and
    /// reading what the client still sends (in the poller) avoids the RST that
    /// would make the client lose the response (RFC 9112 section 9.6).
    pub(crate) fn close_gracefully(&self, shared: &Shared) {
        self.stream.shutdown(Shutdown::Write);
        self.linger(shared);
    }

    /// Owner: close after the response to a request that asked for the
    /// close, when the client sent nothing past it. Such a client sends
    /// nothing more (RFC 9112 section 9.6), so there is nothing to linger
    /// for: our FIN goes now and the socket is freed when the client's FIN
    /// next wakes the poller (nginx's heuristic; hyper never lingers). This
    /// saves a read per connection. Bytes that were reported while the
    /// response was written get the graceful close after all; a socket the
    /// poller never watched (`deferred_accept.rs`) has nobody to report
    /// them, so it is read to see (bytes after a request that asked to
    /// close are never answered).
    fn close_as_asked(&self, shared: &Shared) {
        self.stream.shutdown(Shutdown::Write);
        if !self.registered.load(Ordering::Relaxed) {
            let input = self.stream.discard_input();
            return if input.closed || !input.any {
                self.owner.store(owner::CLOSED, Ordering::Release);
                shared.forget(self.token);
            } else {
                self.linger(shared);
            };
        }
        let nothing_arrived = self
            .owner
            .compare_exchange(
                owner::BUSY,
                owner::CLOSED,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        if nothing_arrived {
            shared.forget_without_waking(self.token);
        } else {
            self.linger(shared);
        }
    }

    /// Owner, with our side shut down: let the poller read (and drop) what
    /// the client still sends until it closes too. Bytes already waiting are
    /// read first: their readiness may have been reported to a worker that
    /// did not read (one that only flushed), and unread bytes at close would
    /// reset the connection.
    fn linger(&self, shared: &Shared) {
        if self.discard_input() || self.watch_readable(shared).is_err() {
            return self.close(shared);
        }
        self.set_wait(waiting::LINGER, shared.now_ms() + 2_000);
        loop {
            if self.peer_closed.load(Ordering::Acquire) {
                return self.close(shared);
            }
            if self.release() {
                return;
            }
            // Bytes or the client's FIN arrived while we were busy; that
            // readiness was reported to us, so read it here or nobody will.
            if self.discard_input() {
                return self.close(shared);
            }
        }
    }

    /// Poller (owning a lingering connection): read and discard; `true`
    /// once the client has closed its side.
    pub(crate) fn discard_input(&self) -> bool {
        self.stream.discard_input().closed
    }

    /// Poller (owning an idle connection whose client hung up): read what
    /// came before the FIN into the pending bytes. `true` when there was
    /// nothing, so the connection can simply be closed.
    pub(crate) fn take_final_bytes(&self) -> bool {
        let mut state = lock(&self.state);
        let mut chunk = [0u8; 4096];
        loop {
            match (&*self.stream).read(&mut chunk) {
                Ok(0) => return state.pending.is_empty(),
                Ok(n) => state.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(_) => return true,
            }
        }
    }

    /// Poller: give back a connection it claimed but did not hand on.
    pub(crate) fn unclaim(&self) {
        if !self.release() {
            self.owner.store(owner::IDLE, Ordering::Release);
        }
    }

    /// Worker: serve every complete request this connection has, then give
    /// it back (the per-connection half of wsgiref's request handler).
    pub(crate) fn handle(&self, shared: &Shared, worker: &mut WorkerState) {
        let mut session = Session {
            conn: self,
            shared,
            state: lock(&self.state),
            may_read: true,
        };
        worker.buf.clear();
        worker.buf.append(&mut session.state.pending);
        // The rest of a response goes out before anything else is read.
        if session.state.unsent.is_empty() || session.flush_or_wait(worker) {
            session.serve(worker);
        }
        // Every way out of a session sends (or drops, for a gone client)
        // what it held; the next connection starts with nothing queued.
        worker.reset();
    }
}

fn lock(state: &Mutex<ConnState>) -> MutexGuard<'_, ConnState> {
    // The state is plain bytes and flags; a poisoned lock still holds valid ones.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One worker's turn with one connection.
struct Session<'a> {
    conn: &'a Conn,
    shared: &'a Shared,
    state: MutexGuard<'a, ConnState>,
    /// The socket may hold bytes that no readiness event will report again
    /// (the poller is edge-triggered): the dispatch's own event has not been
    /// read yet, or the last read filled the buffer.
    may_read: bool,
}

/// How a request's body reaches the application.
enum BodyPlan {
    /// Ready to run the application.
    Ready(ReadyBody),
    /// A small body is still arriving.
    Wait,
    /// A large body is to be collected in a temporary file.
    Spool(BodySpool),
    /// The socket could not be set up for streaming.
    Broken,
}

/// The body as the application will read it.
struct ReadyBody {
    input: Input,
    /// Bytes after the head that the body took.
    used: usize,
    /// Set when the body is streamed from the socket.
    streamed: Option<StreamedBody>,
}

/// What the buffered bytes hold.
enum Step {
    /// One request was answered; the connection stays open.
    Served,
    /// More bytes are needed.
    Incomplete,
    /// A large body starts going to a temporary file: take the bytes
    /// already here, then read more.
    Spooling,
    /// The connection is finished with (already closed).
    Done,
}

impl Session<'_> {
    fn serve(&mut self, worker: &mut WorkerState) {
        // One read per readiness event, unless it filled the buffer: a short
        // read means the socket is drained (hyper's rule), and the poller
        // reports the next bytes. After a response, the connection goes
        // back unless a pipelined request is already here.
        loop {
            match self.serve_buffered(worker) {
                Step::Done => return,
                Step::Served | Step::Spooling => {}
                Step::Incomplete if self.may_read => match self.read_more(worker) {
                    Ok(Some(full)) => self.may_read = full,
                    Ok(None) => {
                        self.send_held(worker);
                        return self.conn.close(self.shared);
                    }
                    Err(()) => self.may_read = false,
                },
                Step::Incomplete => {
                    if self.give_back(worker) {
                        return;
                    }
                    self.may_read = true;
                }
            }
        }
    }

    /// Read once into the worker's buffer. `Ok(Some(full))`: bytes arrived
    /// (`full`: the read filled the buffer, so more may be waiting);
    /// `Ok(None)`: the client closed; `Err(())`: nothing to read now.
    fn read_more(&mut self, worker: &mut WorkerState) -> Result<Option<bool>, ()> {
        // Read into the worker's scratch block (zeroed once, at start) and
        // copy what arrived: cheaper than zeroing fresh room for each read.
        let result = (&*self.conn.stream).read(&mut worker.read_block);
        match result {
            Ok(0) => Ok(None),
            Ok(n) => {
                worker.buf.extend_from_slice(&worker.read_block[..n]);
                Ok(Some(n == worker.read_block.len()))
            }
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                Err(())
            }
            Err(_) => Ok(None),
        }
    }

    /// Send the answers held back for pipelined requests; `false` when the
    /// client is gone.
    fn send_held(&mut self, worker: &mut WorkerState) -> bool {
        if worker.out.is_empty() {
            return true;
        }
        let mut blocking = false;
        let stream = &self.conn.stream;
        let sent = send_all(
            stream,
            &worker.out,
            self.shared.config.write_timeout,
            &mut blocking,
        );
        worker.out.clear();
        let restored = !blocking || stream.set_nonblocking(true).is_ok();
        sent.is_ok() && restored
    }

    /// Read what the socket still holds (the client has shut down its
    /// side); `true` if there were bytes, which may complete a request.
    fn read_to_end(&mut self, worker: &mut WorkerState) -> bool {
        let mut got_bytes = false;
        while let Ok(Some(_)) = self.read_more(worker) {
            got_bytes = true;
        }
        got_bytes
    }

    /// Send what a slow reader left unsent, as far as it takes it now.
    /// Returns `true` when all is out and the connection goes on; `false`
    /// when it went back to the poller to wait for the client (or closed).
    fn flush_or_wait(&mut self, worker: &mut WorkerState) -> bool {
        let shared = self.shared;
        loop {
            match send_until_full(&self.conn.stream, &self.state.unsent) {
                Ok(sent) => drop(self.state.unsent.drain(..sent)),
                Err(_) => {
                    self.state.unsent.clear();
                    self.conn.close(shared);
                    return false;
                }
            }
            if self.state.unsent.is_empty() {
                self.state.unsent = Vec::new(); // no idle room per connection
                if std::mem::take(&mut self.state.close_after_flush) {
                    self.conn.close_gracefully(shared);
                    return false;
                }
                return true;
            }
            if !self.state.watching_writable {
                if self.conn.watch_writable(shared).is_err() {
                    self.conn.close(shared);
                    return false;
                }
                self.state.watching_writable = true;
            }
            let write_wait = shared.config.write_timeout.as_millis() as u64;
            self.conn
                .set_wait(waiting::FLUSH, shared.now_ms() + write_wait);
            if self.park(worker) {
                return false;
            }
            // The event that kept us may be bytes to read, not room to write.
            self.may_read = true;
        }
    }

    /// Hand the connection back to the poller, keeping only the leftover
    /// bytes per idle connection, not a buffer. Returns `false` if
    /// readiness arrived meanwhile: this worker still owns it.
    fn park(&mut self, worker: &WorkerState) -> bool {
        if self.conn.watch_readable(self.shared).is_err() {
            self.conn.close(self.shared);
            return true;
        }
        self.state.pending = worker.buf.clone();
        if self.conn.release() {
            return true;
        }
        self.state.pending.clear();
        false
    }

    /// Keep the unused bytes and hand the connection back to the poller.
    /// Returns `false` if bytes arrived meanwhile (the session continues).
    fn give_back(&mut self, worker: &mut WorkerState) -> bool {
        let shared = self.shared;
        if !self.send_held(worker) {
            self.conn.close(shared);
            return true;
        }
        if self.conn.peer_closed.load(Ordering::Acquire) {
            // The client's FIN may have come with the last bytes of its
            // request: read them before deciding nothing more will come.
            if self.read_to_end(worker) {
                return false;
            }
            self.conn.close(shared);
            return true;
        }
        let now = shared.now_ms();
        if worker.buf.is_empty() {
            // Shutting down closes idle keep-alive connections (clients
            // expect that and retry), but a fresh one whose first request is
            // on its way waits for it, within its header timeout.
            if shared.is_shutting_down() && self.state.served_one {
                // A request sent just before the shutdown (while the answer
                // above was being written) is read and answered, not dropped.
                if matches!(self.read_more(worker), Ok(Some(_))) {
                    return false;
                }
                self.conn.close(shared);
                return true;
            }
            let idle = match (self.state.served_one, shared.is_shutting_down()) {
                (true, _) => shared.config.keep_alive_timeout,
                (false, false) => shared.config.header_timeout,
                (false, true) => shared
                    .config
                    .header_timeout
                    .min(FIRST_REQUEST_WAIT_WHEN_STOPPING),
            };
            self.conn
                .set_wait(waiting::NEXT_REQUEST, now + idle.as_millis() as u64);
        } else if self.state.awaiting_body {
            let body_wait = shared.config.body_timeout.as_millis() as u64;
            self.conn.set_wait(waiting::REQUEST_REST, now + body_wait);
        } else {
            // The head has one deadline from its first byte: trickling
            // bytes (slowloris) does not extend it.
            let started = *self.state.request_started.get_or_insert(now);
            let head_wait = shared.config.header_timeout.as_millis() as u64;
            self.conn
                .set_wait(waiting::REQUEST_REST, started + head_wait);
        }
        self.park(worker)
    }

    /// Answer the request at the start of the buffer, if it is complete.
    fn serve_buffered(&mut self, worker: &mut WorkerState) -> Step {
        if worker.buf.is_empty() {
            return Step::Incomplete;
        }
        self.state.awaiting_body = false;
        if let Some(spool) = &mut self.state.spool {
            match spool.take_from(&mut worker.buf) {
                Ok(true) => {} // complete: on to the application
                Ok(false) => {
                    self.state.awaiting_body = true;
                    return Step::Incomplete;
                }
                Err(err) => {
                    self.state.spool = None;
                    return self.refuse(&err, worker);
                }
            }
        }
        let head = match parse_head_resuming(
            &worker.buf,
            &self.shared.limits,
            &mut self.state.head_scan,
        ) {
            Ok(Some(head)) => head,
            Ok(None) => return Step::Incomplete,
            Err(err) => return self.refuse(&err, worker),
        };
        let body = match self.body_of(&head, &worker.buf[head.len..]) {
            Ok(BodyPlan::Ready(body)) => body,
            Ok(BodyPlan::Wait) => return Step::Incomplete,
            Ok(BodyPlan::Spool(spool)) => {
                self.state.spool = Some(spool);
                return Step::Spooling;
            }
            Ok(BodyPlan::Broken) => {
                self.send_held(worker);
                self.conn.close(self.shared);
                return Step::Done;
            }
            Err(err) => return self.refuse(&err, worker),
        };
        let used = head.len + body.used;
        let client_asked_close = !head.keep_alive;
        // A pipelined request is already here: its answer can join this one.
        let hold = body.streamed.is_none() && worker.buf.len() > used;
        let environ = match build_environ(&head, &self.shared.base, &self.conn.remote, body.input) {
            Ok(environ) => environ,
            Err(err) => return self.refuse(&err, worker),
        };
        let outcome = self.respond(
            &head,
            environ,
            body.streamed.as_ref(),
            hold,
            &mut worker.out,
            &mut worker.clock,
        );
        worker.buf.drain(..used);
        self.after_response(client_asked_close, outcome, body.streamed, worker)
    }

    /// Decide how the application gets the body: all here (or none), still
    /// arriving (wait, inviting it with `100 Continue`), or too large to
    /// collect (stream it from the socket as the application reads).
    fn body_of(
        &mut self,
        head: &RequestHead<'_>,
        after_head: &[u8],
    ) -> Result<BodyPlan, RequestError> {
        if let Some(spool) = self.state.spool.take() {
            return Ok(BodyPlan::Ready(ReadyBody {
                input: spool.into_input()?,
                used: 0, // its bytes left the buffer on their way to the file
                streamed: None,
            }));
        }
        let config = &self.shared.config;
        match buffered_body(
            head.framing,
            after_head,
            config.buffered_body_max,
            config.max_body_bytes,
            &mut self.state.chunked,
        )? {
            BufferedBody::Complete { body, used } => Ok(BodyPlan::Ready(ReadyBody {
                input: Input::from_bytes(body),
                used,
                streamed: None,
            })),
            BufferedBody::Incomplete => {
                self.state.awaiting_body = true;
                self.invite_body(head);
                Ok(BodyPlan::Wait)
            }
            BufferedBody::TooLargeToBuffer if !config.stream_large_bodies => {
                self.invite_body(head);
                let spool = BodySpool::create(head.framing, head.len, config.max_body_bytes)?;
                Ok(BodyPlan::Spool(spool))
            }
            BufferedBody::TooLargeToBuffer => {
                let expect = head.expect_continue && !self.state.continue_sent;
                let stream = &self.conn.stream;
                let body = StreamedBody::new(
                    Arc::clone(stream),
                    head.framing,
                    after_head.to_vec(),
                    expect,
                    config.max_body_bytes,
                );
                // The application reads this body itself, so the socket
                // blocks (with the body timeout) until the response is done.
                if stream.set_nonblocking(false).is_err()
                    || stream.set_read_timeout(config.body_timeout).is_err()
                {
                    return Ok(BodyPlan::Broken);
                }
                let reader = BufReader::new(body.clone());
                let input = match head.framing {
                    Framing::Length(n) => Input::with_limit(reader, n),
                    _ => Input::new(reader),
                };
                Ok(BodyPlan::Ready(ReadyBody {
                    input,
                    used: after_head.len(),
                    streamed: Some(body),
                }))
            }
        }
    }

    /// The head is accepted and the server collects the body: a client
    /// that waits for `100 Continue` gets it now (RFC 9110 section 10.1.1).
    fn invite_body(&mut self, head: &RequestHead<'_>) {
        if head.expect_continue && !self.state.continue_sent {
            self.state.continue_sent = true;
            let _ = io::Write::write_all(&mut &*self.conn.stream, b"HTTP/1.1 100 Continue\r\n\r\n");
        }
    }

    /// Run the application and send its response; log it. Returns how the
    /// exchange went: whether the connection may stay open, whether output
    /// waits for a slow reader, and whether the socket was switched to
    /// blocking mode.
    fn respond(
        &self,
        head: &RequestHead<'_>,
        environ: gateway_spec::Environ,
        streamed: Option<&StreamedBody>,
        hold_complete: bool,
        out: &mut Vec<u8>,
        clock: &mut crate::http_date::Clock,
    ) -> Outcome {
        let (shared, config) = (self.shared, &self.shared.config);
        clock.tick();
        let exchange = Exchange {
            destination: Destination::Socket(&self.conn.stream),
            dialect: Dialect::Http,
            version: head.version,
            is_head: head.method == "HEAD",
            keep_alive: head.keep_alive && config.keep_alive && !shared.is_shutting_down(),
            stopping: Some(shared.shutdown_flag()),
            write_timeout: config.write_timeout,
            date: clock.date(),
            server_name: &config.server_name,
            streamed,
            max_drain: config.max_drain_bytes,
            hold_complete,
        };
        let request_line = head.request_line();
        let writer = ResponseWriter::new(exchange, out);
        let outcome = Handler::new(writer, &request_line).run(&*shared.app, environ);
        shared.access_log.record(
            &self.conn.remote,
            clock.log_time(),
            &request_line,
            outcome.status,
            outcome.body_bytes,
        );
        outcome
    }

    /// After a response: settle a streamed body (drain what is left, take
    /// back bytes past it), restore non-blocking mode, and keep the
    /// connection or close it.
    fn after_response(
        &mut self,
        client_asked_close: bool,
        outcome: Outcome,
        streamed: Option<StreamedBody>,
        worker: &mut WorkerState,
    ) -> Step {
        let Outcome {
            mut keep_alive,
            output_waiting,
            blocking,
            ..
        } = outcome;
        let was_streamed = streamed.is_some();
        if let Some(body) = streamed {
            match body.finish(self.shared.config.max_drain_bytes) {
                BodyEnd::Finished { leftover } => worker.buf = leftover,
                BodyEnd::Unusable => keep_alive = false,
            }
        }
        // The poller needs the socket non-blocking again.
        if (blocking || was_streamed) && self.conn.stream.set_nonblocking(true).is_err() {
            keep_alive = false;
        }
        self.state.continue_sent = false;
        self.state.served_one = true;
        self.state.head_scan = HeadScan::default();
        self.state.chunked = None;
        self.state.request_started = None;
        if output_waiting {
            self.state.unsent.append(&mut worker.out);
            self.state.close_after_flush = !keep_alive;
            return if self.flush_or_wait(worker) {
                Step::Served
            } else {
                Step::Done
            };
        }
        if keep_alive {
            return Step::Served;
        }
        self.send_held(worker);
        // Nothing past the request, here or (as far as we know) in the socket.
        if client_asked_close && !was_streamed && worker.buf.is_empty() && !self.may_read {
            self.conn.close_as_asked(self.shared);
        } else {
            self.conn.close_gracefully(self.shared);
        }
        Step::Done
    }

    /// Answer a request the server refuses, then close: after a framing
    /// error nothing that follows on the connection can be trusted.
    fn refuse(&mut self, err: &RequestError, worker: &mut WorkerState) -> Step {
        let shared = self.shared;
        // Answers to the pipelined requests before this one go first.
        self.send_held(worker);
        let client = self.conn.remote_addr();
        if matches!(err, RequestError::Spool(_)) {
            // The server's own failure (disk, TMPDIR), not the client's.
            log::error!("request from {client} failed: {err}");
        } else {
            log::info!(target: "gateway_server::request", "refused request from {client}: {err}");
        }
        if let Some(status) = err.status() {
            worker.clock.tick();
            let response =
                simple_response(status, worker.clock.date(), &shared.config.server_name, &[]);
            let _ = io::Write::write_all(&mut &*self.conn.stream, &response);
            shared.access_log.record(
                &self.conn.remote,
                worker.clock.log_time(),
                &"-",
                status_code(status),
                0,
            );
        }
        worker.buf.clear();
        self.conn.close_gracefully(shared);
        Step::Done
    }
}

fn status_code(status: &str) -> u16 {
    status.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
}
