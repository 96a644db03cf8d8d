//! Stage 0, the server: wsgiref's `make_server` and `WSGIServer`. Binds the
//! socket, computes the base environ once, starts the workers and runs the
//! poller until shutdown. Next stage: `poller.rs`.

use std::net::{TcpListener, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use gateway_spec::Application;

use crate::access_log::AccessLog;
use crate::config::ServerConfig;
use crate::connection::Conn;
use crate::environ_builder::BaseEnviron;
use crate::http_date::Clock;
use crate::poller::Poller;
use crate::request_head::HeadLimits;
use crate::socket::{ListenAddr, Listener};

/// Create a server for `app` on `host:port` with the default configuration:
/// Python's `wsgiref.simple_server.make_server`.
///
/// Port 0 picks a free port; [`Server::local_addr`] tells which.
///
/// ```no_run
/// use gateway_spec::{AppError, Body, Environ, StartResponse};
///
/// fn my_app(_environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
///     start_response.call("200 OK", vec![("content-type".into(), "text/plain".into())])?;
///     Ok(Body::from("Hello from server."))
/// }
///
/// let httpd = gateway_server::make_server("localhost", 2017, my_app)?;
/// httpd.serve_forever()?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// When the address cannot be resolved or bound (in use, no permission).
pub fn make_server<A: Application>(host: &str, port: u16, app: A) -> std::io::Result<Server> {
    Server::bind((host, port), app, ServerConfig::default())
}

/// An HTTP/1.1 server bound to a socket, ready to serve one application:
/// wsgiref's `WSGIServer`.
#[derive(Debug)]
pub struct Server {
    listener: Listener,
    /// The kernel hands over connections only with their first bytes.
    request_first: bool,
    shared: Arc<Shared>,
    closed: Receiver<usize>,
    waker_registry: mio::Poll,
}

impl Server {
    /// Bind a TCP address (IPv4 or IPv6) with the given configuration.
    ///
    /// # Errors
    /// When the address cannot be resolved or bound.
    pub fn bind<A: Application>(
        addr: impl ToSocketAddrs,
        app: A,
        config: ServerConfig,
    ) -> std::io::Result<Server> {
        let listener = crate::socket::bind_tcp(addr, config.reuse_port, config.backlog)?;
        // Only on a socket of its own: one it is handed keeps the options
        // its owner chose (systemd's `DeferAcceptSec=`, `handoff.py`).
        let request_first = config.defer_accept && defer_accept_or_say_why(&listener);
        Server::new(
            Listener::Tcp(listener),
            Arc::new(app),
            config,
            request_first,
        )
    }

    /// Serve on a TCP listener that is already bound (by a parent process,
    /// by systemd socket activation, or by a test that picked the port).
    ///
    /// # Errors
    /// When the listener cannot be switched to non-blocking mode.
    pub fn from_listener<A: Application>(
        listener: TcpListener,
        app: A,
        config: ServerConfig,
    ) -> std::io::Result<Server> {
        Server::new(Listener::Tcp(listener), Arc::new(app), config, false)
    }

    /// Bind a Unix domain socket at `path` (removing a stale socket file).
    ///
    /// # Errors
    /// When the path cannot be bound.
    pub fn bind_unix<A: Application>(
        path: impl AsRef<Path>,
        app: A,
        config: ServerConfig,
    ) -> std::io::Result<Server> {
        let path = path.as_ref();
        if path.exists() {
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(
            path,
            std::fs::Permissions::from_mode(config.unix_socket_mode),
        )?;
        Server::new(
            Listener::Unix(listener, path.to_owned()),
            Arc::new(app),
            config,
            false,
        )
    }

    /// Serve on any [`Listener`]: for example the one
    /// [`inherited_listener`](crate::inherited_listener) found.
    ///
    /// ```no_run
    /// # use gateway_server::{Server, ServerConfig};
    /// # fn app(_e: gateway_spec::Environ, sr: gateway_spec::StartResponse) -> Result<gateway_spec::Body, gateway_spec::AppError> { sr.call("204 No Content", vec![])?; Ok(gateway_spec::Body::empty()) }
    /// let server = match gateway_server::inherited_listener()? {
    ///     Some(listener) => Server::with_listener(listener, app, ServerConfig::default())?,
    ///     None => Server::bind("127.0.0.1:8000", app, ServerConfig::default())?,
    /// };
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the listener cannot be switched to non-blocking mode.
    pub fn with_listener<A: Application>(
        listener: Listener,
        app: A,
        config: ServerConfig,
    ) -> std::io::Result<Server> {
        Server::new(listener, Arc::new(app), config, false)
    }

    /// `request_first`: the kernel hands over connections only with their
    /// first bytes (`deferred_accept.rs`).
    fn new(
        listener: Listener,
        app: Arc<dyn Application>,
        config: ServerConfig,
        request_first: bool,
    ) -> std::io::Result<Server> {
        listener.set_nonblocking()?;
        let base = base_environ(&listener.local_addr()?, &config);
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), crate::poller::WAKER)?;
        let (closed_tx, closed) = crossbeam_channel::unbounded();
        let shared = Shared {
            app,
            limits: HeadLimits {
                max_request_line: config.max_request_line,
                max_header_bytes: config.max_header_bytes,
                max_headers: config.max_headers,
                max_body_bytes: config.max_body_bytes,
            },
            base,
            access_log: AccessLog::new(config.access_log.clone()),
            config,
            epoch: Instant::now(),
            shutting_down: AtomicBool::new(false),
            closed: closed_tx,
            closed_pending: AtomicBool::new(false),
            waker,
            registry: poll.registry().try_clone()?,
        };
        Ok(Server {
            listener,
            request_first,
            shared: Arc::new(shared),
            closed,
            waker_registry: poll,
        })
    }

    /// The address the server listens on (with the real port when 0 was asked).
    ///
    /// # Errors
    /// When the socket cannot report its address.
    pub fn local_addr(&self) -> std::io::Result<ListenAddr> {
        self.listener.local_addr()
    }

    /// A handle to stop the server from another thread.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Serve until shut down (by a [`ServerHandle`], or SIGTERM/SIGINT when
    /// `handle_signals` is on): wsgiref's `serve_forever`.
    ///
    /// # Errors
    /// When the poller or the worker threads cannot be set up.
    pub fn serve_forever(self) -> std::io::Result<()> {
        let addr = self.listener.local_addr()?;
        let listener = self.listener.into_acceptor(self.request_first);
        let poller = Poller::new(self.waker_registry, listener, self.shared, self.closed)?;
        // Said once the signal handlers and threads are set up, so whoever
        // reads it (a supervisor, a test) may connect or send SIGTERM at once.
        log::info!("serving on {addr}");
        poller.serve()
    }
}

