import Foundation

/// The optimiser that updates NeuroMask's mask parameters w.
public enum MaskOptimizer: Sendable, Equatable {
    /// TensorFlow 1's `RMSPropOptimizer` as the authors ran it (momentum 0):
    /// `ms ← ms + (g² − ms)(1 − decay)`, `w ← w − lr · g / √(ms + ε)`, with `ms` starting at
    /// `initialAccumulator` (1 in TF1; PyTorch starts at 0).
    case tensorFlowRMSProp(decay: Float = 0.9, epsilon: Float = 1e-10, initialAccumulator: Float = 1)
    /// Adam (Kingma & Ba 2015) with bias correction.
    case adam(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8)

    /// The CLI name: "rmsprop" or "adam".
    public var name: String {
        switch self {
        case .tensorFlowRMSProp: return "rmsprop"
        case .adam: return "adam"
        }
    }
}

/// The running state of a `MaskOptimizer` over a parameter vector.
public struct MaskOptimizerState: Sendable {
    public let optimizer: MaskOptimizer
    public let learningRate: Float
    private var first: [Float]
    private var second: [Float]
    private var step = 0

    public init(_ optimizer: MaskOptimizer, learningRate: Float, count: Int) {
        self.optimizer = optimizer
        self.learningRate = learningRate
        first = [Float](repeating: 0, count: count)
        if case .tensorFlowRMSProp(_, _, let initial) = optimizer {
            second = [Float](repeating: initial, count: count)
        } else {
            second = [Float](repeating: 0, count: count)
        }
    }

    /// The accumulated mean squares (RMSProp) or second moments (Adam).
    public var secondMoments: [Float] { second }

    /// Applies one update to `parameters` given their gradient.
    public mutating func update(_ parameters: inout [Float], gradient: [Float]) {
        precondition(parameters.count == gradient.count && gradient.count == second.count, "MaskOptimizerState: size mismatch")
        step += 1
        switch optimizer {
        case .tensorFlowRMSProp(let decay, let epsilon, _):
            for i in parameters.indices {
                let g = gradient[i]
                second[i] += (g * g - second[i]) * (1 - decay)
                parameters[i] -= learningRate * g / (second[i] + epsilon).squareRoot()
            }
        case .adam(let beta1, let beta2, let epsilon):
            let correction1 = 1 - powf(beta1, Float(step))
            let correction2 = 1 - powf(beta2, Float(step))
            for i in parameters.indices {
                let g = gradient[i]
                first[i] = beta1 * first[i] + (1 - beta1) * g
                second[i] = beta2 * second[i] + (1 - beta2) * g * g
                let firstHat = first[i] / correction1
                let secondHat = second[i] / correction2
                parameters[i] -= learningRate * firstHat / (secondHat.squareRoot() + epsilon)
            }
        }
    }
}
