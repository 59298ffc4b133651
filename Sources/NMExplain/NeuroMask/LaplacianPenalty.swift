import NMTensor

/// NeuroMask's smoothness term `mean(conv2d(w, K)²)` with the Laplacian kernel K (all −1, centre
/// k² − 1), and its gradient. The authors use a "valid" convolution, which leaves the outer
/// ⌊k/2⌋ pixels unconstrained; `replicate` pads w with its edge values so the border is
/// constrained too (one of the improved preset's departures).
public struct LaplacianPenalty: Sendable, Equatable {
    /// How the convolution treats the border of w.
    public enum Border: String, Sendable, Equatable, CaseIterable {
        /// No padding: output `[H − k + 1, W − k + 1]` (the paper).
        case valid
        /// Edge-replicated padding of ⌊k/2⌋: output `[H, W]`.
        case replicate
    }

    /// 3 or 5.
    public let kernelSize: Int
    public let border: Border

    public init(kernelSize: Int, border: Border) {
        precondition(kernelSize == 3 || kernelSize == 5, "LaplacianPenalty: kernel size must be 3 or 5")
        self.kernelSize = kernelSize
        self.border = border
    }

    private func weight(_ row: Int, _ column: Int) -> Float {
        row == kernelSize / 2 && column == kernelSize / 2 ? Float(kernelSize * kernelSize - 1) : -1
    }

    /// The penalty and its gradient with respect to `w` `[H, W]`. Accumulated in Double.
    public func valueAndGradient(_ w: Tensor) -> (value: Float, gradient: Tensor) {
        precondition(w.rank == 2, "LaplacianPenalty: w \(w.shape) is not [H, W]")
        let (height, width) = (w.shape[0], w.shape[1])
        let radius = kernelSize / 2
        let (outputHeight, outputWidth) = border == .valid
            ? (max(height - kernelSize + 1, 0), max(width - kernelSize + 1, 0)) : (height, width)
        var gradient = [Float](repeating: 0, count: w.count)
        let count = outputHeight * outputWidth
        guard count > 0 else { return (0, .zeros(w.shape)) }
        // Input row/column feeding output position i at kernel offset a.
        func source(_ index: Int, _ offset: Int, _ size: Int) -> Int {
            border == .valid ? index + offset : min(max(index + offset - radius, 0), size - 1)
        }
        var sum = 0.0
        let scale = 2 / Float(count)
        for i in 0..<outputHeight {
            for j in 0..<outputWidth {
                var response: Float = 0
                for a in 0..<kernelSize {
                    let row = source(i, a, height) * width
                    for b in 0..<kernelSize { response += weight(a, b) * w.scalars[row + source(j, b, width)] }
                }
                sum += Double(response) * Double(response)
                let gradResponse = scale * response
                for a in 0..<kernelSize {
                    let row = source(i, a, height) * width
                    for b in 0..<kernelSize { gradient[row + source(j, b, width)] += weight(a, b) * gradResponse }
                }
            }
        }
        return (Float(sum / Double(count)), Tensor(shape: w.shape, scalars: gradient))
    }
}
