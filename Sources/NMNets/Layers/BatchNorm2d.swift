import Foundation
import NMTensor

/// Batch normalisation with stored statistics (PyTorch `nn.BatchNorm2d` in eval mode):
/// `y = (x − running_mean) / sqrt(running_var + ε) · weight + bias`, per channel of `[N, C, H, W]`.
/// Training-mode batch statistics are not implemented; the layer is an affine map per channel
/// and can be folded into the preceding convolution (`Conv2d.folding(_:)`).
public struct BatchNorm2d: Layer {
    public var weight: Tensor  // [C] (γ)
    public var bias: Tensor  // [C] (β)
    public var runningMean: Tensor  // [C]
    public var runningVariance: Tensor  // [C]
    public let epsilon: Float

    /// A BatchNorm with γ = 1, β = 0, mean 0, variance 1 (the PyTorch initialisation).
    public init(channels: Int, epsilon: Float = 1e-5) {
        weight = .ones([channels])
        bias = .zeros([channels])
        runningMean = .zeros([channels])
        runningVariance = .ones([channels])
        self.epsilon = epsilon
    }

    public var channels: Int { weight.count }

    /// The per-channel affine map this layer applies: `y = x · scale + shift`.
    public var scaleAndShift: (scale: Tensor, shift: Tensor) {
        var scale = [Float](repeating: 0, count: channels)
        var shift = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            scale[c] = weight.scalars[c] / (runningVariance.scalars[c] + epsilon).squareRoot()
            shift[c] = bias.scalars[c] - runningMean.scalars[c] * scale[c]
        }
        return (Tensor(shape: [channels], scalars: scale), Tensor(shape: [channels], scalars: shift))
    }

    public struct Cache {
        var input: Tensor?  // kept only to compute ∂L/∂γ
        var scale: Tensor
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Cache) {
        precondition(input.rank >= 2 && input.shape[1] == channels, "BatchNorm2d: input \(input.shape) does not have \(channels) channels")
        let (scale, shift) = scaleAndShift
        return (channelAffine(input, scale: scale, shift: shift), Cache(input: input, scale: scale))
    }

    public func backward(_ gradOutput: Tensor, cache: Cache, parameterGradients: Bool) -> (gradInput: Tensor, gradLayer: BatchNorm2d?) {
        let gradInput = channelAffine(gradOutput, scale: cache.scale, shift: nil)
        guard parameterGradients, let input = cache.input else { return (gradInput, nil) }
        // ∂L/∂γ_c = Σ g · x̂ with x̂ = (x − μ)/σ;  ∂L/∂β_c = Σ g.
        var normalised = BatchNorm2d(channels: channels, epsilon: epsilon)
        normalised.runningMean = runningMean
        normalised.runningVariance = runningVariance
        let standardised = normalised.forward(input).output
        var gradLayer = self
        gradLayer.weight = channelDotSum(gradOutput, standardised)
        gradLayer.bias = channelSum(gradOutput)
        gradLayer.runningMean = .zeros([channels])
        gradLayer.runningVariance = .zeros([channels])
        return (gradInput, gradLayer)
    }

    public func visitTensors(prefix: String, _ visit: (String, TensorRole, Tensor) -> Void) {
        visit(prefix + "weight", .parameter, weight)
        visit(prefix + "bias", .parameter, bias)
        visit(prefix + "running_mean", .buffer, runningMean)
        visit(prefix + "running_var", .buffer, runningVariance)
    }

    public mutating func updateTensors(prefix: String, _ update: (String, TensorRole, inout Tensor) -> Void) {
        update(prefix + "weight", .parameter, &weight)
        update(prefix + "bias", .parameter, &bias)
        update(prefix + "running_mean", .buffer, &runningMean)
        update(prefix + "running_var", .buffer, &runningVariance)
    }
}

extension Conv2d {
    /// This convolution followed by `batchNorm`, as one convolution with a bias:
    /// `W' = W · scale[oc]`, `b' = b · scale + shift`. Exact up to rounding.
    public func folding(_ batchNorm: BatchNorm2d) -> Conv2d {
        precondition(batchNorm.channels == outputChannels, "Conv2d.folding: BatchNorm has \(batchNorm.channels) channels, convolution \(outputChannels)")
        let (scale, shift) = batchNorm.scaleAndShift
        var folded = self
        folded.weight = channelAffine(weight.reshaped([1, outputChannels, -1]), scale: scale, shift: nil)  // [1, OC, IC/g·KH·KW]
            .reshaped(weight.shape)
        let oldBias = bias ?? .zeros([outputChannels])
        folded.bias = Tensor(shape: [outputChannels], scalars: (0..<outputChannels).map { oldBias.scalars[$0] * scale.scalars[$0] + shift.scalars[$0] })
        return folded
    }
}
