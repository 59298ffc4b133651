import Foundation
import NMTensor

/// A first-order optimiser over a layer's named parameters.
///
/// `update` reads ∂L/∂θ from `gradients` (the gradient layer that `backward` returns with
/// `parameterGradients: true`) and changes every tensor of role `.parameter` in `layer`;
/// buffers (BatchNorm statistics) are left alone. Per-parameter state (momentum, moments) is
/// keyed by the tensor's full PyTorch name, so one optimiser must keep serving the same model.
public protocol Optimizer: Sendable {
    /// Applies one step to every parameter of `layer`.
    /// - Precondition: `gradients` has a tensor of the same shape for every parameter name.
    mutating func update<L: Layer>(_ layer: inout L, gradients: L)
}

/// The parameter gradients of a gradient layer by full name.
func parameterGradients<L: Layer>(of gradients: L) -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    gradients.visitTensors(prefix: "") { name, role, tensor in
        if role == .parameter { result[name] = tensor }
    }
    return result
}

/// The gradient for `name`, checked against the parameter's shape.
private func gradient(_ name: String, for parameter: Tensor, in gradients: [String: Tensor]) -> [Float] {
    guard let gradient = gradients[name] else {
        preconditionFailure("optimizer: no gradient for parameter \(name)")
    }
    precondition(gradient.shape == parameter.shape, "optimizer: gradient \(gradient.shape) for parameter \(name) of shape \(parameter.shape)")
    return gradient.scalars
}

/// Stochastic gradient descent with momentum and L2 weight decay, as PyTorch's `torch.optim.SGD`
/// (dampening 0, no Nesterov):
///
///     g ← ∂L/∂θ + weightDecay · θ
///     v ← momentum · v + g          (v starts at 0, so the first step has v = g)
///     θ ← θ − learningRate · v
public struct SGD: Optimizer {
    /// The step size (may be changed between steps for a schedule).
    public var learningRate: Float
    /// The velocity's decay per step, in [0, 1); 0 is plain gradient descent.
    public let momentum: Float
    /// The L2 penalty coefficient added to each gradient (≥ 0).
    public let weightDecay: Float
    /// The velocity of each parameter by full name.
    public private(set) var velocities: [String: Tensor] = [:]

    /// - Parameters:
    ///   - learningRate: > 0.
    ///   - momentum: in [0, 1).
    ///   - weightDecay: ≥ 0.
    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        precondition(learningRate > 0, "SGD: learning rate \(learningRate) must be positive")
        precondition(momentum >= 0 && momentum < 1, "SGD: momentum \(momentum) must be in [0, 1)")
        precondition(weightDecay >= 0, "SGD: weight decay \(weightDecay) must be ≥ 0")
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    public mutating func update<L: Layer>(_ layer: inout L, gradients: L) {
        let gradients = parameterGradients(of: gradients)
        let (learningRate, momentum, weightDecay) = (self.learningRate, self.momentum, self.weightDecay)
        var velocities = self.velocities
        layer.updateTensors(prefix: "") { name, role, parameter in
            guard role == .parameter else { return }
            var step = gradient(name, for: parameter, in: gradients)  // g, then v
            var values = parameter.scalars  // θ
            if weightDecay != 0 {
                for index in step.indices { step[index] += weightDecay * values[index] }
            }
            if momentum != 0 {
                if let previous = velocities[name]?.scalars {
                    for index in step.indices { step[index] += momentum * previous[index] }
                }
                velocities[name] = Tensor(shape: parameter.shape, scalars: step)
            }
            for index in values.indices { values[index] -= learningRate * step[index] }
            parameter.scalars = values
        }
        self.velocities = velocities
    }
}

/// Adam (Kingma & Ba, arXiv:1412.6980, Algorithm 1) as PyTorch's `torch.optim.Adam`, with
/// optional L2 weight decay added to the gradient (not AdamW's decoupled decay):
///
///     g ← ∂L/∂θ + weightDecay · θ
///     m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²      (m, v start at 0; t counts steps from 1)
///     θ ← θ − learningRate · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
public struct Adam: Optimizer {
    /// The step size (may be changed between steps for a schedule).
    public var learningRate: Float
    /// Decay of the first-moment estimate, in [0, 1).
    public let beta1: Float
    /// Decay of the second-moment estimate, in [0, 1).
    public let beta2: Float
    /// Added to √v̂ to keep the step finite (> 0).
    public let epsilon: Float
    /// The L2 penalty coefficient added to each gradient (≥ 0).
    public let weightDecay: Float
    /// The number of steps taken so far (t in the paper).
    public private(set) var step = 0
    /// The first and second moment estimates of each parameter by full name.
    public private(set) var moments: [String: (first: Tensor, second: Tensor)] = [:]

    /// - Parameters:
    ///   - learningRate: > 0 (PyTorch's default is 1e-3).
    ///   - beta1, beta2: in [0, 1).
    ///   - epsilon: > 0.
    ///   - weightDecay: ≥ 0.
    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
        precondition(learningRate > 0, "Adam: learning rate \(learningRate) must be positive")
        precondition(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "Adam: betas (\(beta1), \(beta2)) must be in [0, 1)")
        precondition(epsilon > 0, "Adam: epsilon \(epsilon) must be positive")
        precondition(weightDecay >= 0, "Adam: weight decay \(weightDecay) must be ≥ 0")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public mutating func update<L: Layer>(_ layer: inout L, gradients: L) {
        let gradients = parameterGradients(of: gradients)
        step += 1
        let (learningRate, beta1, beta2, epsilon, weightDecay) = (self.learningRate, self.beta1, self.beta2, self.epsilon, self.weightDecay)
        // Bias corrections in Double: 1 − β₂ᵗ is tiny for small t and β₂ near 1.
        let correction1 = Float(1 - pow(Double(beta1), Double(step)))
        let correction2 = Float(1 - pow(Double(beta2), Double(step)))
        var moments = self.moments
        layer.updateTensors(prefix: "") { name, role, parameter in
            guard role == .parameter else { return }
            var grad = gradient(name, for: parameter, in: gradients)  // g
            var values = parameter.scalars  // θ
            if weightDecay != 0 {
                for index in grad.indices { grad[index] += weightDecay * values[index] }
            }
            var first = moments[name]?.first.scalars ?? [Float](repeating: 0, count: grad.count)  // m
            var second = moments[name]?.second.scalars ?? [Float](repeating: 0, count: grad.count)  // v
            for index in grad.indices {
                first[index] = beta1 * first[index] + (1 - beta1) * grad[index]
                second[index] = beta2 * second[index] + (1 - beta2) * grad[index] * grad[index]
                let firstHat = first[index] / correction1
                let secondHat = second[index] / correction2
                values[index] -= learningRate * firstHat / (secondHat.squareRoot() + epsilon)
            }
            parameter.scalars = values
            moments[name] = (Tensor(shape: parameter.shape, scalars: first), Tensor(shape: parameter.shape, scalars: second))
        }
        self.moments = moments
    }
}
