//! Stage 1, the socket: the listening socket and the connected streams, over
//! TCP or a Unix domain socket, behind one type each.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

/// Where a server listens.
#[derive(Debug)]
pub enum Listener {
    /// A TCP socket (IPv4 or IPv6).
    Tcp(TcpListener),
    /// A Unix domain socket, the usual way a reverse proxy on the same host
    /// talks to an application server.
    Unix(UnixListener, PathBuf),
}

/// The address a server listens on, as [`Server::local_addr`](crate::Server::local_addr) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP address.
    Tcp(SocketAddr),
    /// The path of a Unix domain socket.
    Unix(PathBuf),
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => write!(f, "http://{addr}"),
            ListenAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Bind a TCP listener with the server's socket options: `SO_REUSEADDR`
/// (restart without waiting for TIME_WAIT), optionally `SO_REUSEPORT`, and
/// the configured backlog. Tries each address `addr` resolves to.
pub(crate) fn bind_tcp(
    addr: impl std::net::ToSocketAddrs,
    reuse_port: bool,
    backlog: i32,
) -> io::Result<TcpListener> {
    let mut last_error = io::Error::new(
        io::ErrorKind::InvalidInput,
        "the address resolved to nothing",
    );
    for addr in addr.to_socket_addrs()? {
        match bind_one(addr, reuse_port, backlog) {
            Ok(listener) => return Ok(listener),
            Err(err) => last_error = err,
        }
    }
    Err(last_error)
}

fn bind_one(addr: SocketAddr, reuse_port: bool, backlog: i32) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// A listening socket inherited from the process that started us: systemd
/// socket activation, or any parent that passes it as fd 3 with
/// `LISTEN_FDS=1` (`LISTEN_PID`, when set, must be our pid).
///
/// Restarting behind such a socket loses no connection: they wait in the
/// kernel's queue until the new process accepts them.
///
/// # Errors
/// When `LISTEN_FDS` names a descriptor that is not a listening socket.
pub fn inherited_listener() -> io::Result<Option<Listener>> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    if let Ok(Some(listener)) = fds.take_tcp_listener(0) {
        return Ok(Some(Listener::Tcp(listener)));
    }
    match fds.take_unix_listener(0)? {
        Some(listener) => {
            let path = listener
                .local_addr()?
                .as_pathname()
                .map(PathBuf::from)
                .unwrap_or_default();
            Ok(Some(Listener::Unix(listener, path)))
        }
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "LISTEN_FDS is set but fd 3 is not a listening socket",
        )),
    }
}

impl Listener {
    pub(crate) fn local_addr(&self) -> io::Result<ListenAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(ListenAddr::Tcp),
            Listener::Unix(_, path) => Ok(ListenAddr::Unix(path.clone())),
        }
    }

    pub(crate) fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.set_nonblocking(true),
            Listener::Unix(l, _) => l.set_nonblocking(true),
        }
    }

    /// The listener as the poller uses it: one that hands out sockets
    /// already non-blocking. `request_first`: the kernel hands over
    /// connections only with their first bytes (`deferred_accept.rs`).
    pub(crate) fn into_acceptor(self, request_first: bool) -> Acceptor {
        match self {
            Listener::Tcp(l) => Acceptor::Tcp {
                nodelay_inherited: set_nodelay_for_every_connection(&l),
                request_first,
                listener: mio::net::TcpListener::from_std(l),
            },
            Listener::Unix(l, _) => Acceptor::Unix(mio::net::UnixListener::from_std(l)),
        }
    }
}

/// Small responses must leave at once, not wait for Nagle: every TCP
/// connection gets `TCP_NODELAY`. On Linux a socket returned by `accept`
/// inherits it from the listener, so setting it there once saves a
/// `setsockopt` per connection. Returns whether that was done.
fn set_nodelay_for_every_connection(listener: &TcpListener) -> bool {
    cfg!(target_os = "linux")
        && socket2::SockRef::from(listener)
            .set_tcp_nodelay(true)
            .is_ok()
}

