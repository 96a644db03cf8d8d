#!/usr/bin/env bash
# The benchmark harness in one command: installs what it needs (wrk, a Python
# venv with gunicorn, waitress and matplotlib), builds the peers in release,
# runs the throughput cells, the idle-connection test and (with --profile) the
# gateway-server profile, and writes bench/results/.
#
#   bench/run.sh                       # 5 s per run, 2 s warm-up, 3 rounds, all servers and cells, 10k idle
#   bench/run.sh --quick               # smoke test: 1 s runs, 1 round, 300 idle, into results/quick/
#   bench/run.sh --servers gateway,hyper --cells plain-c16,json-c16 --rounds 5
#   bench/run.sh --profile             # also the profile (perf, strace); --only-profile for it alone
#
# Options: --duration S  --warmup S  --rounds N  --servers a,b  --cells a,b
#          --idle N (0: skip the idle test)  --only-idle  --profile  --only-profile
#          --out DIR  --no-install
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"

bench_args=() idle=10000 quick=0 profile=0 bench=1 install=1 out="$here/results"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; bench_args+=(--quick); idle=300 ;;
    --duration|--warmup|--rounds|--servers|--cells|--retries|--max-wait|--quiet-threshold|--quiet-budget)
      bench_args+=("$1" "$2"); shift ;;
    --out) out="$2"; shift ;;
    --idle) idle="$2"; shift ;;
    --only-idle) bench=0 ;;
    --profile) profile=1 ;;
    --only-profile) profile=1; bench=0; idle=0 ;;
    --no-install) install=0 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$quick" = 1 ] && [ "$out" = "$here/results" ] && out="$here/results/quick"
mkdir -p "$out" && out="$(cd "$out" && pwd)"  # absolute: the harness runs from harness/
servers=""
for ((i = 0; i < ${#bench_args[@]}; i++)); do
  [ "${bench_args[$i]}" = --servers ] && servers="${bench_args[$((i + 1))]}"
done

if [ "$install" = 1 ]; then
  need=()
  command -v wrk >/dev/null || need+=(wrk)
  if [ "$profile" = 1 ]; then
    command -v perf >/dev/null || need+=(linux-perf)
    command -v strace >/dev/null || need+=(strace)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} (Debian packages)"
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if [ ! -x "$here/.venv/bin/gunicorn" ] || [ ! -x "$here/.venv/bin/waitress-serve" ] \
      || ! "$here/.venv/bin/python" -c "import matplotlib" 2>/dev/null; then
    echo "making the Python venv in bench/.venv"
    python3 -m venv "$here/.venv"
    "$here/.venv/bin/pip" install -q -r "$here/python/requirements.txt"
  fi
fi

echo "building the peers (release, target dir $CARGO_TARGET_DIR)"
(cd "$here" && cargo build --release -q)

# 10,000 idle connections need as many descriptors on both sides.
ulimit -n "$(ulimit -Hn)"
mkdir -p "$out"
py="$here/.venv/bin/python"
cd "$here/harness"
[ "$bench" = 1 ] && "$py" bench.py --out "$out" "${bench_args[@]}"
if [ "$idle" -gt 0 ]; then
  "$py" idle.py --idle "$idle" --out "$out" ${servers:+--servers "$servers"}
fi
[ -f "$out/raw.json" ] && "$py" report.py "$out"
if [ "$profile" = 1 ]; then
  if [ "$quick" = 1 ]; then
    "$py" gateway_profile.py --out "$out" --seconds 2 --workers "" 
  else
    "$py" gateway_profile.py --out "$out"
  fi
fi
echo "done: $out"
