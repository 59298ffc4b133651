import Foundation
import NMNets
import NMTensor

/// Extremal Perturbation (Fong, Patrick & Vedaldi, "Understanding Deep Networks via Extremal
/// Perturbations and Smooth Masks", ICCV 2019, arXiv:1910.08485), preservation game, as
/// TorchRay's `extremal_perturbation` runs it: find a smooth mask m of area a that keeps the
/// target score as high as possible when everything outside it is blurred,
///
///     E(p) = score(Φ(x; m(p))) − λ_t · mean((sort(m) − r_a)²)
///
/// where p is a coarse parameter grid in [0, 1] (one value per `step` pixels), m(p) is
/// TorchRay's smooth max-convolution mask generator (`SmoothMaskGenerator`), Φ blends a blur
/// pyramid (level 0 blurred with σ_max, the last level the image itself) by linear
/// interpolation at m·(L − 1), r_a is the vector of (1 − a)·n zeros then ones, and λ_t = 300 ·
/// 1.0035^t grows every iteration. E is maximised by SGD (lr 0.01, momentum 0.9 with dampening
/// 0.9, as TorchRay passes `dampening=momentum`), p clipped to [0, 1] after each step, the
/// perturbed image flipped left-right on even iterations (TorchRay's `jitter`).
///
/// Deviation: the pyramid's blurs use `gaussianBlur`'s reflected borders (TorchRay's
/// `imsmooth` pads with zeros) with TorchRay's kernel of 2⌈4σ⌉ + 1 taps. The mask generator and
/// everything else follow TorchRay; the reward is the target logit by default (TorchRay
/// rewards the model's raw output).
///
/// Map: `[H, W]`, the mask of the last iteration (TorchRay returns the mask before its final
/// update), in [0, 1]: 1 = preserved, i.e. the region of about `area` of the image that keeps the
/// target score; high = important. Cost: `iterations` forward and backward passes, plus 2
/// forward passes (the target check and the final preserved image).
public struct ExtremalPerturbation: Explainer {
    /// The settings of Extremal Perturbation. Defaults are TorchRay's (for 224-pixel inputs:
    /// area 0.1, 8 pyramid levels, σ_max 20, step 7, σ 21, 800 iterations, lr 0.01, momentum
    /// 0.9, area weight 300 growing ×1.0035, left-right jitter).
    public struct Configuration: Sendable, Equatable {
        /// a, the fraction of the image to preserve (in (0, 1)).
        public var area: Float
        /// L, the number of blur pyramid levels (≥ 2).
        public var levels: Int
        /// σ_max, the blur of the most perturbed level, in pixels (> 0).
        public var maximumBlurSigma: Float
        /// Pixels per mask parameter (≥ 1).
        public var step: Int
        /// σ of the smooth mask generator, in pixels (> 0; TorchRay uses 3 · step).
        public var smoothingSigma: Float
        /// SGD steps (≥ 1; one forward and one backward pass each).
        public var iterations: Int
        public var learningRate: Float
        /// SGD momentum μ, in [0, 1); TorchRay also sets the dampening to μ.
        public var momentum: Float
        /// λ₀, the initial weight of the area loss (≥ 0).
        public var areaWeight: Float
        /// The factor applied to the area weight after each iteration (≥ 1).
        public var areaWeightGrowth: Float
        /// Flip the perturbed image left-right on even iterations.
        public var flipsOnEvenIterations: Bool
        /// The score preserved: the target logit (TorchRay) or probability.
        public var score: TargetScore

        public init(
            area: Float = 0.1, levels: Int = 8, maximumBlurSigma: Float = 20, step: Int = 7, smoothingSigma: Float = 21,
            iterations: Int = 800, learningRate: Float = 0.01, momentum: Float = 0.9, areaWeight: Float = 300,
            areaWeightGrowth: Float = 1.0035, flipsOnEvenIterations: Bool = true, score: TargetScore = .logit
        ) {
            self.area = area
            self.levels = levels
            self.maximumBlurSigma = maximumBlurSigma
            self.step = step
            self.smoothingSigma = smoothingSigma
            self.iterations = iterations
            self.learningRate = learningRate
            self.momentum = momentum
            self.areaWeight = areaWeight
            self.areaWeightGrowth = areaWeightGrowth
            self.flipsOnEvenIterations = flipsOnEvenIterations
            self.score = score
        }

