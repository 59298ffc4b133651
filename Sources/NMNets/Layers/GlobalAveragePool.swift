import NMTensor

/// Mean over the spatial positions: `[N, C, H, W] → [N, C]` (PyTorch's
/// `AdaptiveAvgPool2d(1)` followed by `flatten(1)`).
public struct GlobalAveragePool: ParameterFreeLayer {
    public init() {}

    public struct Cache {
        var inputShape: [Int]
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Cache) {
        precondition(input.rank == 4, "GlobalAveragePool: input \(input.shape) is not [N, C, H, W]")
        let pooled = globalAveragePool(input)  // [N, C, 1, 1]
        return (pooled.reshaped([input.shape[0], input.shape[1]]), Cache(inputShape: input.shape))
    }

    public func backward(_ gradOutput: Tensor, cache: Cache) -> Tensor {
        let shape = cache.inputShape
        return globalAveragePoolBackward(gradOutput.reshaped([shape[0], shape[1], 1, 1]), height: shape[2], width: shape[3])
    }
}
