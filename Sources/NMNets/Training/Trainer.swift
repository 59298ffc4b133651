import NMTensor

/// What one training epoch achieved.
public struct EpochSummary: Sendable, Equatable {
    /// The epoch's index, from 0.
    public let epoch: Int
    /// The mean softmax cross-entropy over the epoch's examples (each batch weighted by its size),
    /// measured before each batch's update.
    public let meanLoss: Float
    /// The fraction of the epoch's examples classified correctly, in [0, 1], measured before each
    /// batch's update (so it lags the weights at the epoch's end).
    public let accuracy: Float
}

/// Mini-batch training of a classifier with softmax cross-entropy.
public enum Trainer {
    /// Trains `network` for `epochs` passes over the examples in mini-batches, reshuffled every
    /// epoch by a generator seeded with `seed`; the last batch of an epoch may be smaller.
    /// Deterministic for a fixed seed, optimiser state and thread count.
    ///
    /// The network runs in its inference form (BatchNorm uses its running statistics, Dropout is
    /// the identity), so this suits networks without batch statistics.
    /// - Parameters:
    ///   - network: `[B, ...]` inputs → `[B, K]` logits; updated in place.
    ///   - images: `[N, ...]` inputs (`[N, C, H, W]` for images), N ≥ 1.
    ///   - labels: N class indices in `0..<K`.
    ///   - epochs: ≥ 0.
    ///   - batchSize: ≥ 1.
    ///   - optimizer: updated in place (its state carries over to later calls).
    ///   - seed: decides the order of the examples.
    ///   - progress: called after every epoch.
    /// - Returns: one summary per epoch.
    /// - Complexity: one forward and one backward pass per example per epoch.
    @discardableResult
    public static func train<O: Optimizer>(
        _ network: inout Sequential, images: Tensor, labels: [Int], epochs: Int, batchSize: Int,
        optimizer: inout O, seed: UInt64, progress: ((EpochSummary) -> Void)? = nil
    ) -> [EpochSummary] {
        precondition(images.rank >= 1 && images.shape[0] == labels.count && !labels.isEmpty, "Trainer.train: \(labels.count) labels for images \(images.shape)")
        precondition(epochs >= 0 && batchSize >= 1, "Trainer.train: epochs \(epochs) and batch size \(batchSize)")
        var generator = SeededGenerator(seed: seed)
        var summaries: [EpochSummary] = []
        for epoch in 0..<epochs {
            let order = shuffledIndices(labels.count, generator: &generator)
            var lossSum = 0.0
            var correct = 0
            for start in stride(from: 0, to: order.count, by: batchSize) {
                let batchIndices = Array(order[start..<min(start + batchSize, order.count)])
                let batch = gatherExamples(images, batchIndices)  // [B, ...]
                let batchLabels = batchIndices.map { labels[$0] }
                let (logits, cache) = network.forward(batch)  // [B, K]
                let (loss, gradLogits) = crossEntropy(logits: logits, targets: batchLabels)
                lossSum += Double(loss) * Double(batchIndices.count)
                correct += zip(logits.argmax(alongAxis: 1), batchLabels).filter { $0 == $1 }.count
                let (_, gradNetwork) = network.backward(gradLogits, cache: cache, parameterGradients: true)
                guard let gradNetwork else { preconditionFailure("Trainer.train: the network returned no parameter gradients") }
                optimizer.update(&network, gradients: gradNetwork)
            }
            let summary = EpochSummary(
                epoch: epoch, meanLoss: Float(lossSum / Double(labels.count)), accuracy: Float(correct) / Float(labels.count))
            summaries.append(summary)
            progress?(summary)
        }
        return summaries
    }

    /// The fraction of `images` whose largest logit is at their label, in [0, 1].
    /// - Parameters:
    ///   - network: `[B, ...]` → `[B, K]` logits.
    ///   - images: `[N, ...]`, N ≥ 1.
    ///   - labels: N class indices.
    ///   - batchSize: how many examples go through the network at once (≥ 1).
    public static func accuracy(of network: Sequential, images: Tensor, labels: [Int], batchSize: Int = 256) -> Float {
        precondition(images.rank >= 1 && images.shape[0] == labels.count && !labels.isEmpty, "Trainer.accuracy: \(labels.count) labels for images \(images.shape)")
        let predicted = predictions(of: network, images: images, batchSize: batchSize)
        return Float(zip(predicted, labels).filter { $0 == $1 }.count) / Float(labels.count)
    }

    /// The index of the largest logit for each of `images` `[N, ...]`, computed in batches.
    public static func predictions(of network: Sequential, images: Tensor, batchSize: Int = 256) -> [Int] {
        precondition(images.rank >= 1 && batchSize >= 1, "Trainer.predictions: images \(images.shape), batch size \(batchSize)")
        let count = images.shape[0]
        var result: [Int] = []
        result.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: batchSize) {
            let batch = images.sliced(alongAxis: 0, start..<min(start + batchSize, count))
            result += network(batch).argmax(alongAxis: 1)
        }
        return result
    }

    /// A uniformly random permutation of `0..<count` (Fisher–Yates; each draw is the high word of
    /// a 64×64-bit product, so the order depends only on the generator, not on the standard
    /// library's shuffle).
    static func shuffledIndices(_ count: Int, generator: inout SeededGenerator) -> [Int] {
        var indices = Array(0..<count)
        var position = count - 1
        while position > 0 {
            let other = Int(generator.next().multipliedFullWidth(by: UInt64(position + 1)).high)
            indices.swapAt(position, other)
            position -= 1
        }
        return indices
    }

    /// The examples (rows along axis 0) of `tensor` at `indices`, in that order.
    static func gatherExamples(_ tensor: Tensor, _ indices: [Int]) -> Tensor {
        let exampleSize = tensor.count / max(tensor.shape[0], 1)
        var scalars: [Float] = []
        scalars.reserveCapacity(exampleSize * indices.count)
        for index in indices {
            scalars.append(contentsOf: tensor.scalars[(index * exampleSize)..<((index + 1) * exampleSize)])
        }
        var shape = tensor.shape
        shape[0] = indices.count
        return Tensor(shape: shape, scalars: scalars)
    }
}
