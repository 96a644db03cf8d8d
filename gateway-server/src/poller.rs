//! Stage 1, the poller: the event loop that owns the listening socket and
//! every idle connection (waitress's I/O thread, hyper's event loop), run by
//! one thread at a time.
//!
//! It accepts, watches connections for readable bytes (each registered once,
//! edge-triggered) and serves a connection only when it has bytes to read,
//! or room for the rest of a response a slow reader left. (A new connection
//! the kernel held back until its request came is served at once: see
//! `deferred_accept.rs`.) Serving happens on this thread after the turn
//! while requests are quick, or on the worker pool (`handover.rs` decides).
//! Whoever served it gives it back when a request is incomplete, the client
//! is slow to read, or the connection is idle. A few times a second it
//! closes connections that waited too long. Thread count is the pool plus
//! two poller threads taking turns, however many clients are connected.
//! Next stage: `handover.rs`.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::config::Dispatch;
use crate::connection::{waiting, Conn};
use crate::environ_builder::RemoteAddr;
use crate::handover::Handover;
use crate::http_date::Clock;
use crate::response_writer::{simple_response, write_nonblocking};
use crate::server::{Shared, WorkerState};
use crate::socket::{Acceptor, Peer, Stream};
use crate::worker_pool::WorkerPool;

pub(crate) const WAKER: Token = Token(usize::MAX - 1);
const LISTENER: Token = Token(usize::MAX - 2);
const SIGNALS: Token = Token(usize::MAX - 3);

/// How often timeouts are checked.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// The event loop and everything it owns.
pub(crate) struct Poller {
    poll: Poll,
    listener: Option<Acceptor>,
    conns: Slab,
    shared: Arc<Shared>,
    closed: Receiver<usize>,
    pool: Option<WorkerPool<Arc<Conn>>>,
    signals: Option<Signals>,
    clock: Clock,
    last_overload_warning: Option<Instant>,
    events: Events,
    next_sweep: Instant,
    grace_deadline: Option<Instant>,
    /// Which thread runs a ready request, and when it may be the poller's.
    handover: Arc<Handover>,
    /// Whether this turn's ready requests run on the poller's thread
    /// (`handover.rs`): decided once per turn.
    inline_now: bool,
    /// Whether they wait for it (see `turn`).
    hold_now: bool,
    /// `Shared::now_ms` when this turn began.
    now_ms: u64,
    /// Ready connections this turn left for the poller's thread to serve.
    inline_queue: VecDeque<Arc<Conn>>,
}

impl Poller {
    pub(crate) fn new(
        poll: Poll,
        listener: Acceptor,
        shared: Arc<Shared>,
        closed: Receiver<usize>,
    ) -> io::Result<Poller> {
        poll.registry().register(
            &mut SourceFd(&listener.as_raw_fd()),
            LISTENER,
            Interest::READABLE,
        )?;
        let signals = if shared.config.handle_signals {
            Some(Signals::register(&poll)?)
        } else {
            None
        };
        let worker_shared = Arc::clone(&shared);
        let pool = WorkerPool::start(
            shared.config.workers,
            shared.config.max_queued,
            WorkerState::new,
            move |conn: Arc<Conn>, state| {
                let handled = catch_unwind(AssertUnwindSafe(|| conn.handle(&worker_shared, state)));
                if let Err(panic) = handled {
                    // A bug in the server (application panics are answered
                    // with a 500 long before this). This worker owns the
                    // connection, so the poller would never look at it
                    // again: close it, then let the pool renew the state.
                    conn.close(&worker_shared);
                    resume_unwind(panic);
                }
            },
        )?;
        Ok(Poller {
            poll,
            listener: Some(listener),
            conns: Slab::default(),
            shared,
            closed,
            pool: Some(pool),
            signals,
            clock: Clock::new(),
            last_overload_warning: None,
            events: Events::with_capacity(1024),
            next_sweep: Instant::now() + SWEEP_EVERY,
            grace_deadline: None,
            handover: Arc::new(Handover::for_cores(
                std::thread::available_parallelism().map_or(1, usize::from),
            )),
            inline_now: false,
            hold_now: false,
            now_ms: 0,
            inline_queue: VecDeque::new(),
        })
    }

