//! Small helpers the example programs share: reading `--host` and `--port`,
//! and printing log records (the access log among them) to standard error.
//!
//! ```
//! let (host, port) = examples::host_and_port(["--port", "8080"].map(String::from), "localhost", 2017);
//! assert_eq!((host.as_str(), port), ("localhost", 8080));
//! ```

pub mod apps;

use std::io::Write;

/// Read `--host H` and `--port P` from `args`, with defaults.
///
/// # Panics
/// Never: an unreadable port falls back to the default with a warning.
pub fn host_and_port(
    args: impl IntoIterator<Item = String>,
    default_host: &str,
    default_port: u16,
) -> (String, u16) {
    let (mut host, mut port) = (default_host.to_owned(), default_port);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--host" => host = args.next().unwrap_or(host),
            "--port" => match args.next().map(|p| p.parse::<u16>()) {
                Some(Ok(p)) => port = p,
                _ => eprintln!("--port needs a number from 0 to 65535; using {port}"),
            },
            _ => {}
        }
    }
    (host, port)
}

/// The value of `--name VALUE` in `args`, if given.
pub fn flag_value(args: &[String], name: &str) -> Option<String> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

/// Serve `app` the way a deployment asks, from the process's arguments:
/// on the listening socket it inherited (systemd socket activation or a
/// parent passing fd 3 with `LISTEN_FDS=1`) if there is one; otherwise on
/// `--unix PATH` (mode `--unix-mode 660`, octal), or `--host`/`--port`.
/// `--reuse-port` lets several processes share the port; `--workers N` sizes
/// the pool; `--no-defer-accept` has the server take connections before
/// their request arrives. Shuts down gracefully on SIGTERM.
///
/// # Errors
/// When the socket cannot be bound.
pub fn serve<A: gateway_spec::Application>(app: A, default_port: u16) -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (host, port) = host_and_port(args.clone(), "localhost", default_port);
    let mut config = gateway_server::ServerConfig {
        reuse_port: args.iter().any(|a| a == "--reuse-port"),
        defer_accept: !args.iter().any(|a| a == "--no-defer-accept"),
        ..gateway_server::ServerConfig::default()
    };
    if let Some(workers) = flag_value(&args, "--workers").and_then(|n| n.parse().ok()) {
        config.workers = workers;
    }
    if let Some(mode) =
        flag_value(&args, "--unix-mode").and_then(|m| u32::from_str_radix(&m, 8).ok())
    {
        config.unix_socket_mode = mode;
    }
    let server = if let Some(listener) = gateway_server::inherited_listener()? {
        gateway_server::Server::with_listener(listener, app, config)?
    } else if let Some(path) = flag_value(&args, "--unix") {
        gateway_server::Server::bind_unix(path, app, config)?
    } else {
        gateway_server::Server::bind((host.as_str(), port), app, config)?
    };
    server.serve_forever()
}

/// `host_and_port` over the process's own arguments.
pub fn cli_host_and_port(default_host: &str, default_port: u16) -> (String, u16) {
    host_and_port(std::env::args().skip(1), default_host, default_port)
}

/// Send `log` records at `info` and above to standard error, the way
/// wsgiref prints its access log.
pub fn init_logging() {
    static LOGGER: StderrLogger = StderrLogger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            // One write per line: stderr is unbuffered, and formatting
            // straight into it would cost a system call per piece.
            let line = format!("{}\n", record.args());
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }

    fn flush(&self) {}
}
