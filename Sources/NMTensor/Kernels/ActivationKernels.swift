import Foundation

/// The pointwise nonlinearities of the network layers, with their derivatives.
public enum ActivationFunction: Sendable, Equatable {
    /// max(x, 0)
    case relu
    /// min(max(x, 0), 6)
    case relu6
    /// x for x ≥ 0, slope·x otherwise
    case leakyReLU(slope: Float)
    /// 1 / (1 + e^−x)
    case sigmoid
    /// x · sigmoid(x) (also called swish)
    case silu
    /// tanh(x)
    case tanh

    /// f(x) for one value.
    @inlinable
    public func value(_ x: Float) -> Float {
        switch self {
        case .relu: return x > 0 ? x : 0
        case .relu6: return min(max(x, 0), 6)
        case .leakyReLU(let slope): return x >= 0 ? x : slope * x
        case .sigmoid: return stableSigmoid(x)
        case .silu: return x * stableSigmoid(x)
        case .tanh: return Foundation.tanh(x)
        }
    }

    /// f′(x) for one value. At the kinks of relu/relu6 the derivative is 0 below and 1 inside,
    /// as in PyTorch (relu′(0) = 0, relu6′(0) = 0, relu6′(6) = 0).
    @inlinable
    public func derivative(_ x: Float) -> Float {
        switch self {
        case .relu: return x > 0 ? 1 : 0
        case .relu6: return x > 0 && x < 6 ? 1 : 0
        case .leakyReLU(let slope): return x >= 0 ? 1 : slope
        case .sigmoid:
            let s = stableSigmoid(x)
            return s * (1 - s)
        case .silu:
            let s = stableSigmoid(x)
            return s * (1 + x * (1 - s))
        case .tanh:
            let t = Foundation.tanh(x)
            return 1 - t * t
        }
    }
}

/// 1 / (1 + e^−x) without overflow for large |x|.
@inlinable
public func stableSigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + expf(-x)) }
    let e = expf(x)
    return e / (1 + e)
}

/// `f(input)` elementwise, split over the compute threads.
public func activationForward(_ function: ActivationFunction, _ input: Tensor) -> Tensor {
    var output = input
    output.scalars.withUnsafeMutableBufferPointer { values in
        let base = values.baseAddress!
        parallelFor(values.count, minimumChunk: 1 << 15) { range in
            switch function {
            case .relu: for i in range { base[i] = base[i] > 0 ? base[i] : 0 }
            case .relu6: for i in range { base[i] = min(max(base[i], 0), 6) }
            default: for i in range { base[i] = function.value(base[i]) }
            }
        }
    }
    return output
}

/// `gradOutput · f′(input)` elementwise, split over the compute threads.
public func activationBackward(_ function: ActivationFunction, gradOutput: Tensor, input: Tensor) -> Tensor {
    precondition(gradOutput.shape == input.shape, "activationBackward: gradient \(gradOutput.shape) vs input \(input.shape)")
    var gradInput = gradOutput
    gradInput.scalars.withUnsafeMutableBufferPointer { gradients in
        input.scalars.withUnsafeBufferPointer { inputs in
            let base = gradients.baseAddress!, x = inputs.baseAddress!
            parallelFor(gradients.count, minimumChunk: 1 << 15) { range in
                switch function {
                case .relu: for i in range { base[i] = x[i] > 0 ? base[i] : 0 }
                case .relu6: for i in range { base[i] = x[i] > 0 && x[i] < 6 ? base[i] : 0 }
                default: for i in range { base[i] *= function.derivative(x[i]) }
                }
            }
        }
    }
    return gradInput
}
