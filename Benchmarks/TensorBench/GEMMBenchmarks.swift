// NMTensor's `gemm(_:_:into:)` against a direct `cblas_sgemm` call (through CBLASShim's
// `nm_sgemm`) on the same buffers, in the same run.

import CBLASShim
import Foundation
import NMTensor

/// One sgemm problem: C [M, N] = op(A) · B [K, N], with A stored `[K, M]` when `transposeA`.
struct GEMMShape {
    var label: String
    var m: Int
    var k: Int
    var n: Int
    var transposeA = false
    var repetitions: Int

    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
}

/// The result row of one shape.
struct GEMMResult {
    var shape: GEMMShape
    var library: Double  // median seconds, NMTensor gemm
    var direct: Double  // median seconds, direct nm_sgemm
    /// The median over repetitions of (NMTensor time / direct time) for the two calls made back
    /// to back: less sensitive to drifting machine load than the ratio of the medians.
    var pairedRatio: Double
    /// NMTensor time / direct time (ratio of the medians): 1.05 means 5 % slower.
    var ratio: Double { library / direct }
}

/// `nm_sgemm` on the tensors' own storage, with the same arguments NMTensor passes.
func directSgemm(_ a: Tensor, _ b: Tensor, into c: inout Tensor, m: Int, n: Int, k: Int, transposeA: Bool) {
    precondition(a.count == m * k && b.count == k * n && c.count == m * n, "directSgemm: operand sizes do not match \(m)×\(k)×\(n)")
    a.scalars.withUnsafeBufferPointer { aBuffer in
        b.scalars.withUnsafeBufferPointer { bBuffer in
            c.scalars.withUnsafeMutableBufferPointer { cBuffer in
                nm_sgemm(
                    transposeA ? 1 : 0, 0, Int32(m), Int32(n), Int32(k), 1,
                    aBuffer.baseAddress!, Int32(transposeA ? m : k), bBuffer.baseAddress!, Int32(n),
                    0, cBuffer.baseAddress!, Int32(n))
            }
        }
    }
}

/// Times every shape, printing one line each; returns the rows (or nil if two results disagree).
func runGEMMBenchmarks(_ shapes: [GEMMShape]) -> [GEMMResult]? {
    print("sgemm: NMTensor gemm(_:_:into:) vs direct nm_sgemm, same buffers, alternating; median of n runs")
    print(left("shape", 34) + right("M", 7) + right("K", 7) + right("N", 7) + right("runs", 5)
        + right("NMTensor", 11) + right("direct", 11) + right("ratio", 9) + right("paired", 9))
    print(left("", 34) + right("", 26) + right("GFLOP/s", 11) + right("GFLOP/s", 11) + right("lib/dir", 9) + right("lib/dir", 9))
    var results: [GEMMResult] = []
    for shape in shapes {
        var generator = SeededGenerator(seed: 1)
        let a = Tensor.uniform(shape.transposeA ? [shape.k, shape.m] : [shape.m, shape.k], low: -1, high: 1, generator: &generator)
        let b = Tensor.uniform([shape.k, shape.n], low: -1, high: 1, generator: &generator)
        var c = Tensor.zeros([shape.m, shape.n])

        // The two must agree before they are timed.
        gemm(a, b, into: &c, transposeA: shape.transposeA)
        let libraryResult = c
        directSgemm(a, b, into: &c, m: shape.m, n: shape.n, k: shape.k, transposeA: shape.transposeA)
        var largest: Float = 0
        var largestDifference: Float = 0
        for (x, y) in zip(libraryResult.scalars, c.scalars) {
            largest = max(largest, abs(y))
            largestDifference = max(largestDifference, abs(x - y))
        }
        guard largestDifference <= 1e-5 * max(largest, 1) else {
            print("\(shape.label): NMTensor and direct sgemm disagree: max |Δ| = \(largestDifference) (max |C| = \(largest))")
            return nil
        }
        // Both paths must write C in place; a copy-on-write copy would add an O(M·N) memcpy to one side.
        let storage = c.scalars.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        gemm(a, b, into: &c, transposeA: shape.transposeA)
        directSgemm(a, b, into: &c, m: shape.m, n: shape.n, k: shape.k, transposeA: shape.transposeA)
        guard c.scalars.withUnsafeBufferPointer({ UInt(bitPattern: $0.baseAddress) }) == storage else {
            print("\(shape.label): C was reallocated by a call; the comparison would not be on the same buffers")
            return nil
        }

        let times = alternate(
            repetitions: shape.repetitions,
            {
                gemm(a, b, into: &c, transposeA: shape.transposeA)
                blackHole(c.scalars[0])
            },
            {
                directSgemm(a, b, into: &c, m: shape.m, n: shape.n, k: shape.k, transposeA: shape.transposeA)
                blackHole(c.scalars[0])
            })
        let result = GEMMResult(
            shape: shape, library: median(times.first), direct: median(times.second),
            pairedRatio: median(zip(times.first, times.second).map { $0 / $1 }))
        results.append(result)
        print(left(shape.label, 34) + right("\(shape.m)", 7) + right("\(shape.k)", 7) + right("\(shape.n)", 7)
            + right("\(shape.repetitions)", 5) + right(String(format: "%.1f", shape.flops / result.library / 1e9), 11)
            + right(String(format: "%.1f", shape.flops / result.direct / 1e9), 11) + right(String(format: "%.3f", result.ratio), 9)
            + right(String(format: "%.3f", result.pairedRatio), 9))
    }
    return results
}
