import NMNets
import NMTensor

/// The deletion and insertion metrics of RISE (Petsiuk, Das & Saenko, BMVC 2018,
/// arXiv:1806.07421, §4.1 and the authors' `evaluation.py`).
///
/// Pixels are ranked by saliency, highest first (ties go to the lower row-major index, so the
/// order is deterministic). **Deletion** starts from the image and replaces `step` pixels at a
/// time, all three channels, with the substrate — the classifier's mean colour, which its
/// normalisation maps to 0 as in the RISE code. **Insertion** starts from a Gaussian-blurred copy
/// (kernel 11, σ 5, as in the RISE code) and puts the original pixels back in the same order.
/// After every step, including step 0 and the last, the softmax probability of the target class
/// is recorded. The area under each curve is the trapezoid rule with the steps spaced evenly on
/// [0, 1] (RISE's `auc`), so both AUCs lie in [0, 1]. A good map has a **low deletion AUC**
/// (the prediction collapses as soon as the important pixels go) and a **high insertion AUC**.
///
/// The RISE authors report deletion 0.1048 / insertion 0.7719 for RISE on ResNet-50 over
/// 10 000 ImageNet validation images (224 × 224, step 224).
public struct DeletionInsertion: Sendable {
    /// How the curves are drawn.
    public struct Configuration: Sendable, Equatable {
        /// Pixels (locations, all channels) changed per step; `nil` for `defaultStep`.
        public var step: Int?
        /// Perturbed images per forward pass (≥ 1); changes only speed and memory.
        public var batchSize: Int
        /// σ of the insertion start image's blur, in pixels (RISE: 5).
        public var blurSigma: Float
        /// Taps of the blur kernel, odd (RISE: 11).
        public var blurKernelSize: Int

        public init(step: Int? = nil, batchSize: Int = 16, blurSigma: Float = 5, blurKernelSize: Int = 11) {
            self.step = step
            self.batchSize = batchSize
            self.blurSigma = blurSigma
            self.blurKernelSize = blurKernelSize
        }

        /// RISE's step scaled to the image: H·W / 224 rounded (224 for a 224 × 224 image), ≥ 1.
        public static func defaultStep(height: Int, width: Int) -> Int {
            max(1, Int((Double(height * width) / 224).rounded()))
        }

        /// Throws `ExplainError.invalidSetting` for a step or batch size below 1, σ ≤ 0, or an
        /// even or non-positive kernel size.
        public func validate() throws {
            if let step, step < 1 { throw ExplainError.invalidSetting(name: "step", value: "\(step)", reason: "must be at least 1") }
            guard batchSize >= 1 else { throw ExplainError.invalidSetting(name: "batch size", value: "\(batchSize)", reason: "must be at least 1") }
            guard blurSigma > 0 && blurSigma.isFinite else {
                throw ExplainError.invalidSetting(name: "blur sigma", value: "\(blurSigma)", reason: "must be positive")
            }
            guard blurKernelSize >= 1 && blurKernelSize % 2 == 1 else {
                throw ExplainError.invalidSetting(name: "blur kernel size", value: "\(blurKernelSize)", reason: "must be odd and at least 1")
            }
        }
    }

    /// One curve: the target probability after each step.
    public struct Curve: Sendable, Equatable {
        /// softmax(f(x_k))[target] for k = 0 … ⌈H·W / step⌉: ⌈H·W / step⌉ + 1 values in [0, 1].
        public var probabilities: [Float]
        /// Trapezoid area under `probabilities` with x evenly spaced on [0, 1]; in [0, 1].
        public var auc: Float

        public init(probabilities: [Float]) {
            self.probabilities = probabilities
            self.auc = DeletionInsertion.areaUnderCurve(probabilities)
        }
    }

    /// Both curves of one image.
    public struct Result: Sendable, Equatable {
        /// Lower is better.
        public var deletion: Curve
        /// Higher is better.
        public var insertion: Curve
        /// The class whose probability the curves follow.
        public var target: Int
        /// Pixels changed per step.
        public var step: Int
    }

    public let classifier: ImageClassifier
    public let configuration: Configuration

    public init(classifier: ImageClassifier, configuration: Configuration = Configuration()) {
        self.classifier = classifier
        self.configuration = configuration
    }