        /// The defaults with the pixel lengths scaled from 224 pixels to `imageSize`: step
        /// max(1, round(7·S/224)), σ = 3 · step, σ_max = 20·S/224 (for 32 pixels: step 1, σ 3,
        /// σ_max 2.86).
        public static func scaled(toImageSize imageSize: Int) -> Configuration {
            let step = max(1, Int(scaledLength(7, toImageSize: imageSize).rounded()))
            return Configuration(
                maximumBlurSigma: scaledLength(20, toImageSize: imageSize), step: step, smoothingSigma: 3 * Float(step))
        }

        /// Checks every setting, naming the first bad one.
        /// - Throws: `ExplainError.invalidSetting`.
        public func validate() throws {
            guard area > 0 && area < 1 else { throw invalidSetting("area", area, "must be in (0, 1)") }
            guard levels >= 2 else { throw invalidSetting("levels", levels, "must be ≥ 2") }
            guard maximumBlurSigma > 0 && maximumBlurSigma.isFinite else {
                throw invalidSetting("maximum blur sigma", maximumBlurSigma, "must be positive")
            }
            guard step >= 1 else { throw invalidSetting("step", step, "must be ≥ 1") }
            guard smoothingSigma > 0 && smoothingSigma.isFinite else { throw invalidSetting("smoothing sigma", smoothingSigma, "must be positive") }
            guard iterations >= 1 else { throw invalidSetting("iterations", iterations, "must be ≥ 1") }
            guard learningRate > 0 && learningRate.isFinite else { throw invalidSetting("learning rate", learningRate, "must be positive") }
            guard momentum >= 0 && momentum < 1 else { throw invalidSetting("momentum", momentum, "must be in [0, 1)") }
            guard areaWeight >= 0 && areaWeight.isFinite else { throw invalidSetting("area weight", areaWeight, "must be ≥ 0") }
            guard areaWeightGrowth >= 1 && areaWeightGrowth.isFinite else {
                throw invalidSetting("area weight growth", areaWeightGrowth, "must be ≥ 1")
            }
        }
    }

    /// The energy of one image and target as a function of the mask parameters p.
    public struct Objective: Sendable {
        public let target: Int
        public let generator: SmoothMaskGenerator
        let configuration: Configuration
        let classifier: ImageClassifier
        let pyramid: [Tensor]  // L × [1, 3, H, W]; level 0 most blurred, level L − 1 the image
        let reference: [Float]  // r_a over the generator's full mask

        /// `[h, w]`, the shape of p.
        public var parameterShape: [Int] { generator.parameterShape }

        /// Φ(x; m) for a mask `[H, W]` in [0, 1] and ∂Φ/∂m (per channel), both `[1, 3, H, W]`.
        func perturbed(_ mask: Tensor) -> (image: Tensor, slope: Tensor) {
            let plane = mask.count
            let lastLevel = pyramid.count - 1
            var image = pyramid[0]
            var slope = Tensor.zeros(image.shape)
            for pixel in 0..<plane {
                let position = min(max(mask.scalars[pixel], 0), 1) * Float(lastLevel)
                let lower = min(Int(position.rounded(.down)), lastLevel)
                let upper = min(lower + 1, lastLevel)
                let fraction = position - Float(lower)
                for channel in 0..<3 {
                    let index = channel * plane + pixel
                    let (y0, y1) = (pyramid[lower].scalars[index], pyramid[upper].scalars[index])
                    image.scalars[index] = (1 - fraction) * y0 + fraction * y1
                    slope.scalars[index] = Float(lastLevel) * (y1 - y0)
                }
            }
            return (image, slope)
        }

        /// The image preserved by parameters p: Φ(x; m(p)), `[1, 3, H, W]`.
        public func preservedImage(_ parameters: Tensor) -> Tensor {
            perturbed(generator.generate(parameters).cropped).image
        }

