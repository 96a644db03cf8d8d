"""The servers under test, how each is started, and the settings each runs
with (written into the results so a reader knows what was compared).

Every server is pinned to CPU 1 with taskset; the load generator gets CPU 0.
Servers that choose a thread count get their usual one-core shape."""
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(BENCH, "target"))
RELEASE = os.path.join(TARGET, "release")
VENV_BIN = os.path.join(BENCH, ".venv", "bin")
PYTHON_APP_DIR = os.path.join(BENCH, "python")
SERVER_CPU = "1"
CLIENT_CPU = "0"


@dataclass(frozen=True)
class Peer:
    name: str
    family: str  # "this project", "Rust", "Python"
    settings: str

    def argv(self, port):
        return _ARGV[self.name](port)


def _rust(binary, *extra):
    return lambda port: [os.path.join(RELEASE, binary), "--port", str(port), *extra]


def _gunicorn(*worker_args):
    return lambda port: [os.path.join(VENV_BIN, "gunicorn"), "--chdir", PYTHON_APP_DIR,
                         "-b", f"127.0.0.1:{port}", "-w", "1", *worker_args, "app:app"]


_ARGV = {
    "gateway": _rust("gateway", "--app", "raw"),
    "gateway-framework": _rust("gateway", "--app", "framework"),
    "gateway-pool": _rust("gateway", "--app", "raw", "--pool"),
    "hyper": _rust("hyper"),
    # An earlier build of the same binary, for before/after comparisons.
    "gateway-baseline": lambda port: [os.environ.get("GATEWAY_BASELINE", "gateway-baseline"),
                                      "--port", str(port), "--app", "raw"],
    "gateway-framework-baseline": lambda port: [os.environ.get("GATEWAY_BASELINE", "gateway-baseline"),
                                                "--port", str(port), "--app", "framework"],
    "axum": _rust("axum"),
    "actix-web": _rust("actix"),
    "tiny_http": _rust("tiny_http"),
    "may_minihttp": _rust("may_minihttp"),
    "gunicorn-sync": _gunicorn("-k", "sync"),
    "gunicorn-gthread": _gunicorn("-k", "gthread", "--threads", "4"),
    "waitress": lambda port: [os.path.join(VENV_BIN, "waitress-serve"), f"--listen=127.0.0.1:{port}",
                              "--threads=4", "app:app"],
}

PEERS = [
    Peer("gateway", "this project",
         "gateway-server, the `hello` app + `/json` as a raw Application; defaults: 2 poller threads "
         "taking turns (quick requests run on the poller's thread, Dispatch::Adaptive) + 32 workers, "
         "access log off"),
    Peer("gateway-framework", "this project",
         "the same server running a mini-framework `App` (two routes, `Json`) behind "
         "RequestId + AccessLog (to the `log` facade, no logger installed: formatted, then dropped)"),
    Peer("hyper", "Rust", "hyper 1.x http1, tokio current_thread runtime (1 thread), defaults"),
    Peer("axum", "Rust", "axum 0.8 `axum::serve`, tokio current_thread runtime (1 thread)"),
    Peer("actix-web", "Rust", "actix-web 4, `.workers(1)`"),
    Peer("tiny_http", "Rust", "tiny_http 0.12, `incoming_requests()` on the main thread "
         "(its own accept + per-connection threads)"),
    Peer("may_minihttp", "Rust", "may_minihttp 0.1, `may::config().set_workers(1)`"),
    Peer("gunicorn-sync", "Python", "gunicorn 27, `-w 1 -k sync` (no keep-alive: sync workers close "
         "after each response)"),
    Peer("gunicorn-gthread", "Python", "gunicorn 27, `-w 1 -k gthread --threads 4` (keep-alive 2 s)"),
    Peer("waitress", "Python", "waitress 3, `--threads=4` (its default; connection_limit 100 default)"),
]
# Not in the default set: run them by name with --servers.
EXTRA_PEERS = [
    Peer("gateway-pool", "this project",
         "gateway-server with `ServerConfig::dispatch = Dispatch::Pool`: every request handed to the "
         "worker pool, never run on the poller's thread (the default before session 7), raw app"),
    Peer("gateway-baseline", "this project",
         "an earlier build of the `gateway` binary, at the path in $GATEWAY_BASELINE "
         "(copy bench/target/release/gateway aside before a change), raw app"),
    Peer("gateway-framework-baseline", "this project",
         "the same earlier build, framework app + middleware"),
]
BY_NAME = {peer.name: peer for peer in PEERS + EXTRA_PEERS}


def stop_servers_on_sigterm():
    """Turn SIGTERM into an exception, so `with Running(...)` blocks stop
    their server when the harness itself is stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def closes_on_request(port):
    """Whether the server closes the connection after answering a request
    that says `Connection: close` (RFC 9112 section 9.6). One that does
    not keeps wrk's connections alive, and the close cell is no such test."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            deadline = time.time() + 2
            while time.time() < deadline:
                if not s.recv(4096):
                    return True
    except socket.timeout:
        return False
    except OSError:
        return True  # reset: closed, if rudely
    return False


class Running:
    """A started server: `with Running(peer) as server:` starts it pinned to
    the server CPU, waits until it answers, and stops it afterwards."""

    def __init__(self, peer, extra_env=None, stdout=subprocess.DEVNULL):
        self.peer = peer
        self.port = free_port()
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(extra_env or {}))
        self.process = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, *peer.argv(self.port)],
            cwd=PYTHON_APP_DIR, env=env, stdout=stdout, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.pid = self.process.pid  # taskset execs the server: same pid
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        deadline = time.time() + 20
        while not _answers(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.peer.name} exited with {self.process.returncode} at start")
            if time.time() > deadline:
                self.stop()
                raise RuntimeError(f"{self.peer.name} did not answer within 20 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
