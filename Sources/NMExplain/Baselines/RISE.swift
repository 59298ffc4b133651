import NMNets
import NMTensor

/// RISE, Randomized Input Sampling for Explanation (Petsiuk, Das & Saenko, BMVC 2018,
/// arXiv:1806.07421, §3): the saliency of a pixel is the target probability averaged over
/// random masked images, weighted by how much each mask keeps the pixel,
///
///     S = Σᵢ P_target(x ⊙ Mᵢ) · Mᵢ / (N · p)
///
/// Each mask is an s×s grid of cells kept with probability p, upsampled bilinearly to
/// (s + 1)·cell pixels (cell = ⌈H / s⌉ by ⌈W / s⌉) and cropped at a random offset in
/// [0, cell) — the authors' `generate_masks`. Hidden pixels take the fill colour: by default
/// the model's mean colour, which is what the authors' code gets by multiplying the
/// *normalised* input by the mask. Deviation: the upsampling clamps at the grid's edges
/// (PyTorch `align_corners=False`) where scikit-image's `resize(mode="reflect")` mirrors; it
/// only changes the outer half-cell of the upsampled mask.
///
/// Masks are generated from the seed one after another and evaluated `batchSize` at a time, so
/// memory stays O(batchSize · H · W) and the map does not depend on the batch size.
///
/// Map: `[H, W]`, non-negative: about the mean target probability over the masked images that
/// keep the pixel, so roughly in [0, 1] (it can exceed 1 slightly, since Σ Mᵢ / (N p) is only 1
/// on average). Cost: N + 1 forward passes, no backward pass.
public struct RISE: Explainer {
    /// The settings of RISE. Defaults are the paper's ImageNet settings (§4: N = 8000, s = 7,
    /// p = 0.5).
    public struct Configuration: Sendable, Equatable {
        /// N, the number of random masks (≥ 1).
        public var maskCount: Int
        /// s, the side of the random binary grid (≥ 1).
        public var gridSize: Int
        /// p, the probability that a grid cell is kept (in (0, 1]).
        public var keepProbability: Float
        /// What hidden pixels become.
        public var fill: PerturbationFill
        /// Masked images per forward pass (≥ 1).
        public var batchSize: Int
        public var seed: UInt64

        public init(
            maskCount: Int = 8000, gridSize: Int = 7, keepProbability: Float = 0.5, fill: PerturbationFill = .modelMeanColor,
            batchSize: Int = 64, seed: UInt64 = 0
        ) {
            self.maskCount = maskCount
            self.gridSize = gridSize
            self.keepProbability = keepProbability
            self.fill = fill
            self.batchSize = batchSize
            self.seed = seed
        }

        /// Checks every setting, naming the first bad one.
        /// - Throws: `ExplainError.invalidSetting`.
        public func validate() throws {
            guard maskCount >= 1 else { throw invalidSetting("mask count", maskCount, "must be ≥ 1") }
            guard gridSize >= 1 else { throw invalidSetting("grid size", gridSize, "must be ≥ 1") }
            guard keepProbability > 0 && keepProbability <= 1 else {
                throw invalidSetting("keep probability", keepProbability, "must be in (0, 1]")
            }
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

    public var methodName: String { "rise" }

    /// - Parameters:
    ///   - image: `[1, 3, H, W]` pixels in [0, 1].
    ///   - target: the class to explain; `nil` for the class predicted on `image`.
    /// - Returns: the `[H, W]` map described in the type's documentation.
    /// - Throws: `ExplainError` for a bad setting, image or target.
    /// - Complexity: N + 1 forward passes; O(batchSize · H · W) memory for the masks.
    public func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        try configuration.validate()
        let (target, _) = try classifier.validatedTarget(for: image, target: target)
        let (height, width) = (image.shape[2], image.shape[3])
        let plane = height * width
        let fill = configuration.fill.image(for: image, classifier: classifier)  // [1, 3, H, W]
        let difference = image - fill  // x − fill, [1, 3, H, W]
        var sampler = RISEMaskSampler(
            height: height, width: width, gridSize: configuration.gridSize, keepProbability: configuration.keepProbability,
            seed: configuration.seed)

        var saliency = [Double](repeating: 0, count: plane)
        var probabilitySum = 0.0
        var start = 0
        while start < configuration.maskCount {
            let count = min(configuration.batchSize, configuration.maskCount - start)
            let masks = (0..<count).map { _ in sampler.next() }  // count × [H, W]
            let probabilities = classifier.targetProbabilities(count: count, target: target, batchSize: count) { index in
                fill + difference * masks[index].reshaped([1, 1, height, width])  // [1, 3, H, W]
            }
            for (mask, probability) in zip(masks, probabilities) {
                probabilitySum += Double(probability)
                for pixel in 0..<plane { saliency[pixel] += Double(probability) * Double(mask.scalars[pixel]) }
            }
            start += count
        }
        let normaliser = Double(configuration.maskCount) * Double(configuration.keepProbability)
        let values = Tensor(shape: [height, width], scalars: saliency.map { Float($0 / normaliser) })
        return Saliency(
            values: values, method: methodName, target: target, forwardPasses: configuration.maskCount + 1, backwardPasses: 0,
            diagnostics: ["mean_masked_probability": probabilitySum / Double(configuration.maskCount)])
    }
}

/// Draws RISE masks one at a time from a seed: per mask, s·s uniform draws (cell kept when
/// below p), then the row and column offsets of the crop.
struct RISEMaskSampler {
    let height: Int
    let width: Int
    let gridSize: Int
    let keepProbability: Float
    let cellHeight: Int
    let cellWidth: Int
    let upsampling: BilinearUpsampling  // [s, s] → [(s + 1)·cellHeight, (s + 1)·cellWidth]
    var generator: SeededGenerator

    init(height: Int, width: Int, gridSize: Int, keepProbability: Float, seed: UInt64) {
        self.height = height
        self.width = width
        self.gridSize = gridSize
        self.keepProbability = keepProbability
        cellHeight = (height + gridSize - 1) / gridSize
        cellWidth = (width + gridSize - 1) / gridSize
        upsampling = BilinearUpsampling(
            from: (gridSize, gridSize), to: ((gridSize + 1) * cellHeight, (gridSize + 1) * cellWidth))
        generator = SeededGenerator(seed: seed)
    }

    /// The next mask, `[H, W]` in [0, 1].
    mutating func next() -> Tensor {
        var grid = Tensor.zeros([gridSize, gridSize])
        for index in 0..<grid.count where generator.nextUnitFloat() < keepProbability { grid.scalars[index] = 1 }
        let rowOffset = Int(generator.next() % UInt64(cellHeight))
        let columnOffset = Int(generator.next() % UInt64(cellWidth))
        let upsampled = upsampling.upsample(grid)  // [(s + 1)·cellHeight, (s + 1)·cellWidth]
        let upsampledWidth = upsampled.shape[1]
        var mask = [Float](repeating: 0, count: height * width)
        for row in 0..<height {
            let source = (row + rowOffset) * upsampledWidth + columnOffset
            for column in 0..<width { mask[row * width + column] = upsampled.scalars[source + column] }
        }
        return Tensor(shape: [height, width], scalars: mask)
    }
}
