import NMNets
import NMTensor

/// Grad-CAM of Selvaraju, Cogswell, Das, Vedantam, Parikh & Batra, "Grad-CAM: Visual
/// Explanations from Deep Networks via Gradient-based Localization", ICCV 2017
/// (arXiv:1610.02391). At a convolutional layer with feature maps A^k `[K, h, w]`:
///
///     α_k = (1 / hw) Σ_ij ∂y_c/∂A^k_ij        (Eq. 1: global-average-pooled gradients)
///     L   = ReLU(Σ_k α_k A^k)                  (Eq. 2)
///
/// where y_c is the target's logit (before the softmax, as in the paper). The coarse `[h, w]`
/// map is then upsampled bilinearly to the image (PyTorch `interpolate(mode="bilinear",
/// align_corners=False)`; the paper only says "upsampled").
///
/// Choices: the ReLU is applied by default, as in the paper (captum leaves it off; set
/// `appliesReLU` to false for the signed map), and before upsampling, so the upsampled map stays
/// ≥ 0. The map is not normalised by default, so its values are comparable across images;
/// `scalesToUnitMaximum` divides it by its maximum (an all-zero map stays zero), as
/// pytorch-grad-cam's min–max scaling does when the minimum is 0.
///
/// The map: `[H, W]`, ≥ 0 with the ReLU (unbounded above, in logit units × activation units),
/// in [0, 1] when scaled, signed without the ReLU. Cost: 2 forward passes (one to validate and
/// resolve the target) and 1 backward pass.
public struct GradCAM: Explainer {
    /// The settings of Grad-CAM (and Grad-CAM++).
    public struct Configuration: Sendable, Equatable {
        /// The layer whose output is explained, a name from `classifier.network.layerNames`;
        /// `nil` for `classifier.featureLayer` (the last convolutional block, the paper's choice).
        public var layer: String?
        /// Whether negative evidence is cut off (paper: yes).
        public var appliesReLU: Bool
        /// Whether the map is divided by its maximum so it lies in [0, 1].
        public var scalesToUnitMaximum: Bool

        public init(layer: String? = nil, appliesReLU: Bool = true, scalesToUnitMaximum: Bool = false) {
            self.layer = layer
            self.appliesReLU = appliesReLU
            self.scalesToUnitMaximum = scalesToUnitMaximum
        }

        /// Every setting by name, for reports (JSON-compatible values).
        public var settings: [String: Any] {
            ["layer": layer ?? "default", "applies_relu": appliesReLU, "scales_to_unit_maximum": scalesToUnitMaximum]
        }
    }

    public let classifier: ImageClassifier
    public let configuration: Configuration

    public init(classifier: ImageClassifier, configuration: Configuration = .init()) {
        self.classifier = classifier
        self.configuration = configuration
    }

    public var methodName: String { "gradcam" }

    /// - Throws: `ExplainError.invalidSetting(name: "layer", …)` for an unknown layer, a layer
    ///   whose output is not a `[1, K, h, w]` feature map, or no layer at all (none configured
    ///   and the classifier names no feature layer); other `ExplainError`s for a bad image or target.
    public func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        let layer = try classifier.camLayer(configuration.layer)
        let (target, _) = try classifier.validatedTarget(for: image, target: target)
        let features = try classifier.featureMapsAndGradients(image, target: target, layer: layer)
        let (channels, plane) = (features.activations.shape[0], features.activations.shape[1] * features.activations.shape[2])
        var weights = [Double](repeating: 0, count: channels)  // α_k
        for channel in 0..<channels {
            var sum = 0.0
            for index in 0..<plane { sum += Double(features.gradients.scalars[channel * plane + index]) }
            weights[channel] = sum / Double(plane)
        }
        let map = classActivationMap(
            features: features.activations, weights: weights, imageSize: (image.shape[2], image.shape[3]),
            appliesReLU: configuration.appliesReLU, scalesToUnitMaximum: configuration.scalesToUnitMaximum)
        return Saliency(
            values: map, method: methodName, target: target, forwardPasses: 2, backwardPasses: 1,
            diagnostics: featureDiagnostics(features.activations))
    }
}

