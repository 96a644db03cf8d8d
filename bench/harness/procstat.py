"""What a server process costs, read from /proc: CPU time, memory, threads
and context switches, summed over the process and its children (gunicorn's
master and worker are two processes)."""
import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        # The command name may hold spaces and parentheses: split after the last ')'.
        return int(f.read().rsplit(")", 1)[1].split()[1])


def process_tree(root):
    """`root` and every descendant still alive."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = _parent_of(entry)
            except (OSError, IndexError, ValueError):
                pass  # exited while we looked
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sorted(tree)


def _cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat; here 11 and 12 after the name.
    return int(fields[11]), int(fields[12])


def _status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def _kb(value):
    return int(value.split()[0]) if value else 0


def _context_switches(pid):
    """Voluntary and involuntary switches of every thread of `pid` (the
    process's own status line counts only its main thread)."""
    voluntary = involuntary = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            status = _status(f"{pid}/task/{tid}")
        except OSError:
            continue
        voluntary += int(status.get("voluntary_ctxt_switches", 0))
        involuntary += int(status.get("nonvoluntary_ctxt_switches", 0))
    return voluntary, involuntary


def sample(root):
    """One reading of the server rooted at `root`, summed over its tree."""
    total = dict(user_s=0.0, system_s=0.0, rss_mb=0.0, peak_rss_mb=0.0,
                 threads=0, ctx_voluntary=0, ctx_involuntary=0, processes=0)
    for pid in process_tree(root):
        try:
            user, system = _cpu_ticks(pid)
            status = _status(pid)
            voluntary, involuntary = _context_switches(pid)
        except OSError:
            continue
        total["user_s"] += user / CLK_TCK
        total["system_s"] += system / CLK_TCK
        total["rss_mb"] += _kb(status.get("VmRSS")) / 1024
        total["peak_rss_mb"] += _kb(status.get("VmHWM")) / 1024
        total["threads"] += int(status.get("Threads", 0))
        total["ctx_voluntary"] += voluntary
        total["ctx_involuntary"] += involuntary
        total["processes"] += 1
    total["cpu_s"] = total["user_s"] + total["system_s"]
    return total


def threads_by_name(pid):
    """Per thread name (digits stripped, so `gateway-worker-7` joins
    `gateway-worker-`): threads, CPU seconds, voluntary and involuntary
    context switches, summed."""
    groups = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip().rstrip("0123456789")
            user, system = _cpu_ticks(f"{pid}/task/{tid}")
            status = _status(f"{pid}/task/{tid}")
        except OSError:
            continue
        group = groups.setdefault(name, dict(threads=0, cpu_s=0.0, voluntary=0, involuntary=0))
        group["threads"] += 1
        group["cpu_s"] += (user + system) / CLK_TCK
        group["voluntary"] += int(status.get("voluntary_ctxt_switches", 0))
        group["involuntary"] += int(status.get("nonvoluntary_ctxt_switches", 0))
    return groups
