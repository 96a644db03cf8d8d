"""profile.json -> profile.md: the numbers of gateway_profile.py as tables."""
import json
import os
import re
import statistics
import sys

# In the "including callees" list, the frames that say where time goes:
# the servers' own functions and the kernel's entry points, not the
# thread-start and closure wrappers every sample passes through.
TELLING = re.compile(r"gateway_server::|gateway_spec::|mini_framework::|middleware::|crossbeam|hyper::|"
                     r"tokio::|bench::|\[k\] (__x64_sys_|__sys_|do_syscall_64|schedule|tcp_|futex)")


def _clean(row):
    return re.sub(r"\s+-\s+-\s*$", "", row).rstrip()


def _telling(rows, limit=30):
    return [_clean(row) for row in rows if TELLING.search(row)][:limit]


def _f(value, digits=2):
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(found):
    meta = found["meta"]
    servers = found["servers"]
    out = [f"## Profile of the `{meta['cell']}` cell: {meta['date']}, {meta['nproc']} x {meta['cpu_model']}", "",
           f"Server pinned to CPU 1, wrk to CPU 0, {meta['seconds']} s per counted run after a 1 s warm-up. "
           "`perf stat -p PID` counts (task-clock, context switches, syscall tracepoints, uprobes on libc "
           "malloc/calloc/realloc in a separate run since uprobes slow the server) divided by wrk's request "
           "count; per-thread figures from /proc/PID/task.", "",
           "### Per request", "",
           "| server | req/s (while counted) | CPU us/req | syscalls/req | context switches/req "
           "| libc allocations/req (malloc+calloc+realloc) |", "|---|---:|---:|---:|---:|---:|"]
    for name, entry in servers.items():
        per = entry["counts"]["per_request"]
        allocs = entry.get("libc_allocs")
        alloc_text = _f(sum(allocs.values())) if allocs else "-"
        out.append(f"| {name} | {entry['counts']['rps']:,.0f} | {_f(per.get('task-clock', 0) * 1000)} "
                   f"| {_f(per.get('raw_syscalls:sys_enter'))} | {_f(per.get('context-switches'), 3)} | {alloc_text} |")
    out += ["", "### Syscalls per request, by name", "",
            "| server | " + " | ".join(["syscall", "per request"]) + " |", "|---|---|---:|"]
    for name, entry in servers.items():
        per = entry["counts"]["per_request"]
        rows = sorted(((k.split("sys_enter_")[1], v) for k, v in per.items() if "sys_enter_" in k),
                      key=lambda kv: -kv[1])
        for syscall, value in rows:
            if value >= 0.001:
                out.append(f"| {name} | {syscall} | {value:.3f} |")
    out += ["", "### Per thread group", "",
            "| server | threads | name | CPU us/req | voluntary switches/req | involuntary switches/req |",
            "|---|---:|---|---:|---:|---:|"]
    for name, entry in servers.items():
        for thread, row in entry["counts"]["per_thread"].items():
            out.append(f"| {name} | {row['threads']} | `{thread}` | {_f(row['cpu_us_per_req'])} "
                       f"| {_f(row['voluntary_per_req'], 3)} | {_f(row['involuntary_per_req'], 3)} |")
    out += ["", "### Allocations per request, counting global allocator (`gateway-allocs`)", "",
            "| app | allocations/req | bytes allocated/req |", "|---|---:|---:|"]
    for app in ("raw", "framework"):
        row = found.get(f"counting_allocator_{app}")
        if row:
            out.append(f"| {app} | {_f(row['allocs_per_req'])} | {_f(row['bytes_per_req'], 0)} |")
    for name, entry in servers.items():
        sites = entry.get("alloc_sites")
        if sites:
            # perf drops samples under this load (uprobes + DWARF stacks), so
            # the sample count is no per-request figure: take each site's
            # share and apply it to the exact count of the counted run.
            total = (sum(entry["libc_allocs"].values()) - entry["libc_allocs"].get("probe_libc:calloc", 0)
                     if entry.get("libc_allocs") else None)
            out += ["", f"### Where {name} allocates", "",
                    f"malloc/realloc uprobes recorded with call stacks ({sites['samples']:,} samples); each "
                    "allocation is charged to the first frame of the server's (or app's) own code in its "
                    "stack. Share of all allocations, and that share of the exact count per request"
                    + (f" ({total:.1f})." if total else "."), "",
                    "| share | ≈ allocations/req | site |", "|---:|---:|---|"]
            for site, value in sites["sites"]:
                share = value / sites["per_request"] if sites["per_request"] else 0
                out.append(f"| {100 * share:.1f}% | {_f(share * total) if total else '-'} | `{site}` |")
    if found.get("workers"):
        out += ["", "### Worker pool size (gateway, raw app)", "",
                "| workers | cell | req/s | CPU us/req | context switches/req | p99 ms |",
                "|---:|---|---:|---:|---:|---:|"]
        groups = {}
        for row in found["workers"]:
            groups.setdefault((row["workers"], row["cell"]), []).append(row)
        for (workers, cell), rows in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            med = {k: statistics.median([r[k] for r in rows if r[k] is not None] or [0])
                   for k in ("rps", "cpu_us_per_req", "ctx_per_req", "p99_ms")}
            out.append(f"| {workers} | {cell} | {med['rps']:,.0f} | {_f(med['cpu_us_per_req'])} "
                       f"| {_f(med['ctx_per_req'], 3)} | {_f(med['p99_ms'])} |")
    for name, entry in servers.items():
        perf = entry.get("perf", {})
        out += ["", f"### perf record, {name}: top symbols by self time", "", "```"] + \
            [_clean(row) for row in perf.get("self", [])[:30]] + ["```"]
        out += ["", f"### perf record, {name}: server and kernel functions including callees "
                "(children %, self %)", "", "```"] + _telling(perf.get("children", [])) + ["```"]
        out += ["", f"### perf record, {name}: by binary", "", "```"] + perf.get("dso", []) + ["```"]
        out += ["", f"### strace -c -f, {name} (slowed by strace: names and shares, not rates)", "", "```",
                entry.get("strace", ""), "```"]
    return "\n".join(out) + "\n"


def write(out):
    with open(os.path.join(out, "profile.json")) as f:
        found = json.load(f)
    with open(os.path.join(out, "profile.md"), "w") as f:
        f.write(markdown(found))
    print(f"wrote {out}/profile.md")


if __name__ == "__main__":
    write(sys.argv[1])
