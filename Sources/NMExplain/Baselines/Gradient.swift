import NMNets
import NMTensor

/// The vanilla gradient ("saliency map") of Simonyan, Vedaldi & Zisserman, "Deep Inside
/// Convolutional Networks: Visualising Image Classification Models and Saliency Maps", ICLR
/// workshop 2014 (arXiv:1312.6034), Sec. 3.1: the magnitude of ∂y_c/∂x, where y_c is the
/// target's logit (the unnormalised class score, not the softmax) and x the pixels in [0, 1]
/// (the model's normalisation is part of the network). The paper takes max_c |∂y_c/∂x_c| over
/// the colour channels; `Configuration.channelReduction` offers the alternatives.
///
/// The map: `[H, W]`, ≥ 0 for the absolute reductions (unbounded above, in logit units per unit
/// of pixel value), signed for `.sum`.
/// Cost: 2 forward passes (one to validate and resolve the target) and 1 backward pass.
public struct Gradient: Explainer {
    /// The settings of the vanilla gradient.
    public struct Configuration: Sendable, Equatable {
        /// How the three channel gradients become one value per pixel (paper: `.maximumAbsolute`).
        public var channelReduction: ChannelReduction

        public init(channelReduction: ChannelReduction = .maximumAbsolute) {
            self.channelReduction = channelReduction
        }

        /// Every setting by name, for reports (JSON-compatible values).
        public var settings: [String: Any] { ["channel_reduction": channelReduction.rawValue] }
    }

    public let classifier: ImageClassifier
    public let configuration: Configuration

    public init(classifier: ImageClassifier, configuration: Configuration = .init()) {
        self.classifier = classifier
        self.configuration = configuration
    }

    public var methodName: String { "gradient" }

    /// - Throws: `ExplainError` for a bad image or target.
    public func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        let (target, _) = try classifier.validatedTarget(for: image, target: target)
        let gradient = classifier.targetLogitGradient(image, target: target).gradPixels  // [1, 3, H, W]
        return Saliency(
            values: configuration.channelReduction.reduce(gradient), method: methodName, target: target, forwardPasses: 2,
            backwardPasses: 1)
    }
}

/// How a per-channel attribution `[1, 3, H, W]` becomes one value per pixel `[H, W]`.
public enum ChannelReduction: String, Sendable, Equatable, CaseIterable {
    /// max over channels of |a_c| (Simonyan et al. 2014, Sec. 3.1). Range [0, ∞).
    case maximumAbsolute = "max-abs"
    /// Σ_c |a_c| (the grayscale visualisation of the SmoothGrad authors' PAIR-code/saliency).
    /// Range [0, ∞).
    case sumAbsolute = "sum-abs"
    /// Σ_c a_c, signed (Gradient×Input, Integrated Gradients). Range (−∞, ∞).
    case sum

    /// Reduces `[1, C, H, W]` (or `[C, H, W]`) over its channel axis to `[H, W]`.
    public func reduce(_ perChannel: Tensor) -> Tensor {
        precondition(
            (perChannel.rank == 4 && perChannel.shape[0] == 1) || perChannel.rank == 3,
            "ChannelReduction: \(perChannel.shape) is not [1, C, H, W]")
        let planes = perChannel.rank == 4 ? perChannel.reshaped(Array(perChannel.shape.dropFirst())) : perChannel  // [C, H, W]
        switch self {
        case .maximumAbsolute: return planes.abs().max(alongAxes: [0])
        case .sumAbsolute: return planes.abs().sum(alongAxes: [0])
        case .sum: return planes.sum(alongAxes: [0])
        }
    }
}

extension ImageClassifier {
    /// The gradient of one class's logit with respect to the pixels of every image of a batch.
    /// - Parameters:
    ///   - pixels: `[B, 3, H, W]`.
    ///   - target: the class whose logit y_target is differentiated (the same for every image).
    /// - Returns: the logits `[B, classCount]` and ∂y_target/∂pixels `[B, 3, H, W]`.
    func targetLogitGradient(_ pixels: Tensor, target: Int) -> (logits: Tensor, gradPixels: Tensor) {
        inputGradient(pixels) { logits in
            var gradLogits = Tensor.zeros(logits.shape)  // [B, classCount]: one-hot rows
            for row in 0..<logits.shape[0] { gradLogits[row, target] = 1 }
            return gradLogits
        }
    }

    /// Differentiates the target logit at `count` images made on demand, `batchSize` per pass,
    /// and hands each image's gradient to `body` in order.
    /// - Parameters:
    ///   - makeImage: image i as `[1, 3, H, W]`; called in order 0, 1, …, count − 1.
    ///   - body: receives i and ∂y_target/∂pixels at image i, `[1, 3, H, W]`.
    /// - Complexity: `count` forward and `count` backward passes, ⌈count / batchSize⌉ calls.
    func forEachTargetLogitGradient(
        count: Int, target: Int, batchSize: Int, makeImage: (Int) -> Tensor, body: (Int, Tensor) -> Void
    ) {
        precondition(batchSize >= 1, "forEachTargetLogitGradient: batch size must be ≥ 1")
        var start = 0
        while start < count {
            let end = min(start + batchSize, count)
            let batch = Tensor.concatenated((start..<end).map(makeImage), alongAxis: 0)  // [B, 3, H, W]
            let gradients = targetLogitGradient(batch, target: target).gradPixels  // [B, 3, H, W]
            for row in 0..<(end - start) {
                body(start + row, gradients.sliced(alongAxis: 0, row..<(row + 1)))
            }
            start = end
        }
    }
}
