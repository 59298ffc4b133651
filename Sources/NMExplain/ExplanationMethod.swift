import NMNets
import NMTensor

/// Every explanation method by its command-line name, with a factory that builds it with the
/// method's defaults (from its paper) and the few settings the command line overrides.
public enum ExplanationMethod: String, CaseIterable, Sendable {
    case neuromask
    case gradient
    case gradientTimesInput = "gradient-x-input"
    case smoothGrad = "smoothgrad"
    case integratedGradients = "integrated-gradients"
    case gradCAM = "gradcam"
    case gradCAMPlusPlus = "gradcam-plus-plus"
    case occlusion
    case rise
    case lime
    case meaningfulPerturbation = "meaningful-perturbation"
    case extremalPerturbation = "extremal-perturbation"

    /// Looks a name up, throwing `ExplainError.invalidSetting` with the list of known names.
    public init(named name: String) throws {
        guard let method = ExplanationMethod(rawValue: name.lowercased()) else {
            throw ExplainError.invalidSetting(
                name: "method", value: name, reason: "available: \(ExplanationMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = method
    }

    /// The settings a caller may override; `nil` keeps the method's default.
    public struct Overrides: Sendable {
        public var seed: UInt64 = 0
        /// Iterations of the optimisation methods (NeuroMask, meaningful and extremal perturbation).
        public var iterations: Int?
        public var neuroMaskPreset: NeuroMaskPreset = .improved
        /// Images per forward pass of the sampling methods.
        public var batchSize: Int?
        public init() {}
    }

    /// The explainer with its defaults, adjusted by `overrides`. Window and mask sizes given in
    /// pixels for 224-pixel images (occlusion, meaningful and extremal perturbation) and
    /// NeuroMask's presets are scaled to `imageSize`.
    /// - Parameter imageSize: the longer side of the images it will explain.
    public func makeExplainer(classifier: ImageClassifier, imageSize: Int, overrides: Overrides = .init()) -> any Explainer {
        switch self {
        case .neuromask:
            var configuration = overrides.neuroMaskPreset.configuration(imageSize: imageSize)
            configuration.seed = overrides.seed
            if let iterations = overrides.iterations { configuration.iterations = iterations }
            return NeuroMask(classifier: classifier, configuration: configuration)
        case .gradient:
            return Gradient(classifier: classifier)
        case .gradientTimesInput:
            return GradientTimesInput(classifier: classifier)
        case .smoothGrad:
            var configuration = SmoothGrad.Configuration()
            configuration.seed = overrides.seed
            if let batchSize = overrides.batchSize { configuration.batchSize = batchSize }
            return SmoothGrad(classifier: classifier, configuration: configuration)
        case .integratedGradients:
            var configuration = IntegratedGradients.Configuration()
            if let batchSize = overrides.batchSize { configuration.batchSize = batchSize }
            return IntegratedGradients(classifier: classifier, configuration: configuration)
        case .gradCAM:
            return GradCAM(classifier: classifier)
        case .gradCAMPlusPlus:
            return GradCAMPlusPlus(classifier: classifier)
        case .occlusion:
            var configuration = Occlusion.Configuration.scaled(toImageSize: imageSize)
            if let batchSize = overrides.batchSize { configuration.batchSize = batchSize }
            return Occlusion(classifier: classifier, configuration: configuration)
        case .rise:
            var configuration = RISE.Configuration()
            configuration.seed = overrides.seed
            if let batchSize = overrides.batchSize { configuration.batchSize = batchSize }
            return RISE(classifier: classifier, configuration: configuration)
        case .lime:
            var configuration = LIME.Configuration()
            configuration.seed = overrides.seed
            if let batchSize = overrides.batchSize { configuration.batchSize = batchSize }
            return LIME(classifier: classifier, configuration: configuration)
        case .meaningfulPerturbation:
            var configuration = MeaningfulPerturbation.Configuration.scaled(toImageSize: imageSize)
            configuration.seed = overrides.seed
            if let iterations = overrides.iterations { configuration.iterations = iterations }
            return MeaningfulPerturbation(classifier: classifier, configuration: configuration)
        case .extremalPerturbation:
            var configuration = ExtremalPerturbation.Configuration.scaled(toImageSize: imageSize)
            if let iterations = overrides.iterations { configuration.iterations = iterations }
            return ExtremalPerturbation(classifier: classifier, configuration: configuration)
        }
    }
}
