/// `lhs + rhs` for two tensors of the same shape, clamped to [0, `clampUpper`] when it is given
/// (a residual sum followed by relu or relu6 in one pass; NaN stays NaN), 8 lanes at a time and
/// split over the compute threads from 2 × 2¹⁵ elements. `Tensor +` uses it for equal shapes: a
/// memory-bound pass that, on one thread, left the other idle (ResNet-50's residual sums).
/// The same values as `lhs + rhs` followed by `activationForward`.
public func elementwiseSum(_ lhs: Tensor, _ rhs: Tensor, clampUpper: Float? = nil) -> Tensor {
    precondition(lhs.shape == rhs.shape, "elementwiseSum: shapes \(lhs.shape) and \(rhs.shape) differ")
    return reusableTensor(lhs.shape) { result in
        guard result.count > 0 else { return }
        lhs.scalars.withUnsafeBufferPointer { left in
            rhs.scalars.withUnsafeBufferPointer { right in
                result.scalars.withUnsafeMutableBufferPointer { output in
                    let (a, b, y) = (left.baseAddress!, right.baseAddress!, output.baseAddress!)
                    parallelFor(output.count, minimumChunk: elementwiseMinimumChunk) { range in
                        addRange(a, b, y, range)
                        if let clampUpper { clampRange(y, y, range, upper: clampUpper) }
                    }
                }
            }
        }
    }
}

/// `y[i] = a[i] + b[i]` over `range`, 8 lanes at a time.
@inline(__always)
private func addRange(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
    var i = range.lowerBound
    while i &+ 8 <= range.upperBound {
        let sum = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) + UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: sum, as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < range.upperBound {
        y[i] = a[i] + b[i]
        i &+= 1
    }
}
