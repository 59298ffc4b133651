import CBLASShim
import Foundation

/// General matrix multiply through OpenBLAS `sgemm`, batched with NumPy-style broadcasting:
///
///     C[i] = alpha · op(A[i]) · op(B[i]) + beta · C[i]      for every batch index i
///
/// - Parameters:
///   - a: `[..., M, K]`, or `[..., K, M]` when `transposeA` (the transpose is read in place).
///   - b: `[..., K, N]`, or `[..., N, K]` when `transposeB`.
///   - c: `[..., M, N]`. The leading (batch) dimensions of `a` and `b` broadcast against each
///     other. `c`'s batch dimensions must broadcast to theirs; where `c` is broadcast (a size-1
///     or missing dimension), the products of all batch entries that map onto it are summed —
///     the reduction a weight gradient needs. `beta` applies once to the original `c`.
/// - Complexity: 2·M·N·K flops per batch entry; no copies of any operand.
public func gemm(
    _ a: Tensor, _ b: Tensor, into c: inout Tensor,
    transposeA: Bool = false, transposeB: Bool = false, alpha: Float = 1, beta: Float = 0
) {
    precondition(a.rank >= 2 && b.rank >= 2 && c.rank >= 2, "gemm: operands need rank ≥ 2, got \(a.shape), \(b.shape), \(c.shape)")
    let (aRows, aCols) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (bRows, bCols) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let m = transposeA ? aCols : aRows
    let k = transposeA ? aRows : aCols
    let n = transposeB ? bRows : bCols
    let kB = transposeB ? bCols : bRows
    precondition(k == kB, "gemm: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "")")
    precondition(c.shape[c.rank - 2] == m && c.shape[c.rank - 1] == n, "gemm: output \(c.shape) is not [..., \(m), \(n)]")

    let aBatch = Array(a.shape.dropLast(2))
    let bBatch = Array(b.shape.dropLast(2))
    let cBatch = Array(c.shape.dropLast(2))
    guard let batch = broadcastShapes(aBatch, bBatch), broadcastShapes(batch, cBatch) == batch else {
        preconditionFailure("gemm: batch dimensions \(aBatch), \(bBatch) and output \(cBatch) do not broadcast")
    }
    let aStrides = broadcastStrides(aBatch, to: batch, matrixSize: aRows * aCols)
    let bStrides = broadcastStrides(bBatch, to: batch, matrixSize: bRows * bCols)
    let cStrides = broadcastStrides(cBatch, to: batch, matrixSize: m * n)
    let batchCount = elementCount(batch)
    let cBatchCount = elementCount(cBatch)
    guard m > 0 && n > 0 else { return }
    let threads = ComputeThreads.count  // sets OpenBLAS single-threaded on first use

    a.scalars.withUnsafeBufferPointer { aBuffer in
        b.scalars.withUnsafeBufferPointer { bBuffer in
            c.scalars.withUnsafeMutableBufferPointer { cBuffer in
                // Entries of a broadcast C are visited several times: scale by beta only on the first visit.
                var isVisited = [Bool](repeating: false, count: cBatchCount)
                var index = [Int](repeating: 0, count: batch.count)  // multi-index into `batch`
                for _ in 0..<batchCount {
                    var (aOffset, bOffset, cOffset) = (0, 0, 0)
                    for axis in 0..<batch.count {
                        aOffset += index[axis] * aStrides[axis]
                        bOffset += index[axis] * bStrides[axis]
                        cOffset += index[axis] * cStrides[axis]
                    }
                    let cEntry = m * n == 0 ? 0 : cOffset / (m * n)
                    let effectiveBeta = isVisited[cEntry] ? 1 : beta
                    isVisited[cEntry] = true
                    let cPointer = cBuffer.baseAddress! + cOffset
                    if k == 0 {
                        for i in 0..<(m * n) { cPointer[i] = effectiveBeta == 0 ? 0 : effectiveBeta * cPointer[i] }
                    } else {
                        splitSGEMM(
                            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                            a: aBuffer.baseAddress! + aOffset, lda: max(1, aCols),
                            b: bBuffer.baseAddress! + bOffset, ldb: max(1, bCols),
                            beta: effectiveBeta, c: cPointer, ldc: max(1, n), threads: threads)
                    }
                    // Advance the row-major multi-index.
                    var axis = batch.count - 1
                    while axis >= 0 {
                        index[axis] += 1
                        if index[axis] < batch[axis] { break }
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
    }
}

/// Matrix product `op(a) · op(b)` with broadcast batch dimensions (see `gemm`).
/// - Returns: `[broadcast batch..., M, N]`.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul: operands need rank ≥ 2, got \(a.shape), \(b.shape)")
    let m = transposeA ? a.shape[a.rank - 1] : a.shape[a.rank - 2]
    let n = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
    guard let batch = broadcastShapes(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2))) else {
        preconditionFailure("matmul: batch dimensions of \(a.shape) and \(b.shape) do not broadcast")
    }
    // gemm with beta 0 writes every entry of a full-batch C once: no need to zero it first.
    return reusableTensor(batch + [m, n]) { c in
        gemm(a, b, into: &c, transposeA: transposeA, transposeB: transposeB)
    }
}

/// `weight · input` per group plus a per-row bias, without a separate bias pass: each thread
/// fills its block of the output with the bias and OpenBLAS accumulates onto it (beta 1) while
/// the block is still in cache. A grouped convolution's GEMM.
/// - Parameters:
///   - weight: `[G, M, K]`.
///   - input: `[N, G, K, L]`.
///   - bias: `[G·M]` (row `m` of group `g` gets `bias[g·M + m]`), or `nil`.
/// - Returns: `[N, G, M, L]`.
public func matmul(_ weight: Tensor, _ input: Tensor, rowBias bias: Tensor?) -> Tensor {
    precondition(weight.rank == 3 && input.rank == 4 && input.shape[1] == weight.shape[0] && input.shape[2] == weight.shape[2],
        "matmul(rowBias:): weight \(weight.shape) and input \(input.shape) are not [G, M, K] and [N, G, K, L]")
    guard let bias else { return matmul(weight, input) }
    let (batch, groups, rows, depth, length) = (input.shape[0], weight.shape[0], weight.shape[1], weight.shape[2], input.shape[3])
    precondition(bias.count == groups * rows, "matmul(rowBias:): bias \(bias.shape) for \(groups * rows) rows")
    let threads = ComputeThreads.count  // sets OpenBLAS single-threaded on first use
    return reusableTensor([batch, groups, rows, length]) { c in
        guard rows > 0 && length > 0 else { return }
        weight.scalars.withUnsafeBufferPointer { weightBuffer in
            input.scalars.withUnsafeBufferPointer { inputBuffer in
                bias.scalars.withUnsafeBufferPointer { biasBuffer in
                    c.scalars.withUnsafeMutableBufferPointer { output in
                        for entry in 0..<(batch * groups) {
                            let group = entry % groups
                            let (a, b) = (weightBuffer.baseAddress! + group * rows * depth, inputBuffer.baseAddress! + entry * depth * length)
                            splitSGEMM(
                                transposeA: false, transposeB: false, m: rows, n: length, k: depth, alpha: 1,
                                a: a, lda: max(1, depth), b: b, ldb: length, beta: 1, c: output.baseAddress! + entry * rows * length,
                                ldc: length, threads: threads, rowBias: biasBuffer.baseAddress! + group * rows)
                        }
                    }
                }
            }
        }
    }
}

/// Strides (in elements) of each broadcast batch axis for an operand whose own batch shape is
/// `own` and whose matrices hold `matrixSize` elements; broadcast axes get stride 0.
private func broadcastStrides(_ own: [Int], to batch: [Int], matrixSize: Int) -> [Int] {
    let padded = [Int](repeating: 1, count: batch.count - own.count) + own
    var strides = [Int](repeating: 0, count: batch.count)
    var running = matrixSize
    for axis in stride(from: batch.count - 1, through: 0, by: -1) {
        strides[axis] = padded[axis] == 1 ? 0 : running
        running *= padded[axis]
    }
    return strides
}

/// One `sgemm` (row-major), its output split into `threads` blocks of rows or columns that run
/// concurrently on the `WorkerPool`, each a single-threaded OpenBLAS call (the larger output
/// dimension is split, so each thread packs half of that operand and all of the other). Small
/// products run in one call. With `rowBias` (M values), each block of C is first filled with
/// its rows' bias (then `beta` must be 1).
private func splitSGEMM(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int, rowBias: UnsafePointer<Float>? = nil
) {
    precondition(rowBias == nil || beta == 1, "splitSGEMM: a row bias needs beta 1")
    if m == 1 || n == 1 {
        splitSGEMV(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: threads, rowBias: rowBias)
        return
    }
    let work = m * n * k
    let parts = work < 1 << 18 ? 1 : min(threads, max(m, n) / 16)
    if parts <= 1 {
        fill(c, ldc: ldc, rows: 0..<m, columns: 0..<n, rowBias: rowBias)
        nm_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        return
    }
    let splitsColumns = n >= m
    let extent = splitsColumns ? n : m
    // Block edges on multiples of 16 so that each block keeps OpenBLAS's full-width kernels.
    let blocks = (extent + 15) / 16
    parallelFor(parts) { range in
        for part in range {
            let blockRange = chunkBounds(blocks, chunk: part, of: parts)
            let (start, end) = (min(extent, blockRange.lowerBound * 16), min(extent, blockRange.upperBound * 16))
            guard end > start else { continue }
            if splitsColumns {
                // C[:, start..<end] = op(A) · op(B)[:, start..<end]
                fill(c, ldc: ldc, rows: 0..<m, columns: start..<end, rowBias: rowBias)
                let bBlock = transposeB ? b + start * ldb : b + start
                nm_sgemm(
                    transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(end - start), Int32(k), alpha, a, Int32(lda),
                    bBlock, Int32(ldb), beta, c + start, Int32(ldc))
            } else {
                // C[start..<end, :] = op(A)[start..<end, :] · op(B)
                fill(c, ldc: ldc, rows: start..<end, columns: 0..<n, rowBias: rowBias)
                let aBlock = transposeA ? a + start : a + start * lda
                nm_sgemm(
                    transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(end - start), Int32(n), Int32(k), alpha, aBlock, Int32(lda),
                    b, Int32(ldb), beta, c + start * ldc, Int32(ldc))
            }
        }
    }
}

/// A product with one output row or column (a batch-1 fully connected layer) as a matrix-vector
/// product, `sgemv`, split over `threads` blocks of the output: it reads the matrix once, where
/// `sgemm` would first copy it into its packed layout.
private func splitSGEMV(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int, rowBias: UnsafePointer<Float>?
) {
    // y = op(matrix) · x over `length` outputs; `block` computes outputs start..<end.
    let length: Int
    let block: (Int, Int) -> Void
    if m == 1 {
        // C[0, j] = Σ_k a[k] · op(B)[k, j]: the vector is A's row (or column), the matrix B.
        let (x, incx) = (a, transposeA ? lda : 1)
        length = n
        block = { start, end in
            fill(c, ldc: ldc, rows: 0..<1, columns: start..<end, rowBias: rowBias)
            if transposeB {  // B is [N, K]: rows start..<end of B times x
                nm_sgemv(0, Int32(end - start), Int32(k), alpha, b + start * ldb, Int32(ldb), x, Int32(incx), beta, c + start, 1)
            } else {  // B is [K, N]: columns start..<end of Bᵀ x
                nm_sgemv(1, Int32(k), Int32(end - start), alpha, b + start, Int32(ldb), x, Int32(incx), beta, c + start, 1)
            }
        }
    } else {
        // C[i, 0] = Σ_k op(A)[i, k] · b[k]: the vector is B's column (or row), the matrix A.
        let (x, incx) = (b, transposeB ? 1 : ldb)
        length = m
        block = { start, end in
            fill(c, ldc: ldc, rows: start..<end, columns: 0..<1, rowBias: rowBias)
            if transposeA {  // A is [K, M]: columns start..<end of Aᵀ x
                nm_sgemv(1, Int32(k), Int32(end - start), alpha, a + start, Int32(lda), x, Int32(incx), beta, c + start * ldc, Int32(ldc))
            } else {  // A is [M, K]: rows start..<end of A x
                nm_sgemv(0, Int32(end - start), Int32(k), alpha, a + start * lda, Int32(lda), x, Int32(incx), beta, c + start * ldc, Int32(ldc))
            }
        }
    }
    let parts = length * k < 1 << 16 ? 1 : min(threads, max(1, length / 16))
    let blocks = (length + 15) / 16
    parallelFor(parts) { range in
        for part in range {
            let blockRange = chunkBounds(blocks, chunk: part, of: parts)
            let (start, end) = (min(length, blockRange.lowerBound * 16), min(length, blockRange.upperBound * 16))
            if end > start { block(start, end) }
        }
    }
}

/// Sets `c[r, j] = rowBias[r]` for the given rows and columns of a row-major matrix with leading
/// dimension `ldc`; nothing without a bias.
@inline(__always)
private func fill(_ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Range<Int>, columns: Range<Int>, rowBias: UnsafePointer<Float>?) {
    guard let rowBias else { return }
    for row in rows {
        (c + (row &* ldc &+ columns.lowerBound)).update(repeating: rowBias[row], count: columns.count)
    }
}
