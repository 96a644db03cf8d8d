#!/usr/bin/env python3
"""How much server CPU a client costs that sends its request one byte at a
time (finding 6 in docs/reliability.md).

The server re-parses everything it has buffered for a request each time
bytes arrive, so a head or a small chunked body trickled byte by byte costs
work that grows with the square of its size, while the client spends almost
nothing. This script starts the `echo` example, trickles requests of a few
sizes (one byte per send, a short pause between sends so each arrives on its
own), and reports the CPU seconds the server process used for each, read
from /proc/PID/stat. Linear cost doubles with the size; quadratic cost
quadruples.

Loopback only; bounded (a few seconds per size). Usage:
  scripts/trickle.py [--sizes 8000,16000,32000] [--pause-us 50] [--port 20185]
"""
import argparse, os, socket, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def head_of(size):
    return b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX: " + b"v" * size + b"\r\n\r\n"


def chunked_of(size):
    body = b"5\r\nhello\r\n" * (size // 10) + b"0\r\n\r\n"
    return b"POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" + body


def trickle(port, raw, pause, pid):
    before = cpu_seconds(pid)
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(raw)):
        s.send(raw[i:i + 1])
        time.sleep(pause)
    answer = s.recv(64)
    s.close()
    return answer[:12].decode(errors="replace"), cpu_seconds(pid) - before


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="8000,16000,32000")
    ap.add_argument("--pause-us", type=int, default=50)
    ap.add_argument("--port", type=int, default=20185)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "--example", "echo"], cwd=ROOT, check=True)
    binary = os.path.join(TARGET, "release", "examples", "echo")
    server = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(args.port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        print(f"server CPU for one request trickled a byte at a time (pause {args.pause_us} us):")
        for name, make in [("head", head_of), ("chunked body", chunked_of)]:
            for size in [int(s) for s in args.sizes.split(",")]:
                raw = make(size)
                status, cpu = trickle(args.port, raw, args.pause_us / 1e6, server.pid)
                print(f"  {name:12} {len(raw):6} bytes: {cpu:6.2f} s CPU ({status})", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=40)


if __name__ == "__main__":
    sys.exit(main())
