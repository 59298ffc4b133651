import NMNets
import NMTensor

/// SmoothGrad of Smilkov, Thorat, Kim, Viégas & Wattenberg, "SmoothGrad: removing noise by
/// adding noise", arXiv:1706.03825 (2017): the gradient of the target's logit averaged over
/// `n` copies of the image with Gaussian noise N(0, σ²) added to every pixel,
///
///     M̂(x) = (1/n) Σᵢ ∂y_c/∂x (x + εᵢ),   εᵢ ~ N(0, σ²),   σ = noiseLevel · (max x − min x),
///
/// (Eq. 1 and Sec. 3.2; the paper finds 10–20% noise and n ≈ 50 best). The noisy copies are
/// not clipped to [0, 1], as in the authors' code. The average is then reduced over channels as
/// for `Gradient`, so with zero noise SmoothGrad equals `Gradient` under the same reduction.
///
/// The map: `[H, W]`, ≥ 0 for the absolute reductions and the `.squared` aggregation (logit
/// units per unit of pixel value; squared units for `.squared`), signed for `.raw` with `.sum`.
/// Cost: 1 + n forward passes and n backward passes, in ⌈n / batchSize⌉ batches.
public struct SmoothGrad: Explainer {
    /// What is averaged over the noisy copies.
    public enum Aggregation: String, Sendable, Equatable, CaseIterable {
        /// The gradients themselves (the paper's Eq. 1).
        case raw
        /// Their absolute values (noise no longer cancels opposite signs).
        case absolute
        /// Their squares (the "magnitude" option of the authors' PAIR-code/saliency).
        case squared
    }

    /// The settings of SmoothGrad; the defaults are the paper's.
    public struct Configuration: Sendable, Equatable {
        /// n, the number of noisy copies (paper: 50), ≥ 1.
        public var sampleCount: Int
        /// σ as a fraction of the image's value range max − min (paper: 0.15), ≥ 0.
        public var noiseLevel: Float
        /// Seeds the noise; the same seed gives the same map.
        public var seed: UInt64
        /// Noisy copies per forward/backward pass (memory, not results), ≥ 1.
        public var batchSize: Int
        /// What is averaged (paper: `.raw`).
        public var aggregation: Aggregation
        /// How the averaged channels become one value per pixel (default as `Gradient`).
        public var channelReduction: ChannelReduction

        public init(
            sampleCount: Int = 50, noiseLevel: Float = 0.15, seed: UInt64 = 0, batchSize: Int = 10,
            aggregation: Aggregation = .raw, channelReduction: ChannelReduction = .maximumAbsolute
        ) {
            self.sampleCount = sampleCount
            self.noiseLevel = noiseLevel
            self.seed = seed
            self.batchSize = batchSize
            self.aggregation = aggregation
            self.channelReduction = channelReduction
        }

        /// Every setting by name, for reports (JSON-compatible values).
        public var settings: [String: Any] {
            [
                "sample_count": sampleCount, "noise_level": Double(noiseLevel), "seed": seed, "batch_size": batchSize,
                "aggregation": aggregation.rawValue, "channel_reduction": channelReduction.rawValue,
            ]
        }

        /// - Throws: `ExplainError.invalidSetting` naming the first bad setting.
        public func validate() throws {
            guard sampleCount >= 1 else { throw ExplainError.invalidSetting(name: "sample count", value: "\(sampleCount)", reason: "must be ≥ 1") }
            guard noiseLevel >= 0, noiseLevel.isFinite else {
                throw ExplainError.invalidSetting(name: "noise level", value: "\(noiseLevel)", reason: "must be ≥ 0 and finite")
            }
            guard batchSize >= 1 else { throw ExplainError.invalidSetting(name: "batch size", value: "\(batchSize)", reason: "must be ≥ 1") }
        }
    }

    public let classifier: ImageClassifier
    public let configuration: Configuration

    public init(classifier: ImageClassifier, configuration: Configuration = .init()) {
        self.classifier = classifier
        self.configuration = configuration
    }

    public var methodName: String { "smoothgrad" }

    /// - Throws: `ExplainError` for a bad image, target or setting.
    public func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        try configuration.validate()
        let (target, _) = try classifier.validatedTarget(for: image, target: target)
        let sigma = configuration.noiseLevel * (image.max() - image.min())
        var generator = SeededGenerator(seed: configuration.seed)
        var total = [Double](repeating: 0, count: image.count)  // Σᵢ aggregated gradient, [1, 3, H, W]
        let aggregation = configuration.aggregation
        // makeImage is called in index order, so the noise depends on the seed alone, not the batch size.
        classifier.forEachTargetLogitGradient(
            count: configuration.sampleCount, target: target, batchSize: configuration.batchSize,
            makeImage: { _ in image + Tensor.normal(image.shape, standardDeviation: sigma, generator: &generator) },
            body: { _, gradient in
                for (index, value) in gradient.scalars.enumerated() {
                    let term = Double(value)
                    switch aggregation {
                    case .raw: total[index] += term
                    case .absolute: total[index] += abs(term)
                    case .squared: total[index] += term * term
                    }
                }
            })
        let count = Double(configuration.sampleCount)
        let mean = Tensor(shape: image.shape, scalars: total.map { Float($0 / count) })
        return Saliency(
            values: configuration.channelReduction.reduce(mean), method: methodName, target: target,
            forwardPasses: 1 + configuration.sampleCount, backwardPasses: configuration.sampleCount,
            diagnostics: ["noise_sigma": Double(sigma)])
    }
}
