"""Medians, ratios to hyper, the Markdown tables and the bar chart, all drawn
from the raw runs in OUT/raw.json (and OUT/idle.json when present)."""
import json
import os
import statistics
import sys

BASELINE = "hyper"


def _medians(runs):
    """{(cell, server): {metric: median}} over the successful runs."""
    groups = {}
    for run in runs:
        if "failure" not in run:
            groups.setdefault((run["cell"], run["server"]), []).append(run)
    table = {}
    for key, group in groups.items():
        row = {"n": len(group)}
        for metric in ("rps", "req_per_cpu_s", "p50_ms", "p99_ms", "errors", "peak_rss_mb", "threads",
                       "cpu_us_per_req", "ctx_per_req", "wrk_cpu_pct", "others_busy_pct"):
            values = [r[metric] for r in group if r.get(metric) is not None]
            row[metric] = statistics.median(values) if values else None
        rps = [r["rps"] for r in group]
        row["spread"] = (max(rps) - min(rps)) / statistics.median(rps) if len(rps) > 1 and row["rps"] else None
        row["error_total"] = sum(r["errors"] for r in group)
        row["kept_alive"] = any(r.get("closes_on_request") is False for r in group)
        row["noisy"] = sum(1 for r in group if (r.get("others_busy_pct") or 0) > 12)
        table[key] = row
    return table


def _num(value, digits=0):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _with_ratio(table, cell, server, metric):
    row, base = table.get((cell, server)), table.get((cell, BASELINE))
    if not row or row[metric] is None:
        return "-"
    text = _num(row[metric])
    if base and base[metric]:
        text += f" ({row[metric] / base[metric]:.2f})"
    if row["kept_alive"]:
        text += " †"
    return text


def _grid(title, note, cells, servers, render):
    lines = [f"### {title}", "", note, "", "| server | " + " | ".join(cells) + " |",
             "|---|" + "---:|" * len(cells)]
    for server in servers:
        lines.append(f"| {server} | " + " | ".join(render(cell, server) for cell in cells) + " |")
    return lines + [""]


def markdown(data, idle=None):
    meta, runs = data["meta"], data["runs"]
    table = _medians(runs)
    servers = [s for s in meta["peers"] if any(k[1] == s for k in table)]
    cells = [c for c in meta["cells"] if any(k[0] == c for k in table)]
    out = [f"## Results: {meta['date']}, {meta['nproc']} x {meta['cpu_model']}, Linux {meta['kernel']}", "",
           f"Server pinned to CPU 1, `wrk -t1` ({meta['wrk']}) pinned to CPU 0; {meta['warmup_s']} s warm-up "
           f"then {meta['duration_s']} s measured per run; {meta['rounds']} rounds, each server started fresh "
           f"per run; medians over rounds. Ratio in parentheses = this server / hyper in the same cell "
           f"(above 1 is better for throughput). {meta['rustc']}; project at {meta.get('project_commit', '?')}.", ""]
    out += _grid("Requests per second", "Median (ratio to hyper).", cells, servers,
                 lambda c, s: _with_ratio(table, c, s, "rps"))
    out += _grid("Requests per server CPU-second",
                 "Requests / (server utime + stime): what one core buys, which the load generator's "
                 "own limit does not hide. Median (ratio to hyper).", cells, servers,
                 lambda c, s: _with_ratio(table, c, s, "req_per_cpu_s"))
    out += _grid("Latency p50 / p99 (ms)", "Medians over rounds of wrk's percentiles.", cells, servers,
                 lambda c, s: f"{_num(table[(c, s)]['p50_ms'], 2)} / {_num(table[(c, s)]['p99_ms'], 2)}"
                 if (c, s) in table else "-")
    out += _grid("Errors, peak RSS (MB), threads",
                 "Errors summed over rounds (non-2xx/3xx + socket errors: connect/read/write/timeout "
                 "as wrk counts them); peak RSS (VmHWM) and most threads seen, medians.",
                 cells, servers,
                 lambda c, s: f"{table[(c, s)]['error_total']} err, {_num(table[(c, s)]['peak_rss_mb'], 1)} MB, "
                 f"{_num(table[(c, s)]['threads'])} thr" if (c, s) in table else "-")
    out += _grid("Context switches per request, and the load generator's CPU",
                 "Server context switches (all threads, voluntary + involuntary) per request; wrk's CPU "
                 "use of its core in %: near 100 means the generator, not the server, set the pace "
                 "(then requests per CPU-second is the fairer column).", cells, servers,
                 lambda c, s: f"{_num(table[(c, s)]['ctx_per_req'], 3)}, wrk {_num(table[(c, s)]['wrk_cpu_pct'])}%"
                 if (c, s) in table else "-")
    out += _grid("Noise: spread of requests/s between rounds",
                 "(max - min) / median over the rounds of each cell: differences smaller than this "
                 "are not findings. `noisy` counts runs during which other programs used more than 12% "
                 "of the machine (a run is repeated once when that happens, while the time budget lasts).",
                 cells, servers,
                 lambda c, s: (f"{100 * table[(c, s)]['spread']:.0f}%" if table[(c, s)]["spread"] is not None
                               else "-") + (f" ({table[(c, s)]['noisy']} noisy)" if table[(c, s)]["noisy"] else "")
                 if (c, s) in table else "-")
    if any(row["kept_alive"] for row in table.values()):
        out += ["† The server ignored `Connection: close` (it kept the connection open after answering), "
                "so wrk reused its connections: not a close test, not comparable.", ""]
    failures = [r for r in runs if "failure" in r]
    if failures:
        out += ["### Failed runs", ""] + [f"- round {r['round']} {r['cell']} {r['server']}: {r['failure']}"
                                         for r in failures] + [""]
    if idle:
        out += idle_markdown(idle)
    out += ["### Cells", ""] + [f"- `{name}`: {text}" for name, text in meta["cells"].items()] + [""]
    out += ["### Peer settings", ""] + [f"- **{name}**: {text}" for name, text in meta["peers"].items()] + [""]
    return "\n".join(out)


