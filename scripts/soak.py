#!/usr/bin/env python3
"""Soak test for gateway-server: sustained mixed load against the `echo`
example for minutes, with the server's file descriptors, threads and RSS
recorded every few seconds; they must be flat at the end. Then a graceful
shutdown (SIGTERM) under load: every request the server had admitted gets
its full response and the process exits within the grace period.

Load (every response checked byte for byte): keep-alive GETs (environ
JSON), a new connection per request, uploads (small and buffered, large and
streamed, chunked), streamed downloads (/stream?n=N), application panics
(/panic -> 500), short sleeps, and clients that disconnect mid-response.

Writes docs/soak.csv (the samples) and docs/soak.png (a plot of the three
over time; matplotlib in a venv the script makes under target/, or, when it
cannot be installed, a plain PNG the script draws itself).

Loopback only; bounded in time. Usage:
  scripts/soak.py [--seconds 300] [--clients 8] [--port 20181] [--sample 2]
"""
import argparse, csv, http.client, json, os, random, signal, socket, subprocess, sys, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def proc_stats(pid):
    """(open fds, threads, RSS in MiB) of process `pid`."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return fds, int(fields["Threads"]), int(fields["VmRSS"].split()[0]) / 1024


class Tally:
    """Counts per kind of request and per outcome, shared by the clients."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.failures = []

    def ok(self, kind):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def fail(self, kind, what):
        with self.lock:
            self.counts[kind + " FAILED"] = self.counts.get(kind + " FAILED", 0) + 1
            if len(self.failures) < 20:
                self.failures.append(f"{kind}: {what}")

    def total(self):
        with self.lock:
            return sum(self.counts.values())


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