        /// The energy's parts and −∂E/∂p (the gradient of the loss −E) at iteration `iteration`
        /// (which sets the flip and λ_t). Costs one forward and one backward pass.
        public func evaluate(_ parameters: Tensor, iteration: Int) -> (
            reward: Float, areaLoss: Float, mask: Tensor, gradient: Tensor
        ) {
            let (cropped, full) = generator.generate(parameters)
            let (image, slope) = perturbed(cropped)
            let flips = configuration.flipsOnEvenIterations && iteration % 2 == 0
            var reward: Float = 0
            let score = configuration.score
            let target = self.target
            let (_, gradInput) = classifier.inputGradient(flips ? flippedHorizontally(image) : image) { logits in
                // ∂(−reward)/∂logits.
                var grad = Tensor.zeros(logits.shape)
                switch score {
                case .logit:
                    reward = logits.scalars[target]
                    grad.scalars[target] = -1
                case .probability:
                    let p = softmax(logits)
                    reward = p.scalars[target]
                    grad = p * reward
                    grad.scalars[target] -= reward
                }
                return grad
            }
            let gradImage = flips ? flippedHorizontally(gradInput) : gradInput  // [1, 3, H, W]
            let gradCropped = (gradImage * slope).sum(alongAxes: [0, 1])  // [H, W]

            // λ_t · mean((sort(m) − r)²); its gradient goes back through the sort's permutation.
            let weight = configuration.areaWeight * powf(configuration.areaWeightGrowth, Float(iteration))
            let order = full.scalars.indices.sorted { full.scalars[$0] < full.scalars[$1] }
            let count = Float(full.count)
            var areaLoss: Float = 0
            var gradFull = Tensor.zeros(full.shape)
            for (rank, index) in order.enumerated() {
                let difference = full.scalars[index] - reference[rank]
                areaLoss += difference * difference
                gradFull.scalars[index] = weight * 2 * difference / count
            }
            areaLoss *= weight / count
            let gradient = generator.backward(parameters, gradCropped: gradCropped, gradFull: gradFull)
            return (reward, areaLoss, cropped, gradient)
        }
    }

    public let classifier: ImageClassifier
    public let configuration: Configuration

    public init(classifier: ImageClassifier, configuration: Configuration = .init()) {
        self.classifier = classifier
        self.configuration = configuration
    }

    public var methodName: String { "extremal-perturbation" }

    /// The energy for one image and target.
    /// - Throws: `ExplainError` for a bad setting, image or target.
    public func objective(for image: Tensor, target: Int?) throws -> Objective {
        try configuration.validate()
        let (target, _) = try classifier.validatedTarget(for: image, target: target)
        let generator = SmoothMaskGenerator(
            height: image.shape[2], width: image.shape[3], step: configuration.step, sigma: configuration.smoothingSigma)
        let levels = configuration.levels
        let pyramid = (0..<levels).map { level -> Tensor in
            let sigma = configuration.maximumBlurSigma * (1 - Float(level) / Float(levels - 1))
            guard sigma > 0 else { return image }
            return gaussianBlur(image, sigma: sigma, kernelSize: 2 * Int((4 * sigma).rounded(.up)) + 1)
        }
        let fullCount = generator.fullShape[0] * generator.fullShape[1]
        let zeros = Int(Float(fullCount) * (1 - configuration.area))  // TorchRay: int(max_area * (1 − a))
        let reference = (0..<fullCount).map { $0 < zeros ? Float(0) : 1 }
        return Objective(
            target: target, generator: generator, configuration: configuration, classifier: classifier, pyramid: pyramid,
            reference: reference)
    }

    /// - Parameters:
    ///   - image: `[1, 3, H, W]` pixels in [0, 1].
    ///   - target: the class to explain; `nil` for the class predicted on `image`.
    /// - Returns: the `[H, W]` map described in the type's documentation; diagnostics hold the
    ///   final reward and area loss, the mask's mean (its area) and the target probability on
    ///   the image and on the preserved image.
    /// - Throws: `ExplainError` for a bad setting, image or target.
    /// - Complexity: `iterations` forward and backward passes; O(iterations · (H + 2σ)² ·
    ///   (2⌈σ/step⌉ + 3)²) for the mask generator.
    public func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        let objective = try objective(for: image, target: target)
        var parameters = Tensor.ones(objective.parameterShape)
        var velocity: [Float]? = nil
        let (momentum, learningRate) = (configuration.momentum, configuration.learningRate)
        var last = objective.evaluate(parameters, iteration: 0)
        for iteration in 0..<configuration.iterations {
            if iteration > 0 { last = objective.evaluate(parameters, iteration: iteration) }
            // PyTorch SGD with dampening = momentum: v ← g first, then v ← μ v + (1 − μ) g.
            if var buffer = velocity {
                for index in buffer.indices { buffer[index] = momentum * buffer[index] + (1 - momentum) * last.gradient.scalars[index] }
                velocity = buffer
            } else {
                velocity = last.gradient.scalars
            }
            for index in parameters.scalars.indices {
                parameters.scalars[index] = min(max(parameters.scalars[index] - learningRate * velocity![index], 0), 1)
            }
        }
        let mask = last.mask
        let probabilityOnImage = softmax(classifier.logits(image)).scalars[objective.target]
        let probabilityOnPreserved = softmax(classifier.logits(objective.perturbed(mask).image)).scalars[objective.target]
        return Saliency(
            values: mask, method: methodName, target: objective.target, forwardPasses: configuration.iterations + 2,
            backwardPasses: configuration.iterations,
            diagnostics: [
                "final_reward": Double(last.reward), "final_area_loss": Double(last.areaLoss), "mask_area": Double(mask.mean().scalar),
                "probability_on_image": Double(probabilityOnImage), "probability_on_preserved_image": Double(probabilityOnPreserved),
            ])
    }
}