    /// Draws the deletion and insertion curves of `saliency` on `image`.
    /// - Parameters:
    ///   - image: `[1, 3, H, W]` pixels in [0, 1].
    ///   - saliency: `[H, W]`, finite; higher means more important. Only the ranking matters.
    ///   - target: the class to follow; `nil` for the class predicted on `image`.
    /// - Throws: `ExplainError` for a bad image or target (as the explainers do), a saliency map
    ///   that is not `[H, W]` or holds NaN/∞, or a bad configuration.
    /// - Complexity: 2 · (⌈H·W / step⌉ + 1) images through the classifier, `batchSize` at a time.
    public func evaluate(image: Tensor, saliency: Tensor, target: Int? = nil) throws -> Result {
        let (target, order, step) = try prepare(image: image, saliency: saliency, target: target)
        let deletion = curve(from: image, towards: substrate(like: image), order: order, step: step, target: target)
        let insertion = curve(from: blurred(image), towards: image, order: order, step: step, target: target)
        return Result(deletion: deletion, insertion: insertion, target: target, step: step)
    }

    /// The deletion curve alone (half the work of `evaluate`). Same parameters and errors.
    public func deletion(image: Tensor, saliency: Tensor, target: Int? = nil) throws -> Curve {
        let (target, order, step) = try prepare(image: image, saliency: saliency, target: target)
        return curve(from: image, towards: substrate(like: image), order: order, step: step, target: target)
    }

    /// The insertion curve alone (half the work of `evaluate`). Same parameters and errors.
    public func insertion(image: Tensor, saliency: Tensor, target: Int? = nil) throws -> Curve {
        let (target, order, step) = try prepare(image: image, saliency: saliency, target: target)
        return curve(from: blurred(image), towards: image, order: order, step: step, target: target)
    }

    /// The image's pixel locations (row-major indices into `[H, W]`) by decreasing saliency,
    /// ties by increasing index.
    /// - Precondition: `saliency` is finite (NaN has no order).
    public static func pixelOrder(_ saliency: Tensor) -> [Int] {
        let values = saliency.scalars
        return values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
    }

    /// The trapezoid rule over `values` at x = 0, 1/(n−1), …, 1 (RISE's
    /// `(sum − first/2 − last/2) / (n − 1)`), accumulated in Double. 0 for fewer than 2 values.
    public static func areaUnderCurve(_ values: [Float]) -> Float {
        guard values.count >= 2 else { return 0 }
        var total = 0.0
        for index in 1..<values.count { total += (Double(values[index - 1]) + Double(values[index])) / 2 }
        return Float(total / Double(values.count - 1))
    }

    // MARK: - Implementation

    private func prepare(image: Tensor, saliency: Tensor, target: Int?) throws -> (target: Int, order: [Int], step: Int) {
        try configuration.validate()
        let (resolved, _) = try classifier.validatedTarget(for: image, target: target)
        let (height, width) = (image.shape[2], image.shape[3])
        try validateMap(saliency, height: height, width: width)
        let step = configuration.step ?? Configuration.defaultStep(height: height, width: width)
        return (resolved, Self.pixelOrder(saliency), step)
    }

    /// The mean-colour image, 0 after the classifier's normalisation.
    private func substrate(like image: Tensor) -> Tensor {
        let plane = image.shape[2] * image.shape[3]
        precondition(classifier.meanColor.count == 3, "DeletionInsertion: mean colour needs 3 channels")
        return Tensor(shape: image.shape, scalars: classifier.meanColor.flatMap { [Float](repeating: $0, count: plane) })
    }

    private func blurred(_ image: Tensor) -> Tensor {
        gaussianBlur(image, sigma: configuration.blurSigma, kernelSize: configuration.blurKernelSize)
    }

    /// Probabilities of `target` on `start` with the first min(k·step, H·W) pixels of `order`
    /// taken from `end`, for k = 0 … ⌈H·W / step⌉.
    private func curve(from start: Tensor, towards end: Tensor, order: [Int], step: Int, target: Int) -> Curve {
        let plane = order.count
        let stepCount = (plane + step - 1) / step
        // Images are requested in increasing k, so each one extends the previous by `step` pixels.
        var current = start  // [1, 3, H, W]
        var applied = 0
        let probabilities = classifier.targetProbabilities(count: stepCount + 1, target: target, batchSize: configuration.batchSize) { k in
            let wanted = min(k * step, plane)
            if wanted < applied {
                current = start
                applied = 0
            }
            for rank in applied..<wanted {
                let pixel = order[rank]
                for channel in 0..<3 { current.scalars[channel * plane + pixel] = end.scalars[channel * plane + pixel] }
            }
            applied = wanted
            return current
        }
        return Curve(probabilities: probabilities)
    }
}
