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
        let (batch, channels) = (input.shape[0], input.shape[1])
        let plane = input.shape[2] * input.shape[3]
        precondition(plane > 0, "GlobalAveragePool: empty spatial size in \(input.shape)")
        var output = [Float](repeating: 0, count: batch * channels)
        for index in 0..<(batch * channels) {
            var sum: Float = 0
            for i in (index * plane)..<((index + 1) * plane) { sum += input.scalars[i] }
            output[index] = sum / Float(plane)
        }
        return (Tensor(shape: [batch, channels], scalars: output), Cache(inputShape: input.shape))
    }

    public func backward(_ gradOutput: Tensor, cache: Cache) -> Tensor {
        let plane = cache.inputShape[2] * cache.inputShape[3]
        var gradInput = [Float](repeating: 0, count: gradOutput.count * plane)
        for index in 0..<gradOutput.count {
            let share = gradOutput.scalars[index] / Float(plane)
            for i in (index * plane)..<((index + 1) * plane) { gradInput[i] = share }
        }
        return Tensor(shape: cache.inputShape, scalars: gradInput)
    }
}
