import Foundation

// Elementwise functions of one tensor. Each returns a new tensor of the same shape; NaN in
// gives NaN out (IEEE semantics, as in NumPy and PyTorch).

extension Tensor {
    /// eˣ for every element (overflows to +∞ above about 88.7).
    public func exp() -> Tensor {
        Tensor(shape: shape, scalars: mapScalarsInParallel(scalars) { expf($0) })
    }

    /// The natural logarithm of every element: -∞ at 0, NaN below 0.
    public func log() -> Tensor {
        Tensor(shape: shape, scalars: mapScalarsInParallel(scalars) { logf($0) })
    }

    /// The logistic function 1 / (1 + e⁻ˣ) of every element, in [0, 1].
    ///
    /// Numerically stable for large |x|: with e = e^(−|x|) ≤ 1, which never overflows, the
    /// result is 1 / (1 + e) for x ≥ 0 and e / (1 + e) for x < 0. So sigmoid(100) is exactly 1,
    /// sigmoid(−100) is e⁻¹⁰⁰ ≈ 3.7·10⁻⁴⁴ (a subnormal Float), sigmoid(−∞) is 0, and only NaN
    /// gives NaN. e^(−|x|) comes from a vectorised polynomial (`sigmoidScalars`) within
    /// 2 ulp of `expf`'s.
    public func sigmoid() -> Tensor {
        Tensor(shape: shape, scalars: sigmoidScalars(scalars))
    }

    /// The hyperbolic tangent of every element, in [-1, 1].
    public func tanh() -> Tensor {
        Tensor(shape: shape, scalars: mapScalarsInParallel(scalars) { tanhf($0) })
    }

    /// max(x, 0) for every element; NaN stays NaN (unlike `Swift.max(x, 0)`).
    public func relu() -> Tensor {
        Tensor(shape: shape, scalars: mapScalars(scalars) { $0 < 0 ? 0 : $0 })
    }

    /// The square root of every element (NaN below 0).
    public func sqrt() -> Tensor {
        Tensor(shape: shape, scalars: mapScalars(scalars) { $0.squareRoot() })
    }

    /// The absolute value of every element.
    public func abs() -> Tensor {
        Tensor(shape: shape, scalars: mapScalars(scalars) { Swift.abs($0) })
    }

    /// Every element limited to `[lower, upper]`; NaN stays NaN.
    /// - Precondition: `lower <= upper`.
    public func clamped(min lower: Float, max upper: Float) -> Tensor {
        precondition(lower <= upper, "clamped: min \(lower) > max \(upper)")
        return Tensor(shape: shape, scalars: mapScalars(scalars) { x in
            x < lower ? lower : (x > upper ? upper : x)
        })
    }

    /// `transform` applied to every element, called once per element in row-major order on
    /// the calling thread (so `transform` may capture mutable state).
    public func map(_ transform: (Float) -> Float) -> Tensor {
        Tensor(shape: shape, scalars: scalars.map(transform))
    }
}
