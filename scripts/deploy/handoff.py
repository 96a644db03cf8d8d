#!/usr/bin/env python3
"""Hold a listening socket and run an application server on it; replace the
server without ever closing the socket: a restart that refuses no connection.

    scripts/deploy/handoff.py --bind 127.0.0.1:8000 -- target/release/examples/echo
    scripts/deploy/handoff.py --unix /run/gateway/app.sock --mode 660 -- ...

This is what systemd socket activation does (docs/deploy.md): the server is
started with the socket as file descriptor 3 and LISTEN_FDS=1, and
gateway_server::inherited_listener() serves on it. Because this process keeps
the socket open, connections that arrive while no server accepts wait in the
kernel's backlog instead of being refused.

Signals:
  SIGHUP           start a new server on the same socket; once it prints its
                   ready line (--ready, default "serving on"), send SIGTERM to
                   the old one, which stops accepting, finishes the requests
                   it has and exits. A new server that is not ready within
                   --ready-timeout seconds is stopped; the old one keeps serving.
  SIGTERM, SIGINT  stop the server gracefully, wait for it, exit with its status.

Output, one line each, flushed at once:
  [PID] LINE                 a line the server with that pid printed
  handoff: listening ADDR    the socket is bound (with the real port if 0 was asked)
  handoff: started PID
  handoff: ready PID
  handoff: kept PID          a new server failed; PID still serves
  handoff: exited PID CODE   a server exited (CODE -N: killed by signal N)
"""

import argparse
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

LISTEN_FD = 3  # systemd's SD_LISTEN_FDS_START: the first passed socket

print_lock = threading.Lock()


def say(line):
    with print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--bind", metavar="HOST:PORT", help="a TCP socket")
    where.add_argument("--unix", metavar="PATH", help="a Unix domain socket")
    parser.add_argument("--mode", default="660", help="Unix socket permissions, octal (660)")
    parser.add_argument("--backlog", type=int, default=1024)
    parser.add_argument("--defer-accept", type=int, default=1, metavar="SECONDS",
                        help="TCP_DEFER_ACCEPT: hand a TCP connection to a server only once"
                             " its first bytes arrived (0: off)")
    parser.add_argument("--ready", default="serving on", help="text of the server's ready line")
    parser.add_argument("--ready-timeout", type=float, default=30.0)
    parser.add_argument("--stop-timeout", type=float, default=35.0,
                        help="longest wait for a server to drain (above its shutdown grace)")
    parser.add_argument("command", nargs="+", help="the server and its arguments (after --)")
    return parser.parse_args()


def listening_socket(args):
    if args.unix:
        if os.path.exists(args.unix):
            os.unlink(args.unix)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(args.unix)
        os.chmod(args.unix, int(args.mode, 8))
        address = "unix:" + args.unix
    else:
        host, _, port = args.bind.rpartition(":")
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        # A restart of this helper must not wait for TIME_WAIT to end.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if args.defer_accept > 0 and hasattr(socket, "TCP_DEFER_ACCEPT"):
            # A server told to stop waits (up to 2 s) for the first request
            # of a connection it has just accepted. Handed over only once
            # their request has arrived, connections never make it wait, and
            # older servers that closed them at once lose none (docs/deploy.md).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, args.defer_accept)
        sock.bind((host, int(port)))
        address = "%s:%d" % sock.getsockname()[:2]
    sock.listen(args.backlog)
    # Servers find the socket at fd 3; keep our own copy there too.
    if sock.fileno() != LISTEN_FD:
        os.dup2(sock.fileno(), LISTEN_FD, inheritable=True)
    os.set_inheritable(LISTEN_FD, True)
    return sock, address


def server_environment():
    env = dict(os.environ)
    env["LISTEN_FDS"] = "1"
    # LISTEN_PID would have to be the child's pid, unknown before exec; the
    # server accepts its absence. One inherited from our own parent is stale.
    env.pop("LISTEN_PID", None)
    env.pop("LISTEN_FDNAMES", None)
    return env


class Server:
    """One server process, its output relayed line by line."""

    def __init__(self, command, events, ready_text):
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(LISTEN_FD,),
            env=server_environment(),
        )
        self.pid = self.process.pid
        self.exit_code = None
        say("handoff: started %d" % self.pid)
        threading.Thread(target=self._relay, args=(events, ready_text), daemon=True).start()

    def _relay(self, events, ready_text):
        ready = False
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            say("[%d] %s" % (self.pid, line))
            if not ready and ready_text in line:
                ready = True
                events.put(("ready", self))
        # Every line is out before the exit is reported.
        self.exit_code = self.process.wait()
        events.put(("exited", self))

    def terminate(self):
        if self.exit_code is None:
            try:
                self.process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass


class Supervisor:
    """The current server, servers still draining, and the events about them."""

    def __init__(self, args):
        self.args = args
        # SimpleQueue.put may be called from a signal handler.
        self.events = queue.SimpleQueue()
        self.current = None
        self.draining = []
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda signum, _frame: self.events.put(("signal", signum)))

    def next_event(self, timeout):
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def start_ready_server(self):
        """A new server, once ready; None if it failed to become ready."""
        server = Server(self.args.command, self.events, self.args.ready)
        deadline = time.monotonic() + self.args.ready_timeout
        deferred = []
        try:
            while time.monotonic() < deadline:
                event = self.next_event(max(0.0, deadline - time.monotonic()))
                if event is None:
                    break
                kind, subject = event
                if kind == "ready" and subject is server:
                    say("handoff: ready %d" % server.pid)
                    return server
                if kind == "exited" and subject is server:
                    self.report_exit(server)
                    return None
                if kind == "exited":
                    self.report_exit(subject)
                else:
                    deferred.append(event)
            server.terminate()
            self.draining.append(server)
            return None
        finally:
            for event in deferred:
                self.events.put(event)

    def report_exit(self, server):
        say("handoff: exited %d %d" % (server.pid, server.exit_code))
        if server in self.draining:
            self.draining.remove(server)

    def replace(self):
        new = self.start_ready_server()
        if new is None:
            say("handoff: kept %d" % self.current.pid)
            return
        old, self.current = self.current, new
        old.terminate()
        self.draining.append(old)

    def stop(self):
        """SIGTERM to every server; wait for all; the current one's exit code."""
        servers = [self.current] + self.draining
        for server in servers:
            server.terminate()
        deadline = time.monotonic() + self.args.stop_timeout
        pending = {server for server in servers if server.exit_code is None}
        while pending and time.monotonic() < deadline:
            event = self.next_event(0.2)
            if event and event[0] == "exited":
                self.report_exit(event[1])
                pending.discard(event[1])
        for server in pending:
            server.process.kill()
            server.exit_code = server.process.wait()
            self.report_exit(server)
        return self.current.exit_code

    def run(self):
        self.current = self.start_ready_server()
        if self.current is None:
            return 1
        while True:
            event = self.next_event(1.0)
            if event is None:
                continue
            kind, subject = event
            if kind == "signal" and subject == signal.SIGHUP:
                self.replace()
            elif kind == "signal":
                return self.stop()
            elif kind == "exited":
                self.report_exit(subject)
                if subject is self.current:
                    return 1  # died on its own: let the supervisor above restart us


def main():
    args = parse_args()
    _sock, address = listening_socket(args)
    say("handoff: listening %s" % address)
    code = Supervisor(args).run()
    if args.unix:
        os.unlink(args.unix)
    sys.exit(0 if code == 0 else 1)


if __name__ == "__main__":
    main()
