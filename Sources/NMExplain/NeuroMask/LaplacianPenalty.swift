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

    /// The penalty and its gradient with respect to `w` `[H, W]`.
    ///
    /// K = k²·δ − 𝟙, so each response is k²·(centre) − (k×k box sum), and the box sums are a
    /// column pass and a row pass of k additions each: O(H·W·k) rather than O(H·W·k²). The
    /// gradient runs the same passes backwards (the box filter's adjoint). The loss is summed
    /// in Double.
    public func valueAndGradient(_ w: Tensor) -> (value: Float, gradient: Tensor) {
        precondition(w.rank == 2, "LaplacianPenalty: w \(w.shape) is not [H, W]")
        let (height, width) = (w.shape[0], w.shape[1])
        let k = kernelSize
        let radius = k / 2
        // The plane the kernel slides over: w itself (valid) or w with replicated edges.
        let pad = border == .valid ? 0 : radius
        let (paddedHeight, paddedWidth) = (height + 2 * pad, width + 2 * pad)
        let (outputHeight, outputWidth) = (max(paddedHeight - k + 1, 0), max(paddedWidth - k + 1, 0))
        let count = outputHeight * outputWidth
        guard count > 0 else { return (0, .zeros(w.shape)) }
        let rowSource = (0..<paddedHeight).map { min(max($0 - pad, 0), height - 1) }
        let columnSource = (0..<paddedWidth).map { min(max($0 - pad, 0), width - 1) }
        // One zeroed scratch for the five planes below (this runs once per NeuroMask iteration).
        let paddedCount = paddedHeight * paddedWidth, bandCount = outputHeight * paddedWidth
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * paddedCount + 2 * bandCount + count)
        defer { scratch.deallocate() }
        scratch.initialize(repeating: 0, count: 2 * paddedCount + 2 * bandCount + count)
        let padded = scratch, gradPadded = scratch + paddedCount
        let columnSums = gradPadded + paddedCount, rowSpread = columnSums + bandCount
        let gradResponse = rowSpread + bandCount  // ∂value/∂response
        w.scalars.withUnsafeBufferPointer { source in
            for y in 0..<paddedHeight {
                let sourceRow = rowSource[y] * width
                for x in 0..<paddedWidth { padded[y * paddedWidth + x] = source[sourceRow + columnSource[x]] }
            }
        }

        // Column sums over k rows, then row sums over k columns: the k×k box sums.
        for i in 0..<outputHeight {
            for a in 0..<k {
                let from = padded + (i + a) * paddedWidth, to = columnSums + i * paddedWidth
                for x in 0..<paddedWidth { to[x] += from[x] }
            }
        }
        let centreWeight = Float(k * k)
        let scale = 2 / Float(count)
        var sum = 0.0
        for i in 0..<outputHeight {
            let centreRow = padded + (i + radius) * paddedWidth + radius
            let sumsRow = columnSums + i * paddedWidth
            for j in 0..<outputWidth {
                var box: Float = 0
                for b in 0..<k { box += sumsRow[j + b] }
                let response = centreWeight * centreRow[j] - box
                sum += Double(response) * Double(response)
                gradResponse[i * outputWidth + j] = scale * response
            }
        }

        // Adjoint: every response sends k²·g to its centre and −g to each pixel of its box.
        for i in 0..<outputHeight {
            for b in 0..<k {
                let to = rowSpread + i * paddedWidth + b, from = gradResponse + i * outputWidth
                for j in 0..<outputWidth { to[j] += from[j] }
            }
        }
        for i in 0..<outputHeight {
            for a in 0..<k {
                let to = gradPadded + (i + a) * paddedWidth, from = rowSpread + i * paddedWidth
                for x in 0..<paddedWidth { to[x] -= from[x] }
            }
            let centreRow = gradPadded + (i + radius) * paddedWidth + radius
            for j in 0..<outputWidth { centreRow[j] += centreWeight * gradResponse[i * outputWidth + j] }
        }
        // Replicated pixels pass their gradient back to the edge pixel they copy.
        var gradient = [Float](repeating: 0, count: w.count)
        gradient.withUnsafeMutableBufferPointer { target in
            for y in 0..<paddedHeight {
                let targetRow = rowSource[y] * width
                for x in 0..<paddedWidth { target[targetRow + columnSource[x]] += gradPadded[y * paddedWidth + x] }
            }
        }
        return (Float(sum / Double(count)), Tensor(shape: w.shape, scalars: gradient))
    }
}
