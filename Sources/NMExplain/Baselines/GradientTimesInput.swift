import NMNets
import NMTensor

/// Gradient × Input of Shrikumar, Greenside, Shcherbina & Kundaje, "Not Just a Black Box:
/// Learning Important Features Through Propagating Activation Differences", arXiv:1605.01713
/// (2016): the elementwise product x ⊙ ∂y_c/∂x of the pixels (in [0, 1], before the model's
/// normalisation) and the gradient of the target's logit, summed over the colour channels.
/// For a linear model it is each pixel's exact contribution to the logit relative to a black
/// image, and it equals Integrated Gradients with a black baseline.
///
/// The map: `[H, W]`, signed and unbounded (logit units); positive pixels raise the target's
/// logit. Cost: 2 forward passes (one to validate and resolve the target) and 1 backward pass.
public struct GradientTimesInput: Explainer {
    /// The settings of Gradient × Input.
    public struct Configuration: Sendable, Equatable {
        /// How the three channel products become one value per pixel (default: the signed sum,
        /// so the map adds up to Σ x ⊙ ∇y).
        public var channelReduction: ChannelReduction

        public init(channelReduction: ChannelReduction = .sum) {
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

    public var methodName: String { "gradient-x-input" }

    /// - Throws: `ExplainError` for a bad image or target.
    public func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        let (target, _) = try classifier.validatedTarget(for: image, target: target)
        let gradient = classifier.targetLogitGradient(image, target: target).gradPixels  // [1, 3, H, W]
        return Saliency(
            values: configuration.channelReduction.reduce(gradient * image), method: methodName, target: target,
            forwardPasses: 2, backwardPasses: 1)
    }
}
