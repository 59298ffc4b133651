// Elementwise arithmetic with NumPy broadcasting: shapes are aligned at the right and a
// dimension of 1 (or a missing one) stretches to match the other operand. IEEE semantics
// throughout: NaN propagates, x / 0 is ±∞ (or NaN for 0 / 0).

extension Tensor {
    // MARK: Tensor ⊕ Tensor

    /// Elementwise sum with broadcasting.
    /// - Precondition: the shapes broadcast (NumPy rules); the result has the broadcast shape.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        if lhs.shape == rhs.shape { return elementwiseSum(lhs, rhs) }
        return broadcastingCombine(lhs, rhs, operation: "+") { $0 + $1 }
    }

    /// Elementwise difference with broadcasting.
    /// - Precondition: the shapes broadcast (NumPy rules); the result has the broadcast shape.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        broadcastingCombine(lhs, rhs, operation: "-") { $0 - $1 }
    }

    /// Elementwise product with broadcasting.
    /// - Precondition: the shapes broadcast (NumPy rules); the result has the broadcast shape.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor {
        broadcastingCombine(lhs, rhs, operation: "*") { $0 * $1 }
    }

    /// Elementwise quotient with broadcasting.
    /// - Precondition: the shapes broadcast (NumPy rules); the result has the broadcast shape.
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor {
        broadcastingCombine(lhs, rhs, operation: "/") { $0 / $1 }
    }

    // MARK: Tensor ⊕ Float and Float ⊕ Tensor

    /// Adds `rhs` to every element.
    public static func + (lhs: Tensor, rhs: Float) -> Tensor {
        Tensor(shape: lhs.shape, scalars: mapScalars(lhs.scalars) { $0 + rhs })
    }

    /// Subtracts `rhs` from every element.
    public static func - (lhs: Tensor, rhs: Float) -> Tensor {
        Tensor(shape: lhs.shape, scalars: mapScalars(lhs.scalars) { $0 - rhs })
    }

    /// Multiplies every element by `rhs`.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor {
        Tensor(shape: lhs.shape, scalars: mapScalars(lhs.scalars) { $0 * rhs })
    }

    /// Divides every element by `rhs`.
    public static func / (lhs: Tensor, rhs: Float) -> Tensor {
        Tensor(shape: lhs.shape, scalars: mapScalars(lhs.scalars) { $0 / rhs })
    }

    /// `lhs + x` for every element `x` of `rhs`.
    public static func + (lhs: Float, rhs: Tensor) -> Tensor {
        Tensor(shape: rhs.shape, scalars: mapScalars(rhs.scalars) { lhs + $0 })
    }

    /// `lhs - x` for every element `x` of `rhs`.
    public static func - (lhs: Float, rhs: Tensor) -> Tensor {
        Tensor(shape: rhs.shape, scalars: mapScalars(rhs.scalars) { lhs - $0 })
    }

    /// `lhs * x` for every element `x` of `rhs`.
    public static func * (lhs: Float, rhs: Tensor) -> Tensor {
        Tensor(shape: rhs.shape, scalars: mapScalars(rhs.scalars) { lhs * $0 })
    }

    /// `lhs / x` for every element `x` of `rhs`.
    public static func / (lhs: Float, rhs: Tensor) -> Tensor {
        Tensor(shape: rhs.shape, scalars: mapScalars(rhs.scalars) { lhs / $0 })
    }

    // MARK: Negation

    /// Every element negated (the sign bit flipped, so NaN stays NaN and 0 becomes -0).
    public static prefix func - (operand: Tensor) -> Tensor {
        Tensor(shape: operand.shape, scalars: mapScalars(operand.scalars) { -$0 })
    }

    // MARK: In place

    /// Adds `rhs` (broadcast to `lhs.shape`) to `lhs`.
    /// - Precondition: `rhs` broadcasts to `lhs.shape` (the result keeps `lhs`'s shape).
    public static func += (lhs: inout Tensor, rhs: Tensor) {
        combineInPlace(&lhs, rhs, operation: "+=") { $0 + $1 }
    }

    /// Subtracts `rhs` (broadcast to `lhs.shape`) from `lhs`.
    /// - Precondition: `rhs` broadcasts to `lhs.shape`.
    public static func -= (lhs: inout Tensor, rhs: Tensor) {
        combineInPlace(&lhs, rhs, operation: "-=") { $0 - $1 }
    }

    /// Multiplies `lhs` by `rhs` (broadcast to `lhs.shape`).
    /// - Precondition: `rhs` broadcasts to `lhs.shape`.
    public static func *= (lhs: inout Tensor, rhs: Tensor) {
        combineInPlace(&lhs, rhs, operation: "*=") { $0 * $1 }
    }

    /// Divides `lhs` by `rhs` (broadcast to `lhs.shape`).
    /// - Precondition: `rhs` broadcasts to `lhs.shape`.
    public static func /= (lhs: inout Tensor, rhs: Tensor) {
        combineInPlace(&lhs, rhs, operation: "/=") { $0 / $1 }
    }

    /// Adds `rhs` to every element of `lhs`.
    public static func += (lhs: inout Tensor, rhs: Float) {
        mapScalarsInPlace(&lhs.scalars) { $0 + rhs }
    }

    /// Subtracts `rhs` from every element of `lhs`.
    public static func -= (lhs: inout Tensor, rhs: Float) {
        mapScalarsInPlace(&lhs.scalars) { $0 - rhs }
    }

    /// Multiplies every element of `lhs` by `rhs`.
    public static func *= (lhs: inout Tensor, rhs: Float) {
        mapScalarsInPlace(&lhs.scalars) { $0 * rhs }
    }

    /// Divides every element of `lhs` by `rhs`.
    public static func /= (lhs: inout Tensor, rhs: Float) {
        mapScalarsInPlace(&lhs.scalars) { $0 / rhs }
    }
}

// MARK: - Shared paths

/// `combine` over the broadcast of two tensors: a plain loop when the shapes are equal,
/// strided rows otherwise.
@inline(__always)
private func broadcastingCombine(
    _ lhs: Tensor, _ rhs: Tensor, operation: String, _ combine: (Float, Float) -> Float
) -> Tensor {
    if lhs.shape == rhs.shape {
        return Tensor(shape: lhs.shape, scalars: zipScalars(lhs.scalars, rhs.scalars, combine))
    }
    guard let shape = broadcastShapes(lhs.shape, rhs.shape) else {
        preconditionFailure("Tensor \(operation): shapes \(lhs.shape) and \(rhs.shape) do not broadcast")
    }
    return Tensor(shape: shape, scalars: broadcastZip(lhs, rhs, shape: shape, combine))
}

/// `lhs = combine(lhs, rhs)` where `rhs` broadcasts to `lhs.shape`; equal shapes reuse
/// `lhs`'s storage when it is uniquely referenced.
@inline(__always)
private func combineInPlace(
    _ lhs: inout Tensor, _ rhs: Tensor, operation: String, _ combine: (Float, Float) -> Float
) {
    if lhs.shape == rhs.shape {
        zipScalarsInPlace(&lhs.scalars, rhs.scalars, combine)
        return
    }
    precondition(
        broadcastShapes(lhs.shape, rhs.shape) == lhs.shape,
        "Tensor \(operation): \(rhs.shape) does not broadcast to the left-hand shape \(lhs.shape)")
    lhs.scalars = broadcastZip(lhs, rhs, shape: lhs.shape, combine)
}
