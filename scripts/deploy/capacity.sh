#!/usr/bin/env bash
# Requests per second of the `echo` example, deployed four ways, measured with
# wrk on short runs: one instance; two on one port (SO_REUSEPORT); one behind
# nginx; two behind nginx (one on TCP, one on a Unix socket, with the tested
# scripts/deploy/nginx/gateway.conf). Two routes: `/` (a tiny answer: what the
# server and the proxy cost) and `/sleep?ms=10` (an application that waits,
# like one calling a database: capacity = workers / time per request).
# Prints a Markdown table for docs/deploy.md.
#
#   scripts/deploy/capacity.sh
#   DURATION=10 CONNECTIONS=128 WORKERS=32 scripts/deploy/capacity.sh
#
# Everything runs on this machine: wrk, nginx and the instances share its
# cores, so the numbers compare deployments; they are not one server's limit.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-32}

for tool in wrk nginx openssl cargo python3; do
  command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin"
  command -v "$tool" >/dev/null 2>&1 || { echo "capacity.sh needs $tool (apt-get install -y $tool)" >&2; exit 1; }
done

cargo build --release --examples -p examples -q
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
echo_bin="$target_dir/release/examples/echo"

work=$(mktemp -d /tmp/gateway-capacity.XXXXXX)
pids=()

stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Wait (bounded) until FILE contains TEXT.
wait_for_line() {
  local file=$1 text=$2
  for _ in $(seq 1 500); do
    grep -q "$text" "$file" 2>/dev/null && return 0
    sleep 0.02
  done
  echo "gave up waiting for '$text' in $file" >&2
  exit 1
}

# start_echo NAME ARGS...: an instance logging to $work/NAME.log (its access
# log included: every request costs a formatted line written to a file).
start_echo() {
  local name=$1
  shift
  "$echo_bin" "$@" --workers "$WORKERS" 2>"$work/$name.log" &
  pids+=($!)
  wait_for_line "$work/$name.log" "serving on"
}

# start_nginx INSTANCES: nginx with gateway.conf in front of the instance on
# $app_port and, if INSTANCES is 2, the one on $work/app.sock.
start_nginx() {
  local instances=$1
  nginx_port=$(free_port)
  sed -e "s|@LISTEN@|127.0.0.1:$nginx_port|" \
      -e "s|@LISTEN_TLS@|127.0.0.1:$(free_port)|" \
      -e "s|@TLS_CERT@|$work/cert.pem|" -e "s|@TLS_KEY@|$work/key.pem|" \
      -e "s|@APP_TCP@|127.0.0.1:$app_port|" -e "s|@APP_UNIX@|$work/app.sock|" \
      scripts/deploy/nginx/gateway.conf >"$work/gateway.conf"
  if [ "$instances" = 1 ]; then sed -i '/server unix:/d' "$work/gateway.conf"; fi
  cat >"$work/nginx.conf" <<EOF
daemon off;
user $(id -un);
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log notice;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/client_body;
    proxy_temp_path $work/proxy;
    fastcgi_temp_path $work/fastcgi;
    uwsgi_temp_path $work/uwsgi;
    scgi_temp_path $work/scgi;
    include $work/gateway.conf;
}
EOF
  : >"$work/nginx-error.log" # the previous run's "start worker process" must not count
  nginx -p "$work" -c "$work/nginx.conf" -e "$work/nginx-error.log" &
  pids+=($!)
  wait_for_line "$work/nginx-error.log" "start worker process"
}

# measure DEPLOYMENT URL: one table row per route.
measure() {
  local deployment=$1 base=$2 route out rps p50 p99 errors
  for route in "/" "/sleep?ms=10"; do
    wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "$base$route" >/dev/null # warm-up
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$base$route")
    rps=$(awk '/^Requests\/sec/ { printf "%d", $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" | tr -s ' \n' ' ' || true)
    printf '| %s | `%s` | %s | %s | %s | %s |\n' \
      "$deployment" "$route" "$rps" "$p50" "$p99" "${errors:-none}"
  done
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "Measured $(date -u +%Y-%m-%d) at commit $commit on $(nproc) cores ($(uname -m)), nginx $(nginx -v 2>&1 | sed 's|.*/||') and $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'):"
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, release build, $WORKERS workers per instance, keep-alive."
echo
echo "| deployment | route | requests/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|---|"

app_port=$(free_port)
start_echo one --host 127.0.0.1 --port "$app_port"
measure "1 instance, direct" "http://127.0.0.1:$app_port"
stop_all

app_port=$(free_port)
start_echo first --host 127.0.0.1 --port "$app_port" --reuse-port
start_echo second --host 127.0.0.1 --port "$app_port" --reuse-port
measure "2 instances, SO_REUSEPORT, direct" "http://127.0.0.1:$app_port"
stop_all

app_port=$(free_port)
start_echo tcp --host 127.0.0.1 --port "$app_port"
start_nginx 1
measure "nginx -> 1 instance" "http://127.0.0.1:$nginx_port"
stop_all

app_port=$(free_port)
start_echo tcp --host 127.0.0.1 --port "$app_port"
start_echo unix --unix "$work/app.sock" --unix-mode 660
start_nginx 2
measure "nginx -> 2 instances (TCP + Unix)" "http://127.0.0.1:$nginx_port"
stop_all