/// Set `TCP_DEFER_ACCEPT`; a failure only costs speed (connections then
/// wait for readiness like idle ones), so it is logged, not returned.
fn defer_accept_or_say_why(listener: &TcpListener) -> bool {
    match crate::deferred_accept::defer_accept(listener) {
        Ok(()) => true,
        Err(err) if err.kind() == std::io::ErrorKind::Unsupported => false,
        Err(err) => {
            log::warn!("TCP_DEFER_ACCEPT not set ({err}): new connections wait for readiness");
            false
        }
    }
}

/// The server's name and port for the environ, computed once (wsgiref's
/// `setup_environ`). They are leaked on purpose: a few bytes per server for
/// the life of the process, so every request shares them without a copy.
fn base_environ(addr: &ListenAddr, config: &ServerConfig) -> BaseEnviron {
    let (server_name, server_port): (&'static str, &'static str) = match addr {
        ListenAddr::Tcp(addr) if addr.ip().is_loopback() => {
            ("localhost", leak(addr.port().to_string()))
        }
        ListenAddr::Tcp(addr) => (leak(addr.ip().to_string()), leak(addr.port().to_string())),
        ListenAddr::Unix(_) => ("localhost", "0"),
    };
    BaseEnviron {
        server_name,
        server_port,
        multiprocess: config.multiprocess,
    }
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// Stops a running server: stop accepting, let in-flight requests finish
/// within `ServerConfig::shutdown_grace`, close idle connections, join the
/// threads; `serve_forever` then returns.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl ServerHandle {
    /// Begin a graceful shutdown. Returns at once; `serve_forever` returns
    /// when it is done.
    pub fn shutdown(&self) {
        self.shared.begin_shutdown();
    }
}

