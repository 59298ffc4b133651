import NMTensor

/// A pointwise nonlinearity (ReLU, ReLU6, LeakyReLU, Sigmoid, SiLU, Tanh).
public struct Activation: ParameterFreeLayer {
    public let function: ActivationFunction

    public init(_ function: ActivationFunction) { self.function = function }

    public static let relu = Activation(.relu)
    public static let relu6 = Activation(.relu6)

    /// The output for relu/relu6 (their derivative follows from it, and the input can be freed
    /// early), the input otherwise.
    public struct Cache {
        var saved: Tensor
        var isOutput: Bool
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Cache) {
        let output = activationForward(function, input)
        if function.derivativeFollowsFromOutput {
            return (output, Cache(saved: output, isOutput: true))
        }
        return (output, Cache(saved: input, isOutput: false))
    }

    public func backward(_ gradOutput: Tensor, cache: Cache) -> Tensor {
        if cache.isOutput {
            return activationBackward(function, gradOutput: gradOutput, output: cache.saved)
        }
        return activationBackward(function, gradOutput: gradOutput, input: cache.saved)
    }
}
