"""The machine a run happened on, and whether it is quiet enough to measure:
other people compile on this box, and a busy core skews every number."""
import datetime
import os
import platform
import subprocess
import time


def description():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "wrk": _version(["wrk", "--version"]),
        "rustc": _version(["rustc", "--version"]),
        "project_commit": _project_commit(),
    }


def _project_commit():
    """The commit the peers were built from, marked when the server or
    framework sources had uncommitted changes (others work in this tree)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "gateway-server",
                                "gateway-spec", "mini-framework", "middleware"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return head + (" + uncommitted changes" if dirty else "")


def _version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def _cpu_times():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values), idle


def busy_percent(interval=0.5):
    """Share of all cores busy over `interval` seconds, 0-100."""
    total0, idle0 = _cpu_times()
    time.sleep(interval)
    total1, idle1 = _cpu_times()
    spent = max(total1 - total0, 1)
    return 100.0 * (1 - (idle1 - idle0) / spent)


def wait_for_quiet(threshold=12.0, max_wait=45.0, log=print):
    """Wait (at most `max_wait` s) until the machine is under `threshold`%
    busy with no server of ours running. Returns the last reading."""
    started = time.time()
    busy = busy_percent()
    warned = False
    while busy > threshold and time.time() - started < max_wait:
        if not warned:
            log(f"  machine {busy:.0f}% busy (someone compiling?): waiting for quiet")
            warned = True
        time.sleep(2)
        busy = busy_percent()
    return busy


def busy_seconds():
    """CPU seconds spent busy so far, all cores together."""
    total, idle = _cpu_times()
    return (total - idle) / os.sysconf("SC_CLK_TCK")