    /// Run until a shutdown has completed: on this thread alone with
    /// `Dispatch::Pool`, else on two threads taking turns (`handover.rs`).
    pub(crate) fn serve(mut self) -> io::Result<()> {
        match self.shared.config.dispatch {
            Dispatch::Adaptive => crate::handover::serve(self),
            Dispatch::Pool => loop {
                if self.turn()? {
                    return Ok(());
                }
            },
        }
    }

    pub(crate) fn handover(&self) -> Arc<Handover> {
        Arc::clone(&self.handover)
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// One wait for events and everything they ask for; true once a
    /// shutdown has completed.
    pub(crate) fn turn(&mut self) -> io::Result<bool> {
        // Requests left over for a full pool queue are offered to it again
        // soon, not at the next sweep.
        let timeout = if self.inline_queue.is_empty() {
            self.next_sweep.saturating_duration_since(Instant::now())
        } else {
            Duration::from_millis(1)
        };
        // Taken out for the loop below, which needs `self` too; an empty
        // `Events` allocates nothing.
        let mut events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        let polled = self.poll.poll(&mut events, Some(timeout));
        if let Err(err) = polled {
            if err.kind() != io::ErrorKind::Interrupted {
                self.events = events;
                return Err(err);
            }
        }
        // One clock read after the wait serves the turn's timers and sweep.
        let now = Instant::now();
        self.now_ms = self.shared.ms_at(now);
        let adaptive =
            self.shared.config.dispatch == Dispatch::Adaptive && !self.shared.is_shutting_down();
        self.inline_now = adaptive && self.handover.allows_inline(self.now_ms);
        // Between a takeover of a running leader and its return as the
        // standby, no spell runs: requests wait for the poller's thread (or
        // room in the pool's queue), rather than fill that queue with 503s.
        // Briefly: a request that computes on starts a spell.
        let unwatched = adaptive && !self.inline_now && !self.handover.in_spell(self.now_ms);
        self.hold_now = unwatched && self.handover.just_taken_over_running(self.now_ms);
        if unwatched && !self.hold_now {
            self.handover.start_pool_spell(self.now_ms);
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => self.accept_all(),
                WAKER => self
                    .shared
                    .closed_pending
                    .store(false, std::sync::atomic::Ordering::Release),
                SIGNALS => self.on_signal(),
                Token(n) if event.is_readable() || event.is_read_closed() || event.is_error() => {
                    self.on_readable(n, event.is_read_closed())
                }
                Token(n) => self.on_writable(n),
            }
        }
        self.events = events;
        // One wake for everything the events queued (see `try_queue`).
        if let Some(pool) = &self.pool {
            pool.wake_for_queued();
        }
        self.forget_closed();
        if now >= self.next_sweep {
            self.sweep();
            self.next_sweep = now + SWEEP_EVERY;
        }
        if self.shared.is_shutting_down() {
            let deadline = match self.grace_deadline {
                Some(deadline) => deadline,
                None => {
                    let deadline = self.start_shutdown();
                    *self.grace_deadline.insert(deadline)
                }
            };
            if self.conns.is_empty() || Instant::now() >= deadline {
                self.finish_shutdown(deadline)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The next request this thread should serve itself.
    ///
    /// When the turn is `over_budget`, or a takeover came since the turn
    /// queued them, the worker pool gets as many as its queue has room for.
    /// They were admitted: a burst the turn took in at once (thousands of
    /// new connections) must not be turned away with 503s because it
    /// arrived in one piece. The rest are served here while a standby
    /// watches this thread, or wait for room (see `turn`). During a spell
    /// (a blocking application) or a shutdown they all go to the pool,
    /// whose full queue answers 503 as it would have at once: that is the
    /// overload contract of `ServerConfig::max_queued`.
    pub(crate) fn next_inline_job(&mut self, over_budget: bool) -> Option<Arc<Conn>> {
        if self.inline_queue.is_empty() {
            return None;
        }
        let shedding = self.handover.in_spell(self.now_ms) || self.shared.is_shutting_down();
        let inline = !shedding && self.handover.allows_inline(self.now_ms);
        if inline && !over_budget {
            return self.inline_queue.pop_front();
        }
        let room = if shedding {
            usize::MAX
        } else {
            self.pool.as_ref().map_or(0, WorkerPool::room)
        };
        for _ in 0..room.min(self.inline_queue.len()) {
            if let Some(conn) = self.inline_queue.pop_front() {
                self.dispatch_to_pool(conn);
            }
        }
        if let Some(pool) = &self.pool {
            pool.wake_for_queued();
        }
        // (A turn may serve inline only while watched: `allows_inline`.)
        if self.handover.watched() {
            return self.inline_queue.pop_front();
        }
        None
    }

    fn accept_all(&mut self) {
        let mut accepted = 0u32;
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    self.admit(stream, peer);
                    accepted += 1;
                    // A burst of new connections, each queued for a worker,
                    // must not fill the queue while every worker sleeps.
                    if accepted % 64 == 0 {
                        if let Some(pool) = &self.pool {
                            pool.wake_for_queued();
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of file descriptors, usually: the pending client
                    // stays in the backlog until a connection closes.
                    log::error!("accept failed: {e} (raise the open-file limit or lower ServerConfig::max_connections)");
                    return;
                }
            }
        }
    }

    /// Take in a new connection, or turn it away when the server is full.
    fn admit(&mut self, stream: Stream, peer: Peer) {
        if self.conns.len() >= self.shared.config.max_connections {
            self.warn_overload("connection limit reached", "max_connections");
            return self.turn_away(&stream);
        }
        let remote = match peer {
            Peer::Tcp(addr) => RemoteAddr::of(addr),
            Peer::Unix => RemoteAddr::default(),
        };
        let token = self.conns.vacant_key();
        // A client that connects and says nothing gets the header timeout.
        let deadline = self.shared.now_ms() + self.shared.config.header_timeout.as_millis() as u64;
        let request_first = self
            .listener
            .as_ref()
            .is_some_and(Acceptor::hands_over_requests);
        if request_first {
            // Its request is here (see `deferred_accept.rs`): straight to a
            // worker, which registers the socket only if it has to wait, so
            // a `Connection: close` exchange costs no epoll_ctl at all.
            let conn = Arc::new(Conn::new(token, stream, remote, deadline, false));
            conn.claim();
            self.conns.insert(Arc::clone(&conn));
            return self.dispatch(conn);
        }
        let conn = Arc::new(Conn::new(token, stream, remote, deadline, true));
        // Registered once, edge-triggered: no epoll_ctl per request.
        let registered = self.poll.registry().register(
            &mut SourceFd(&conn.stream.as_raw_fd()),
            Token(token),
            Interest::READABLE,
        );
        if registered.is_ok() {
            self.conns.insert(conn);
        }
    }

    /// `503 Service Unavailable` with `Retry-After`, then close: overload
    /// gets a fast, clear answer rather than unbounded queues.
    fn turn_away(&mut self, stream: &Stream) {
        self.clock.tick();
        let response = simple_response(
            "503 Service Unavailable",
            self.clock.date(),
            &self.shared.config.server_name,
            &[("Retry-After", "1")],
        );
        write_nonblocking(stream, &response);
        stream.shutdown(std::net::Shutdown::Write);
        // A connection the kernel held back until it spoke has its request
        // unread here: closing over it would reset the 503 away.
        stream.discard_input();
    }

    fn warn_overload(&mut self, what: &str, setting: &str) {
        let now = Instant::now();
        if self
            .last_overload_warning
            .is_none_or(|last| now.duration_since(last) >= Duration::from_secs(1))
        {
            self.last_overload_warning = Some(now);
            let queued = self.pool.as_ref().map_or(0, WorkerPool::queued);
            log::warn!("overloaded ({what}; {queued} requests queued, {} connections): answering 503; raise ServerConfig::{setting} or workers if the machine has room", self.conns.len());
        }
    }

    /// Bytes arrived on a connection (or a slow reader made room): hand it
    /// to a worker, unless one has it.
    fn on_readable(&mut self, token: usize, read_closed: bool) {
        let Some(conn) = self.conns.get(token) else {
            return;
        };
        if read_closed {
            conn.mark_peer_closed();
        }
        if !conn.claim() {
            return; // a worker owns it and will read again before letting go
        }
        let finished = match conn.wait().0 {
            // Closed for writing: read what the client still sends until
            // it closes too.
            waiting::LINGER => {
                if !conn.discard_input() {
                    return conn.unclaim(); // still lingering
                }
                true
            }
            // An idle client hung up: usually nothing but the FIN is there,
            // and closing needs no worker (nor a place in the queue).
            waiting::NEXT_REQUEST => read_closed && conn.take_final_bytes(),
            _ => false,
        };
        if finished {
            // No clone of the connection is alive here, so `remove` drops
            // the last one: closing the socket takes it out of epoll by
            // itself (a clone held here used to cost an epoll_ctl and a
            // second shutdown per closed connection).
            return self.remove(token);
        }
        let conn = Arc::clone(conn);
        self.dispatch(conn);
    }

    /// A connection can take more bytes: only one with a response waiting
    /// for it needs a worker. One that is busy is told (a worker may be
    /// about to wait for exactly this), an idle one has nothing to send.
    fn on_writable(&mut self, token: usize) {
        let Some(conn) = self.conns.get(token) else {
            return;
        };
        if conn.is_idle() && conn.wait().0 != waiting::FLUSH {
            return;
        }
        self.on_readable(token, false);
    }

    fn dispatch(&mut self, conn: Arc<Conn>) {
        if self.inline_now || self.hold_now {
            // Served on this thread after the turn: no handoff to a worker,
            // no thread switch (see `handover.rs`).
            return self.inline_queue.push_back(conn);
        }
        self.dispatch_to_pool(conn);
    }

    fn dispatch_to_pool(&mut self, conn: Arc<Conn>) {
        let Some(pool) = &self.pool else {
            return conn.close(&self.shared);
        };
        if let Err(conn) = pool.try_queue(conn) {
            self.warn_overload("request queue full", "max_queued");
            self.turn_away(&conn.stream);
            conn.close_gracefully(&self.shared);
        }
    }

    /// Close connections whose wait ran out.
    fn sweep(&mut self) {
        let now = self.shared.now_ms();
        let expired: Vec<Arc<Conn>> = self
            .conns
            .iter()
            .filter(|conn| conn.is_idle() && now >= conn.wait().1)
            .cloned()
            .collect();
        for conn in expired {
            if !conn.claim() {
                continue;
            }
            if conn.wait().0 == waiting::REQUEST_REST {
                self.clock.tick();
                let response = simple_response(
                    "408 Request Timeout",
                    self.clock.date(),
                    &self.shared.config.server_name,
                    &[],
                );
                write_nonblocking(&conn.stream, &response);
                log::info!(target: "gateway_server::request", "request from {} not complete in time: 408", conn.remote_addr());
            }
            self.remove(conn.token);
        }
    }

    fn forget_closed(&mut self) {
        while let Ok(token) = self.closed.try_recv() {
            if self.conns.get(token).is_some_and(|c| c.is_closed()) {
                self.remove(token);
            }
        }
    }

    fn remove(&mut self, token: usize) {
        let Some(conn) = self.conns.remove(token) else {
            return;
        };
        // Usually this is the last owner: dropping it closes the socket,
        // which also takes it out of the epoll set, so two syscalls per
        // connection are saved. A worker may still hold it: one that just
        // closed it (its socket must not report events under a token the
        // next connection reuses), or one serving it during a shutdown (it
        // must see it closed now).
        if Arc::strong_count(&conn) > 1 {
            if conn.is_registered() {
                let _ = self
                    .poll
                    .registry()
                    .deregister(&mut SourceFd(&conn.stream.as_raw_fd()));
            }
            if !conn.is_closed() {
                conn.stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    fn on_signal(&mut self) {
        if let Some(signals) = &mut self.signals {
            signals.drain();
        }
        log::info!("signal received: shutting down gracefully");
        self.shared.begin_shutdown();
    }

    /// Stop accepting and wake every idle connection once, so bytes a
    /// client already sent are still answered; returns the grace deadline.
    fn start_shutdown(&mut self) -> Instant {
        // Whatever is still to serve goes to the pool, which the shutdown
        // waits for.
        self.inline_now = false;
        self.hold_now = false;
        // On a socket of its own that holds connections back until they
        // speak, those whose request has just arrived are taken in and
        // answered (any still held back are lost with it: see
        // `ServerConfig::defer_accept`). A socket the server was handed
        // outlives it: its queue is for the next server.
        if self
            .listener
            .as_ref()
            .is_some_and(Acceptor::hands_over_requests)
        {
            self.accept_all();
        }
        if let Some(listener) = self.listener.take() {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&listener.as_raw_fd()));
        }
        let idle: Vec<Arc<Conn>> = self.conns.iter().filter(|c| c.is_idle()).cloned().collect();
        for conn in idle {
            if conn.claim() {
                if conn.wait().0 == waiting::LINGER {
                    self.remove(conn.token);
                } else {
                    self.dispatch(conn);
                }
            }
        }
        if let Some(pool) = &self.pool {
            pool.wake_for_queued();
        }
        Instant::now() + self.shared.config.shutdown_grace
    }

    fn finish_shutdown(&mut self, deadline: Instant) -> io::Result<()> {
        for token in self.conns.tokens() {
            self.remove(token);
        }
        if let Some(pool) = self.pool.take() {
            let stuck = pool.stop(deadline.max(Instant::now() + Duration::from_millis(100)));
            if stuck > 0 {
                log::warn!(
                    "{stuck} workers still busy after the shutdown grace period; leaving them"
                );
            }
        }
        if let Some(signals) = self.signals.take() {
            signals.unregister();
        }
        log::info!("server stopped");
        Ok(())
    }
}

/// The connections, indexed by token; freed slots are reused.
#[derive(Default)]
struct Slab {
    slots: Vec<Option<Arc<Conn>>>,
    free: Vec<usize>,
    len: usize,
}

impl Slab {
    fn vacant_key(&self) -> usize {
        self.free.last().copied().unwrap_or(self.slots.len())
    }

    fn insert(&mut self, conn: Arc<Conn>) {
        let key = conn.token;
        if self.free.last() == Some(&key) {
            self.free.pop();
            self.slots[key] = Some(conn);
        } else {
            self.slots.push(Some(conn));
        }
        self.len += 1;
    }

    fn get(&self, key: usize) -> Option<&Arc<Conn>> {
        self.slots.get(key)?.as_ref()
    }

    fn remove(&mut self, key: usize) -> Option<Arc<Conn>> {
        let conn = self.slots.get_mut(key)?.take()?;
        self.free.push(key);
        self.len -= 1;
        Some(conn)
    }

    fn iter(&self) -> impl Iterator<Item = &Arc<Conn>> {
        self.slots.iter().flatten()
    }

    fn tokens(&self) -> Vec<usize> {
        self.iter().map(|c| c.token).collect()
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// SIGTERM and SIGINT, delivered to the poller through a socket pair.
struct Signals {
    reader: UnixStream,
    ids: Vec<signal_hook::SigId>,
}

impl Signals {
    fn register(poll: &Poll) -> io::Result<Signals> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        let mut ids = Vec::new();
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            ids.push(signal_hook::low_level::pipe::register(
                signal,
                writer.try_clone()?,
            )?);
        }
        poll.registry().register(
            &mut SourceFd(&reader.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        Ok(Signals { reader, ids })
    }

    fn drain(&mut self) {
        let mut sink = [0u8; 64];
        while matches!(io::Read::read(&mut self.reader, &mut sink), Ok(n) if n > 0) {}
    }

    fn unregister(self) {
        for id in self.ids {
            signal_hook::low_level::unregister(id);
        }
    }
}
