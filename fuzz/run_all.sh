#!/usr/bin/env bash
# Run every fuzz target for a set time, one after another, and print a table
# of executions and results. Usage: fuzz/run_all.sh [seconds-per-target] [target...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The machine has only the
# stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the -Z flags it
# needs, and `-s none` turns off AddressSanitizer (the code under test has no
# unsafe; panics and wrong answers are what the targets look for).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(request_head body_framing environ connection)
fi
export RUSTC_BOOTSTRAP=1
mkdir -p logs corpus
cargo fuzz build -s none -O
summary="logs/summary-$(date +%Y%m%d-%H%M%S).txt"
printf '%-14s %8s %14s %10s %s\n' target seconds executions corpus result | tee "$summary"
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    log="logs/$target.log"
    status=0
    cargo fuzz run -s none -O "$target" "corpus/$target" "seeds/$target" -- \
        -dict=dict/http.dict -max_len=8192 -max_total_time="$seconds" \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    execs=$(grep -a 'stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
    files=$(ls "corpus/$target" | wc -l)
    if [ "$status" -eq 0 ]; then
        result="no finding"
    else
        result="FINDING: $(grep -a -o 'artifacts/[^ ]*' "$log" | tail -1)"
    fi
    printf '%-14s %8s %14s %10s %s\n' "$target" "$seconds" "${execs:-?}" "$files" "$result" | tee -a "$summary"
done
echo "summary written to fuzz/$summary"
