#!/usr/bin/env python3
"""Full-scale slow-client and idle-connection check for gateway-server.

Starts the `hello` example (release build) on 127.0.0.1, then from this
separate process:
  1. opens N idle keep-alive connections (default 10,000), each used once;
  2. starts M slow clients (default 1,000) that send their request head one
     byte per second;
  3. meanwhile times fresh requests on new connections;
and reports the server's threads and RSS. Loopback only; bounded in time.

Usage: scripts/stress.py [--idle 10000] [--slow 1000] [--seconds 15]
"""
import argparse, os, resource, socket, subprocess, sys, time

def status_of(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["Threads"]), int(fields["VmRSS"].split()[0]) // 1024

def fresh_request(port):
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: stress\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:40]
    return (time.perf_counter() - started) * 1000

def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=int, default=10_000)
    ap.add_argument("--slow", type=int, default=1_000)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--port", type=int, default=20170)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run(["cargo", "build", "--release", "-q", "--example", "hello"], cwd=root, check=True)
    server = subprocess.Popen([os.path.join(root, "target/release/examples/hello"), "--host", "127.0.0.1", "--port", str(args.port)],
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                fresh_request(args.port)
                break
            except OSError:
                time.sleep(0.05)
        threads0, rss0 = status_of(server.pid)
        print(f"server started: {threads0} threads, {rss0} MB RSS")

        idle = []
        for i in range(args.idle):
            s = socket.create_connection(("127.0.0.1", args.port), timeout=5)
            s.sendall(b"GET / HTTP/1.1\r\nHost: stress\r\n\r\n")
            idle.append(s)
        for s in idle:
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        threads1, rss1 = status_of(server.pid)
        print(f"{len(idle)} idle keep-alive connections: {threads1} threads, {rss1} MB RSS")

        head = b"GET /slow HTTP/1.1\r\nHost: stress\r\nX-Slow: " + b"z" * 200
        slow = [socket.create_connection(("127.0.0.1", args.port), timeout=5) for _ in range(args.slow)]
        latencies = []
        deadline = time.time() + args.seconds
        step = 0
        while time.time() < deadline:
            tick = time.time()
            for s in slow:
                s.send(head[step:step + 1])
            step += 1
            while time.time() - tick < 1.0:
                latencies.append(fresh_request(args.port))
                time.sleep(0.02)
        threads2, rss2 = status_of(server.pid)
        print(f"+{len(slow)} clients sending one byte a second for {args.seconds}s: {threads2} threads, {rss2} MB RSS")
        print(f"fresh requests meanwhile: n={len(latencies)} p50={percentile(latencies, 0.5):.2f} ms "
              f"p99={percentile(latencies, 0.99):.2f} ms max={max(latencies):.2f} ms")
        for s in idle[::1000]:
            s.sendall(b"GET / HTTP/1.1\r\nHost: stress\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200"), "an idle connection was lost"
        print("idle connections still answer: ok")
    finally:
        server.terminate()
        server.wait(timeout=40)

if __name__ == "__main__":
    main()
