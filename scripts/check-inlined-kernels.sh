#!/usr/bin/env bash
# Checks a native build's binary for a code-generation trap: the GEMM micro-kernel
# (NMTensor's shapedKernel) must store its tiles inline. Adding SIMD storeBytes stores elsewhere
# in NMTensor once made the compiler outline the storeBytes<SIMD8<Float>> specialisation, so
# every tile row became a call (Inception-v3 7 % slower; no test could see it, since tests assert
# no times). The kernel now loads and stores through CVectorAccess's always-inlined C functions;
# this check fails if it calls those or the generic Swift ones. scripts/test.sh runs it on the
# native test build. Usage: scripts/check-inlined-kernels.sh BINARY
set -euo pipefail
binary=$1
calls=$(objdump -d --no-show-raw-insn "$binary" | awk '
    /^[0-9a-f]+ <.*>:$/ { inKernel = ($2 ~ /NMTensor12shapedKernel/) }
    inKernel && /call.*(storeBytes|loadUnaligned|nm_load8|nm_store8)/ { count++ }
    END { print count + 0 }')
if [ "$calls" -ne 0 ]; then
    echo "check-inlined-kernels: the GEMM micro-kernel calls $calls outlined SIMD load/store functions in $binary" >&2
    exit 1
fi
echo "check-inlined-kernels: the GEMM micro-kernel's loads and stores are inline"