/// What the poller and every worker share.
pub(crate) struct Shared {
    pub(crate) app: Arc<dyn Application>,
    pub(crate) config: ServerConfig,
    pub(crate) limits: HeadLimits,
    pub(crate) base: BaseEnviron,
    pub(crate) access_log: AccessLog,
    epoch: Instant,
    shutting_down: AtomicBool,
    /// Connections workers closed, for the poller to forget.
    closed: Sender<usize>,
    /// Set while the poller has a wake-up pending, so a burst of closes costs
    /// one wake-up, not one each.
    pub(crate) closed_pending: AtomicBool,
    waker: mio::Waker,
    /// The poller's registry, for workers to change what it watches.
    registry: mio::Registry,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Milliseconds since the server started: the timers' clock.
    pub(crate) fn now_ms(&self) -> u64 {
        self.ms_at(Instant::now())
    }

    /// `now_ms` for a time already read.
    pub(crate) fn ms_at(&self, instant: Instant) -> u64 {
        instant.saturating_duration_since(self.epoch).as_millis() as u64
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// The flag itself, for a response writer to look at as late as it can.
    pub(crate) fn shutdown_flag(&self) -> &AtomicBool {
        &self.shutting_down
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.wake_poller();
    }

    /// Tell the poller a connection was closed by a worker.
    pub(crate) fn forget(&self, token: usize) {
        let _ = self.closed.send(token);
        if !self.closed_pending.swap(true, Ordering::AcqRel) {
            self.wake_poller();
        }
    }

    /// Tell the poller a connection was closed, without waking it: for a
    /// connection whose client is about to close too, whose FIN wakes the
    /// poller anyway (and its timer, a few times a second, when it does not).
    pub(crate) fn forget_without_waking(&self, token: usize) {
        let _ = self.closed.send(token);
    }

    /// Ask the poller to report `conn` when it has bytes to read, and with
    /// `writable` also when it can take more (for a response a slow reader
    /// has not taken yet). `again` changes what an earlier call asked for.
    /// Edge-triggered: a socket is reported when its state changes, so a
    /// writable socket is not reported again until it has been full.
    pub(crate) fn watch(&self, conn: &Conn, writable: bool, again: bool) -> std::io::Result<()> {
        let interest = if writable {
            mio::Interest::READABLE | mio::Interest::WRITABLE
        } else {
            mio::Interest::READABLE
        };
        let source = &mut mio::unix::SourceFd(&conn.stream.as_raw_fd());
        let token = mio::Token(conn.token);
        if again {
            self.registry.reregister(source, token, interest)
        } else {
            self.registry.register(source, token, interest)
        }
    }

    fn wake_poller(&self) {
        if let Err(err) = self.waker.wake() {
            log::error!("could not wake the poller: {err}");
        }
    }
}

/// What each worker thread keeps between requests, so a request allocates
/// no buffers of its own.
#[derive(Debug)]
pub(crate) struct WorkerState {
    /// Where reads land before their bytes join `buf`.
    pub(crate) read_block: Box<[u8]>,
    /// Bytes received and not yet used, for the connection being served.
    pub(crate) buf: Vec<u8>,
    /// Response bytes on their way to the client.
    pub(crate) out: Vec<u8>,
    pub(crate) clock: Clock,
}

/// Buffer room a worker keeps between connections; more, left by a large
/// request or response, is given back, so a few big exchanges do not pin
/// memory in every worker.
const WORKER_BUFFER_KEEP: usize = 256 * 1024;

impl WorkerState {
    pub(crate) fn new() -> WorkerState {
        WorkerState {
            read_block: vec![0; 16 * 1024].into_boxed_slice(),
            buf: Vec::with_capacity(16 * 1024),
            out: Vec::with_capacity(16 * 1024),
            clock: Clock::new(),
        }
    }

    /// Empty the buffers for the next connection, giving back unusual room.
    pub(crate) fn reset(&mut self) {
        for buffer in [&mut self.buf, &mut self.out] {
            buffer.clear();
            if buffer.capacity() > WORKER_BUFFER_KEEP {
                buffer.shrink_to(16 * 1024);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_gives_back_the_room_a_large_exchange_took() {
        let mut worker = WorkerState::new();
        worker.out.extend_from_slice(&vec![b'r'; 4 << 20]);
        worker.buf.extend_from_slice(&[b'q'; 100]);
        worker.reset();
        assert!(worker.out.is_empty() && worker.buf.is_empty());
        assert!(worker.out.capacity() <= WORKER_BUFFER_KEEP);
        // Ordinary room is kept: no allocation per connection.
        assert!(worker.buf.capacity() >= 16 * 1024);
    }
}
