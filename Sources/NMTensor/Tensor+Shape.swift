// Operations that move elements between positions without changing their values: transposes,
// slices, concatenation, padding, adding or removing size-1 axes, and broadcasting.
// Axis arguments may be negative and then count from the end (-1 is the last axis).

extension Tensor {
    /// The tensor with its axes reordered: axis `i` of the result is axis `permutation[i]` of
    /// `self` (NumPy's `transpose(axes)`, PyTorch's `permute`). Always copies.
    /// - Parameter permutation: each axis of `self` exactly once; negative entries count from the end.
    /// - Returns: shape `permutation.map { shape[$0] }`.
    public func permuted(_ permutation: [Int]) -> Tensor {
        let axes = permutation.map { normalizedAxis($0, rank: rank, operation: "permuted") }
        precondition(axes.count == rank && Set(axes).count == rank, "permuted: \(permutation) is not a permutation of the \(rank) axes of \(shape)")
        let sourceStrides = strides
        let newShape = axes.map { shape[$0] }
        let gathered = gatherStrided(scalars, strides: axes.map { sourceStrides[$0] }, shape: newShape)
        return Tensor(shape: newShape, scalars: gathered)
    }

    /// The matrix transpose of a rank-2 tensor: `[M, N]` → `[N, M]`.
    public func transposed() -> Tensor {
        precondition(rank == 2, "transposed: needs a rank-2 tensor, got shape \(shape)")
        return permuted([1, 0])
    }

    /// The elements whose index along `axis` lies in `range`; the other axes are kept whole.
    /// - Precondition: `range` lies within `0...shape[axis]` (an empty range gives a size-0 axis).
    public func sliced(alongAxis axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = normalizedAxis(axis, rank: rank, operation: "sliced")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[axis], "sliced: range \(range) outside 0..<\(shape[axis]) on axis \(axis) of \(shape)")
        var newShape = shape
        newShape[axis] = range.count
        let gathered = gatherStrided(scalars, offset: range.lowerBound * strides[axis], strides: strides, shape: newShape)
        return Tensor(shape: newShape, scalars: gathered)
    }

    /// The tensors joined along `axis` (NumPy's `concatenate`).
    /// - Parameters:
    ///   - tensors: at least one tensor; all have the same rank and the same size on every
    ///     axis except `axis`.
    ///   - axis: negative values count from the end of the tensors' rank.
    /// - Returns: the common shape with `axis` of size `Σ tensors[i].shape[axis]`.
    public static func concatenated(_ tensors: [Tensor], alongAxis axis: Int) -> Tensor {
        guard let first = tensors.first else { preconditionFailure("concatenated: no tensors") }
        let axis = normalizedAxis(axis, rank: first.rank, operation: "concatenated")
        for tensor in tensors {
            let matches = tensor.rank == first.rank
                && tensor.shape.indices.allSatisfy { $0 == axis || tensor.shape[$0] == first.shape[$0] }
            precondition(matches, "concatenated: shape \(tensor.shape) does not match \(first.shape) outside axis \(axis)")
        }
        var newShape = first.shape
        newShape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
        // Each tensor contributes one contiguous block of `shape[axis] · inner` elements per outer
        // index, at `outer · rowLength + start` of the result.
        let outerCount = elementCount(Array(first.shape[..<axis]))
        let innerCount = elementCount(Array(first.shape[(axis + 1)...]))
        let rowLength = newShape[axis] * innerCount
        let result = reusableScalars(elementCount(newShape)) { output in
            var start = 0
            for tensor in tensors {
                let blockLength = tensor.shape[axis] * innerCount
                copyBlocks(tensor.scalars, count: outerCount, length: blockLength, into: output, stride: rowLength, start: start)
                start += blockLength
            }
        }
        return Tensor(shape: newShape, scalars: result)
    }

    /// The tensor surrounded by `value`: axis `i` gains `padding[i].before` elements at its start
    /// and `padding[i].after` at its end (NumPy's `pad` with a constant).
    /// - Parameter padding: one non-negative pair per axis.
    public func padded(_ padding: [(before: Int, after: Int)], value: Float = 0) -> Tensor {
        precondition(padding.count == rank, "padded: \(padding.count) padding pairs for rank \(rank)")
        precondition(padding.allSatisfy { $0.before >= 0 && $0.after >= 0 }, "padded: negative padding \(padding)")
        let newShape = shape.indices.map { shape[$0] + padding[$0].before + padding[$0].after }
        var result = Tensor(repeating: value, shape: newShape)
        guard count > 0 else { return result }
        // Copy each innermost row of `self` to its place inside the padded result.
        let rowLength = shape.last ?? 1
        let outerShape = Array(shape.dropLast())
        let resultStrides = result.strides
        let firstOffset = shape.indices.reduce(0) { $0 + padding[$1].before * resultStrides[$1] }
        var index = [Int](repeating: 0, count: outerShape.count)
        for row in 0..<(count / rowLength) {
            var offset = firstOffset
            for axis in outerShape.indices {
                offset += index[axis] * resultStrides[axis]
            }
            result.scalars.replaceSubrange(offset..<(offset + rowLength), with: scalars[(row * rowLength)..<((row + 1) * rowLength)])
            var axis = outerShape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < outerShape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }

    /// The same scalars with a new size-1 axis inserted, so that it becomes axis `axis` of the
    /// result (NumPy's `expand_dims`, PyTorch's `unsqueeze`). Never copies.
    /// - Parameter axis: in `-(rank + 1)...rank`; -1 appends a trailing axis.
    public func expandingDimension(at axis: Int) -> Tensor {
        let position = normalizedAxis(axis, rank: rank + 1, operation: "expandingDimension")
        var newShape = shape
        newShape.insert(1, at: position)
        return reshaped(newShape)
    }

    /// The same scalars with the size-1 axis `axis` removed. Never copies.
    /// - Precondition: `shape[axis] == 1`.
    public func squeezed(axis: Int) -> Tensor {
        let position = normalizedAxis(axis, rank: rank, operation: "squeezed")
        precondition(shape[position] == 1, "squeezed: axis \(axis) of \(shape) has size \(shape[position]), not 1")
        var newShape = shape
        newShape.remove(at: position)
        return reshaped(newShape)
    }

    /// The same scalars with every size-1 axis removed. Never copies.
    public func squeezed() -> Tensor {
        reshaped(shape.filter { $0 != 1 })
    }

    /// The tensor repeated along broadcast axes so that it has `targetShape` (materialised:
    /// the result owns `elementCount(targetShape)` scalars).
    /// - Precondition: `shape` broadcasts to `targetShape` under NumPy rules.
    public func broadcasted(to targetShape: [Int]) -> Tensor {
        precondition(broadcastShapes(shape, targetShape) == targetShape, "broadcasted: \(shape) does not broadcast to \(targetShape)")
        if shape == targetShape { return self }
        let gathered = gatherStrided(scalars, strides: broadcastingStrides(of: shape, to: targetShape), shape: targetShape)
        return Tensor(shape: targetShape, scalars: gathered)
    }
}

/// `axis` as an index in `0..<rank`, counting negative values from the end.
/// - Precondition: `-rank <= axis < rank`.
func normalizedAxis(_ axis: Int, rank: Int, operation: String) -> Int {
    precondition(axis >= -rank && axis < rank, "\(operation): axis \(axis) out of range for rank \(rank)")
    return axis < 0 ? axis + rank : axis
}
