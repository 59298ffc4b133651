import NMTensor

/// An image classifier as the explainers see it: pixels in [0, 1] in, logits out, with the
/// model's own input normalisation inside the network so gradients are taken w.r.t. pixels.
public struct ImageClassifier: Sendable {
    /// The model's name in the zoo ("efficientnet-lite0", "resnet50", …).
    public let name: String
    /// `[N, 3, H, W]` pixels in [0, 1] → `[N, classCount]` logits. Its first entry normalises.
    public var network: Sequential
    /// One label per class index.
    public let classNames: [String]
    /// The square input size the model was trained at (the CLI's default `--size`).
    public let inputSize: Int
    /// The smallest square input the architecture accepts.
    public let minimumInputSize: Int
    /// Whether any input size ≥ `minimumInputSize` works (global pooling), or only `inputSize`.
    public let acceptsAnySize: Bool
    /// The pixel colour (per channel, in [0, 1]) that the normalisation maps to 0: the "mean
    /// colour" substrate of the deletion metric.
    public let meanColor: [Float]
    /// The name of the last convolutional block's output in `network` (Grad-CAM's default
    /// layer), if the architecture has one.
    public let featureLayer: String?
    /// The buffer pool that `logits`, `inputGradient` and `layerGradients` draw from, so that
    /// repeated calls at one input size allocate no tensor storage (shared by copies of this
    /// classifier; a call that finds it busy runs without it). It keeps about one pass's peak
    /// of activations between calls: `workspace.releaseBuffers()` frees them.
    public let workspace = TensorWorkspace()

    /// - Parameters:
    ///   - normalization: maps pixels in [0, 1] to the network's input; becomes the entry "normalize".
    ///   - network: normalised input → logits; its entries keep their names.
    ///   - featureLayer: Grad-CAM's default layer, a name from `network.layerNames`.
    public init(
        name: String, normalization: Normalization, network: Sequential, classNames: [String], inputSize: Int,
        minimumInputSize: Int, acceptsAnySize: Bool, featureLayer: String? = nil
    ) {
        precondition(featureLayer == nil || network.layerNames.contains(featureLayer!), "ImageClassifier: no layer named \(featureLayer!)")
        self.name = name
        self.meanColor = normalization.mean
        self.featureLayer = featureLayer
        self.network = Sequential([.init("normalize", normalization)] + network.entries)
        self.classNames = classNames
        self.inputSize = inputSize
        self.minimumInputSize = minimumInputSize
        self.acceptsAnySize = acceptsAnySize
    }

    public var classCount: Int { classNames.count }

    /// Logits `[N, classCount]` for pixels `[N, 3, H, W]` in [0, 1].
    public func logits(_ pixels: Tensor) -> Tensor {
        workspace.run { network.forward(pixels).output }
    }

    /// The class probabilities `[N, classCount]`.
    public func probabilities(_ pixels: Tensor) -> Tensor {
        softmax(logits(pixels))
    }

    /// Runs forward, asks `lossGradient` for ∂L/∂logits given the logits, and returns the logits
    /// and ∂L/∂pixels `[N, 3, H, W]`. No parameter gradients are computed.
    public func inputGradient(_ pixels: Tensor, lossGradient: (Tensor) -> Tensor) -> (logits: Tensor, gradPixels: Tensor) {
        workspace.run {
            let (logits, cache) = network.forward(pixels)
            let gradLogits = lossGradient(logits)
            precondition(gradLogits.shape == logits.shape, "inputGradient: loss gradient \(gradLogits.shape) for logits \(logits.shape)")
            let (gradPixels, _) = network.backward(gradLogits, cache: cache, parameterGradients: false)
            return (logits, gradPixels)
        }
    }

    /// Like `inputGradient`, and also returns the activations of the named layers and the
    /// gradients flowing into them (Grad-CAM).
    public func layerGradients(
        _ pixels: Tensor, layers names: Set<String>, lossGradient: (Tensor) -> Tensor
    ) -> (logits: Tensor, gradPixels: Tensor, activations: [String: Tensor], activationGradients: [String: Tensor]) {
        workspace.run {
            let (logits, cache, activations) = network.forward(pixels, capturing: names)
            let gradLogits = lossGradient(logits)
            let (gradPixels, _, gradients) = network.backward(gradLogits, cache: cache, parameterGradients: false, capturing: names)
            return (logits, gradPixels, activations, gradients)
        }
    }
}
