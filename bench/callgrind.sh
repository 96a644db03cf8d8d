#!/usr/bin/env bash
# Count the instructions per request of this project's bench server under
# callgrind: N keep-alive requests over one connection, then SIGTERM, then
# the functions by inclusive cost. Instruction counts do not care how busy
# the machine is, so a before/after comparison needs no quiet machine.
#
# Usage: bench/callgrind.sh [raw|framework] [requests]   (needs valgrind)
# Divide "PROGRAM TOTALS" by the request count for instructions per request.
set -euo pipefail
cd "$(dirname "$0")"
app=${1:-raw}
n=${2:-3000}
cargo build -q --release --bin gateway
bin=${CARGO_TARGET_DIR:-target}/release/gateway
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
out=$(mktemp /tmp/callgrind.$app.XXXXXX)
valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" --port "$port" --app "$app" --workers 2 >/dev/null 2>&1 &
server=$!
python3 - "$port" "$n" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(300):  # valgrind starts slowly
    try:
        conn = socket.create_connection(("127.0.0.1", port), timeout=30)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the server did not start")
for _ in range(n):
    conn.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    reply = b""
    while b"Hello from server." not in reply:
        chunk = conn.recv(4096)
        if not chunk:
            sys.exit("the server closed the connection")
        reply += chunk
PY
kill -TERM "$server"
wait "$server" || true
callgrind_annotate --inclusive=yes "$out" >"$out.txt" 2>/dev/null
head -60 "$out.txt"
echo "data: $out, report: $out.txt ($n requests; startup is counted too, so use thousands)"
