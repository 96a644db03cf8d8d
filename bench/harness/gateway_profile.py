"""Where gateway-server spends its time in the keep-alive plaintext c=16
cell, beside hyper (and the framework variant): CPU, syscalls, context
switches and allocations per request, per-thread costs, a perf profile, and
how the worker count changes the picture. Writes OUT/profile.md and
OUT/profile.json.

Tools: perf (task-clock, context switches, syscall tracepoints, uprobes on
libc's malloc/calloc/realloc, `perf record`), strace -c, /proc, and the
`gateway-allocs` binary (a counting global allocator) as a cross-check.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

import bench
import cells as cells_mod
import machine
import peers as peers_mod
import procstat
import wrk

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
ALLOC_FUNCS = ("malloc", "calloc", "realloc")
CELL = cells_mod.BY_NAME["plain-c16"]


def _perf_stat(pid, events, seconds):
    """Start `perf stat` on `pid` for `seconds`; returns the process (CSV on stderr)."""
    return subprocess.Popen(["perf", "stat", "-x", ",", "-e", ",".join(events), "-p", str(pid),
                             "--", "sleep", str(seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _perf_counts(text):
    counts = {}
    for line in text.splitlines():
        parts = line.split(",")
        if len(parts) > 3 and parts[0].replace(".", "").isdigit():
            counts[parts[2]] = float(parts[0])
    return counts


def _load(server, seconds):
    """wrk in the profiled cell for `seconds`; returns wrk's parsed report."""
    load = wrk.start(server.url, CELL, seconds)
    out, _ = load.communicate(timeout=seconds + 60)
    return wrk.parse(out)


def _warm(server):
    _load(server, 1)
    time.sleep(0.2)


