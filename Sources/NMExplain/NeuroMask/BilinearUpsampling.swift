import NMTensor

/// Bilinear upsampling of a coarse `[h, w]` grid to `[H, W]` as a linear map `R · c · Cᵀ`
/// (PyTorch `interpolate(mode="bilinear", align_corners=False)`: pixel centres aligned, edges
/// clamped), with its exact adjoint `Rᵀ · g · C` for back-propagating to the grid.
public struct BilinearUpsampling: Sendable {
    /// `[H, h]` interpolation weights of the rows.
    let rows: Tensor
    /// `[W, w]` interpolation weights of the columns.
    let columns: Tensor

    public init(from coarse: (height: Int, width: Int), to fine: (height: Int, width: Int)) {
        rows = Self.weights(from: coarse.height, to: fine.height)
        columns = Self.weights(from: coarse.width, to: fine.width)
    }

    public var coarseShape: [Int] { [rows.shape[1], columns.shape[1]] }
    public var fineShape: [Int] { [rows.shape[0], columns.shape[0]] }

    /// `[h, w] → [H, W]`.
    public func upsample(_ coarse: Tensor) -> Tensor {
        precondition(coarse.shape == coarseShape, "BilinearUpsampling: grid \(coarse.shape) is not \(coarseShape)")
        return matmul(matmul(rows, coarse), columns, transposeB: true)  // [H, h]·[h, w]·[w, W]
    }

    /// The adjoint: `[H, W] → [h, w]` (the gradient with respect to the grid).
    public func adjoint(_ fine: Tensor) -> Tensor {
        precondition(fine.shape == fineShape, "BilinearUpsampling: map \(fine.shape) is not \(fineShape)")
        return matmul(matmul(rows, fine, transposeA: true), columns)  // [h, H]·[H, W]·[W, w]
    }

    /// One axis: output i samples the source at (i + 0.5)·n/N − 0.5, clamped to [0, n − 1].
    private static func weights(from source: Int, to target: Int) -> Tensor {
        var matrix = Tensor.zeros([target, source])
        let scale = Float(source) / Float(target)
        for i in 0..<target {
            let position = min(max((Float(i) + 0.5) * scale - 0.5, 0), Float(source - 1))
            let lower = Int(position.rounded(.down))
            let upper = min(lower + 1, source - 1)
            let fraction = position - Float(lower)
            matrix[i, lower] += 1 - fraction
            matrix[i, upper] += fraction
        }
        return matrix
    }
}
