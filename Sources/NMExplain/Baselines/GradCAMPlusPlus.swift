import NMNets
import NMTensor

/// Grad-CAM++ of Chattopadhay, Sarkar, Howlader & Balasubramanian, "Grad-CAM++: Generalized
/// Gradient-based Visual Explanations for Deep Convolutional Networks", WACV 2018
/// (arXiv:1710.11063). Like `GradCAM`, but each channel's weight sums only the positive
/// gradients, each scaled by α from second- and third-order terms. With Y = exp(y_c) (Sec. 3.3)
/// the higher derivatives are powers of g = ∂y_c/∂A^k_ij (exact for a piecewise-linear network
/// after the layer), which gives the closed form of Eq. 19 as pytorch-grad-cam computes it:
///
///     α^k_ij = g² / (2g² + (Σ_ab A^k_ab) g³ + 10⁻⁶)   (0 where g = 0)
///     w_k    = Σ_ij α^k_ij · ReLU(g_ij)
///     L      = ReLU(Σ_k w_k A^k)
///
/// (the common factor exp(y_c) of Eq. 7's ReLU(∂Y/∂A) is dropped: it scales the map only). The
/// coarse map is upsampled and optionally scaled as for `GradCAM`, with the same
/// `GradCAM.Configuration` and the same choices (ReLU on by default, before upsampling; no
/// normalisation by default).
///
/// The map: `[H, W]`, ≥ 0 with the ReLU (unbounded above), in [0, 1] when scaled, signed
/// without the ReLU. Cost: 2 forward passes (one to validate and resolve the target) and 1
/// backward pass.
public struct GradCAMPlusPlus: Explainer {
    public typealias Configuration = GradCAM.Configuration

    /// The ε of pytorch-grad-cam's denominator.
    public static let epsilon = 1e-6

    public let classifier: ImageClassifier
    public let configuration: Configuration

    public init(classifier: ImageClassifier, configuration: Configuration = .init()) {
        self.classifier = classifier
        self.configuration = configuration
    }

    public var methodName: String { "gradcam-plus-plus" }

    /// - Throws: as `GradCAM.explain`.
    public func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        let layer = try classifier.camLayer(configuration.layer)
        let (target, _) = try classifier.validatedTarget(for: image, target: target)
        let features = try classifier.featureMapsAndGradients(image, target: target, layer: layer)
        let (channels, plane) = (features.activations.shape[0], features.activations.shape[1] * features.activations.shape[2])
        var weights = [Double](repeating: 0, count: channels)  // w_k
        for channel in 0..<channels {
            var activationSum = 0.0  // Σ_ab A^k_ab
            for index in 0..<plane { activationSum += Double(features.activations.scalars[channel * plane + index]) }
            var weight = 0.0
            for index in 0..<plane {
                let gradient = Double(features.gradients.scalars[channel * plane + index])
                guard gradient > 0 else { continue }  // α = 0 where g = 0; ReLU(g) = 0 where g < 0
                let squared = gradient * gradient
                let alpha = squared / (2 * squared + activationSum * squared * gradient + Self.epsilon)
                weight += alpha * gradient
            }
            weights[channel] = weight
        }
        let map = classActivationMap(
            features: features.activations, weights: weights, imageSize: (image.shape[2], image.shape[3]),
            appliesReLU: configuration.appliesReLU, scalesToUnitMaximum: configuration.scalesToUnitMaximum)
        return Saliency(
            values: map, method: methodName, target: target, forwardPasses: 2, backwardPasses: 1,
            diagnostics: featureDiagnostics(features.activations))
    }
}
