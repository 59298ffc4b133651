import NMNets
import NMTensor

/// The cascading model-parameter randomisation test of Adebayo, Gilmer, Muelly, Goodfellow,
/// Hardt & Kim, "Sanity Checks for Saliency Maps", NeurIPS 2018 (arXiv:1810.03292, §3.1).
///
/// Layers are re-initialised cumulatively from the top: first the last parameterised layer,
/// then it and the one below, and so on down to the first. After each step the same explainer
/// explains the same image and class on the damaged model, and the Spearman rank correlation
/// between that map and the original one is reported. A method that explains the *model* must
/// lose its correlation as the weights it depends on are destroyed; a map that stays the same
/// (correlation near 1) reflects the image, not the model.
///
/// A layer is a group of parameter tensors sharing a name prefix (the tensor name without its
/// last component: "layer4.1.conv2.weight" → "layer4.1.conv2"); buffers (BatchNorm statistics)
/// are kept. Each replaced tensor gets independent Gaussian values with **that tensor's own mean
/// and standard deviation** (Adebayo et al. re-draw from the initialiser; matching the moments
/// keeps activations at their trained scale, so a saturated or dead network does not confound
/// the check, and works for any layer kind — a tensor with a single value or no spread is left
/// as it is). Everything is drawn from one generator seeded by `seed`, so the check is
/// deterministic.
public struct ModelRandomizationCheck: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Seeds the re-initialisation.
        public var seed: UInt64
        /// Correlate |map| rather than the signed map (Adebayo et al. show both; their main
        /// figures use absolute values).
        public var usesAbsoluteValues: Bool

        public init(seed: UInt64 = 0, usesAbsoluteValues: Bool = true) {
            self.seed = seed
            self.usesAbsoluteValues = usesAbsoluteValues
        }
    }

    /// The state after one more layer was re-initialised.
    public struct Step: Sendable {
        /// The layer just re-initialised (every layer above it is re-initialised too).
        public var layer: String
        /// Spearman correlation with the original map, in [−1, 1]; NaN if either map is constant.
        public var correlation: Float
        /// The map on the damaged model, `[H, W]`.
        public var saliency: Tensor
    }

    /// The outcome of one image.
    public struct Result: Sendable {
        /// The map on the intact model.
        public var original: Saliency
        /// One step per layer, top layer first.
        public var steps: [Step]
    }

    public let classifier: ImageClassifier
    public let configuration: Configuration
    /// Builds the explainer to test around a (possibly damaged) classifier.
    public let makeExplainer: @Sendable (ImageClassifier) -> any Explainer

    public init(
        classifier: ImageClassifier, configuration: Configuration = Configuration(),
        makeExplainer: @escaping @Sendable (ImageClassifier) -> any Explainer
    ) {
        self.classifier = classifier
        self.configuration = configuration
        self.makeExplainer = makeExplainer
    }

    /// The layer groups of `network`'s parameters, the last one in forward order first.
    public static func layerGroups(of network: Sequential) -> [String] {
        var groups: [String] = []
        for (name, _) in network.namedTensors(role: .parameter) {
            let prefix = layerPrefix(of: name)
            if !groups.contains(prefix) { groups.append(prefix) }
        }
        return groups.reversed()
    }

    /// The cascade of damaged classifiers: entry k has the top k + 1 layer groups re-initialised.
    /// - Complexity: one copy of the parameters per layer group.
    public func randomizedClassifiers() -> [(layer: String, classifier: ImageClassifier)] {
        var generator = SeededGenerator(seed: configuration.seed)
        var damaged = classifier
        var result: [(layer: String, classifier: ImageClassifier)] = []
        for group in Self.layerGroups(of: classifier.network) {
            damaged.network.updateTensors(prefix: "") { name, role, tensor in
                guard role == .parameter, Self.layerPrefix(of: name) == group else { return }
                tensor = Self.redrawn(tensor, generator: &generator)
            }
            result.append((group, damaged))
        }
        return result
    }

    /// Explains `image` on the intact model and after each step of the cascade.
    /// - Parameters:
    ///   - image: `[1, 3, H, W]` pixels in [0, 1].
    ///   - target: the class explained at every step; `nil` for the class the intact model predicts.
    /// - Throws: the explainer's errors; `ExplainError.invalidSetting` when a map has NaN/∞ or
    ///   changes shape between steps.
    /// - Complexity: (layer groups + 1) explanations.
    public func run(image: Tensor, target: Int? = nil) throws -> Result {
        let original = try makeExplainer(classifier).explain(image, target: target)
        try validateMap(original.values)
        let reference = comparable(original.values)
        var steps: [Step] = []
        for (layer, damaged) in randomizedClassifiers() {
            let saliency = try makeExplainer(damaged).explain(image, target: original.target)
            try validateMap(saliency.values, height: original.values.shape[0], width: original.values.shape[1])
            let correlation = reference.count >= 2 ? spearmanCorrelation(reference, comparable(saliency.values)) : .nan
            steps.append(Step(layer: layer, correlation: correlation, saliency: saliency.values))
        }
        return Result(original: original, steps: steps)
    }

    // MARK: - Implementation

    private func comparable(_ map: Tensor) -> [Float] {
        configuration.usesAbsoluteValues ? map.scalars.map { abs($0) } : map.scalars
    }

    /// The name without its last dotted component ("" for a name without dots).
    static func layerPrefix(of name: String) -> String {
        guard let dot = name.lastIndex(of: ".") else { return "" }
        return String(name[..<dot])
    }

    /// Independent normal values with the tensor's own mean and (population) standard deviation.
    static func redrawn(_ tensor: Tensor, generator: inout SeededGenerator) -> Tensor {
        guard tensor.count > 0 else { return tensor }
        let mean = tensor.scalars.reduce(0.0) { $0 + Double($1) } / Double(tensor.count)
        let variance = tensor.scalars.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(tensor.count)
        return Tensor.normal(tensor.shape, mean: Float(mean), standardDeviation: Float(variance.squareRoot()), generator: &generator)
    }
}
