extension Tensor {
    /// A tensor of the given shape filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: elementCount(shape)))
    }

    /// All zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }

    /// All ones.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// Filled with `value`.
    public static func full(_ shape: [Int], value: Float) -> Tensor { Tensor(repeating: value, shape: shape) }

    /// A rank-1 tensor `[start, start + step, …]` of the values below `end` (NumPy's `arange`).
    /// - Precondition: `step != 0`.
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1) -> Tensor {
        precondition(step != 0, "arange: step must not be 0")
        let count = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor(shape: [count], scalars: (0..<count).map { start + Float($0) * step })
    }

    /// Values drawn independently and uniformly from `[low, high)` with a seeded generator.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, generator: inout SeededGenerator) -> Tensor {
        precondition(low <= high, "uniform: low \(low) > high \(high)")
        var scalars = [Float](repeating: 0, count: elementCount(shape))
        for index in scalars.indices {
            scalars[index] = low + (high - low) * generator.nextUnitFloat()
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// Values drawn independently from a normal distribution (Box–Muller) with a seeded generator.
    public static func normal(_ shape: [Int], mean: Float = 0, standardDeviation: Float = 1, generator: inout SeededGenerator) -> Tensor {
        precondition(standardDeviation >= 0, "normal: negative standard deviation")
        var scalars = [Float](repeating: 0, count: elementCount(shape))
        for index in scalars.indices {
            scalars[index] = mean + standardDeviation * generator.nextStandardNormal()
        }
        return Tensor(shape: shape, scalars: scalars)
    }
}
