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
        precondition(batchSize >= 1, "targetProbabilities: batch size must be ≥ 1")
        var result: [Float] = []
        result.reserveCapacity(count)
        var start = 0
        while start < count {
            let end = min(start + batchSize, count)
            let batch = Tensor.concatenated((start..<end).map(makeImage), alongAxis: 0)  // [B, 3, H, W]
            let probabilities = self.probabilities(batch)  // [B, classCount]
            for row in 0..<(end - start) { result.append(probabilities.scalars[row * classCount + target]) }
            start = end
        }
        return result
    }
}
