//! One real `gateway_server::Server`, started once per fuzzing process on a
//! Unix socket, and one exchange per input: connect, write the bytes, shut
//! down the write side, read to the end.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use gateway_server::{AccessLogTarget, Server, ServerConfig};
use gateway_spec::{AppError, Body, Environ, StartResponse};

/// Longest any exchange may take before it counts as a hang.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// The application: `METHOD REQUEST_URI\n` and the request body, so every
/// response shows exactly which request the server parsed.
pub fn describe_app(mut environ: Environ, start_response: StartResponse) -> Result<Body, AppError> {
    let mut out = format!(
        "{} {}\n",
        environ.request_method(),
        environ.get("REQUEST_URI").unwrap_or_default()
    )
    .into_bytes();
    out.extend(environ.input.read_all()?);
    start_response.call("200 OK", vec![("Content-Type".into(), "text/plain".into())])?;
    Ok(Body::from(out))
}

/// The socket path of the process's server, started on first use.
pub fn server_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("gateway-fuzz-{}.sock", std::process::id()));
        let config = ServerConfig {
            workers: 2,
            handle_signals: false,
            access_log: AccessLogTarget::Off,
            header_timeout: EXCHANGE_TIMEOUT,
            // Bodies past 64 bytes go through the temporary-file spool, so
            // the fuzzer's short inputs reach both ways of collecting a body
            // (and the client cannot tell them apart).
            buffered_body_max: 64,
            ..ServerConfig::default()
        };
        let server = Server::bind_unix(&path, describe_app, config)
            .expect("bind the fuzzing server's Unix socket");
        std::thread::spawn(move || server.serve_forever());
        path
    })
}

/// Send `input` on a new connection in `pieces` (with a short pause
/// between them, so the server tends to read each on its own), half-close,
/// and return every byte the server wrote until it closed.
///
/// # Errors
/// When the server neither answers nor closes within [`EXCHANGE_TIMEOUT`].
pub fn exchange(pieces: &[&[u8]]) -> Result<Vec<u8>, String> {
    let mut stream = UnixStream::connect(server_path()).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(EXCHANGE_TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(EXCHANGE_TIMEOUT))
        .map_err(|e| e.to_string())?;
    // The server may refuse early and stop reading: a failed write is fine,
    // what it answered is still there to read.
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            pause();
        }
        if stream.write_all(piece).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A Unix socket closed with our bytes unread reports a reset
            // after the data it queued: the end, all the same.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(out),
            Err(e) => return Err(format!("no end of stream: {e} after {} bytes", out.len())),
        }
    }
}

/// About 20 microseconds, spun: long enough for the server's worker to read
/// what has arrived, far shorter than a sleep's granularity.
fn pause() {
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_micros(20) {
        std::hint::spin_loop();
    }
}
