#!/usr/bin/env bash
# Swift (neuromask-bench) vs PyTorch (Benchmarks/peers/pytorch_neuromask.py) on the identical
# NeuroMask loop, alternating per model and per round (who goes first alternates too, after a
# discarded warm-up of both) so that load on a shared machine hits both alike. Prints every JSON
# line and a table of medians and ratios Swift/PyTorch (< 1: Swift faster).
#
# Usage: Benchmarks/compare.sh [--models a,b] [--reps N] [--rounds R] [--threads T] [--native] [--no-build]
#   --models   default efficientnet-lite0,resnet50,vgg16,inception-v3
#   --reps     repetitions per round and side (default 10)
#   --rounds   alternating rounds per model (default 2); the table takes the median over rounds
#   --threads  threads on both sides (default 2)
#   --native   build Swift with -Xswiftc -target-cpu -Xswiftc native (scratch .build-bench-native)
#   --scratch  use this SwiftPM scratch path instead (with --no-build: an existing build)
set -euo pipefail
cd "$(dirname "$0")/.."

models=efficientnet-lite0,resnet50,vgg16,inception-v3
reps=10
rounds=2
threads=2
native=0
build=1
scratch_override=""
while [ $# -gt 0 ]; do
    case "$1" in
        --models) models=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --native) native=1; shift ;;
        --no-build) build=0; shift ;;
        --scratch) scratch_override=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

if [ $native = 1 ]; then
    scratch=.build-bench-native
    flags=(-Xswiftc -target-cpu -Xswiftc native)
    export NEUROMASK_BENCH_BUILD_FLAGS="-target-cpu native"
else
    scratch=.build-bench
    flags=()
    export NEUROMASK_BENCH_BUILD_FLAGS=""
fi
if [ -n "$scratch_override" ]; then scratch=$scratch_override; fi
if [ $build = 1 ]; then
    swift build -c release --scratch-path "$scratch" --product neuromask-bench "${flags[@]}" >&2
fi
bench="$scratch/release/neuromask-bench"

python3 -c "import torch" 2>/dev/null || {
    echo "PyTorch is missing: pip install torch --index-url https://download.pytorch.org/whl/cpu" >&2
    exit 1
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
IFS=, read -r -a names <<<"$models"
run_swift() {
    NEUROMASK_NUM_THREADS=$threads "$bench" --models "$1" --reps "$2" --json
}
run_pytorch() {
    # PyTorch's best allocator setting must be in the environment before Python starts.
    MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 \
        python3 Benchmarks/peers/pytorch_neuromask.py --models "$1" --reps "$2" --threads "$threads"
}
# Warm-up, discarded: the first process after an idle spell runs slow on this kind of machine.
run_swift "${names[0]}" 2 >/dev/null
run_pytorch "${names[0]}" 2 >/dev/null
for model in "${names[@]}"; do
    for ((round = 0; round < rounds; round++)); do
        # Who goes first alternates between rounds, so that neither side always follows the other.
        if ((round % 2 == 0)); then
            run_swift "$model" "$reps" | tee -a "$results"
            run_pytorch "$model" "$reps" | tee -a "$results"
        else
            run_pytorch "$model" "$reps" | tee -a "$results"
            run_swift "$model" "$reps" | tee -a "$results"
        fi
    done
done

python3 - "$results" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
print()
print("| model | threads | Swift fwd ms | PyTorch fwd ms | fwd ratio | Swift iter ms | PyTorch iter ms | iter ratio | Swift RSS MB | PyTorch RSS MB |")
print("|---|---|---|---|---|---|---|---|---|---|")
for model in dict.fromkeys(r["model"] for r in rows):
    swift = [r for r in rows if r["model"] == model and r["framework"] == "neuromask-swift"]
    torch = [r for r in rows if r["model"] == model and r["framework"].startswith("pytorch")]
    if not swift or not torch:
        continue
    med = lambda rs, key: statistics.median(r[key] for r in rs)
    sf, tf, si, ti = med(swift, "forward_ms"), med(torch, "forward_ms"), med(swift, "iteration_ms"), med(torch, "iteration_ms")
    print("| %s | %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.0f | %.0f |" % (
        model, swift[0]["threads"], sf, tf, sf / tf, si, ti, si / ti, max(r["peak_rss_mb"] for r in swift),
        max(r["peak_rss_mb"] for r in torch)))
EOF
