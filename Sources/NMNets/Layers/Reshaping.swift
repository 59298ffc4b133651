import NMTensor

/// Flattens `[N, ...]` to `[N, product of the rest]` (PyTorch `torch.flatten(x, 1)`).
public struct Flatten: ParameterFreeLayer {
    public init() {}

    public struct Cache {
        var inputShape: [Int]
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Cache) {
        (input.reshaped([input.shape[0], -1]), Cache(inputShape: input.shape))
    }

    public func backward(_ gradOutput: Tensor, cache: Cache) -> Tensor {
        gradOutput.reshaped(cache.inputShape)
    }
}

/// Dropout at inference: the identity (the library evaluates trained networks; training loops
/// in this package do not use dropout).
public struct Dropout: ParameterFreeLayer {
    /// The drop probability used in training, kept for documentation and parity with PyTorch.
    public let probability: Float

    public init(probability: Float) { self.probability = probability }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Void) { (input, ()) }

    public func backward(_ gradOutput: Tensor, cache: Void) -> Tensor { gradOutput }
}

/// Per-channel input normalisation `(x − mean) / std` applied to pixels in [0, 1], so that a
/// model's input gradient is taken with respect to the pixels. Holds constants, not weights.
public struct Normalization: ParameterFreeLayer {
    public let mean: [Float]
    public let standardDeviation: [Float]

    public init(mean: [Float], standardDeviation: [Float]) {
        precondition(mean.count == standardDeviation.count, "Normalization: \(mean.count) means for \(standardDeviation.count) deviations")
        precondition(standardDeviation.allSatisfy { $0 > 0 }, "Normalization: standard deviations must be positive")
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    /// ImageNet statistics used by torchvision models.
    public static let imageNet = Normalization(mean: [0.485, 0.456, 0.406], standardDeviation: [0.229, 0.224, 0.225])

    private var scale: Tensor { Tensor(shape: [mean.count], scalars: standardDeviation.map { 1 / $0 }) }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Void) {
        let shift = Tensor(shape: [mean.count], scalars: zip(mean, standardDeviation).map { -$0 / $1 })
        return (channelAffine(input, scale: scale, shift: shift), ())
    }

    public func backward(_ gradOutput: Tensor, cache: Void) -> Tensor {
        channelAffine(gradOutput, scale: scale, shift: nil)
    }
}
