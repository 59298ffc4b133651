/// A dense Float32 tensor: a shape and its scalars in contiguous row-major order.
///
/// `Tensor` is a value type. Its storage is a Swift `Array`, so copies share memory until one
/// of them is mutated (copy-on-write). Reshaping never copies. Images are `[N, C, H, W]`
/// (NCHW, as in the PyTorch weights) unless an API says otherwise.
public struct Tensor: Sendable, Equatable {
    /// The size of each dimension. A rank-0 tensor (scalar) has shape `[]` and one scalar.
    public private(set) var shape: [Int]

    /// The elements in row-major order. Element writes (`t.scalars[i] = v`) happen in place;
    /// replacing the array must keep `scalars.count == shape.reduce(1, *)`. (No property observer
    /// checks this: an observer would turn every element write into a copy of the whole array.)
    public var scalars: [Float]

    /// Creates a tensor from a shape and its row-major scalars.
    /// - Precondition: every dimension is ≥ 0 and `scalars.count` equals the product of `shape`.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        precondition(scalars.count == elementCount(shape), "Tensor: \(scalars.count) scalars for shape \(shape)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A rank-0 tensor holding `value`.
    public init(_ value: Float) {
        self.init(shape: [], scalars: [value])
    }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// Number of elements (the product of `shape`; 1 for a scalar).
    public var count: Int { scalars.count }

    /// Row-major strides in elements: `strides[i]` is the distance between neighbours along axis `i`.
    public var strides: [Int] { rowMajorStrides(shape) }

    /// The element at a full multi-index.
    public subscript(_ indices: Int...) -> Float {
        get { scalars[flatIndex(indices)] }
        set { scalars[flatIndex(indices)] = newValue }
    }

    /// The same scalars under a new shape with the same element count. One dimension may be -1
    /// and is then inferred. Never copies.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var result = self
        result.shape = resolveReshape(newShape, count: count)
        return result
    }

    /// The single value of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "Tensor.scalar: tensor of shape \(shape) has \(count) elements")
        return scalars[0]
    }

    /// Whether every element is finite (no NaN or ±∞).
    public var isFinite: Bool { scalars.allSatisfy { $0.isFinite } }

    private func flatIndex(_ indices: [Int]) -> Int {
        precondition(indices.count == rank, "Tensor: \(indices.count) indices for rank \(rank)")
        var flat = 0
        for (axis, index) in indices.enumerated() {
            precondition(index >= 0 && index < shape[axis], "Tensor: index \(index) out of range for axis \(axis) of shape \(shape)")
            flat = flat * shape[axis] + index
        }
        return flat
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), scalars: [\(preview)\(count > 8 ? ", …" : "")])"
    }
}

/// Product of the dimensions (1 for the empty shape).
@inlinable
func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

/// Row-major strides of a shape, in elements.
func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[axis] = running
        running *= shape[axis]
    }
    return strides
}

/// Validates a reshape target (one -1 allowed) against an element count.
func resolveReshape(_ shape: [Int], count: Int) -> [Int] {
    let inferred = shape.indices.filter { shape[$0] == -1 }
    precondition(inferred.count <= 1, "reshape: more than one -1 in \(shape)")
    precondition(shape.allSatisfy { $0 >= -1 }, "reshape: negative dimension in \(shape)")
    guard let axis = inferred.first else {
        precondition(elementCount(shape) == count, "reshape: \(count) elements cannot take shape \(shape)")
        return shape
    }
    let known = shape.enumerated().filter { $0.offset != axis }.reduce(1) { $0 * $1.element }
    precondition(known > 0 && count % known == 0, "reshape: \(count) elements cannot take shape \(shape)")
    var resolved = shape
    resolved[axis] = count / known
    return resolved
}
