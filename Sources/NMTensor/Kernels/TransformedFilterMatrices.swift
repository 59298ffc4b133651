import CBLASShim

/// The transformed filters of a Winograd convolution (2-D or along one axis): `count` matrices
/// `[K, C]` (output × input channels), the left operands of its products, stored plain
/// (multiplied by OpenBLAS) or packed for `PackedMatrix`'s kernel (the same memory, no packing per
/// product).
struct TransformedFilterMatrices: Sendable {
    /// K and C of every matrix.
    let outputChannels: Int, inputChannels: Int
    /// `[count, K, C]`, row-major; empty when `packed` holds the matrices.
    private let plain: [Float]
    /// The matrices packed for `PackedMatrix`'s kernel, or nil.
    private let packed: [PackedMatrix]?

    /// - Parameters:
    ///   - matrices: `[count, K, C]`, row-major.
    ///   - packed: store them as `PackedMatrix`es instead.
    init(_ matrices: [Float], count: Int, outputChannels: Int, inputChannels: Int, packed: Bool) {
        precondition(matrices.count == count * outputChannels * inputChannels, "TransformedFilterMatrices: \(matrices.count) floats for \(count) matrices \(outputChannels)×\(inputChannels)")
        (self.outputChannels, self.inputChannels) = (outputChannels, inputChannels)
        let matrixSize = outputChannels * inputChannels
        if packed {
            self.packed = matrices.withUnsafeBufferPointer { buffer in
                (0..<count).map {
                    PackedMatrix(buffer.baseAddress! + $0 * matrixSize, rows: outputChannels, columns: inputChannels, rowStride: max(1, inputChannels))
                }
            }
            plain = []
        } else {
            self.packed = nil
            plain = matrices
        }
    }

    /// M = U[i] · V on the calling thread: `v` row-major `[C, n]`, `m` row-major `[K, n]`
    /// (overwritten), both with leading dimension n.
    @inline(__always)
    func multiply(matrix i: Int, _ v: UnsafePointer<Float>, columns n: Int, into m: UnsafeMutablePointer<Float>) {
        if let packed {
            packed[i].multiply(v, ldb: n, n: n, into: m, ldc: n, rowBias: nil, isSplit: false)
            return
        }
        plain.withUnsafeBufferPointer { u in
            nm_sgemm(
                0, 0, Int32(outputChannels), Int32(n), Int32(inputChannels), 1, u.baseAddress! + i &* outputChannels &* inputChannels,
                Int32(inputChannels), v, Int32(n), 0, m, Int32(n))
        }
    }
}
