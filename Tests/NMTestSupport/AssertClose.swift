import NMTensor
import Testing

/// Checks that two tensors have the same shape and that every element satisfies
/// `|actual - expected| <= atol + rtol * |expected|`. On failure it records the shape or the
/// largest |Δ|, the first failing flat index and both values there.
public func assertClose(
    _ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6,
    _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.shape == expected.shape else {
        Issue.record("shape \(actual.shape) != expected \(expected.shape). \(comment?.description ?? "")", sourceLocation: sourceLocation)
        return
    }
    var maxDifference: Float = 0
    var firstBad: Int?
    for index in 0..<actual.count {
        let a = actual.scalars[index], e = expected.scalars[index]
        let difference = abs(a - e)
        let isBad = a.isNaN != e.isNaN || (!a.isNaN && !(difference <= atol + rtol * abs(e)) && a != e)
        if isBad && firstBad == nil { firstBad = index }
        if difference.isFinite { maxDifference = max(maxDifference, difference) }
    }
    if let bad = firstBad {
        Issue.record(
            "max |Δ| = \(maxDifference); first mismatch at flat index \(bad): \(actual.scalars[bad]) vs expected \(expected.scalars[bad]) (rtol \(rtol), atol \(atol)). \(comment?.description ?? "")",
            sourceLocation: sourceLocation)
    }
}

/// Relative L2 error ‖actual − expected‖ / ‖expected‖, accumulated in Double.
public func relativeL2Error(_ actual: Tensor, _ expected: Tensor) -> Double {
    precondition(actual.shape == expected.shape, "relativeL2Error: \(actual.shape) vs \(expected.shape)")
    var difference = 0.0, norm = 0.0
    for (a, e) in zip(actual.scalars, expected.scalars) {
        difference += Double(a - e) * Double(a - e)
        norm += Double(e) * Double(e)
    }
    return (difference / max(norm, .leastNonzeroMagnitude)).squareRoot()
}

/// A tensor of the given shape with seeded uniform values in [-1, 1).
public func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.uniform(shape, low: -1, high: 1, generator: &generator)
}
