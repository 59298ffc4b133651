import Foundation
import NMNets
import NMTensor

/// Meaningful Perturbation (Fong & Vedaldi, "Interpretable Explanations of Black Boxes by
/// Meaningful Perturbation", ICCV 2017, arXiv:1704.03296, §4, deletion game): learn a coarse
/// mask m ∈ [0, 1]^{h×w} (1 keeps a pixel) whose smoothed upsampling M = B(U(m)) blends the
/// image with a blurred copy, Φ(x; M) = x ⊙ M + blur(x) ⊙ (1 − M), so that the target
/// probability drops while as little as possible is deleted:
///
///     L(m) = λ₁ ‖1 − m‖₁ + λ_TV Σ (‖∇m‖₂)^β + softmax(f(Φ(x; M)))[target]
///
/// minimised by Adam with m clipped to [0, 1] after every step, the image jittered by a random
/// shift of up to `jitter` pixels at every step (the authors' code). The L1 and TV terms act on
/// the coarse mask and are sums (forward differences, zero past the last row and column), as in
/// the authors' `optimize_mask.py`.
///
/// Deviations from the authors' Caffe code: U is bilinear (`BilinearUpsampling`) rather than
/// nearest, and the gradient goes exactly through U and the mask blur B (the authors skip B and
/// sum-pool); the start is m = 1 (the whole image kept) rather than their circle search; jitter
/// shifts the image with replicated edges instead of cropping a 4-pixel-larger resize; the
/// blurs use reflected borders.
///
/// Map: `[H, W]` = 1 − M, in [0, 1]: high where the optimised perturbation deletes the image,
/// i.e. the regions whose removal lowers the target probability (important = high). Cost:
/// `iterations` forward and backward passes, plus 2 forward passes (the target check and the
/// final perturbed image).
public struct MeaningfulPerturbation: Explainer {
    /// The settings of Meaningful Perturbation. Defaults are the authors' (`optimize_mask.py`
    /// for 224-pixel inputs: 28×28 mask, i.e. `maskScale` 8; mask blur 5; perturbation blur 10;
    /// λ₁ 1e-4; λ_TV 1e-2; β 3; Adam lr 0.1; 300 iterations; jitter 4).
    public struct Configuration: Sendable, Equatable {
        /// Pixels per mask cell: the mask is ⌈H / maskScale⌉ × ⌈W / maskScale⌉ (≥ 1).
        public var maskScale: Int
        /// σ of the Gaussian blur applied to the upsampled mask, in pixels (≥ 0; 0 = none).
        public var maskBlurSigma: Float
        /// σ of the blurred image that replaces deleted pixels, in pixels (> 0).
        public var perturbationBlurSigma: Float
        /// λ₁, the weight of ‖1 − m‖₁ (≥ 0).
        public var l1Weight: Float
        /// λ_TV, the weight of the total variation (≥ 0).
        public var tvWeight: Float
        /// β, the exponent of the total variation (≥ 1).
        public var tvExponent: Float
        public var learningRate: Float
        /// Adam steps (≥ 1; one forward and one backward pass each).
        public var iterations: Int
        /// Maximum random shift of the image per step, in pixels (≥ 0; 0 = none).
        public var jitter: Int
        /// Seeds the jitter.
        public var seed: UInt64

        public init(
            maskScale: Int = 8, maskBlurSigma: Float = 5, perturbationBlurSigma: Float = 10, l1Weight: Float = 1e-4,
            tvWeight: Float = 1e-2, tvExponent: Float = 3, learningRate: Float = 0.1, iterations: Int = 300, jitter: Int = 4,
            seed: UInt64 = 0
        ) {
            self.maskScale = maskScale
            self.maskBlurSigma = maskBlurSigma
            self.perturbationBlurSigma = perturbationBlurSigma
            self.l1Weight = l1Weight
            self.tvWeight = tvWeight
            self.tvExponent = tvExponent
            self.learningRate = learningRate
            self.iterations = iterations
            self.jitter = jitter
            self.seed = seed
        }

