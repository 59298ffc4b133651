import Foundation
import NMTensor

/// Row-wise softmax of `[N, K]` logits, computed with the maximum subtracted (no overflow).
public func softmax(_ logits: Tensor) -> Tensor {
    let logProbabilities = logSoftmax(logits)
    return Tensor(shape: logits.shape, scalars: logProbabilities.scalars.map { expf($0) })
}

/// Row-wise log-softmax of `[N, K]` logits: `x − max − log Σ exp(x − max)`.
public func logSoftmax(_ logits: Tensor) -> Tensor {
    precondition(logits.rank == 2, "logSoftmax: logits \(logits.shape) are not [N, K]")
    let (rows, classes) = (logits.shape[0], logits.shape[1])
    var result = logits.scalars
    for row in 0..<rows {
        let range = (row * classes)..<((row + 1) * classes)
        let maximum = result[range].max() ?? 0
        var sum = 0.0
        for i in range { sum += Double(expf(result[i] - maximum)) }
        let logSum = Float(log(sum))
        for i in range { result[i] = result[i] - maximum - logSum }
    }
    return Tensor(shape: logits.shape, scalars: result)
}

/// Mean softmax cross-entropy of `[N, K]` logits against class indices, with its gradient:
/// `L = −(1/N) Σ_n log softmax(x_n)[t_n]`, `∂L/∂x_n = (softmax(x_n) − onehot(t_n)) / N`.
/// - Precondition: one target per row, each in `0..<K`.
public func crossEntropy(logits: Tensor, targets: [Int]) -> (loss: Float, gradLogits: Tensor) {
    precondition(logits.rank == 2 && targets.count == logits.shape[0], "crossEntropy: \(targets.count) targets for logits \(logits.shape)")
    let (rows, classes) = (logits.shape[0], logits.shape[1])
    let logProbabilities = logSoftmax(logits)
    var loss = 0.0
    var gradient = logProbabilities.scalars.map { expf($0) / Float(rows) }
    for (row, target) in targets.enumerated() {
        precondition((0..<classes).contains(target), "crossEntropy: target \(target) outside 0..<\(classes)")
        loss -= Double(logProbabilities.scalars[row * classes + target])
        gradient[row * classes + target] -= 1 / Float(rows)
    }
    return (Float(loss / Double(rows)), Tensor(shape: logits.shape, scalars: gradient))
}

/// Softmax as a layer over `[N, K]`.
public struct Softmax: ParameterFreeLayer {
    public init() {}

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Tensor) {
        let output = softmax(input)
        return (output, output)
    }

    /// ∂L/∂x = s ⊙ (g − Σ g ⊙ s) per row.
    public func backward(_ gradOutput: Tensor, cache output: Tensor) -> Tensor {
        let classes = output.shape[1]
        var gradInput = gradOutput.scalars
        for row in 0..<output.shape[0] {
            let range = (row * classes)..<((row + 1) * classes)
            var dot: Float = 0
            for i in range { dot += gradOutput.scalars[i] * output.scalars[i] }
            for i in range { gradInput[i] = output.scalars[i] * (gradOutput.scalars[i] - dot) }
        }
        return Tensor(shape: output.shape, scalars: gradInput)
    }
}

/// Log-softmax as a layer over `[N, K]`.
public struct LogSoftmax: ParameterFreeLayer {
    public init() {}

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Tensor) {
        let output = logSoftmax(input)
        return (output, output)
    }

    /// ∂L/∂x = g − softmax(x) · Σ g per row.
    public func backward(_ gradOutput: Tensor, cache output: Tensor) -> Tensor {
        let classes = output.shape[1]
        var gradInput = gradOutput.scalars
        for row in 0..<output.shape[0] {
            let range = (row * classes)..<((row + 1) * classes)
            var sum: Float = 0
            for i in range { sum += gradOutput.scalars[i] }
            for i in range { gradInput[i] = gradOutput.scalars[i] - expf(output.scalars[i]) * sum }
        }
        return Tensor(shape: output.shape, scalars: gradInput)
    }
}