/// TorchRay's `MaskGenerator`: a smooth mask from a coarse parameter grid p ∈ [0, 1]^{h×w}
/// (h = ⌈H / step⌉), each output pixel u taking a smooth maximum over the (2r + 1)² nearest
/// parameters, each weighted by a radial kernel k(‖u − centre‖ / σ):
///
///     z_k(u) = k(δ_k(u) / σ) · p_k,   m(u) = clamp(Σ_k z_k softmax(20 z)_k, 0, 1)
///
/// with k(t) = exp(−2 · max(t − ½, 0)²), r = 1 + ⌈σ / step⌉, parameters at positions
/// margin + step · i (margin = σ) and zero outside the grid. The full mask has a margin of σ
/// pixels on every side; the cropped mask is the `[H, W]` part over the image.
public struct SmoothMaskGenerator: Sendable {
    public let height: Int
    public let width: Int
    public let step: Int
    public let sigma: Float
    /// The softmax's inverse temperature (TorchRay's `coldness`).
    public let coldness: Float
    /// `[h, w]`, the parameter grid.
    public let parameterShape: [Int]
    /// `[H′, W′]`, the mask with its margin.
    public let fullShape: [Int]
    /// Offset of the image inside the full mask (round(σ)).
    public let cropOffset: Int
    let padding: Int
    let radius: Int
    /// Kernel weight of every (output pixel, neighbour): `[H′ · W′ · (2r + 1)²]`.
    let weights: [Float]

    /// - Precondition: `height, width, step ≥ 1` and `sigma > 0`.
    public init(height: Int, width: Int, step: Int, sigma: Float, coldness: Float = 20) {
        precondition(height >= 1 && width >= 1 && step >= 1 && sigma > 0, "SmoothMaskGenerator: bad shape or settings")
        self.height = height
        self.width = width
        self.step = step
        self.sigma = sigma
        self.coldness = coldness
        let margin = sigma
        let padding = 1 + Int(((margin + sigma) / Float(step)).rounded(.up))
        let radius = 1 + Int((sigma / Float(step)).rounded(.up))
        let inputShape = [(height + step - 1) / step, (width + step - 1) / step]
        let fullShape = inputShape.map { step * ($0 + 2 * padding - 2 * radius) - step + 1 }  // step · middle − step + 1
        let cropOffset = Int(margin.rounded())
        precondition(fullShape[0] >= cropOffset + height && fullShape[1] >= cropOffset + width, "SmoothMaskGenerator: margin too small")
        self.padding = padding
        self.radius = radius
        self.fullShape = fullShape
        self.parameterShape = inputShape
        self.cropOffset = cropOffset

        let side = 2 * radius + 1
        var weights = [Float](repeating: 0, count: fullShape[0] * fullShape[1] * side * side)
        for uy in 0..<fullShape[0] {
            for ux in 0..<fullShape[1] {
                for ky in 0..<side {
                    for kx in 0..<side {
                        let iy = uy / step + ky - padding, ix = ux / step + kx - padding
                        let dy = Float(uy) - (margin + Float(step * iy)), dx = Float(ux) - (margin + Float(step * ix))
                        let t = (dy * dy + dx * dx).squareRoot() / sigma
                        let excess = max(t - 0.5, 0)
                        weights[((uy * fullShape[1] + ux) * side + ky) * side + kx] = expf(-2 * excess * excess)
                    }
                }
            }
        }
        self.weights = weights
    }

