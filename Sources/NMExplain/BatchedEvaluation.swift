import NMNets
import NMTensor

extension ImageClassifier {
    /// Evaluates `count` images made on demand, `batchSize` at a time (memory stays bounded),
    /// and returns softmax(f(x_i))[target] for each, in order.
    /// - Parameters:
    ///   - count: number of images.
    ///   - batchSize: images per forward pass (≥ 1).
    ///   - makeImage: returns image i as `[1, 3, H, W]`; all images share one shape.
    /// - Complexity: ⌈count / batchSize⌉ forward passes.
    public func targetProbabilities(
        count: Int, target: Int, batchSize: Int, makeImage: (Int) -> Tensor
    ) -> [Float] {
        targetValues(count: count, target: target, batchSize: batchSize, makeImage: makeImage) { softmax($0) }
    }

    /// As `targetProbabilities`, but the raw logits f(x_i)[target].
    public func targetLogits(
        count: Int, target: Int, batchSize: Int, makeImage: (Int) -> Tensor
    ) -> [Float] {
        targetValues(count: count, target: target, batchSize: batchSize, makeImage: makeImage) { $0 }
    }

    /// Column `target` of `transform(logits)` for every image, batch by batch.
    private func targetValues(
        count: Int, target: Int, batchSize: Int, makeImage: (Int) -> Tensor, transform: (Tensor) -> Tensor
    ) -> [Float] {
        precondition(batchSize >= 1, "batched evaluation: batch size must be ≥ 1")
        var result: [Float] = []
        result.reserveCapacity(count)
        var start = 0
        while start < count {
            let end = min(start + batchSize, count)
            let batch = Tensor.concatenated((start..<end).map(makeImage), alongAxis: 0)  // [B, 3, H, W]
            let values = transform(logits(batch))  // [B, classCount]
            for row in 0..<(end - start) { result.append(values.scalars[row * classCount + target]) }
            start = end
        }
        return result
    }
}
