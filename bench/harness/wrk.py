"""Running wrk (pinned to the client CPU) and reading its report."""
import os
import re
import subprocess

from peers import BENCH, CLIENT_CPU

PIPELINE_SCRIPT = os.path.join(BENCH, "wrk", "pipeline.lua")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def command(url, cell, duration_s):
    argv = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{cell.connections}",
            f"-d{duration_s}s", "--latency"]
    if cell.close:
        argv += ["-H", "Connection: close"]
    if cell.pipeline:
        argv += ["-s", PIPELINE_SCRIPT]
    argv.append(url + cell.path)
    if cell.pipeline:
        argv += ["--", str(cell.pipeline)]
    return argv


def start(url, cell, duration_s):
    return subprocess.Popen(command(url, cell, duration_s), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _ms(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def parse(report):
    """requests, seconds, requests/s, p50/p99 ms, socket errors, non-2xx.

    With pipelining wrk times a whole batch (16 requests) per sample."""
    result = {}
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", report)
    if not done:
        raise ValueError("wrk printed no summary:\n" + report)
    result["requests"] = int(done.group(1))
    result["seconds"] = _ms(done.group(2) + done.group(3)) / 1e3
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))
    for label, key in (("50%", "p50_ms"), ("99%", "p99_ms")):
        match = re.search(rf"^\s+{label}\s+([\d.]+(?:us|ms|s|m))\s*$", report, re.M)
        # wrk prints 0.00us when it has no such sample (a pipelined batch
        # that never completes, or its percentile walk falling off the end):
        # no number beats a wrong one.
        value = _ms(match.group(1)) if match else 0.0
        result[key] = value if value > 0 else None
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    counts = [int(n) for n in socket.groups()] if socket else [0, 0, 0, 0]
    result.update(zip(("err_connect", "err_read", "err_write", "err_timeout"), counts))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    result["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    result["errors"] = sum(counts) + result["non_2xx"]
    return result