        /// The defaults with every pixel length (mask cell, blurs, jitter) scaled from 224
        /// pixels to `imageSize`, the mask cell kept at least 2 pixels: for 32-pixel images a
        /// 16×16 mask, mask blur σ 0.71, perturbation blur σ 1.43 and jitter 1 (no shift).
        public static func scaled(toImageSize imageSize: Int) -> Configuration {
            Configuration(
                maskScale: max(2, Int(scaledLength(8, toImageSize: imageSize).rounded())),
                maskBlurSigma: scaledLength(5, toImageSize: imageSize),
                perturbationBlurSigma: scaledLength(10, toImageSize: imageSize),
                jitter: Int(scaledLength(4, toImageSize: imageSize).rounded()))
        }

        /// Checks every setting, naming the first bad one.
        /// - Throws: `ExplainError.invalidSetting`.
        public func validate() throws {
            guard maskScale >= 1 else { throw invalidSetting("mask scale", maskScale, "must be ≥ 1") }
            guard maskBlurSigma >= 0 && maskBlurSigma.isFinite else { throw invalidSetting("mask blur sigma", maskBlurSigma, "must be ≥ 0") }
            guard perturbationBlurSigma > 0 && perturbationBlurSigma.isFinite else {
                throw invalidSetting("perturbation blur sigma", perturbationBlurSigma, "must be positive")
            }
            for (name, value) in [("L1 weight", l1Weight), ("TV weight", tvWeight)] where !(value >= 0 && value.isFinite) {
                throw invalidSetting(name, value, "must be ≥ 0 and finite")
            }
            guard tvExponent >= 1 && tvExponent.isFinite else { throw invalidSetting("TV exponent", tvExponent, "must be ≥ 1") }
            guard learningRate > 0 && learningRate.isFinite else { throw invalidSetting("learning rate", learningRate, "must be positive") }
            guard iterations >= 1 else { throw invalidSetting("iterations", iterations, "must be ≥ 1") }
            guard jitter >= 0 else { throw invalidSetting("jitter", jitter, "must be ≥ 0") }
        }
    }

    /// The loss of one image and target as a function of the coarse mask m.
    public struct Objective: Sendable {
        public let target: Int
        /// `[h, w]`, the shape of m.
        public let parameterShape: [Int]
        let configuration: Configuration
        let classifier: ImageClassifier
        let image: Tensor  // [1, 3, H, W]
        let blurred: Tensor  // [1, 3, H, W]
        let maskMap: SeparableLinearMap  // m [h, w] → M [H, W]

        /// M = B(U(m)), `[H, W]`.
        public func fineMask(_ mask: Tensor) -> Tensor { maskMap.apply(mask) }

        /// Φ(x; M) with the image and its blurred copy shifted by `shift` pixels (replicated
        /// edges), `[1, 3, H, W]`.
        public func perturbedImage(_ mask: Tensor, shift: (rows: Int, columns: Int) = (0, 0)) -> Tensor {
            let fine = fineMask(mask).reshaped([1, 1] + image.shape.suffix(2))
            let (x, null) = (shifted(image, by: shift), shifted(blurred, by: shift))
            return null + (x - null) * fine
        }

        /// The loss, its parts and ∂L/∂m `[h, w]` at `mask`, with the image shifted by `shift`.
        /// Costs one forward and one backward pass.
        public func evaluate(_ mask: Tensor, shift: (rows: Int, columns: Int) = (0, 0)) -> (
            loss: Float, probability: Float, l1: Float, tv: Float, gradient: Tensor
        ) {
            precondition(mask.shape == parameterShape, "MeaningfulPerturbation.Objective: mask \(mask.shape) is not \(parameterShape)")
            let fine = fineMask(mask)  // [H, W]
            let (x, null) = (shifted(image, by: shift), shifted(blurred, by: shift))
            let difference = x - null  // [1, 3, H, W]
            let perturbed = null + difference * fine.reshaped([1, 1] + fine.shape)
            var probability: Float = 0
            let (_, gradPerturbed) = classifier.inputGradient(perturbed) { logits in
                // ∂ softmax(z)[t] / ∂z = p_t (e_t − p)
                let p = softmax(logits)
                probability = p.scalars[target]
                var grad = p * (-probability)
                grad.scalars[target] += probability
                return grad
            }
            let gradFine = (gradPerturbed * difference).sum(alongAxes: [0, 1])  // [H, W]
            var gradient = maskMap.adjoint(gradFine)  // [h, w]

            // λ₁ Σ |m − 1|: gradient λ₁ sign(m − 1) (0 at m = 1).
            var l1: Float = 0
            for index in 0..<mask.count {
                let offset = mask.scalars[index] - 1
                l1 += abs(offset)
                gradient.scalars[index] += configuration.l1Weight * (offset > 0 ? 1 : (offset < 0 ? -1 : 0))
            }
            let (tv, gradTV) = totalVariation(mask, exponent: configuration.tvExponent)
            gradient += gradTV * configuration.tvWeight
            let loss = configuration.l1Weight * l1 + configuration.tvWeight * tv + probability
            return (loss, probability, l1, tv, gradient)
        }
    }

