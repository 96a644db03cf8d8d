//! Stage 1, accepting: the kernel hands over a TCP connection only once its
//! first bytes have arrived (Linux's `TCP_DEFER_ACCEPT`, nginx's
//! `listen ... deferred`, systemd's `DeferAcceptSec=`).
//!
//! A client sends its request right after connecting, so a connection
//! handed over this way has its request waiting: the poller gives it
//! straight to a worker, with no epoll registration and no readiness round
//! trip first. Without the option the request is usually *not* there yet
//! when a worker could read (measured: 88% of reads found nothing), which is
//! why a fresh connection otherwise waits for readiness like an idle one.
//!
//! A client that connects and stays silent is handed over anyway after
//! about a second, and then gets the header timeout as before.

use std::io;
use std::net::TcpListener;

/// How long the kernel holds back a connection that has sent nothing.
#[cfg(target_os = "linux")]
const HOLD_SILENT_SECONDS: libc::c_int = 1;

/// Set `TCP_DEFER_ACCEPT` on `listener`.
///
/// No safe crate of the field sets this option (socket2, nix and rustix do
/// not), and it saves two syscalls and a thread switch per `Connection:
/// close` request (bench/README.md, profile item 3), hence the server's one
/// `unsafe` block.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn defer_accept(listener: &TcpListener) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let seconds = HOLD_SILENT_SECONDS;
    // SAFETY: `listener` keeps the descriptor open for the whole call; the
    // value pointer is to a live `c_int` and its size is passed with it; the
    // kernel copies the value and keeps no pointer.
    let result = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            std::ptr::from_ref(&seconds).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Elsewhere there is no such option: connections wait for readiness.
#[cfg(not(target_os = "linux"))]
pub(crate) fn defer_accept(_listener: &TcpListener) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "TCP_DEFER_ACCEPT exists on Linux only",
    ))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    #[test]
    fn a_connection_is_handed_over_once_its_first_bytes_arrive() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        defer_accept(&listener).expect("TCP_DEFER_ACCEPT");
        let mut client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        // Connected from the client's side, but not yet the server's.
        std::thread::sleep(Duration::from_millis(100));
        let early = listener.accept();
        assert!(
            matches!(&early, Err(e) if e.kind() == io::ErrorKind::WouldBlock),
            "accepted before any byte: {early:?}"
        );
        client.write_all(b"GET / HTTP/1.1\r\n").expect("send");
        let give_up = Instant::now() + Duration::from_secs(5);
        let accepted = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("not handed over after its first bytes: {e}"),
            }
        };
        let mut first = [0u8; 16];
        accepted
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let n = std::io::Read::read(&mut &accepted, &mut first).expect("read");
        assert_eq!(&first[..n], b"GET / HTTP/1.1\r\n");
    }
}
