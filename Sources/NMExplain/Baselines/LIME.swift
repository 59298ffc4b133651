import Foundation
import NMNets
import NMTensor

/// How LIME splits the image into interpretable features.
public enum SuperpixelMethod: Sendable, Equatable {
    /// SLIC k-means superpixels (`Superpixels.slic`). `lime_image` uses quickshift by default;
    /// SLIC is the simple deterministic segmentation implemented here.
    case slic(segments: Int, compactness: Float)
    /// A regular grid of square cells of `cellSize` pixels.
    case grid(cellSize: Int)

    /// The CLI spelling: "slic(50)" or "grid(8)".
    public var name: String {
        switch self {
        case .slic(let segments, _): return "slic(\(segments))"
        case .grid(let cellSize): return "grid(\(cellSize))"
        }
    }

    /// The superpixels of `image` `[1, 3, H, W]`.
    public func superpixels(of image: Tensor) -> Superpixels {
        switch self {
        case .slic(let segments, let compactness): return .slic(image, segmentCount: segments, compactness: compactness)
        case .grid(let cellSize): return .grid(height: image.shape[2], width: image.shape[3], cellSize: cellSize)
        }
    }
}

/// LIME, Local Interpretable Model-agnostic Explanations (Ribeiro, Singh & Guestrin, KDD 2016,
/// arXiv:1602.04938, §3.3–3.4), as `lime_image.LimeImageExplainer` runs it: split the image into
/// superpixels; draw N random on/off vectors z ∈ {0, 1}^K (the first all ones: the image
/// itself); make each perturbed image by hiding the "off" superpixels; record the target
/// probability; weight each sample by the exponential kernel `√exp(−d² / w²)` of its cosine
/// distance d to the all-ones vector (w = 0.25); fit a weighted ridge regression
/// (`Ridge(alpha=1)` with intercept) of the probabilities on z. Each pixel gets its
/// superpixel's coefficient.
///
/// Deviation: `lime_image` segments with quickshift; here SLIC (default about 50 segments) or
/// a regular grid. All superpixels enter the regression (lime's default `num_features=100000`).
///
/// Map: `[H, W]`, piecewise constant on superpixels: the estimated change of the target
/// probability when the superpixel is shown rather than hidden; positive = evidence for the
/// class, negative = against. Typically in [−1, 1] (a linear fit, not a bound).
/// Cost: N + 1 forward passes (the first sample is the unperturbed image), no backward pass.
public struct LIME: Explainer {
    /// What an "off" superpixel shows.
    public enum Hiding: Sendable, Equatable {
        /// Each superpixel's own mean colour (`lime_image`'s default, `hide_color=None`).
        case segmentMeanColor
        /// The same fill for every hidden superpixel.
        case fill(PerturbationFill)

        public var name: String {
            switch self {
            case .segmentMeanColor: return "segment-mean"
            case .fill(let fill): return fill.name
            }
        }
    }

    /// The settings of LIME. Defaults are `lime_image`'s (`num_samples=1000`,
    /// `kernel_width=0.25`, ridge `alpha=1`, `hide_color=None`), with about 50 SLIC segments.
    public struct Configuration: Sendable, Equatable {
        public var segmentation: SuperpixelMethod
        /// N, the number of perturbed samples including the unperturbed first one (≥ 2).
        public var sampleCount: Int
        /// w, the width of the exponential kernel on cosine distance (> 0).
        public var kernelWidth: Float
        /// λ, the ridge penalty (≥ 0; 0 may fail when samples are collinear).
        public var ridgePenalty: Float
        public var hiding: Hiding
        /// Perturbed images per forward pass (≥ 1).
        public var batchSize: Int
        public var seed: UInt64

        public init(
            segmentation: SuperpixelMethod = .slic(segments: 50, compactness: 10), sampleCount: Int = 1000, kernelWidth: Float = 0.25,
            ridgePenalty: Float = 1, hiding: Hiding = .segmentMeanColor, batchSize: Int = 64, seed: UInt64 = 0
        ) {
            self.segmentation = segmentation
            self.sampleCount = sampleCount
            self.kernelWidth = kernelWidth
            self.ridgePenalty = ridgePenalty
            self.hiding = hiding
            self.batchSize = batchSize
            self.seed = seed
        }

        /// Checks every setting, naming the first bad one.
        /// - Throws: `ExplainError.invalidSetting`.
        public func validate() throws {
            switch segmentation {
            case .slic(let segments, let compactness):
                guard segments >= 1 else { throw invalidSetting("segment count", segments, "must be ≥ 1") }
                guard compactness > 0 && compactness.isFinite else { throw invalidSetting("compactness", compactness, "must be positive") }
            case .grid(let cellSize):
                guard cellSize >= 1 else { throw invalidSetting("cell size", cellSize, "must be ≥ 1") }
            }
            guard sampleCount >= 2 else { throw invalidSetting("sample count", sampleCount, "must be ≥ 2") }
            guard kernelWidth > 0 && kernelWidth.isFinite else { throw invalidSetting("kernel width", kernelWidth, "must be positive") }
            guard ridgePenalty >= 0 && ridgePenalty.isFinite else { throw invalidSetting("ridge penalty", ridgePenalty, "must be ≥ 0") }
            guard batchSize >= 1 else { throw invalidSetting("batch size", batchSize, "must be ≥ 1") }
            if case .fill(let fill) = hiding { try fill.validate(settingName: "hiding") }
        }
    }