extension ImageClassifier {
    /// The layer a class-activation method explains: `requested`, or the classifier's feature layer.
    /// - Throws: `ExplainError.invalidSetting(name: "layer", …)` when the name is unknown or
    ///   there is none.
    func camLayer(_ requested: String?) throws -> String {
        let names = network.layerNames
        func listed() -> String {
            let shown = names.prefix(24).joined(separator: ", ")
            return names.count > 24 ? shown + ", … (\(names.count) layers)" : shown
        }
        guard let layer = requested ?? featureLayer else {
            throw ExplainError.invalidSetting(name: "layer", value: "default", reason: "\(name) names no feature layer; choose one of \(listed())")
        }
        guard names.contains(layer) else {
            throw ExplainError.invalidSetting(name: "layer", value: layer, reason: "\(name) has no such layer; choose one of \(listed())")
        }
        return layer
    }

    /// The activations A of `layer` on `image` and ∂y_target/∂A.
    /// - Returns: both `[K, h, w]`.
    /// - Throws: `ExplainError.invalidSetting(name: "layer", …)` when the layer's output is not
    ///   a `[1, K, h, w]` feature map.
    func featureMapsAndGradients(_ image: Tensor, target: Int, layer: String) throws -> (activations: Tensor, gradients: Tensor) {
        let captured = layerGradients(image, layers: [layer]) { logits in
            var gradLogits = Tensor.zeros(logits.shape)  // [1, classCount]: one-hot
            gradLogits[0, target] = 1
            return gradLogits
        }
        guard let activations = captured.activations[layer], let gradients = captured.activationGradients[layer] else {
            throw ExplainError.invalidSetting(name: "layer", value: layer, reason: "its output could not be captured")
        }
        guard activations.rank == 4, activations.shape[0] == 1, gradients.shape == activations.shape else {
            throw ExplainError.invalidSetting(
                name: "layer", value: layer, reason: "its output \(activations.shape) is not a [1, K, h, w] feature map")
        }
        let shape = Array(activations.shape.dropFirst())
        return (activations.reshaped(shape), gradients.reshaped(shape))
    }
}

/// Σ_k weights_k A^k `[h, w]` → optional ReLU → bilinear upsampling to the image → optional
/// division by the maximum; the shared tail of Grad-CAM and Grad-CAM++.
/// - Parameters:
///   - features: A `[K, h, w]`.
///   - weights: K channel weights.
/// - Returns: `[H, W]`.
func classActivationMap(
    features: Tensor, weights: [Double], imageSize: (height: Int, width: Int), appliesReLU: Bool, scalesToUnitMaximum: Bool
) -> Tensor {
    let (height, width) = (features.shape[1], features.shape[2])
    let plane = height * width
    var coarse = [Double](repeating: 0, count: plane)
    for (channel, weight) in weights.enumerated() where weight != 0 {
        for index in 0..<plane { coarse[index] += weight * Double(features.scalars[channel * plane + index]) }
    }
    if appliesReLU { coarse = coarse.map { max($0, 0) } }
    let upsampling = BilinearUpsampling(from: (height, width), to: imageSize)
    var map = upsampling.upsample(Tensor(shape: [height, width], scalars: coarse.map { Float($0) }))
    if scalesToUnitMaximum {
        let maximum = map.max()
        if maximum > 0 { map = map / maximum }
    }
    return map
}

/// The feature map's size, for `Saliency.diagnostics`.
func featureDiagnostics(_ activations: Tensor) -> [String: Double] {
    ["feature_channels": Double(activations.shape[0]), "feature_height": Double(activations.shape[1]), "feature_width": Double(activations.shape[2])]
}
