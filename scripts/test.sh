#!/usr/bin/env bash
# The project's test command: system packages, then the whole suite in release mode
# (numerical code in a debug build is 10–100x slower), then a seconds-long benchmark smoke run
# (it prints timings and asserts none).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift test -c release "$@"
swift run -c release neuromask-bench --quick
