import NMTensor

/// Central finite differences of a scalar function, accumulated in Double:
/// `∂f/∂x_i ≈ (f(x + ε e_i) − f(x − ε e_i)) / 2ε` for every element of `x`.
public func numericalGradient(of function: (Tensor) -> Double, at point: Tensor, epsilon: Float = 1e-2) -> Tensor {
    var gradient = Tensor.zeros(point.shape)
    var probe = point
    for index in 0..<point.count {
        let original = point.scalars[index]
        probe.scalars[index] = original + epsilon
        let plus = function(probe)
        probe.scalars[index] = original - epsilon
        let minus = function(probe)
        probe.scalars[index] = original
        gradient.scalars[index] = Float((plus - minus) / (2 * Double(epsilon)))
    }
    return gradient
}

/// `Σ weights ⊙ values` in Double: a scalar probe whose gradient with respect to `values` is `weights`.
public func weightedSum(_ values: Tensor, _ weights: Tensor) -> Double {
    precondition(values.shape == weights.shape, "weightedSum: \(values.shape) vs \(weights.shape)")
    var sum = 0.0
    for (value, weight) in zip(values.scalars, weights.scalars) { sum += Double(value) * Double(weight) }
    return sum
}
