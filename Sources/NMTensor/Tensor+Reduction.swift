// Reductions: sums and means (accumulated in Double, so a sum of 10⁶ ones is exactly 10⁶),
// maxima and minima (NaN propagates, as in NumPy), and argmax.
//
// Axis lists may hold negative axes (counted from the end) and may repeat an axis. Reducing
// over an empty axis list returns the tensor unchanged. Over a size-0 axis, `sum` gives 0;
// `mean`, `max`, `min` and `argmax` have no value there and stop with a precondition failure.

extension Tensor {
    /// The sum of all elements as a rank-0 tensor (0 for an empty tensor), accumulated in Double.
    public func sum() -> Tensor {
        Tensor(Float(doubleSum()))
    }

    /// The arithmetic mean of all elements as a rank-0 tensor, accumulated in Double.
    /// - Precondition: `count > 0`.
    public func mean() -> Tensor {
        precondition(count > 0, "mean: empty tensor of shape \(shape)")
        return Tensor(Float(doubleSum() / Double(count)))
    }

    /// Sums over `axes`, accumulated in Double.
    /// - Parameters:
    ///   - axes: the axes to reduce (negative values count from the end).
    ///   - keepingDimensions: keep each reduced axis with size 1 (so the result broadcasts
    ///     against `self`) instead of removing it.
    public func sum(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let reduction = AxisReduction(shape: shape, axes: axes, operation: "sum")
        let totals = reduceStrided(scalars, shape: shape, outputStrides: reduction.outputStrides, outputCount: reduction.outputCount, initial: 0.0) {
            $0 + Double($1)
        }
        return Tensor(shape: reduction.resultShape(keepingDimensions: keepingDimensions), scalars: totals.map { Float($0) })
    }

    /// Means over `axes`, accumulated in Double.
    /// - Parameters: as for `sum(alongAxes:keepingDimensions:)`.
    /// - Precondition: no reduced axis has size 0.
    public func mean(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let reduction = AxisReduction(shape: shape, axes: axes, operation: "mean")
        precondition(reduction.reducedCount > 0, "mean: reducing over a size-0 axis of \(shape)")
        let totals = reduceStrided(scalars, shape: shape, outputStrides: reduction.outputStrides, outputCount: reduction.outputCount, initial: 0.0) {
            $0 + Double($1)
        }
        let divisor = Double(reduction.reducedCount)
        return Tensor(shape: reduction.resultShape(keepingDimensions: keepingDimensions), scalars: totals.map { Float($0 / divisor) })
    }

    /// Maxima over `axes`; a NaN anywhere in a reduced group makes its result NaN.
    /// - Parameters: as for `sum(alongAxes:keepingDimensions:)`.
    /// - Precondition: no reduced axis has size 0.
    public func max(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let reduction = AxisReduction(shape: shape, axes: axes, operation: "max")
        precondition(reduction.reducedCount > 0, "max: reducing over a size-0 axis of \(shape)")
        let maxima = reduceStrided(scalars, shape: shape, outputStrides: reduction.outputStrides, outputCount: reduction.outputCount, initial: -Float.infinity) {
            // Once the accumulator is NaN no comparison is true, so it stays NaN.
            $1 > $0 || $1.isNaN ? $1 : $0
        }
        return Tensor(shape: reduction.resultShape(keepingDimensions: keepingDimensions), scalars: maxima)
    }

    /// Minima over `axes`; a NaN anywhere in a reduced group makes its result NaN.
    /// - Parameters: as for `sum(alongAxes:keepingDimensions:)`.
    /// - Precondition: no reduced axis has size 0.
    public func min(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let reduction = AxisReduction(shape: shape, axes: axes, operation: "min")
        precondition(reduction.reducedCount > 0, "min: reducing over a size-0 axis of \(shape)")
        let minima = reduceStrided(scalars, shape: shape, outputStrides: reduction.outputStrides, outputCount: reduction.outputCount, initial: Float.infinity) {
            $1 < $0 || $1.isNaN ? $1 : $0
        }
        return Tensor(shape: reduction.resultShape(keepingDimensions: keepingDimensions), scalars: minima)
    }