class Client:
    """One load generator thread's requests, checked."""

    def __init__(self, port, tally, seed):
        self.port = port
        self.tally = tally
        self.rng = random.Random(seed)
        self.kept = None  # a keep-alive connection

    def conn(self, keep):
        if keep:
            if self.kept is None:
                self.kept = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            return self.kept
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def call(self, kind, method, path, body=None, headers=None, keep=True):
        c = self.conn(keep)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            if r.getheader("connection", "").lower() == "close" or not keep:
                c.close()
                if keep:
                    self.kept = None
            return r.status, data
        except Exception:
            c.close()
            if keep:
                self.kept = None
            raise

    def one(self):
        kind = self.rng.choice(["keepalive", "keepalive", "keepalive", "newconn", "upload_small",
                                "upload_large", "upload_chunked", "download", "panic", "sleep", "abort"])
        try:
            getattr(self, kind)()
            self.tally.ok(kind)
        except Exception as e:  # noqa: BLE001 - every failure is counted and shown
            self.tally.fail(kind, repr(e))

    def keepalive(self):
        status, data = self.call("keepalive", "GET", "/env?x=1", headers={"X-Soak": "yes"})
        expect(status == 200 and json.loads(data)["HTTP_X_SOAK"] == "yes", (status, data[:80]))

    def newconn(self):
        status, data = self.call("newconn", "GET", "/fresh", keep=False)
        expect(status == 200 and json.loads(data)["PATH_INFO"] == "/fresh", (status, data[:80]))

    def upload_small(self):
        body = os.urandom(self.rng.randint(1, 16 * 1024))
        status, data = self.call("upload_small", "POST", "/up", body=body)
        expect(status == 200 and data == body, (status, len(data), len(body)))

    def upload_large(self):
        body = os.urandom(self.rng.randint(100 * 1024, 1024 * 1024))
        status, data = self.call("upload_large", "POST", "/up", body=body)
        expect(status == 200 and data == body, (status, len(data), len(body)))

    def upload_chunked(self):
        parts = [os.urandom(self.rng.randint(1, 40_000)) for _ in range(self.rng.randint(1, 5))]
        # An iterable body without a length: http.client sends it chunked.
        status, data = self.call("upload_chunked", "POST", "/up", body=iter(parts))
        expect(status == 200 and data == b"".join(parts), (status, len(data)))

    def download(self):
        n = self.rng.randint(1, 20_000)
        status, data = self.call("download", "GET", f"/stream?n={n}")
        expect(status == 200 and data.count(b"\n") == n and data.endswith(f"chunk {n - 1}\n".encode()),
               (status, len(data)))

    def panic(self):
        status, _ = self.call("panic", "GET", "/panic")
        expect(status == 500, status)

    def sleep(self):
        status, data = self.call("sleep", "GET", "/sleep?ms=20")
        expect(status == 200 and data == b"slept", (status, data))

    def abort(self):
        """Ask for a large response, read a little, and hang up."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall(b"GET /stream?n=200000 HTTP/1.1\r\nHost: soak\r\n\r\n")
        expect(s.recv(1024).startswith(b"HTTP/1.1 200"), "no response start")
        s.close()


def load(port, tally, stop, seed):
    client = Client(port, tally, seed)
    while not stop.is_set():
        client.one()


def wait_until_serving(port, server):
    for _ in range(200):
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/")
            if c.getresponse().status == 200:
                c.close()
                return
        except OSError:
            time.sleep(0.05)
    sys.exit("the server did not start")


def start_server(port):
    binary = os.path.join(TARGET, "release", "examples", "echo")
    return subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def soak(args, server):
    tally = Tally()
    samples = []
    started = time.time()

    def sample(phase):
        fds, threads, rss = proc_stats(server.pid)
        samples.append({"t": round(time.time() - started, 1), "phase": phase, "fds": fds,
                        "threads": threads, "rss_mib": round(rss, 1), "requests": tally.total()})

    sample("idle")
    stop = threading.Event()
    clients = [threading.Thread(target=load, args=(args.port, tally, stop, i)) for i in range(args.clients)]
    for c in clients:
        c.start()
    deadline = started + args.seconds
    while time.time() < deadline:
        time.sleep(args.sample)
        sample("load")
        last = samples[-1]
        print(f"  t={last['t']:6.0f}s fds={last['fds']:4} threads={last['threads']:3} "
              f"rss={last['rss_mib']:6.1f} MiB requests={last['requests']}", flush=True)
    stop.set()
    for c in clients:
        c.join()
    # Idle again: the clients' connections are closed; give the poller a
    # moment to reap them (counted samples, not a deadline).
    for _ in range(10):
        time.sleep(args.sample / 2)
        sample("after")
    return tally, samples


def flatness(samples):
    """Whether descriptors, threads and RSS are flat: back to the idle level
    after the load, and RSS not climbing over the last two thirds."""
    idle, after = samples[0], samples[-1]
    load = [s for s in samples if s["phase"] == "load"]
    third = load[len(load) // 3] if load else idle
    rss_growth = max(s["rss_mib"] for s in load[len(load) // 3:]) - third["rss_mib"] if load else 0
    checks = {
        "fds back to idle": after["fds"] <= idle["fds"],
        "threads back to idle": after["threads"] == idle["threads"],
        "RSS flat over the last two thirds (growth < 10 MiB)": rss_growth < 10,
    }
    return checks, rss_growth


def shutdown_under_load(args):
    """SIGTERM with requests in flight; every admitted one must complete."""
    port = args.port + 1
    server = start_server(port)
    wait_until_serving(port, server)
    results = {"full": 0, "refused_before_admission": 0, "broken": 0}
    lock = threading.Lock()
    in_flight = []

    def slow_request():
        # Fully sent well before the signal, on an established connection:
        # admitted. It must complete.
        s = socket.create_connection(("127.0.0.1", port), timeout=40)
        s.sendall(b"GET /sleep?ms=1500 HTTP/1.1\r\nHost: soak\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        in_flight.append(data.startswith(b"HTTP/1.1 200") and data.endswith(b"slept"))

    def hammer(stop):
        while not stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
            except OSError:
                return  # no longer listening
            try:
                s.sendall(b"GET /sleep?ms=5 HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                outcome = "full" if data.endswith(b"slept") else ("refused_before_admission" if not data else "broken")
            except ConnectionResetError:
                outcome = "refused_before_admission" if not data else "broken"
            finally:
                s.close()
            with lock:
                results[outcome] += 1

    slow = [threading.Thread(target=slow_request) for _ in range(20)]
    for t in slow:
        t.start()
    stop = threading.Event()
    hammers = [threading.Thread(target=hammer, args=(stop,)) for _ in range(8)]
    for t in hammers:
        t.start()
    time.sleep(0.5)
    signalled = time.time()
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
    exit_seconds = time.time() - signalled
    stop.set()
    for t in slow + hammers:
        t.join()
    return {
        "slow requests in flight at SIGTERM": len(in_flight),
        "of them answered in full": sum(in_flight),
        "short requests answered in full": results["full"],
        "short requests closed before admission (no byte back)": results["refused_before_admission"],
        "responses cut short (losses)": results["broken"],
        "exit code": server.returncode,
        "seconds from SIGTERM to exit": round(exit_seconds, 2),
    }


def plot(samples, path):
    try:
        venv = os.path.join(TARGET, "soak-venv")
        python = os.path.join(venv, "bin", "python")
        if not os.path.exists(python):
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            subprocess.run([python, "-m", "pip", "install", "-q", "matplotlib"], check=True)
        code = """
