import NMTensor

/// The pointing game (Zhang, Bargal, Lin, Brandt, Shen & Sclaroff, "Top-down neural attention by
/// excitation backprop", ECCV 2016 / IJCV 2018, arXiv:1608.00507), as implemented by TorchRay's
/// `torchray.benchmark.pointing_game`.
///
/// A map scores a hit when its maximum (the first one in row-major order) lies **less than**
/// `tolerance` pixels (Euclidean, TorchRay's `(Δu)² + (Δv)² < tolerance²`) from some pixel of the
/// ground-truth object; otherwise a miss. Accuracy is hits / (hits + misses) per class, averaged
/// over classes. The map must be on the ground truth's grid (resize it to the image first).
public enum PointingGame {
    /// TorchRay's and the paper's tolerance: 15 pixels.
    public static let defaultTolerance = 15

    /// A rectangle of ground-truth pixels: rows `top ..< top + height`, columns `left ..< left + width`.
    public struct Box: Sendable, Equatable {
        public var top: Int
        public var left: Int
        public var height: Int
        public var width: Int

        public init(top: Int, left: Int, height: Int, width: Int) {
            self.top = top
            self.left = left
            self.height = height
            self.width = width
        }
    }

    /// Where the object is.
    public enum GroundTruth: Sendable, Equatable {
        /// `[H, W]`; every non-zero pixel belongs to the object.
        case mask(Tensor)
        /// Boxes (parts outside the map are ignored), e.g. PASCAL VOC annotations of one class.
        case boxes([Box])
    }

    /// One explained (image, class) pair.
    public struct Item: Sendable {
        /// `[H, W]` finite values, on the ground truth's grid.
        public var saliency: Tensor
        public var truth: GroundTruth
        /// The explained class; accuracy is averaged over the classes that occur.
        public var classIndex: Int

        public init(saliency: Tensor, truth: GroundTruth, classIndex: Int) {
            self.saliency = saliency
            self.truth = truth
            self.classIndex = classIndex
        }
    }

    /// The score of a set of items.
    public struct Result: Sendable, Equatable {
        /// Hits and misses by class index (only classes that occur).
        public var hits: [Int: Int]
        public var misses: [Int: Int]
        /// hits / (hits + misses) of each class that occurs.
        public var classAccuracies: [Int: Float]
        /// The mean of `classAccuracies` (TorchRay's `accuracy` when every class occurs); in [0, 1].
        public var meanAccuracy: Float
        /// All hits over all items, pooling classes.
        public var overallAccuracy: Float
        /// Per item, in order: whether it was a hit.
        public var itemHits: [Bool]
    }

    /// The first maximum of a map in row-major order.
    /// - Precondition: `saliency` is `[H, W]`, non-empty.
    public static func maximumLocation(_ saliency: Tensor) -> (row: Int, column: Int) {
        precondition(saliency.rank == 2 && saliency.count > 0, "maximumLocation: map \(saliency.shape) is not a non-empty [H, W]")
        var best = 0
        for index in saliency.scalars.indices where saliency.scalars[index] > saliency.scalars[best] { best = index }
        return (best / saliency.shape[1], best % saliency.shape[1])
    }

    /// Whether the map's maximum lies less than `tolerance` pixels from the object.
    /// - Parameters:
    ///   - saliency: `[H, W]`, finite.
    ///   - truth: a mask of the same shape, or boxes in its pixel coordinates. An empty object
    ///     is always missed.
    ///   - tolerance: in pixels, ≥ 0 (0 never hits, as in TorchRay).
    /// - Throws: `ExplainError.invalidSetting` for a map that is not `[H, W]` or holds NaN/∞, a
    ///   mask of another shape, or a negative tolerance.
    public static func isHit(saliency: Tensor, truth: GroundTruth, tolerance: Int = defaultTolerance) throws -> Bool {
        guard tolerance >= 0 else { throw ExplainError.invalidSetting(name: "tolerance", value: "\(tolerance)", reason: "must be ≥ 0") }
        try validateMap(saliency)
        let (height, width) = (saliency.shape[0], saliency.shape[1])
        let point = maximumLocation(saliency)
        let limit = tolerance * tolerance
        func accepts(row: Int, column: Int) -> Bool {
            let (dy, dx) = (row - point.row, column - point.column)
            return dy * dy + dx * dx < limit
        }
        switch truth {
        case .mask(let mask):
            guard mask.shape == saliency.shape else {
                throw ExplainError.invalidSetting(
                    name: "ground-truth mask", value: "\(mask.shape)", reason: "must be [\(height), \(width)] like the map")
            }
            for index in mask.scalars.indices where mask.scalars[index] != 0 {
                if accepts(row: index / width, column: index % width) { return true }
            }
            return false
        case .boxes(let boxes):
            for box in boxes {
                let rows = max(box.top, 0)..<min(box.top + box.height, height)
                let columns = max(box.left, 0)..<min(box.left + box.width, width)
                guard !rows.isEmpty && !columns.isEmpty else { continue }
                // The box pixel nearest to the point.
                let row = min(max(point.row, rows.lowerBound), rows.upperBound - 1)
                let column = min(max(point.column, columns.lowerBound), columns.upperBound - 1)
                if accepts(row: row, column: column) { return true }
            }
            return false
        }
    }

    /// Plays the game on every item and averages the accuracy per class.
    /// - Parameters:
    ///   - items: at least one.
    ///   - tolerance: in pixels, ≥ 0.
    /// - Throws: `ExplainError.invalidSetting` for no items or any bad item (see `isHit`).
    public static func evaluate(_ items: [Item], tolerance: Int = defaultTolerance) throws -> Result {
        guard !items.isEmpty else { throw ExplainError.invalidSetting(name: "pointing game items", value: "0", reason: "needs at least one item") }
        var hits: [Int: Int] = [:]
        var misses: [Int: Int] = [:]
        var itemHits: [Bool] = []
        for item in items {
            let isHit = try isHit(saliency: item.saliency, truth: item.truth, tolerance: tolerance)
            itemHits.append(isHit)
            hits[item.classIndex, default: 0] += isHit ? 1 : 0
            misses[item.classIndex, default: 0] += isHit ? 0 : 1
        }
        var accuracies: [Int: Float] = [:]
        for (classIndex, classHits) in hits {
            accuracies[classIndex] = Float(Double(classHits) / Double(classHits + misses[classIndex, default: 0]))
        }
        let mean = accuracies.keys.sorted().reduce(0.0) { $0 + Double(accuracies[$1]!) } / Double(accuracies.count)
        let overall = Double(itemHits.filter { $0 }.count) / Double(items.count)
        return Result(
            hits: hits, misses: misses, classAccuracies: accuracies, meanAccuracy: Float(mean), overallAccuracy: Float(overall),
            itemHits: itemHits)
    }
}