    public let classifier: ImageClassifier
    public let configuration: Configuration

    public init(classifier: ImageClassifier, configuration: Configuration = .init()) {
        self.classifier = classifier
        self.configuration = configuration
    }

    public var methodName: String { "lime" }

    /// - Parameters:
    ///   - image: `[1, 3, H, W]` pixels in [0, 1].
    ///   - target: the class to explain; `nil` for the class predicted on `image`.
    /// - Returns: the `[H, W]` map described in the type's documentation; diagnostics hold the
    ///   surrogate's `intercept`, its weighted R² (`score`, as lime reports) and `segments`.
    /// - Throws: `ExplainError` for a bad setting, image or target;
    ///   `ExplainError.invalidSetting(name: "ridge penalty", …)` when the regression is singular
    ///   (possible only with λ = 0); `LinearAlgebraError.nonFiniteInput` if the model returns
    ///   non-finite probabilities.
    /// - Complexity: N + 1 forward passes, O(N·K² + K³) for the fit (K superpixels).
    public func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        try configuration.validate()
        let (target, _) = try classifier.validatedTarget(for: image, target: target)
        let (height, width) = (image.shape[2], image.shape[3])
        let plane = height * width
        let superpixels = configuration.segmentation.superpixels(of: image)
        let segmentCount = superpixels.count
        let hidden: Tensor  // what each pixel shows when its superpixel is off, [1, 3, H, W]
        switch configuration.hiding {
        case .segmentMeanColor:
            let colors = superpixels.meanColors(of: image)  // [K, 3]
            var scalars = [Float](repeating: 0, count: 3 * plane)
            for pixel in 0..<plane {
                for channel in 0..<3 { scalars[channel * plane + pixel] = colors.scalars[superpixels.labels[pixel] * 3 + channel] }
            }
            hidden = Tensor(shape: image.shape, scalars: scalars)
        case .fill(let fill):
            hidden = fill.image(for: image, classifier: classifier)
        }

        // z: the first sample keeps everything; the others are uniform random bits.
        let sampleCount = configuration.sampleCount
        var generator = SeededGenerator(seed: configuration.seed)
        var features = [Float](repeating: 1, count: sampleCount * segmentCount)  // [N, K]
        for index in segmentCount..<features.count { features[index] = Float(generator.next() & 1) }

        let probabilities = classifier.targetProbabilities(count: sampleCount, target: target, batchSize: configuration.batchSize) { sample in
            var perturbed = image
            let row = sample * segmentCount
            for pixel in 0..<plane where features[row + superpixels.labels[pixel]] == 0 {
                for channel in 0..<3 { perturbed.scalars[channel * plane + pixel] = hidden.scalars[channel * plane + pixel] }
            }
            return perturbed
        }

        // Cosine distance to the all-ones vector: 1 − √(on / K) (1 for the empty vector).
        let width2 = Double(configuration.kernelWidth) * Double(configuration.kernelWidth)
        let weights = (0..<sampleCount).map { sample -> Float in
            let on = features[(sample * segmentCount)..<((sample + 1) * segmentCount)].reduce(0, +)
            let distance = on > 0 ? 1 - (Double(on) / Double(segmentCount)).squareRoot() : 1
            return Float((exp(-distance * distance / width2)).squareRoot())
        }
        let x = Tensor(shape: [sampleCount, segmentCount], scalars: features)
        let y = Tensor(shape: [sampleCount], scalars: probabilities)
        let w = Tensor(shape: [sampleCount], scalars: weights)
        let fit: (coefficients: Tensor, intercept: Float)
        do {
            fit = try ridgeRegression(features: x, targets: y, sampleWeights: w, lambda: configuration.ridgePenalty, fitIntercept: true)
        } catch LinearAlgebraError.notPositiveDefinite(let order) {
            throw invalidSetting(
                "ridge penalty", configuration.ridgePenalty,
                "the weighted least-squares system is singular (leading minor \(order)); use a positive penalty or more samples")
        }

        let values = Tensor(shape: [height, width], scalars: superpixels.labels.map { fit.coefficients.scalars[$0] })
        return Saliency(
            values: values, method: methodName, target: target, forwardPasses: sampleCount + 1, backwardPasses: 0,
            diagnostics: [
                "intercept": Double(fit.intercept), "segments": Double(segmentCount),
                "score": weightedRSquared(x, y, w, fit.coefficients, fit.intercept),
            ])
    }
}

/// Weighted R² of a linear fit (scikit-learn's `Ridge.score` with sample weights).
private func weightedRSquared(_ x: Tensor, _ y: Tensor, _ w: Tensor, _ coefficients: Tensor, _ intercept: Float) -> Double {
    let (samples, features) = (x.shape[0], x.shape[1])
    let totalWeight = w.scalars.reduce(0.0) { $0 + Double($1) }
    let mean = zip(w.scalars, y.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / totalWeight
    var residual = 0.0, total = 0.0
    for sample in 0..<samples {
        var prediction = Double(intercept)
        for feature in 0..<features { prediction += Double(x.scalars[sample * features + feature]) * Double(coefficients.scalars[feature]) }
        let weight = Double(w.scalars[sample]), target = Double(y.scalars[sample])
        residual += weight * (target - prediction) * (target - prediction)
        total += weight * (target - mean) * (target - mean)
    }
    return total > 0 ? 1 - residual / total : 1
}