def idle_markdown(idle):
    meta = idle["meta"]
    out = [f"### Idle connections ({meta['date']})", "",
           f"{meta['idle']} keep-alive connections opened (each sends one request, reads the answer, then "
           f"stays open and silent); then {meta['fresh']} fresh requests, each on a new connection, timed one "
           f"after another. Server pinned to CPU 1, client to CPU 0.", "",
           "| server | idle conns served | still open after | RSS before -> with idle (MB) | threads before -> with idle "
           "| fresh p50 / p99 / max (ms), no idle | fresh p50 / p99 / max (ms), with idle | fresh failures |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in idle["runs"]:
        if "failure" in r:
            out.append(f"| {r['server']} | failed: {r['failure']} | | | | | | |")
            continue
        if r.get("server_exit_code") is not None or (r["rss_idle_mb"] == 0 and r["threads_idle"] <= 1):
            out.append(f"| {r['server']} | {r['idle_ok']:,} / {meta['idle']:,}, then the server died "
                       f"(exit {r.get('server_exit_code', '?')}) | 0 / {r['probed']} | {r['rss_before_mb']:.0f} -> gone "
                       f"| {r['threads_before']} -> gone | {r['base_p50_ms']:.2f} / {r['base_p99_ms']:.2f} / "
                       f"{r['base_max_ms']:.2f} | - | {r['fresh_failures']} |")
            continue
        out.append(
            f"| {r['server']} | {r['idle_ok']:,} / {meta['idle']:,} | {r['still_open']} / {r['probed']} "
            f"| {r['rss_before_mb']:.0f} -> {r['rss_idle_mb']:.0f} | {r['threads_before']} -> {r['threads_idle']} "
            f"| {r['base_p50_ms']:.2f} / {r['base_p99_ms']:.2f} / {r['base_max_ms']:.2f} "
            f"| {r['fresh_p50_ms']:.2f} / {r['fresh_p99_ms']:.2f} / {r['fresh_max_ms']:.2f} | {r['fresh_failures']} |")
    return out + [""]


def chart(data, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = data["meta"]
    table = _medians(data["runs"])
    servers = [s for s in meta["peers"] if any(k[1] == s for k in table)]
    cells = [c for c in meta["cells"] if any(k[0] == c for k in table)]
    fig, axes = plt.subplots(2, 1, figsize=(max(10, 1.6 * len(cells)), 9), sharex=True)
    width = 0.8 / max(len(servers), 1)
    colors = plt.get_cmap("tab10")
    for axis, metric, label in ((axes[0], "rps", "requests/s"),
                                (axes[1], "req_per_cpu_s", "requests per server CPU-second")):
        for i, server in enumerate(servers):
            values = [(table.get((c, server)) or {}).get(metric) or 0 for c in cells]
            xs = [x + (i - (len(servers) - 1) / 2) * width for x in range(len(cells))]
            axis.bar(xs, values, width, label=server, color=colors(i % 10),
                     edgecolor="black" if server.startswith("gateway") else None)
        axis.set_yscale("log")
        axis.set_ylabel(label + " (log)")
        axis.grid(axis="y", alpha=0.3, which="both")
    axes[1].set_xticks(range(len(cells)), cells)
    axes[0].legend(ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.28))
    fig.suptitle(f"{meta['date']}, {meta['nproc']} x {meta['cpu_model']}; medians of {meta['rounds']} rounds",
                 y=0.995, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


START, END = "<!-- results:start -->", "<!-- results:end -->"


def update_readme(readme, text):
    """Put the tables between the README's results markers."""
    with open(readme) as f:
        content = f.read()
    if START not in content or END not in content:
        return
    head, rest = content.split(START, 1)
    tail = rest.split(END, 1)[1]
    with open(readme, "w") as f:
        f.write(f"{head}{START}\n{text}\n{END}{tail}")


def write(out):
    with open(os.path.join(out, "raw.json")) as f:
        data = json.load(f)
    idle = None
    if os.path.exists(os.path.join(out, "idle.json")):
        with open(os.path.join(out, "idle.json")) as f:
            idle = json.load(f)
    text = markdown(data, idle)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    chart(data, os.path.join(out, "requests.png"))
    bench = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.abspath(out) == os.path.join(bench, "results"):
        update_readme(os.path.join(bench, "README.md"),
                      text.replace("## Results:", "### Results:").replace("\n### ", "\n#### ")
                      + "\n![requests per second per server and cell](results/requests.png)\n")
    print(f"wrote {out}/results.md and {out}/requests.png")


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "results"))
