#!/usr/bin/env python3
"""Overload test for gateway-server: the `echo` example at several times its
capacity. Every answer must be 200 or 503 (with Retry-After), the latency of
admitted requests must stay bounded (by the queue, not by the offered load),
memory must stay bounded, and the server must serve normally at once when
the load stops.

Capacity here is workers / service time: with the default 32 workers and
/sleep?ms=100, 320 requests a second, and 32 + 1024 (the queue) requests in
the server at once before it refuses. The load is closed-loop asyncio
clients, each sending its next request as soon as the last is answered, in
steps of several times that many clients.

Loopback only; bounded in time. Usage:
  scripts/overload.py [--steps 1,2,4] [--seconds 20] [--port 20183]
"""
import argparse, asyncio, os, resource, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
WORKERS, QUEUE, SERVICE_MS = 32, 1024, 100
IN_SERVER = WORKERS + QUEUE


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def one_request(port, path):
    """(status, seconds, retry_after) of one request on a new connection."""
    started = time.perf_counter()
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: overload\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 60)
    finally:
        writer.close()
    status = int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else 0
    retry = b"\r\nretry-after: 1\r\n" in data.lower()
    return status, time.perf_counter() - started, retry


async def client(port, stop, results):
    while not stop.is_set():
        try:
            results.append(await one_request(port, f"/sleep?ms={SERVICE_MS}"))
        except (OSError, asyncio.TimeoutError) as e:
            results.append((type(e).__name__, 0.0, False))


async def step(port, clients, seconds, pid):
    stop = asyncio.Event()
    results, rss = [], []
    tasks = [asyncio.create_task(client(port, stop, results)) for _ in range(clients)]
    deadline = time.time() + seconds
    while time.time() < deadline:
        await asyncio.sleep(1)
        rss.append(rss_mib(pid))
    stop.set()
    await asyncio.gather(*tasks)
    # The requests in flight at the deadline finish too: count their time.
    return results, rss, time.time() - (deadline - seconds)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def report(clients, results, rss, seconds):
    statuses = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    ok = [t for s, t, _ in results if s == 200]
    refused = [r for s, _, r in results if s == 503]
    others = {k: v for k, v in statuses.items() if k not in (200, 503)}
    print(f"  {clients:5} clients ({clients / IN_SERVER:.1f}x what the server holds, "
          f"{clients / WORKERS:.0f}x the workers): {len(results)} answers in {seconds:.1f}s, "
          f"200: {len(ok)} ({len(ok) / seconds:.0f}/s), 503: {len(refused)}, other: {others or 'none'}")
    print(f"        admitted latency p50 {percentile(ok, 0.5) * 1000:.0f} ms, p99 {percentile(ok, 0.99) * 1000:.0f} ms, "
          f"max {max(ok, default=0) * 1000:.0f} ms; RSS max {max(rss, default=0):.1f} MiB")
    bound = (IN_SERVER / WORKERS) * SERVICE_MS / 1000 * 1.5 + 1
    checks = {
        "only 200 and 503": not others,
        "every 503 has Retry-After": all(refused),
        f"admitted latency max under {bound:.1f} s (queue / throughput, with margin)": max(ok, default=0) < bound,
    }
    return checks


async def recovery(port):
    """Right after the load: ten requests one after another, each answered
    at the service time."""
    times = []
    for _ in range(10):
        status, seconds, _ = await one_request(port, f"/sleep?ms={SERVICE_MS}")
        if status != 200:
            return False, times
        times.append(seconds)
    return max(times) < SERVICE_MS / 1000 + 0.5, times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="1,2,4", help="multiples of what the server holds (workers + queue)")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--port", type=int, default=20183)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    subprocess.run(["cargo", "build", "--release", "-q", "--example", "echo"], cwd=ROOT, check=True)
    binary = os.path.join(TARGET, "release", "examples", "echo")
    server = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(args.port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    all_ok = True
    try:
        time.sleep(0.5)
        print(f"overload: echo (pid {server.pid}), {WORKERS} workers, queue {QUEUE}, /sleep?ms={SERVICE_MS}; "
              f"idle RSS {rss_mib(server.pid):.1f} MiB")
        for multiple in [float(m) for m in args.steps.split(",")]:
            clients = int(IN_SERVER * multiple)
            results, rss, elapsed = asyncio.run(step(args.port, clients, args.seconds, server.pid))
            for name, ok in report(clients, results, rss, elapsed).items():
                print(f"        {'ok  ' if ok else 'FAIL'} {name}")
                all_ok &= ok
            recovered, times = asyncio.run(recovery(args.port))
            print(f"        {'ok  ' if recovered else 'FAIL'} recovers at once: "
                  f"{', '.join(f'{t * 1000:.0f}' for t in times)} ms")
            all_ok &= recovered
        print(f"RSS after: {rss_mib(server.pid):.1f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=40)
    print("overload:", "PASS" if all_ok else "FAIL")
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
