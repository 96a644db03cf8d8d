//! Every setting of the server, with its default. Stage 0: read once at start.

use std::time::Duration;

/// How the server behaves: a plain struct with a `Default`, every field
/// documented with its default, in the manner of waitress's `adjustments`.
///
/// ```
/// use std::time::Duration;
/// use gateway_server::ServerConfig;
/// let config = ServerConfig {
///     workers: 8,
///     keep_alive_timeout: Duration::from_secs(120),
///     ..ServerConfig::default()
/// };
/// assert_eq!(config.max_headers, 100);
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Worker threads that run the application. Size it by how many requests
    /// may block at once (database calls, sleeps), not by connections: idle
    /// connections wait in the poller, not in a worker. Default: 32.
    pub workers: usize,
    /// Requests waiting for a free worker before new ones get
    /// `503 Service Unavailable`. Requests the poller's thread serves
    /// itself (`Dispatch::Adaptive`) do not wait in this queue: at most
    /// one turn's worth waits for that thread. Default: 1024.
    pub max_queued: usize,
    /// Open connections before new ones get `503 Service Unavailable`.
    /// Default: 15,000.
    pub max_connections: usize,
    /// Longest request line (method, target and version). Longer: `414`.
    /// Default: 8 KiB.
    pub max_request_line: usize,
    /// Largest header section, request line included. Larger: `431`.
    /// Default: 64 KiB.
    pub max_header_bytes: usize,
    /// Most header fields in one request. More: `431`. Default: 100.
    pub max_headers: usize,
    /// Largest request body. Larger: `413`. Default: 1 GiB.
    pub max_body_bytes: u64,
    /// Bodies up to this size are collected in memory before the
    /// application runs; larger ones in a temporary file (unless
    /// `stream_large_bodies`). Either way a slow upload never holds a
    /// worker. Default: 64 KiB.
    pub buffered_body_max: usize,
    /// Stream bodies larger than `buffered_body_max` to the application as
    /// it reads `wsgi.input`, instead of collecting them in a temporary file
    /// first. The application can then start on the first bytes (and refuse
    /// an upload before it is sent: `100 Continue` goes out on its first
    /// read), but a thread waits on the client while it reads (a worker, or
    /// the poller's thread until a standby takes over), up to
    /// `body_timeout` per read. Default: `false` (waitress's behaviour;
    /// `true` is gunicorn's).
    pub stream_large_bodies: bool,
    /// Unread streamed request body (see `stream_large_bodies`) the server
    /// will read and discard after a response to keep the connection alive;
    /// past it the connection is closed.
    /// Default: 1 MiB.
    pub max_drain_bytes: u64,
    /// Time a client has to send a complete request head, from its first
    /// byte. Past it: `408` and close. Default: 30 s.
    pub header_timeout: Duration,
    /// Longest wait for more request body (a body the server is collecting,
    /// or a read by the application when streaming). Default: 60 s.
    pub body_timeout: Duration,
    /// Longest wait for a slow client to accept response bytes. Default: 60 s.
    pub write_timeout: Duration,
    /// How long an idle keep-alive connection is kept open. Longer than the
    /// usual load-balancer idle timeout (60 s) so the balancer, not the
    /// server, closes first. Default: 75 s.
    pub keep_alive_timeout: Duration,
    /// Whether connections are kept alive between requests. Default: true.
    pub keep_alive: bool,
    /// How long `shutdown()` lets in-flight requests finish. Default: 30 s.
    pub shutdown_grace: Duration,
    /// Whether `serve_forever()` shuts down gracefully on SIGTERM and SIGINT.
    /// Default: true.
    pub handle_signals: bool,
    /// The `Server` header sent when the application sets none. Default:
    /// `"gateway-server"`.
    pub server_name: String,
    /// Where the Common Log Format access log goes. Default: the `log` facade.
    pub access_log: AccessLogTarget,
    /// `wsgi.multiprocess`: set it when several server processes serve the
    /// same application. Default: false.
    pub multiprocess: bool,
    /// Let several processes bind the same TCP port (`SO_REUSEPORT`); the
    /// kernel spreads new connections across them. Default: false.
    pub reuse_port: bool,
    /// Connections the kernel queues before `accept` (the listen backlog).
    /// Default: 1024.
    pub backlog: i32,
    /// Linux, TCP: have the kernel hand over a connection only once its
    /// first bytes arrived (`TCP_DEFER_ACCEPT`, as nginx's `deferred`), so
    /// a new connection goes straight to a worker. A client that connects
    /// and stays silent is handed over after about a second; until then it
    /// counts against neither `max_connections` nor a stopping server's
    /// grace period: a client that connected but had not sent its request
    /// when a shutdown began is reset, as one still in the kernel's accept
    /// queue always was (a listener held across restarts, as systemd or
    /// `handoff.py` do, loses neither). Set only on a socket the server
    /// binds itself: a listener it is handed keeps its owner's options.
    /// Default: true.
    pub defer_accept: bool,
    /// Which thread runs the application for a ready request: the poller's
    /// own while requests are quick, the worker pool once one blocks
    /// ([`Dispatch::Adaptive`]), or always the pool ([`Dispatch::Pool`]).
    /// Default: `Adaptive` on Linux, `Pool` elsewhere.
    pub dispatch: Dispatch,
    /// Permissions of a Unix domain socket the server creates (waitress's
    /// `unix_socket_perms`); `0o660` lets a proxy in the same group connect.
    /// Default: `0o600`.
    pub unix_socket_mode: u32,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            workers: 32,
            max_queued: 1024,
            max_connections: 15_000,
            max_request_line: 8 * 1024,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_body_bytes: 1 << 30,
            buffered_body_max: 64 * 1024,
            stream_large_bodies: false,
            max_drain_bytes: 1 << 20,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(60),
            keep_alive_timeout: Duration::from_secs(75),
            keep_alive: true,
            shutdown_grace: Duration::from_secs(30),
            handle_signals: true,
            server_name: "gateway-server".to_owned(),
            access_log: AccessLogTarget::Log,
            multiprocess: false,
            reuse_port: false,
            // Elsewhere a wait shorter than a takeover goes unseen (see
            // `Dispatch::Adaptive`).
            dispatch: if cfg!(target_os = "linux") {
                Dispatch::Adaptive
            } else {
                Dispatch::Pool
            },
            backlog: 1024,
            defer_accept: true,
            unix_socket_mode: 0o600,
        }
    }
}

