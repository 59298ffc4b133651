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

    /// Applies one update to `parameters` given their gradient (element by element, through
    /// pointers, so that the loops vectorise).
    public mutating func update(_ parameters: inout [Float], gradient: [Float]) {
        precondition(parameters.count == gradient.count && gradient.count == second.count, "MaskOptimizerState: size mismatch")
        step += 1
        let (learningRate, count, step) = (self.learningRate, parameters.count, self.step)
        let optimizer = self.optimizer
        parameters.withUnsafeMutableBufferPointer { w in
            gradient.withUnsafeBufferPointer { g in
                first.withUnsafeMutableBufferPointer { m in
                    second.withUnsafeMutableBufferPointer { v in
                        switch optimizer {
                        case .tensorFlowRMSProp(let decay, let epsilon, _):
                            for i in 0..<count {
                                v[i] += (g[i] * g[i] - v[i]) * (1 - decay)
                                w[i] -= learningRate * g[i] / (v[i] + epsilon).squareRoot()
                            }
                        case .adam(let beta1, let beta2, let epsilon):
                            let correction1 = 1 - powf(beta1, Float(step))
                            let correction2 = 1 - powf(beta2, Float(step))
                            for i in 0..<count {
                                m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
                                let firstHat = m[i] / correction1
                                let secondHat = v[i] / correction2
                                w[i] -= learningRate * firstHat / (secondHat.squareRoot() + epsilon)
                            }
                        }
                    }
                }
            }
        }
    }
}
