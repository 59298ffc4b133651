import NMNets
import NMTensor

/// Occlusion (Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV
/// 2014, arXiv:1311.2901, §4.2), with captum's `Occlusion` semantics: a square window slides
/// over the image with a stride; each position replaces the window (all channels) by the fill
/// and records `d = s(x) − s(x occluded)` on the target score s; every pixel gets the mean of
/// `d` over the windows that cover it.
///
/// Window positions along an axis of length n are `0, stride, 2·stride, …` up to
/// `⌈(n − window) / stride⌉ · stride`, so every pixel is covered; the last window may overhang
/// the edge and is then cropped (captum does the same). A window larger than the image is
/// clamped to the image.
///
/// Map: `[H, W]`, positive where hiding the pixel lowers the target score (evidence for the
/// class), negative where it raises it. With `.probability` the values lie in [−1, 1]; with
/// `.logit` they are differences of logits (unbounded). Cost: 1 + (number of windows) forward
/// passes, no backward pass.
public struct Occlusion: Explainer {
    /// The settings of occlusion. Defaults are captum's tutorial values for 224-pixel inputs
    /// (window 15, stride 8); Zeiler & Fergus slide a grey square and plot the probability of
    /// the correct class.
    public struct Configuration: Sendable, Equatable {
        /// Side of the square window in pixels (≥ 1).
        public var windowSize: Int
        /// Distance between window positions in pixels (≥ 1).
        public var stride: Int
        /// What the window shows (captum's `baselines`; default 0 = black pixels).
        public var fill: PerturbationFill
        /// The score compared: the target probability (default) or its logit. captum uses
        /// whatever output the wrapped model returns.
        public var score: TargetScore
        /// Occluded images per forward pass (≥ 1; captum's `perturbations_per_eval`).
        public var batchSize: Int

        public init(
            windowSize: Int = 15, stride: Int = 8, fill: PerturbationFill = .constant(0), score: TargetScore = .probability,
            batchSize: Int = 32
        ) {
            self.windowSize = windowSize
            self.stride = stride
            self.fill = fill
            self.score = score
            self.batchSize = batchSize
        }

        /// The defaults with the window and stride scaled from 224 pixels to `imageSize`
        /// (each at least 1): window 2 and stride 1 for 32-pixel images.
        public static func scaled(toImageSize imageSize: Int) -> Configuration {
            Configuration(
                windowSize: max(1, Int(scaledLength(15, toImageSize: imageSize).rounded())),
                stride: max(1, Int(scaledLength(8, toImageSize: imageSize).rounded())))
        }

        /// Checks every setting, naming the first bad one.
        /// - Throws: `ExplainError.invalidSetting`.
        public func validate() throws {
            guard windowSize >= 1 else { throw invalidSetting("window size", windowSize, "must be ≥ 1") }
            guard stride >= 1 else { throw invalidSetting("stride", stride, "must be ≥ 1") }
            guard batchSize >= 1 else { throw invalidSetting("batch size", batchSize, "must be ≥ 1") }
            try fill.validate(settingName: "fill")
        }
    }

    public let classifier: ImageClassifier
    public let configuration: Configuration

    public init(classifier: ImageClassifier, configuration: Configuration = .init()) {
        self.classifier = classifier
        self.configuration = configuration
    }

    public var methodName: String { "occlusion" }

    /// - Parameters:
    ///   - image: `[1, 3, H, W]` pixels in [0, 1].
    ///   - target: the class to explain; `nil` for the class predicted on `image`.
    /// - Returns: the `[H, W]` map described in the type's documentation.
    /// - Throws: `ExplainError` for a bad setting, image or target.
    /// - Complexity: (1 + windows) forward passes, windows = ⌈(H − k)/s + 1⌉ · ⌈(W − k)/s + 1⌉.
    public func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        try configuration.validate()
        let (target, logits) = try classifier.validatedTarget(for: image, target: target)
        let (height, width) = (image.shape[2], image.shape[3])
        let plane = height * width
        let windowHeight = min(configuration.windowSize, height)
        let windowWidth = min(configuration.windowSize, width)
        let rowStarts = Self.windowStarts(length: height, window: windowHeight, stride: configuration.stride)
        let columnStarts = Self.windowStarts(length: width, window: windowWidth, stride: configuration.stride)
        let windows = rowStarts.flatMap { top in columnStarts.map { left in (top, left) } }
        let fill = configuration.fill.image(for: image, classifier: classifier)  // [1, 3, H, W]

        let clean = classifier.targetScore(fromLogits: logits, target: target, score: configuration.score)
        let occluded = classifier.targetScores(
            count: windows.count, target: target, batchSize: configuration.batchSize, score: configuration.score
        ) { index in
            let (top, left) = windows[index]
            var perturbed = image  // [1, 3, H, W]
            for channel in 0..<3 {
                for row in top..<min(top + windowHeight, height) {
                    let offset = channel * plane + row * width
                    for column in left..<min(left + windowWidth, width) {
                        perturbed.scalars[offset + column] = fill.scalars[offset + column]
                    }
                }
            }
            return perturbed
        }

        // Σ over covering windows of d, and the number of covering windows, per pixel.
        var total = [Double](repeating: 0, count: plane)
        var coverage = [Int](repeating: 0, count: plane)
        for ((top, left), score) in zip(windows, occluded) {
            let difference = Double(clean) - Double(score)
            for row in top..<min(top + windowHeight, height) {
                for column in left..<min(left + windowWidth, width) {
                    total[row * width + column] += difference
                    coverage[row * width + column] += 1
                }
            }
        }
        let values = Tensor(shape: [height, width], scalars: zip(total, coverage).map { Float($0 / Double(max($1, 1))) })
        return Saliency(
            values: values, method: methodName, target: target, forwardPasses: 1 + windows.count, backwardPasses: 0,
            diagnostics: ["score_on_image": Double(clean), "windows": Double(windows.count)])
    }

    /// captum's window positions: `i · stride` for i in 0 ... ⌈(length − window) / stride⌉.
    static func windowStarts(length: Int, window: Int, stride: Int) -> [Int] {
        let shifts = (length - window + stride - 1) / stride + 1
        return (0..<shifts).map { $0 * stride }
    }
}
