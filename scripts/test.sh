#!/usr/bin/env bash
# The project's test command: system packages, then the whole suite in release mode
# (numerical code in a debug build is 10–100x slower).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift test -c release "$@"
