#!/usr/bin/env bash
# The project's test command: system packages, then the whole suite in release mode
# (numerical code in a debug build is 10–100x slower), then a seconds-long benchmark smoke run
# (it prints timings and asserts none).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift test -c release "$@"
# A build for this CPU (as the benchmarks use) takes other kernel paths by default: Conv2d
# multiplies by packed weights with PackedMatrix's fused multiply-add kernel. Where the CPU has
# AVX2 and FMA, the whole suite runs again in that build, against the same references.
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    swift test -c release --scratch-path .build-native -Xswiftc -target-cpu -Xswiftc native "$@"
    # A code-generation check of that build (no timing): the GEMM micro-kernel's loads and
    # stores inline (CVectorAccess makes them so; the check catches a regression to calls).
    if command -v objdump >/dev/null; then
        bash scripts/check-inlined-kernels.sh .build-native/release/NeuroMaskSwiftPackageTests.xctest
    fi
fi
swift run -c release neuromask-bench --quick
