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

    /// The penalty and its gradient with respect to `w` `[H, W]` (NMTensor's `laplacianEnergy`).
    public func valueAndGradient(_ w: Tensor) -> (value: Float, gradient: Tensor) {
        precondition(w.rank == 2, "LaplacianPenalty: w \(w.shape) is not [H, W]")
        return laplacianEnergy(w, kernelSize: kernelSize, replicatingBorder: border == .replicate)
    }
}
