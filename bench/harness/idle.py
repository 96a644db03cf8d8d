"""The idle-connection test: N keep-alive connections opened and left
silent, while fresh requests on new connections are timed.

For each server: start it (CPU 1), time fresh requests with no idle
connections, open N connections that each send one request and read the
answer, then leave them open; read the server's RSS and threads; time the
fresh requests again; finally probe a sample of the idle connections to see
whether the server kept them. The client runs on CPU 0, in this process,
with asyncio. Every wait is bounded: a server that stops accepting ends the
opening phase after a run of failures instead of hanging.
"""
import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time

import machine
import peers as peers_mod
import procstat

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


async def _read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
        raise ValueError(head[:40])
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)


async def _open_idle(port, timeout):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(REQUEST)
        await asyncio.wait_for(_read_response(reader), timeout)
    except BaseException:
        writer.close()
        raise
    return reader, writer


async def open_many(port, count, timeout=3.0, parallel=256, give_up_after=300):
    """Open `count` served-then-idle connections; stop after `give_up_after` failures."""
    opened, failures = [], 0
    gate = asyncio.Semaphore(parallel)

    async def one():
        nonlocal failures
        if failures >= give_up_after:
            return
        async with gate:
            if failures >= give_up_after:
                return
            try:
                opened.append(await _open_idle(port, timeout))
            except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                failures += 1

    await asyncio.gather(*(one() for _ in range(count)))
    return opened, failures


async def fresh_latencies(port, count, timeout=2.0, gap=0.005):
    """Milliseconds for `count` requests, each on a new connection, one at a time."""
    times, failures = [], 0
    for _ in range(count):
        started = time.perf_counter()
        try:
            reader, writer = await _open_idle(port, timeout)
            times.append((time.perf_counter() - started) * 1000)
            writer.close()
        except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            failures += 1
        await asyncio.sleep(gap)
    return times, failures


async def probe(connections, sample=100, timeout=2.0):
    """How many of a sample of the idle connections still answer."""
    step = max(1, len(connections) // sample)
    chosen = connections[::step][:sample]
    alive = 0
    for reader, writer in chosen:
        try:
            writer.write(REQUEST)
            await asyncio.wait_for(_read_response(reader), timeout)
            alive += 1
        except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            pass
    return alive, len(chosen)


def _summary(times, prefix):
    if not times:
        return {f"{prefix}_p50_ms": float("nan"), f"{prefix}_p99_ms": float("nan"),
                f"{prefix}_max_ms": float("nan")}
    ordered = sorted(times)
    return {f"{prefix}_p50_ms": round(statistics.median(ordered), 3),
            f"{prefix}_p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
            f"{prefix}_max_ms": round(ordered[-1], 3)}


async def measure(peer, idle, fresh):
    with peers_mod.Running(peer) as server:
        await asyncio.sleep(0.3)
        before = procstat.sample(server.pid)
        base, base_failures = await fresh_latencies(server.port, fresh)
        opened, open_failures = await open_many(server.port, idle)
        await asyncio.sleep(1.0)
        with_idle = procstat.sample(server.pid)
        times, fresh_failures = await fresh_latencies(server.port, fresh)
        during = procstat.sample(server.pid)
        alive, probed = await probe(opened)
        exit_code = server.process.poll()
        for _, writer in opened:
            writer.close()
    return dict(server=peer.name, idle_ok=len(opened), idle_failures=open_failures,
                server_exit_code=exit_code,
                still_open=alive, probed=probed,
                rss_before_mb=round(before["rss_mb"], 1), rss_idle_mb=round(with_idle["rss_mb"], 1),
                peak_rss_mb=round(during["peak_rss_mb"], 1),
                threads_before=before["threads"], threads_idle=max(with_idle["threads"], during["threads"]),
                fresh_failures=fresh_failures + base_failures,
                **_summary(base, "base"), **_summary(times, "fresh"))


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main(argv=None):
    peers_mod.stop_servers_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--idle", type=int, default=10_000, help="idle connections (default 10,000)")
    ap.add_argument("--fresh", type=int, default=200, help="fresh requests timed (default 200)")
    ap.add_argument("--servers", default=",".join(p.name for p in peers_mod.PEERS))
    ap.add_argument("--out", default=os.path.join(peers_mod.BENCH, "results"))
    args = ap.parse_args(argv)
    limit = raise_fd_limit()
    if args.idle + 200 > limit:
        args.idle = limit - 200
        print(f"file descriptor limit {limit}: testing {args.idle} idle connections")
    os.sched_setaffinity(0, {int(peers_mod.CLIENT_CPU)})
    os.makedirs(args.out, exist_ok=True)
    meta = dict(machine.description(), idle=args.idle, fresh=args.fresh)
    runs = []
    for name in args.servers.split(","):
        peer = peers_mod.BY_NAME[name]
        machine.wait_for_quiet(max_wait=20)
        try:
            run = asyncio.run(measure(peer, args.idle, args.fresh))
            print(f"{name:18} idle {run['idle_ok']:>6}/{args.idle} still open {run['still_open']}/{run['probed']} "
                  f"RSS {run['rss_before_mb']:.0f}->{run['rss_idle_mb']:.0f} MB threads "
                  f"{run['threads_before']}->{run['threads_idle']} fresh p50 {run['base_p50_ms']:.2f}->"
                  f"{run['fresh_p50_ms']:.2f} ms p99 {run['base_p99_ms']:.2f}->{run['fresh_p99_ms']:.2f} ms "
                  f"failures {run['fresh_failures']}", flush=True)
        except Exception as err:
            run = dict(server=name, failure=str(err)[:300])
            print(f"{name}: FAILED {err}", flush=True)
        runs.append(run)
        with open(os.path.join(args.out, "idle.json"), "w") as f:
            json.dump({"meta": meta, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