    public let classifier: ImageClassifier
    public let configuration: Configuration

    public init(classifier: ImageClassifier, configuration: Configuration = .init()) {
        self.classifier = classifier
        self.configuration = configuration
    }

    public var methodName: String { "meaningful-perturbation" }

    /// The loss for one image and target.
    /// - Throws: `ExplainError` for a bad setting, image or target.
    public func objective(for image: Tensor, target: Int?) throws -> Objective {
        try configuration.validate()
        let (target, _) = try classifier.validatedTarget(for: image, target: target)
        let (height, width) = (image.shape[2], image.shape[3])
        let scale = configuration.maskScale
        let coarse = ((height + scale - 1) / scale, (width + scale - 1) / scale)
        let upsampling = BilinearUpsampling(from: coarse, to: (height, width))
        var maskMap = SeparableLinearMap(rows: upsampling.rows, columns: upsampling.columns)
        if configuration.maskBlurSigma > 0 {
            maskMap = SeparableLinearMap(
                rows: matmul(gaussianBlurMatrix(size: height, sigma: configuration.maskBlurSigma), maskMap.rows),
                columns: matmul(gaussianBlurMatrix(size: width, sigma: configuration.maskBlurSigma), maskMap.columns))
        }
        return Objective(
            target: target, parameterShape: [coarse.0, coarse.1], configuration: configuration, classifier: classifier, image: image,
            blurred: gaussianBlur(image, sigma: configuration.perturbationBlurSigma), maskMap: maskMap)
    }

    /// - Parameters:
    ///   - image: `[1, 3, H, W]` pixels in [0, 1].
    ///   - target: the class to explain; `nil` for the class predicted on `image`.
    /// - Returns: the `[H, W]` map described in the type's documentation; diagnostics hold the
    ///   target probability on the image and on the final perturbed image, the final loss and
    ///   the mean deleted fraction.
    /// - Throws: `ExplainError` for a bad setting, image or target.
    /// - Complexity: `iterations` forward and backward passes.
    public func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        let objective = try objective(for: image, target: target)
        var generator = SeededGenerator(seed: configuration.seed)
        var mask = Tensor.ones(objective.parameterShape)
        var optimizer = MaskOptimizerState(.adam(), learningRate: configuration.learningRate, count: mask.count)
        var lastLoss: Float = 0
        for _ in 0..<configuration.iterations {
            let shift = configuration.jitter > 0
                ? (Int(generator.next() % UInt64(configuration.jitter)), Int(generator.next() % UInt64(configuration.jitter))) : (0, 0)
            let step = objective.evaluate(mask, shift: shift)
            lastLoss = step.loss
            optimizer.update(&mask.scalars, gradient: step.gradient.scalars)
            mask = mask.clamped(min: 0, max: 1)
        }
        let fine = objective.fineMask(mask)
        let probabilityOnImage = softmax(classifier.logits(image)).scalars[objective.target]
        let probabilityOnPerturbed = softmax(classifier.logits(objective.perturbedImage(mask))).scalars[objective.target]
        let deleted = 1 - fine
        return Saliency(
            values: deleted, method: methodName, target: objective.target, forwardPasses: configuration.iterations + 2,
            backwardPasses: configuration.iterations,
            diagnostics: [
                "probability_on_image": Double(probabilityOnImage), "probability_on_perturbed_image": Double(probabilityOnPerturbed),
                "final_loss": Double(lastLoss), "mean_deleted": Double(deleted.mean().scalar),
            ])
    }
}

