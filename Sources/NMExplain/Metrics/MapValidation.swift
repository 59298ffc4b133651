import NMTensor

/// Checks that a saliency map is `[height, width]` (any size when either is `nil`), non-empty
/// and finite.
/// - Parameters:
///   - name: how the error names the map ("saliency", "ground truth").
///   - anyRank: accept any non-empty shape instead of `[H, W]`.
/// - Throws: `ExplainError.mapShape` for a wrong or empty shape, `ExplainError.nonFiniteMap`
///   with the count of NaN/∞ values.
func validateMap(_ map: Tensor, name: String = "saliency", height: Int? = nil, width: Int? = nil, anyRank: Bool = false) throws {
    guard map.rank == 2 || anyRank else {
        throw ExplainError.mapShape(name: name, shape: map.shape, reason: "a map must be [H, W]")
    }
    if let height, let width, map.shape != [height, width] {
        throw ExplainError.mapShape(name: name, shape: map.shape, reason: "must be [\(height), \(width)] to match the image")
    }
    guard map.count > 0 else {
        throw ExplainError.mapShape(name: name, shape: map.shape, reason: "the map is empty")
    }
    let nonFinite = map.scalars.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
    guard nonFinite == 0 else {
        throw ExplainError.nonFiniteMap(name: name, count: nonFinite)
    }
}
