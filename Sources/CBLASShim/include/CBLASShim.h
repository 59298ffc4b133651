// CBLASShim: the one place that includes BLAS and LAPACK headers.
// It provides no stable Swift API: only NMTensor's kernel files (Sources/NMTensor/Kernels)
// import it. Wrappers carry the `nm_` prefix.
#ifndef CBLASSHIM_H
#define CBLASSHIM_H

#if __has_include(<cblas-openblas.h>)
#include <cblas-openblas.h>
#else
#include <cblas.h>
#endif
#include <lapacke.h>
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif

// OpenBLAS extensions (declared here so that a generic cblas.h also works).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
char *openblas_get_config(void);

#define NM_SHIM static inline __attribute__((__always_inline__))

/// 1 when the code importing this header is compiled for a CPU with AVX2 and FMA (Swift:
/// `-Xswiftc -target-cpu -Xswiftc native` on such a machine; the Swift compiler's clang importer
/// evaluates this with Swift's target), else 0. Selects NMTensor's packed GEMM micro-kernel,
/// which needs fused multiply-adds in registers to beat OpenBLAS.
#if defined(__AVX2__) && defined(__FMA__)
#define NM_SWIFT_TARGET_HAS_AVX2_FMA 1
#else
#define NM_SWIFT_TARGET_HAS_AVX2_FMA 0
#endif

/// C = alpha * op(A) * op(B) + beta * C, row-major.
NM_SHIM void nm_sgemm(int transA, int transB, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta,
                      float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/// y = alpha * op(A) * x + beta * y, A row-major [m, n]; op(A) = Aᵀ (y has n entries) when transA.
NM_SHIM void nm_sgemv(int transA, int m, int n, float alpha, const float *a, int lda,
                      const float *x, int incx, float beta, float *y, int incy) {
    cblas_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

NM_SHIM void nm_set_num_threads(int n) { openblas_set_num_threads(n); }
NM_SHIM int nm_get_num_threads(void) { return openblas_get_num_threads(); }
NM_SHIM const char *nm_blas_corename(void) { return openblas_get_corename(); }
NM_SHIM const char *nm_blas_config(void) { return openblas_get_config(); }

/// Cholesky solve of A X = B, A symmetric positive definite [n, n] (row-major, upper used),
/// B [n, nrhs]; both overwritten. Returns LAPACK's info (0 = success, > 0 = not positive definite).
NM_SHIM int nm_sposv(int n, int nrhs, float *a, int lda, float *b, int ldb) {
    return (int)LAPACKE_sposv(LAPACK_ROW_MAJOR, 'U', n, nrhs, a, lda, b, ldb);
}

/// Least-squares solve of min ||A X - B|| with A [m, n] full rank (QR, row-major), B [max(m,n), nrhs];
/// the solution is in the first n rows of B. Returns LAPACK's info.
NM_SHIM int nm_sgels(int m, int n, int nrhs, float *a, int lda, float *b, int ldb) {
    return (int)LAPACKE_sgels(LAPACK_ROW_MAJOR, 'N', m, n, nrhs, a, lda, b, ldb);
}

/// glibc: keep freed blocks up to `mmap_threshold` bytes in the heap and trim only above
/// `trim_threshold`, so large buffers are reused instead of re-mapped. No-op elsewhere.
NM_SHIM void nm_keep_freed_memory(int mmap_threshold, int trim_threshold) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    mallopt(M_TRIM_THRESHOLD, trim_threshold);
#else
    (void)mmap_threshold;
    (void)trim_threshold;
#endif
}

#endif
