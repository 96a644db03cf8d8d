"""The throughput benchmark: every server in every cell, several rounds.

Servers run one at a time, each started fresh for each (cell, round): warm-up,
then a measured wrk run with /proc readings of the server before and after.
Within a round the servers of a cell run back to back; odd rounds run them in
reverse order, so a slow drift of the machine cancels out in the medians.
Raw runs go to raw.json / raw.csv, then report.py writes the tables and chart.
"""
import argparse
import csv
import json
import os
import resource
import sys
import time

import cells as cells_mod
import machine
import peers as peers_mod
import procstat
import report
import wrk


def _cpu_of(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure(peer, cell, duration_s, warmup_s):
    """One measured run of `peer` in `cell`: a dict of numbers.

    Besides the server's own CPU time it records wrk's (is the generator the
    limit?) and everyone else's on the machine during the run (was it quiet?)."""
    with peers_mod.Running(peer) as server:
        closes = peers_mod.closes_on_request(server.port) if cell.close else None
        if warmup_s > 0:
            warm = wrk.start(server.url, cell, warmup_s)
            warm.communicate(timeout=warmup_s + 60)
        time.sleep(0.2)
        before = procstat.sample(server.pid)
        wall0 = time.monotonic()
        busy0, wrk0, self0 = machine.busy_seconds(), _cpu_of(resource.RUSAGE_CHILDREN), _cpu_of(resource.RUSAGE_SELF)
        load = wrk.start(server.url, cell, duration_s)
        peak_threads, peak_rss = before["threads"], before["rss_mb"]
        while load.poll() is None:
            time.sleep(0.25)
            now = procstat.sample(server.pid)
            peak_threads = max(peak_threads, now["threads"])
            peak_rss = max(peak_rss, now["rss_mb"])
        after = procstat.sample(server.pid)
        busy1, wrk1, self1 = machine.busy_seconds(), _cpu_of(resource.RUSAGE_CHILDREN), _cpu_of(resource.RUSAGE_SELF)
        wall = time.monotonic() - wall0
        report_text = load.stdout.read()
        result = wrk.parse(report_text)
        if server.process.poll() is not None:
            raise RuntimeError(f"{peer.name} died during the run")
    cpu = after["cpu_s"] - before["cpu_s"]
    wrk_cpu = wrk1 - wrk0
    others = (busy1 - busy0) - cpu - wrk_cpu - (self1 - self0)
    requests = result["requests"]
    switches = (after["ctx_voluntary"] + after["ctx_involuntary"]
                - before["ctx_voluntary"] - before["ctx_involuntary"])
    result.update(
        cpu_s=round(cpu, 3),
        user_s=round(after["user_s"] - before["user_s"], 3),
        system_s=round(after["system_s"] - before["system_s"], 3),
        req_per_cpu_s=round(requests / cpu, 1) if cpu > 0 else None,
        cpu_us_per_req=round(cpu * 1e6 / requests, 2) if requests else None,
        ctx_per_req=round(switches / requests, 3) if requests else None,
        peak_rss_mb=round(max(after["peak_rss_mb"], peak_rss), 1),
        threads=peak_threads,
        wrk_cpu_pct=round(100 * wrk_cpu / result["seconds"], 1),
        others_busy_pct=round(max(others, 0) * 100 / (wall * os.cpu_count()), 1),
        wrk_report=report_text.strip(),
    )
    if closes is not None:
        result["closes_on_request"] = closes
    return result


class QuietBudget:
    """How long the whole benchmark may spend waiting for a quiet machine
    and repeating noisy runs, so a machine that never gets quiet costs
    minutes, not hours."""

    def __init__(self, seconds):
        self.left = seconds

    def spend(self, since, free=0.0):
        self.left -= max(0.0, time.monotonic() - since - free)


def measure_quietly(peer, cell, args, budget, log):
    """`measure`, repeated (at most --retries times, while the budget
    lasts) when others used the machine during the run; the last attempt
    counts, the noisy ones are returned for the record."""
    attempts = []
    for attempt in range(args.retries + 1):
        started = time.monotonic()
        busy = machine.wait_for_quiet(args.quiet_threshold, max(0.0, min(args.max_wait, budget.left)), log)
        # One reading (0.5 s) is the normal cost of looking; waiting beyond it is spent.
        budget.spend(started, free=0.0 if attempt > 0 else 0.6)
        record = dict(attempt=attempt + 1, background_busy_pct=round(busy, 1),
                      loadavg1=round(os.getloadavg()[0], 2))
        started = time.monotonic()
        record.update(measure(peer, cell, args.duration, args.warmup))
        attempts.append(record)
        if attempt > 0:
            budget.spend(started)
        if (record["others_busy_pct"] <= args.quiet_threshold or attempt == args.retries
                or budget.left <= 0):
            break
        log(f"  others used {record['others_busy_pct']:.0f}% of the machine during the run: repeating")
    return attempts[-1], attempts[:-1]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=5, help="seconds measured per run (default 5)")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per run (default 2)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--servers", default=",".join(p.name for p in peers_mod.PEERS),
                    help="comma-separated, from: " + ", ".join(sorted(peers_mod.BY_NAME)))
    ap.add_argument("--cells", default=",".join(c.name for c in cells_mod.CELLS),
                    help="comma-separated, from: " + ", ".join(c.name for c in cells_mod.CELLS))
    ap.add_argument("--out", default=os.path.join(peers_mod.BENCH, "results"))
    ap.add_argument("--quiet-threshold", type=float, default=12.0,
                    help="wait before each run until the machine is under this %% busy (default 12)")
    ap.add_argument("--max-wait", type=float, default=60.0,
                    help="longest wait for quiet before each run, seconds (default 60)")
    ap.add_argument("--quiet-budget", type=float, default=600.0,
                    help="seconds the whole benchmark may spend waiting for quiet and repeating noisy "
                         "runs (default 600)")
    ap.add_argument("--retries", type=int, default=1,
                    help="repeat a run this often at most when the machine was busy during it (default 2)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 s runs, 1 s warm-up, 1 round, written to results/quick/")
    return ap.parse_args(argv)


