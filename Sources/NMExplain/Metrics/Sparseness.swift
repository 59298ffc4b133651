import NMTensor

/// Sparseness of an attribution map as the Gini index of its absolute values (Chalasani,
/// Chen, Chowdhury, Wu & Jha, "Concise explanations of neural networks using adversarial
/// training", ICML 2020, arXiv:1810.06583; Quantus's `Sparseness`; the index of Hurley &
/// Rickard 2009). For |s| sorted ascending, a₁ ≤ … ≤ aₙ,
///
///     G = Σₖ (2k − n − 1) · aₖ / (n · Σₖ aₖ)
///
/// which equals the mean absolute difference Σᵢ Σⱼ |aᵢ − aⱼ| / (2n · Σ a). G is 0 for a uniform
/// map and (n − 1)/n, the largest value, when all mass is on one pixel. Unlike Quantus, no 1e-7
/// is added to every value; a map of zeros scores 0.
public enum Sparseness {
    /// The Gini index of |saliency|, in [0, (n − 1)/n] ⊂ [0, 1). Higher is sparser.
    /// - Parameter saliency: `[H, W]` (or any non-empty shape), finite.
    /// - Throws: `ExplainError.invalidSetting` for an empty map or NaN/∞.
    /// - Complexity: O(n log n) for the sort; accumulated in Double.
    public static func giniIndex(_ saliency: Tensor) throws -> Float {
        try validateMap(saliency, anyRank: true)
        let sorted = saliency.scalars.map { Double(abs($0)) }.sorted()
        let n = Double(sorted.count)
        var weighted = 0.0, total = 0.0
        for (index, value) in sorted.enumerated() {
            weighted += (2 * Double(index + 1) - n - 1) * value
            total += value
        }
        guard total > 0 else { return 0 }
        return Float(weighted / (n * total))
    }
}
