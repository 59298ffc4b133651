// CVectorAccess: unaligned 8-float loads and stores for NMTensor's register kernels, always
// inlined. Swift's `loadUnaligned(as:)` / `storeBytes(of:as:)` are generic standard-library
// functions; how they are specialised and whether the specialisation is inlined depends on what
// else the module uses (a new `storeBytes<SIMD8<Float>>` use elsewhere once made the compiler
// outline it, and the GEMM micro-kernel's tile stores became calls: Inception-v3 7 % slower).
// A C `always_inline` function is inlined by LLVM whatever the optimiser's heuristics.
// `nm_float8` is imported by Swift as `SIMD8<Float>`. No stable Swift API: NMTensor's kernel
// files only.
#ifndef CVECTORACCESS_H
#define CVECTORACCESS_H

typedef float nm_float8 __attribute__((ext_vector_type(8)));

/// The 8 floats at `p` (any alignment).
static inline __attribute__((__always_inline__)) nm_float8 nm_load8(const float *p) {
    nm_float8 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

/// Stores `v` at `p` (any alignment).
static inline __attribute__((__always_inline__)) void nm_store8(float *p, nm_float8 v) {
    __builtin_memcpy(p, &v, sizeof v);
}

#endif