def main(argv=None):
    peers_mod.stop_servers_on_sigterm()
    args = parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds, args.retries, args.quiet_budget = 1, 1, 1, 0, 60
        if args.out == os.path.join(peers_mod.BENCH, "results"):
            args.out = os.path.join(args.out, "quick")
    servers = [peers_mod.BY_NAME[name] for name in args.servers.split(",") if name]
    cells = [cells_mod.BY_NAME[name] for name in args.cells.split(",") if name]
    os.makedirs(args.out, exist_ok=True)
    runs_total = args.rounds * len(cells) * len(servers)
    per_run = args.duration + args.warmup + 1.5
    print(f"{runs_total} runs, about {runs_total * per_run / 60:.0f} min if the machine stays quiet")
    meta = dict(machine.description(), duration_s=args.duration, warmup_s=args.warmup,
                rounds=args.rounds, peers={p.name: p.settings for p in servers},
                cells={c.name: c.meaning for c in cells})
    runs, discarded, done = [], [], 0
    budget = QuietBudget(args.quiet_budget)
    for round_no in range(args.rounds):
        for cell in cells:
            order = servers if round_no % 2 == 0 else list(reversed(servers))
            for peer in order:
                done += 1
                record = dict(round=round_no + 1, cell=cell.name, server=peer.name)
                try:
                    measured, noisy = measure_quietly(peer, cell, args, budget, print)
                    record.update(measured)
                    if noisy:
                        discarded.extend(dict(record, **n) for n in noisy)
                    print(f"[{done}/{runs_total}] r{round_no + 1} {cell.name:10} {peer.name:17} "
                          f"{record['rps']:>9,.0f} req/s {record['req_per_cpu_s'] or 0:>9,.0f} req/cpu-s "
                          f"p50 {record['p50_ms'] or 0:6.2f} p99 {record['p99_ms'] or 0:7.2f} ms "
                          f"err {record['errors']} wrk {record['wrk_cpu_pct']:.0f}% others {record['others_busy_pct']:.0f}%",
                          flush=True)
                except Exception as err:  # one broken run must not end the benchmark
                    record["failure"] = str(err)[:300]
                    print(f"[{done}/{runs_total}] r{round_no + 1} {cell.name} {peer.name}: FAILED {err}",
                          flush=True)
                runs.append(record)
                _save(args.out, meta, runs, discarded)
    report.write(args.out)


def _save(out, meta, runs, discarded):
    with open(os.path.join(out, "raw.json"), "w") as f:
        json.dump({"meta": meta, "runs": runs, "discarded_noisy_runs": discarded}, f, indent=1)
    keys = sorted({key for run in runs for key in run} - {"wrk_report"})
    first = ["round", "cell", "server", "rps", "req_per_cpu_s", "p50_ms", "p99_ms", "errors"]
    keys = first + [k for k in keys if k not in first]
    with open(os.path.join(out, "raw.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(runs)


if __name__ == "__main__":
    sys.exit(main())
