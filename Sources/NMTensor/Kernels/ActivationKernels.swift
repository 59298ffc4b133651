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
    reusableTensor(input.shape) { output in
        guard input.count > 0 else { return }
        input.scalars.withUnsafeBufferPointer { inputs in
            output.scalars.withUnsafeMutableBufferPointer { outputs in
                let (x, y) = (inputs.baseAddress!, outputs.baseAddress!)
                parallelFor(inputs.count, minimumChunk: 1 << 16) { range in
                    switch function {
                    case .relu: clampRange(x, y, range, upper: .infinity)
                    case .relu6: clampRange(x, y, range, upper: 6)
                    default: for i in range { y[i] = function.value(x[i]) }
                    }
                }
            }
        }
    }
}

/// `gradOutput · f′(input)` elementwise, split over the compute threads.
public func activationBackward(_ function: ActivationFunction, gradOutput: Tensor, input: Tensor) -> Tensor {
    precondition(gradOutput.shape == input.shape, "activationBackward: gradient \(gradOutput.shape) vs input \(input.shape)")
    return reusableTensor(input.shape) { gradInput in
        guard input.count > 0 else { return }
        gradOutput.scalars.withUnsafeBufferPointer { gradients in
            input.scalars.withUnsafeBufferPointer { inputs in
                gradInput.scalars.withUnsafeMutableBufferPointer { results in
                    let (g, x, r) = (gradients.baseAddress!, inputs.baseAddress!, results.baseAddress!)
                    parallelFor(inputs.count, minimumChunk: 1 << 16) { range in
                        switch function {
                        case .relu: passInsideRange(g, x, r, range, upper: .infinity)
                        case .relu6: passInsideRange(g, x, r, range, upper: 6)
                        default: for i in range { r[i] = g[i] * function.derivative(x[i]) }
                        }
                    }
                }
            }
        }
    }
}

/// `min(max(v, 0), upper)` lanewise, NaN kept: relu (upper = ∞) and relu6 (upper = 6).
@inline(__always)
func clamped(_ v: SIMD8<Float>, upper: SIMD8<Float>) -> SIMD8<Float> {
    // replacing(where:) inlines; the generic pointwiseMin/Max do not (a call per vector).
    let zero = SIMD8<Float>(repeating: 0)
    return v.replacing(with: zero, where: v .< zero).replacing(with: upper, where: v .> upper)
}

/// `y[i] = min(max(x[i], 0), upper)` over `range`, 8 lanes at a time (`y` may be `x`).
@inline(__always)
func clampRange(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ range: Range<Int>, upper: Float) {
    var i = range.lowerBound
    let top = SIMD8<Float>(repeating: upper)
    while i &+ 8 <= range.upperBound {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: clamped(v, upper: top), as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < range.upperBound {
        y[i] = min(max(x[i], 0), upper)
        i &+= 1
    }
}

/// `r[i] = 0 < x[i] < upper ? g[i] : 0` over `range`, 8 lanes at a time (`r` may be `g`).
@inline(__always)
func passInsideRange(
    _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ r: UnsafeMutablePointer<Float>, _ range: Range<Int>, upper: Float
) {
    var i = range.lowerBound
    let (zero, top) = (SIMD8<Float>(repeating: 0), SIMD8<Float>(repeating: upper))
    while i &+ 8 <= range.upperBound {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        var result = SIMD8<Float>(repeating: 0)
        result.replace(with: UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self), where: (v .> zero) .& (v .< top))
        UnsafeMutableRawPointer(r + i).storeBytes(of: result, as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < range.upperBound {
        r[i] = x[i] > 0 && x[i] < upper ? g[i] : 0
        i &+= 1
    }
}

extension ActivationFunction {
    /// For relu (∞) and relu6 (6): f is a clamp to [0, upper], which a kernel can apply to its
    /// results before storing them (see `Conv2d.forward(_:fusing:)`); nil for the others.
    public var clampUpperBound: Float? {
        switch self {
        case .relu: return .infinity
        case .relu6: return 6
        default: return nil
        }
    }

    /// Whether f′ can be read from the output f(x) as well as from x (relu, relu6: the output
    /// lies strictly inside the linear part exactly when the input does).
    public var derivativeFollowsFromOutput: Bool {
        switch self {
        case .relu, .relu6: return true
        default: return false
        }
    }
}

/// `gradOutput · f′(x)` from the output `y = f(x)`, for functions with
/// `derivativeFollowsFromOutput` (relu: y > 0; relu6: 0 < y < 6). Equals `activationBackward`
/// on the input.
public func activationBackward(_ function: ActivationFunction, gradOutput: Tensor, output: Tensor) -> Tensor {
    precondition(function.derivativeFollowsFromOutput, "activationBackward(output:): \(function) needs its input")
    // relu6 and relu are linear exactly where their output is strictly inside (0, 6) / (0, ∞),
    // which is the same test on y as on x.
    return activationBackward(function, gradOutput: gradOutput, input: output)
}

/// The derivative of relu or relu6 read from its output, for a kernel to apply to the gradient
/// it stores (one pass over that gradient less than `activationBackward`): an entry passes where
/// `0 < output < upper` and becomes 0 elsewhere (NaN in the output blocks it), exactly as
/// `activationBackward(function, gradOutput:, output:)`.
public struct ClampGate: Sendable {
    /// relu or relu6.
    public let function: ActivationFunction
    /// The activation's output, shaped like the gradient the gate applies to.
    public let output: Tensor

    public init(_ function: ActivationFunction, output: Tensor) {
        precondition(function.clampUpperBound != nil, "ClampGate: \(function) is not relu or relu6")
        self.function = function
        self.output = output
    }

    /// 6 for relu6, ∞ for relu.
    public var upper: Float { function.clampUpperBound! }

    /// `gradient · f′` as a separate pass, for kernels that cannot apply the gate as they store.
    public func applied(to gradient: Tensor) -> Tensor {
        activationBackward(function, gradOutput: gradient, output: output)
    }
}

/// `values[i] = 0 < gate[i] < upper ? values[i] : 0` over `0..<count`: a `ClampGate` applied in place.
@inline(__always)
func applyGate(_ gate: UnsafePointer<Float>, upper: Float, to values: UnsafeMutablePointer<Float>, count: Int) {
    passInsideRange(values, gate, values, 0..<count, upper: upper)
}