def discover_syscalls(peer, seconds=2):
    """strace -c -f over a short run: which syscalls, and their share of
    time (strace slows the server a lot: trust the names, not the rates)."""
    with peers_mod.Running(peer) as server:
        _warm(server)
        trace = subprocess.Popen(["strace", "-c", "-f", "-p", str(server.pid)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        _load(server, seconds)
        trace.send_signal(signal.SIGINT)
        _, table = trace.communicate(timeout=30)
    names = re.findall(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+\s+(?:\d+\s+)?(\w+)\s*$", table, re.M)
    return table.strip(), [n for n in names if n != "total"]


def counted_run(peer, events, seconds):
    """One wrk run with `perf stat` attached for the same time, plus
    per-thread /proc readings; numbers per request."""
    with peers_mod.Running(peer) as server:
        _warm(server)
        threads0 = procstat.threads_by_name(server.pid)
        stat = _perf_stat(server.pid, events, seconds + 0.3)
        result = _load(server, seconds)
        _, text = stat.communicate(timeout=60)
        threads1 = procstat.threads_by_name(server.pid)
    requests = result["requests"]
    per_request = {name: value / requests for name, value in _perf_counts(text).items()}
    per_thread = {}
    for name, after in threads1.items():
        before = threads0.get(name, dict(cpu_s=0, voluntary=0, involuntary=0))
        per_thread[name] = dict(
            threads=after["threads"],
            cpu_us_per_req=round((after["cpu_s"] - before["cpu_s"]) * 1e6 / requests, 2),
            voluntary_per_req=round((after["voluntary"] - before["voluntary"]) / requests, 3),
            involuntary_per_req=round((after["involuntary"] - before["involuntary"]) / requests, 3))
    return dict(requests=requests, rps=result["rps"], p50_ms=result["p50_ms"], p99_ms=result["p99_ms"],
                per_request=per_request, per_thread=per_thread)


def add_alloc_probes():
    """uprobes on libc's allocation functions; False when perf cannot."""
    remove_alloc_probes()
    for func in ALLOC_FUNCS:
        done = subprocess.run(["perf", "probe", "-x", LIBC, "--add", func], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"no uprobe on {func}: {done.stderr.strip()}")
            return False
    return True


def remove_alloc_probes():
    for func in ALLOC_FUNCS:
        subprocess.run(["perf", "probe", "-q", "-d", f"probe_libc:{func}"], capture_output=True)


# The first frame of an allocation's stack that belongs to the code under
# test names the site that allocated (skipping the allocator, alloc::,
# core::, std:: and formatting machinery).
SITE = re.compile(r"gateway_server::|gateway_spec::|mini_framework::|middleware::|bench::|hyper::|tokio::|"
                  r"http::|serde_json::")


def allocation_sites(peer, seconds, limit=25):
    """`perf record` on the malloc/realloc uprobes with DWARF call graphs:
    allocations per request by the first frame of the server's own code."""
    data = f"/tmp/bench-allocs-{peer.name}.data"
    with peers_mod.Running(peer) as server:
        _warm(server)
        record = subprocess.Popen(["perf", "record", "-q", "-e", "probe_libc:malloc", "-e", "probe_libc:realloc",
                                   "--call-graph", "dwarf,16384", "-o", data, "-p", str(server.pid),
                                   "--", "sleep", str(seconds)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        result = _load(server, seconds)
        record.wait(timeout=120)
    script = subprocess.run(["perf", "script", "-i", data, "-F", "event,ip,sym"],
                            capture_output=True, text=True, timeout=900).stdout
    os.remove(data)
    sites, samples = {}, 0
    for block in script.split("\n\n"):
        lines = [line.strip() for line in block.strip().splitlines()]
        if not lines:
            continue
        samples += 1
        site = "(no frame of the server's code)"
        for line in lines[1:]:
            parts = line.split(None, 1)
            symbol = parts[1] if len(parts) > 1 else ""
            if SITE.search(symbol):
                site = re.sub(r"(\+0x[0-9a-f]+| \(inlined\))$", "", symbol)
                break
        sites[site] = sites.get(site, 0) + 1
    # wrk's count covers a slightly longer window than perf's: scale by the
    # share of the run perf saw.
    requests = result["requests"] * min(1.0, seconds / max(result["seconds"], 1e-9))
    top = sorted(sites.items(), key=lambda kv: -kv[1])[:limit]
    return dict(samples=samples, per_request=round(samples / requests, 2),
                sites=[(site, round(count / requests, 2)) for site, count in top])


def counting_allocator(app, seconds):
    """allocations and bytes per request from `gateway-allocs --app APP`."""
    peer = peers_mod.Peer(f"gateway-allocs-{app}", "this project", "")
    peers_mod._ARGV[peer.name] = peers_mod._rust("gateway-allocs", "--app", app)
    with peers_mod.Running(peer, stdout=subprocess.PIPE) as server:
        _warm(server)

        def totals():
            server.process.send_signal(signal.SIGUSR1)
            _, allocs, size = server.process.stdout.readline().split()
            return int(allocs), int(size)

        allocs0, bytes0 = totals()
        result = _load(server, seconds)
        allocs1, bytes1 = totals()
    requests = result["requests"]
    return dict(allocs_per_req=round((allocs1 - allocs0) / requests, 2),
                bytes_per_req=round((bytes1 - bytes0) / requests, 1))


def perf_top(peer, seconds, limit=200):
    """`perf record` (DWARF call graphs) over a run; top symbols by self
    time and by time including callees."""
    data = f"/tmp/bench-perf-{peer.name}.data"
    with peers_mod.Running(peer) as server:
        _warm(server)
        record = subprocess.Popen(["perf", "record", "-q", "-F", "999", "--call-graph", "dwarf,16384",
                                   "-o", data, "-p", str(server.pid), "--", "sleep", str(seconds)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _load(server, seconds + 1)
        record.wait(timeout=120)
    reports = {}
    for mode, flags in (("self", ["--no-children"]), ("children", ["--children"])):
        out = subprocess.run(["perf", "report", "-i", data, "--stdio", *flags, "-g", "none",
                              "--sort", "symbol", "--percent-limit", "0.7"],
                             capture_output=True, text=True, timeout=600).stdout
        rows = [re.sub(r"\s+-\s+-\s*$", "", line.rstrip()) for line in out.splitlines()
                if line.strip() and not line.startswith("#")]
        reports[mode] = rows[:limit]
    dso = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                          "--sort", "dso", "--percent-limit", "1"], capture_output=True, text=True).stdout
    reports["dso"] = [line.rstrip() for line in dso.splitlines() if line.strip() and not line.startswith("#")]
    os.remove(data)
    return reports


def worker_counts(counts, cells, seconds, rounds):
    """gateway with different pool sizes: CPU and switches per request."""
    rows = []
    for workers in counts:
        peer = peers_mod.Peer(f"gateway-w{workers}", "this project", "")
        peers_mod._ARGV[peer.name] = peers_mod._rust("gateway", "--app", "raw", "--workers", str(workers))
        for cell in cells:
            for _ in range(rounds):
                machine.wait_for_quiet()
                result = bench.measure(peer, cell, seconds, 1)
                rows.append(dict(workers=workers, cell=cell.name, rps=result["rps"],
                                 cpu_us_per_req=result["cpu_us_per_req"], ctx_per_req=result["ctx_per_req"],
                                 p99_ms=result["p99_ms"], others_busy_pct=result["others_busy_pct"]))
                print(f"  workers {workers:3} {cell.name}: {result['rps']:,.0f} req/s "
                      f"{result['cpu_us_per_req']} us/req {result['ctx_per_req']} switches/req", flush=True)
    return rows


def main(argv=None):
    peers_mod.stop_servers_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--servers", default="gateway,gateway-framework,hyper")
    ap.add_argument("--out", default=os.path.join(peers_mod.BENCH, "results"))
    ap.add_argument("--workers", default="1,4,32", help="pool sizes to compare (empty: skip)")
    ap.add_argument("--worker-rounds", type=int, default=2)
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    peers = [peers_mod.BY_NAME[name] for name in args.servers.split(",")]
    found = dict(meta=dict(machine.description(), seconds=args.seconds, cell=CELL.name), servers={})

    for peer in peers:
        print(f"== {peer.name}", flush=True)
        entry = found["servers"][peer.name] = {}
        machine.wait_for_quiet()
        entry["strace"], names = discover_syscalls(peer)
        events = ["task-clock", "context-switches", "cpu-migrations", "raw_syscalls:sys_enter"]
        events += [f"syscalls:sys_enter_{name}" for name in names]
        machine.wait_for_quiet()
        entry["counts"] = counted_run(peer, events, args.seconds)
        print(json.dumps(entry["counts"], indent=1), flush=True)
        entry["perf"] = perf_top(peer, 3)

    if add_alloc_probes():
        try:
            for peer in peers:
                machine.wait_for_quiet()
                events = [f"probe_libc:{func}" for func in ALLOC_FUNCS]
                counts = counted_run(peer, events, args.seconds)
                found["servers"][peer.name]["libc_allocs"] = counts["per_request"]
                print(peer.name, "libc allocations per request", counts["per_request"], flush=True)
                machine.wait_for_quiet()
                found["servers"][peer.name]["alloc_sites"] = allocation_sites(peer, 2)
                print(peer.name, "allocation sites", found["servers"][peer.name]["alloc_sites"], flush=True)
        finally:
            remove_alloc_probes()
    for app in ("raw", "framework"):
        machine.wait_for_quiet()
        found[f"counting_allocator_{app}"] = counting_allocator(app, args.seconds)
        print(app, found[f"counting_allocator_{app}"], flush=True)
    if args.workers:
        found["workers"] = worker_counts([int(w) for w in args.workers.split(",")],
                                         [CELL, cells_mod.BY_NAME["plain-c256"]], args.seconds,
                                         args.worker_rounds)
    with open(os.path.join(args.out, "profile.json"), "w") as f:
        json.dump(found, f, indent=1)
    import profile_report
    profile_report.write(args.out)


if __name__ == "__main__":
    sys.exit(main())