/// A linear map `[h, w] → [H, W]`, `c ↦ R · c · Cᵀ`, with its adjoint `g ↦ Rᵀ · g · C`.
struct SeparableLinearMap: Sendable {
    let rows: Tensor  // [H, h]
    let columns: Tensor  // [W, w]

    func apply(_ coarse: Tensor) -> Tensor {
        matmul(matmul(rows, coarse), columns, transposeB: true)  // [H, h]·[h, w]·[w, W]
    }

    func adjoint(_ fine: Tensor) -> Tensor {
        matmul(matmul(rows, fine, transposeA: true), columns)  // [h, H]·[H, W]·[W, w]
    }
}

/// The `[n, n]` matrix of a 1-D Gaussian blur with `gaussianKernel(sigma:)` taps and reflected
/// borders (… 2 1 | 0 1 2 …), the same filter `gaussianBlur` applies along one axis.
func gaussianBlurMatrix(size: Int, sigma: Float) -> Tensor {
    let kernel = gaussianKernel(sigma: sigma)
    let radius = kernel.count / 2
    var matrix = Tensor.zeros([size, size])
    for row in 0..<size {
        for tap in 0..<kernel.count {
            matrix.scalars[row * size + reflectedIndex(row + tap - radius, size)] += kernel[tap]
        }
    }
    return matrix
}

/// Reflects an index into `0..<count` without repeating the edge (… 2 1 | 0 1 2 …).
func reflectedIndex(_ index: Int, _ count: Int) -> Int {
    guard count > 1 else { return 0 }
    let period = 2 * (count - 1)
    var folded = index % period
    if folded < 0 { folded += period }
    return folded < count ? folded : period - folded
}

/// The image `[1, 3, H, W]` moved up by `shift.rows` and left by `shift.columns` pixels,
/// repeating the last row and column.
func shifted(_ image: Tensor, by shift: (rows: Int, columns: Int)) -> Tensor {
    guard shift.rows != 0 || shift.columns != 0 else { return image }
    let (height, width) = (image.shape[2], image.shape[3])
    var result = image
    for plane in 0..<(image.count / (height * width)) {
        let offset = plane * height * width
        for row in 0..<height {
            let sourceRow = min(row + shift.rows, height - 1)
            for column in 0..<width {
                result.scalars[offset + row * width + column] = image.scalars[offset + sourceRow * width + min(column + shift.columns, width - 1)]
            }
        }
    }
    return result
}

/// Σ (d₁² + d₂²)^(β/2) over forward differences of `[h, w]` (zero past the last row and
/// column) and its gradient, as the authors' `tv` in `optimize_mask.py` (which floors the
/// magnitude at 1e-5 inside the gradient's weight).
func totalVariation(_ mask: Tensor, exponent beta: Float) -> (value: Float, gradient: Tensor) {
    let (height, width) = (mask.shape[0], mask.shape[1])
    var value: Float = 0
    var rowTerms = [Float](repeating: 0, count: height * width)  // d₁ · weight
    var columnTerms = [Float](repeating: 0, count: height * width)  // d₂ · weight
    for row in 0..<height {
        for column in 0..<width {
            let index = row * width + column
            let d1 = row < height - 1 ? mask.scalars[index + width] - mask.scalars[index] : 0
            let d2 = column < width - 1 ? mask.scalars[index + 1] - mask.scalars[index] : 0
            let v = powf((d1 * d1 + d2 * d2).squareRoot(), beta)
            value += v
            let weight = powf(max(v, 1e-5), (beta - 2) / beta)  // ‖∇m‖^(β−2)
            rowTerms[index] = weight * d1
            columnTerms[index] = weight * d2
        }
    }
    var gradient = Tensor.zeros([height, width])
    for row in 0..<height {
        for column in 0..<width {
            let index = row * width + column
            var g = -rowTerms[index] - columnTerms[index]
            if row > 0 { g += rowTerms[index - width] }
            if column > 0 { g += columnTerms[index - 1] }
            gradient.scalars[index] = beta * g
        }
    }
    return (value, gradient)
}