/// A listening socket that accepts with `accept4(SOCK_NONBLOCK)` (mio's
/// accept), so a new connection costs no separate `ioctl(FIONBIO)`.
#[derive(Debug)]
pub(crate) enum Acceptor {
    Tcp {
        listener: mio::net::TcpListener,
        /// Accepted sockets arrive with `TCP_NODELAY` already set.
        nodelay_inherited: bool,
        /// Accepted sockets arrive with their first bytes already in.
        request_first: bool,
    },
    Unix(mio::net::UnixListener),
}

impl Acceptor {
    /// Whether a connection is accepted only once it has bytes to read.
    pub(crate) fn hands_over_requests(&self) -> bool {
        matches!(
            self,
            Acceptor::Tcp {
                request_first: true,
                ..
            }
        )
    }

    /// Accept one connection, or `WouldBlock` when none is waiting. The
    /// stream is non-blocking.
    pub(crate) fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Acceptor::Tcp {
                listener,
                nodelay_inherited,
                ..
            } => {
                let (stream, addr) = listener.accept()?;
                let stream = TcpStream::from(stream);
                if !nodelay_inherited {
                    stream.set_nodelay(true)?;
                }
                Ok((Stream::Tcp(stream), Peer::Tcp(addr)))
            }
            Acceptor::Unix(l) => {
                let (stream, _) = l.accept()?;
                Ok((Stream::Unix(UnixStream::from(stream)), Peer::Unix))
            }
        }
    }
}

impl AsRawFd for Acceptor {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Acceptor::Tcp { listener, .. } => listener.as_raw_fd(),
            Acceptor::Unix(l) => l.as_raw_fd(),
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l, _) => l.as_raw_fd(),
        }
    }
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Peer {
    Tcp(SocketAddr),
    Unix,
}

/// One client connection.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(nonblocking),
            Stream::Unix(s) => s.set_nonblocking(nonblocking),
        }
    }

    pub(crate) fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(timeout)),
            Stream::Unix(s) => s.set_read_timeout(Some(timeout)),
        }
    }

    pub(crate) fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(Some(timeout)),
            Stream::Unix(s) => s.set_write_timeout(Some(timeout)),
        }
    }

    pub(crate) fn shutdown(&self, how: Shutdown) {
        // The peer may already be gone; there is nothing to do about it.
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        };
    }

    /// Read and drop what the client has sent (non-blocking): closing a
    /// socket over unread bytes resets it, and the reset can overtake the
    /// last answer.
    pub(crate) fn discard_input(&self) -> Discarded {
        let mut sink = [0u8; 4096];
        let mut stream = self;
        let mut any = false;
        loop {
            match stream.read(&mut sink) {
                Ok(0) => return Discarded { closed: true, any },
                Ok(_) => any = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Discarded { closed: false, any }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Discarded { closed: true, any },
            }
        }
    }
}

/// What [`Stream::discard_input`] found.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Discarded {
    /// The client has closed its side (or the connection failed).
    pub(crate) closed: bool,
    /// There were bytes to drop.
    pub(crate) any: bool,
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write_vectored(bufs),
            Stream::Unix(s) => (&*s).write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accept the one connection a test made (the acceptor is non-blocking).
    fn accept_one(acceptor: &Acceptor) -> Stream {
        for _ in 0..1000 {
            match acceptor.accept() {
                Ok((stream, _)) => return stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => panic!("accept failed: {e}"),
            }
        }
        panic!("the connection never reached the listener");
    }

    #[test]
    fn every_accepted_tcp_connection_has_nodelay() {
        let listener = bind_tcp("127.0.0.1:0", false, 16).expect("bind");
        let addr = listener.local_addr().expect("address");
        let listener = Listener::Tcp(listener);
        listener.set_nonblocking().expect("non-blocking");
        let acceptor = listener.into_acceptor(false);
        let _clients: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(addr).expect("connect"))
            .collect();
        for _ in 0..3 {
            let Stream::Tcp(stream) = accept_one(&acceptor) else {
                panic!("a TCP listener gave a non-TCP stream");
            };
            assert!(stream.nodelay().expect("read TCP_NODELAY"));
        }
    }
}
