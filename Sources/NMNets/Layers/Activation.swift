import NMTensor

/// A pointwise nonlinearity (ReLU, ReLU6, LeakyReLU, Sigmoid, SiLU, Tanh).
public struct Activation: ParameterFreeLayer {
    public let function: ActivationFunction

    public init(_ function: ActivationFunction) { self.function = function }

    public static let relu = Activation(.relu)
    public static let relu6 = Activation(.relu6)

    public struct Cache {
        var input: Tensor
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Cache) {
        (activationForward(function, input), Cache(input: input))
    }

    public func backward(_ gradOutput: Tensor, cache: Cache) -> Tensor {
        activationBackward(function, gradOutput: gradOutput, input: cache.input)
    }
}