    /// The largest element (NaN if any element is NaN).
    /// - Precondition: `count > 0`.
    public func max() -> Float {
        precondition(count > 0, "max: empty tensor of shape \(shape)")
        return max(alongAxes: Array(0..<rank)).scalar
    }

    /// The smallest element (NaN if any element is NaN).
    /// - Precondition: `count > 0`.
    public func min() -> Float {
        precondition(count > 0, "min: empty tensor of shape \(shape)")
        return min(alongAxes: Array(0..<rank)).scalar
    }

    /// The row-major flat index of the largest element; the first one on ties. NaN counts as
    /// larger than any number (the first NaN wins), as in NumPy.
    /// - Precondition: `count > 0`.
    public func argmax() -> Int {
        precondition(count > 0, "argmax: empty tensor of shape \(shape)")
        return firstMaximumIndex(count: count, start: 0, step: 1)
    }

    /// For every position of the other axes (in row-major order), the index along `axis` of
    /// the largest element; the first one on ties, the first NaN if there is one.
    /// - Returns: `count / shape[axis]` indices in `0..<shape[axis]`; the result for
    ///   `[A, B, C]` and `axis: 1` is laid out as `[A, C]`.
    /// - Precondition: `shape[axis] > 0`.
    public func argmax(alongAxis axis: Int) -> [Int] {
        let axis = normalizedAxis(axis, rank: rank, operation: "argmax")
        let length = shape[axis]
        precondition(length > 0, "argmax: axis \(axis) of \(shape) has size 0")
        let innerCount = elementCount(Array(shape[(axis + 1)...]))
        let outerCount = elementCount(Array(shape[..<axis]))
        var indices: [Int] = []
        indices.reserveCapacity(outerCount * innerCount)
        for outer in 0..<outerCount {
            for inner in 0..<innerCount {
                indices.append(firstMaximumIndex(count: length, start: outer * length * innerCount + inner, step: innerCount))
            }
        }
        return indices
    }

    /// The position `p` in `0..<count` of the first maximum among `scalars[start + p · step]`
    /// (the first NaN if any).
    private func firstMaximumIndex(count: Int, start: Int, step: Int) -> Int {
        var best = 0
        var bestValue = scalars[start]
        guard !bestValue.isNaN else { return 0 }
        for position in 1..<Swift.max(1, count) {
            let value = scalars[start + position * step]
            if value.isNaN { return position }
            if value > bestValue {
                (best, bestValue) = (position, value)
            }
        }
        return best
    }

    /// The sum of all scalars, accumulated left to right in Double: exact while every partial
    /// sum fits Double's 53-bit significand (10⁶ ones, for instance).
    private func doubleSum() -> Double {
        var total = 0.0
        for value in scalars {
            total += Double(value)
        }
        return total
    }
}

/// The bookkeeping of one reduction: which axes go, and where each input element lands.
private struct AxisReduction {
    let shape: [Int]
    /// `isReduced[axis]` for every axis of `shape`.
    let isReduced: [Bool]
    /// Stride of each input axis in the (kept-dimension) output; 0 on reduced axes.
    let outputStrides: [Int]
    /// Number of output elements.
    let outputCount: Int
    /// Number of input elements that fold into each output element.
    let reducedCount: Int

    init(shape: [Int], axes: [Int], operation: String) {
        var isReduced = [Bool](repeating: false, count: shape.count)
        for axis in axes {
            isReduced[normalizedAxis(axis, rank: shape.count, operation: operation)] = true
        }
        let keptShape = shape.indices.map { isReduced[$0] ? 1 : shape[$0] }
        let keptStrides = rowMajorStrides(keptShape)
        self.shape = shape
        self.isReduced = isReduced
        outputStrides = shape.indices.map { isReduced[$0] ? 0 : keptStrides[$0] }
        outputCount = elementCount(keptShape)
        reducedCount = elementCount(shape.indices.filter { isReduced[$0] }.map { shape[$0] })
    }

    /// The result's shape: reduced axes become 1 or disappear.
    func resultShape(keepingDimensions: Bool) -> [Int] {
        if keepingDimensions {
            return shape.indices.map { isReduced[$0] ? 1 : shape[$0] }
        }
        return shape.indices.filter { !isReduced[$0] }.map { shape[$0] }
    }
}