import csv, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = list(csv.DictReader(open(sys.argv[1])))
t = [float(r["t"]) for r in rows]
fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
for ax, key, label in zip(axes, ["fds", "threads", "rss_mib"], ["open file descriptors", "threads", "RSS (MiB)"]):
    ax.plot(t, [float(r[key]) for r in rows], marker=".")
    ax.set_ylabel(label)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
axes[0].set_title("gateway-server under the soak (scripts/soak.py): " + rows[-2]["requests"] + " requests")
axes[-1].set_xlabel("seconds")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
"""
        subprocess.run([python, "-c", code, path.replace(".png", ".csv"), path], check=True)
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"matplotlib unavailable ({e}); no plot", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--port", type=int, default=20181)
    ap.add_argument("--sample", type=float, default=2.0)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "soak.png"))
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "--example", "echo"], cwd=ROOT, check=True)
    server = start_server(args.port)
    try:
        wait_until_serving(args.port, server)
        print(f"soak: {args.clients} clients for {args.seconds}s against echo (pid {server.pid})")
        tally, samples = soak(args, server)
    finally:
        server.terminate()
        server.wait(timeout=40)
    with open(args.out.replace(".png", ".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(samples[0]))
        writer.writeheader()
        writer.writerows(samples)
    plot(samples, args.out)
    print("requests by kind:", json.dumps(tally.counts, sort_keys=True))
    for failure in tally.failures:
        print("  failure:", failure)
    checks, rss_growth = flatness(samples)
    idle, after = samples[0], samples[-1]
    peak = max(samples, key=lambda s: s["rss_mib"])
    print(f"idle before: fds={idle['fds']} threads={idle['threads']} rss={idle['rss_mib']} MiB")
    print(f"peak RSS: {peak['rss_mib']} MiB at t={peak['t']}s; growth over the last two thirds: {rss_growth:.1f} MiB")
    print(f"idle after:  fds={after['fds']} threads={after['threads']} rss={after['rss_mib']} MiB")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print("graceful shutdown under load:")
    shutdown = shutdown_under_load(args)
    for name, value in shutdown.items():
        print(f"  {name}: {value}")
    shutdown_ok = (shutdown["of them answered in full"] == shutdown["slow requests in flight at SIGTERM"]
                   and shutdown["responses cut short (losses)"] == 0 and shutdown["exit code"] == 0
                   and shutdown["seconds from SIGTERM to exit"] < 30)
    failed = [k for k, v in tally.counts.items() if k.endswith("FAILED")]
    ok = all(checks.values()) and not failed and shutdown_ok
    print("soak:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