/// Which thread runs the application for a request that is ready.
///
/// A worker pool runs blocking code safely but costs a thread switch per
/// batch of requests; the poller's own thread costs none but serves no one
/// else while a request runs. `Adaptive` takes the second while it is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// The poller's thread runs each ready request itself, hyper's shape.
    /// When one request holds it for a millisecond or two (a database call,
    /// a sleep, a large upload), a standby thread takes over the polling;
    /// a shorter wait is seen afterwards (on Linux, from the kernel's count
    /// of the thread's sleeps). A request that waited starts a spell during
    /// which requests go to the worker pool: one second, doubling up to a
    /// minute while requests keep blocking (a request that computes past a
    /// millisecond only loses the polling, unless another does so within a
    /// second). An application that never blocks is served with no thread
    /// switch per request; one that often blocks is served by the pool, and
    /// the requests ready beside a blocking one wait for it (a millisecond
    /// or two at most) once per spell. With more than one core, what a
    /// turn of the poller finds beyond a quarter of a millisecond of work
    /// goes to the pool, so the other cores share a heavy load.
    Adaptive,
    /// Every request goes to the worker pool: for an application that
    /// blocks on most requests and should never stall other clients, even
    /// for a millisecond.
    Pool,
}

/// Where access-log lines go.
#[derive(Clone, Default)]
pub enum AccessLogTarget {
    /// Nowhere.
    Off,
    /// To the `log` facade at `info` level, target `gateway_server::access`.
    #[default]
    Log,
    /// To a writer of your choice, one line per request.
    Writer(std::sync::Arc<std::sync::Mutex<dyn std::io::Write + Send>>),
}

impl std::fmt::Debug for AccessLogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AccessLogTarget::Off => "Off",
            AccessLogTarget::Log => "Log",
            AccessLogTarget::Writer(_) => "Writer(..)",
        })
    }
}