    /// Fills `neighbours` with the (parameter index or −1, z_k, softmax(c·z)_k) of every
    /// neighbour of output pixel `pixel` and returns its unclamped smooth maximum.
    private func smoothMaximum(_ parameters: Tensor, pixel: Int, into neighbours: inout [(index: Int, z: Float, share: Float)]) -> Float {
        let side = 2 * radius + 1
        let (uy, ux) = (pixel / fullShape[1], pixel % fullShape[1])
        var largest = -Float.infinity
        for ky in 0..<side {
            for kx in 0..<side {
                let iy = uy / step + ky - padding, ix = ux / step + kx - padding
                let inside = iy >= 0 && iy < parameterShape[0] && ix >= 0 && ix < parameterShape[1]
                let index = inside ? iy * parameterShape[1] + ix : -1
                let z = inside ? weights[(pixel * side + ky) * side + kx] * parameters.scalars[index] : 0
                neighbours[ky * side + kx] = (index, z, 0)
                largest = max(largest, z)
            }
        }
        var total: Float = 0
        for k in neighbours.indices {
            let share = expf(coldness * (neighbours[k].z - largest))
            neighbours[k].share = share
            total += share
        }
        var value: Float = 0
        for k in neighbours.indices {
            neighbours[k].share /= total
            value += neighbours[k].z * neighbours[k].share
        }
        return value
    }

    /// The mask of parameters `[h, w]`: cropped `[H, W]` and full `[H′, W′]`, in [0, 1].
    public func generate(_ parameters: Tensor) -> (cropped: Tensor, full: Tensor) {
        precondition(parameters.shape == parameterShape, "SmoothMaskGenerator: parameters \(parameters.shape) are not \(parameterShape)")
        let side = 2 * radius + 1
        var neighbours = [(index: Int, z: Float, share: Float)](repeating: (-1, 0, 0), count: side * side)
        var full = Tensor.zeros(fullShape)
        for pixel in 0..<full.count {
            full.scalars[pixel] = min(max(smoothMaximum(parameters, pixel: pixel, into: &neighbours), 0), 1)
        }
        return (crop(full), full)
    }

    /// The `[H, W]` part of a full mask over the image.
    public func crop(_ full: Tensor) -> Tensor {
        var cropped = Tensor.zeros([height, width])
        for row in 0..<height {
            for column in 0..<width {
                cropped.scalars[row * width + column] = full.scalars[(row + cropOffset) * fullShape[1] + column + cropOffset]
            }
        }
        return cropped
    }

    /// ∂L/∂p `[h, w]` from ∂L/∂(cropped mask) `[H, W]` and ∂L/∂(full mask) `[H′, W′]` (either
    /// may be nil). The clamp passes the gradient where the unclamped value lies in [0, 1]
    /// (PyTorch's `clamp`).
    public func backward(_ parameters: Tensor, gradCropped: Tensor?, gradFull: Tensor?) -> Tensor {
        precondition(parameters.shape == parameterShape, "SmoothMaskGenerator: parameters \(parameters.shape) are not \(parameterShape)")
        var gradMask = gradFull ?? Tensor.zeros(fullShape)
        precondition(gradMask.shape == fullShape, "SmoothMaskGenerator: full gradient \(gradMask.shape) is not \(fullShape)")
        if let gradCropped {
            precondition(gradCropped.shape == [height, width], "SmoothMaskGenerator: cropped gradient \(gradCropped.shape)")
            for row in 0..<height {
                for column in 0..<width {
                    gradMask.scalars[(row + cropOffset) * fullShape[1] + column + cropOffset] += gradCropped.scalars[row * width + column]
                }
            }
        }
        let side = 2 * radius + 1
        var neighbours = [(index: Int, z: Float, share: Float)](repeating: (-1, 0, 0), count: side * side)
        var gradient = Tensor.zeros(parameterShape)
        for pixel in 0..<gradMask.count where gradMask.scalars[pixel] != 0 {
            let value = smoothMaximum(parameters, pixel: pixel, into: &neighbours)
            guard value >= 0 && value <= 1 else { continue }
            let g = gradMask.scalars[pixel]
            for (k, neighbour) in neighbours.enumerated() where neighbour.index >= 0 {
                // ∂m/∂z_k = s_k (1 + c (z_k − m)); ∂z_k/∂p = weight_k.
                let dz = g * neighbour.share * (1 + coldness * (neighbour.z - value))
                gradient.scalars[neighbour.index] += dz * weights[pixel * side * side + k]
            }
        }
        return gradient
    }
}

/// `[N, C, H, W]` mirrored left-right.
func flippedHorizontally(_ image: Tensor) -> Tensor {
    let width = image.shape[image.rank - 1]
    var result = image
    for rowStart in stride(from: 0, to: image.count, by: width) {
        for column in 0..<width { result.scalars[rowStart + column] = image.scalars[rowStart + width - 1 - column] }
    }
    return result
}
