import NMTensor

/// Fully connected layer (PyTorch `nn.Linear`): `y = x · Wᵀ + b` on `[N, inFeatures]`.
public struct Linear: Layer {
    public var weight: Tensor  // [outFeatures, inFeatures]
    public var bias: Tensor?  // [outFeatures]

    public init(weight: Tensor, bias: Tensor? = nil) {
        precondition(weight.rank == 2, "Linear: weight \(weight.shape) must be [out, in]")
        precondition(bias == nil || bias!.shape == [weight.shape[0]], "Linear: bias \(bias!.shape) for \(weight.shape[0]) outputs")
        self.weight = weight
        self.bias = bias
    }

    /// A zero-initialised layer (weights are loaded or initialised later).
    public init(inputFeatures: Int, outputFeatures: Int, hasBias: Bool = true) {
        self.init(weight: .zeros([outputFeatures, inputFeatures]), bias: hasBias ? .zeros([outputFeatures]) : nil)
    }

    public var inputFeatures: Int { weight.shape[1] }
    public var outputFeatures: Int { weight.shape[0] }

    public struct Cache {
        var input: Tensor  // [N, in]
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Cache) {
        precondition(input.rank == 2 && input.shape[1] == inputFeatures, "Linear: input \(input.shape) is not [N, \(inputFeatures)]")
        var output = matmul(input, weight, transposeB: true)  // [N, out]
        if let bias { output = channelAffine(output, scale: nil, shift: bias) }
        return (output, Cache(input: input))
    }

    public func backward(_ gradOutput: Tensor, cache: Cache, parameterGradients: Bool) -> (gradInput: Tensor, gradLayer: Linear?) {
        let gradInput = matmul(gradOutput, weight)  // [N, in]
        guard parameterGradients else { return (gradInput, nil) }
        var gradLayer = self
        gradLayer.weight = matmul(gradOutput, cache.input, transposeA: true)  // [out, in]
        gradLayer.bias = bias.map { _ in channelSum(gradOutput) }
        return (gradInput, gradLayer)
    }

    public func visitTensors(prefix: String, _ visit: (String, TensorRole, Tensor) -> Void) {
        visit(prefix + "weight", .parameter, weight)
        if let bias { visit(prefix + "bias", .parameter, bias) }
    }

    public mutating func updateTensors(prefix: String, _ update: (String, TensorRole, inout Tensor) -> Void) {
        update(prefix + "weight", .parameter, &weight)
        if bias != nil { update(prefix + "bias", .parameter, &bias!) }
    }
}
