// Pointer loops behind the elementwise, broadcasting, gathering and reducing operations of
// Tensor+Arithmetic, Tensor+Math, Tensor+Reduction and Tensor+Shape.
//
// The kernels that take their per-element work as a closure are `@inline(__always)`: at each
// call site the closure literal is inlined into the loop, which then vectorises. That only
// holds on the calling thread. A closure captured by a `parallelFor` chunk is called
// indirectly once per element (the chunk body is one shared function), which costs SIMD: on
// the 2-core build machine `a += b` on 2²⁰ elements took 0.2 ms inline but 2–3 ms in two
// chunks. So cheap, memory-bound arithmetic runs inline, and only `mapScalarsInParallel`
// (for transcendental functions, where the call is noise), the closure-free gather and the
// sigmoid (Sigmoid.swift) use threads. Closures given to `mapScalarsInParallel` run concurrently on disjoint chunks and
// must be pure.

/// The least number of elements worth sending to another thread, so parallel kernels split
/// 2 × 2¹⁵ = 65 536 or more elements.
let elementwiseMinimumChunk = 1 << 15

// MARK: - Contiguous operands

/// `transform` applied to every scalar, in one vectorisable loop on the calling thread.
@inline(__always)
func mapScalars(_ input: [Float], _ transform: (Float) -> Float) -> [Float] {
    let count = input.count
    return reusableScalars(count) { output in
        input.withUnsafeBufferPointer { source in
            for index in 0..<count {
                output[index] = transform(source[index])
            }
        }
    }
}

/// The least number of elements of an expensive function (exp, log, tanh: several ns each)
/// worth sending to another thread: 4096 take tens of µs, far more than waking a worker.
let transcendentalMinimumChunk = 1 << 12

/// `transform` applied to every scalar, in parallel chunks for 2 × 2¹² or more elements. For
/// expensive functions (exp, log, tanh) only: see the note at the top of this file.
@inline(__always)
func mapScalarsInParallel(_ input: [Float], _ transform: (Float) -> Float) -> [Float] {
    let count = input.count
    return reusableScalars(count) { output in
        input.withUnsafeBufferPointer { source in
            parallelFor(count, minimumChunk: transcendentalMinimumChunk) { range in
                for index in range {
                    output[index] = transform(source[index])
                }
            }
        }
    }
}

/// Replaces every scalar `v` of `values` by `transform(v)`, on the calling thread.
@inline(__always)
func mapScalarsInPlace(_ values: inout [Float], _ transform: (Float) -> Float) {
    let count = values.count
    values.withUnsafeMutableBufferPointer { buffer in
        for index in 0..<count {
            buffer[index] = transform(buffer[index])
        }
    }
}

/// `combine(lhs[i], rhs[i])` for every `i` of two equally long arrays, on the calling thread.
@inline(__always)
func zipScalars(_ lhs: [Float], _ rhs: [Float], _ combine: (Float, Float) -> Float) -> [Float] {
    precondition(lhs.count == rhs.count, "zipScalars: \(lhs.count) vs \(rhs.count) scalars")
    let count = lhs.count
    return reusableScalars(count) { output in
        lhs.withUnsafeBufferPointer { left in
            rhs.withUnsafeBufferPointer { right in
                for index in 0..<count {
                    output[index] = combine(left[index], right[index])
                }
            }
        }
    }
}

/// `lhs[i] = combine(lhs[i], rhs[i])` for every `i` of two equally long arrays, on the calling thread.
@inline(__always)
func zipScalarsInPlace(_ lhs: inout [Float], _ rhs: [Float], _ combine: (Float, Float) -> Float) {
    precondition(lhs.count == rhs.count, "zipScalarsInPlace: \(lhs.count) vs \(rhs.count) scalars")
    let count = lhs.count
    rhs.withUnsafeBufferPointer { right in
        lhs.withUnsafeMutableBufferPointer { left in
            for index in 0..<count {
                left[index] = combine(left[index], right[index])
            }
        }
    }
}

// MARK: - Strided operands

/// Strides (in elements) with which a row-major tensor of shape `own` is read when it is
/// broadcast to `shape` (aligned at the right): broadcast axes get stride 0.
/// - Precondition: `own` broadcasts to `shape`.
func broadcastingStrides(of own: [Int], to shape: [Int]) -> [Int] {
    precondition(own.count <= shape.count, "broadcastingStrides: \(own) has higher rank than \(shape)")
    let padded = [Int](repeating: 1, count: shape.count - own.count) + own
    let ownStrides = rowMajorStrides(padded)
    var strides = [Int](repeating: 0, count: shape.count)
    for axis in 0..<shape.count {
        precondition(padded[axis] == shape[axis] || padded[axis] == 1, "broadcastingStrides: \(own) does not broadcast to \(shape)")
        strides[axis] = padded[axis] == 1 ? 0 : ownStrides[axis]
    }
    return strides
}

/// An iteration over `shape` in row-major order in which each operand `k` reads or writes the
/// element at `offset + Σ index[axis] · strides[k][axis]`, simplified for fast loops: size-1
/// axes are dropped and neighbouring axes that every operand walks as one are merged (so a
/// contiguous operand usually ends with a single long row). The last axis is the row.
struct StridedIteration {
    /// The outer axes (all but the row axis).
    let outerShape: [Int]
    /// `outerStrides[k][axis]`: operand k's stride along outer axis `axis`.
    let outerStrides: [[Int]]
    /// Elements per row.
    let rowLength: Int
    /// `rowStrides[k]`: operand k's stride along the row.
    let rowStrides: [Int]
    /// Number of rows (the product of `outerShape`).
    let rowCount: Int

    /// - Precondition: every stride list has `shape.count` entries.
    init(shape: [Int], strides: [[Int]]) {
        precondition(strides.allSatisfy { $0.count == shape.count }, "StridedIteration: strides \(strides) for shape \(shape)")
        var mergedShape: [Int] = []
        var mergedStrides = [[Int]](repeating: [], count: strides.count)
        for axis in shape.indices where shape[axis] != 1 {
            let canMerge = !mergedShape.isEmpty && strides.indices.allSatisfy { operand in
                mergedStrides[operand].last! == strides[operand][axis] * shape[axis]
            }
            if canMerge {
                mergedShape[mergedShape.count - 1] *= shape[axis]
                for operand in strides.indices {
                    mergedStrides[operand][mergedStrides[operand].count - 1] = strides[operand][axis]
                }
            } else {
                mergedShape.append(shape[axis])
                for operand in strides.indices {
                    mergedStrides[operand].append(strides[operand][axis])
                }
            }
        }
        if mergedShape.isEmpty {
            // A single element (or a shape made of 1s): one row of length 1.
            mergedShape = [1]
            mergedStrides = mergedStrides.map { _ in [0] }
        }
        outerShape = Array(mergedShape.dropLast())
        outerStrides = mergedStrides.map { Array($0.dropLast()) }
        rowLength = mergedShape.last!
        rowStrides = mergedStrides.map { $0.last! }
        rowCount = elementCount(outerShape)
    }

    /// Calls `body(offsets)` for each row in `rows`, in order, with every operand's offset to
    /// the start of that row (`offsets[k]` for operand k, starting from `baseOffsets[k]`).
    @inline(__always)
    func forEachRow(in rows: Range<Int>, baseOffsets: [Int], _ body: ([Int]) -> Void) {
        guard !rows.isEmpty else { return }
        let rank = outerShape.count
        var index = [Int](repeating: 0, count: rank)  // multi-index of the current row
        var offsets = baseOffsets
        var remainder = rows.lowerBound
        for axis in stride(from: rank - 1, through: 0, by: -1) {
            index[axis] = remainder % outerShape[axis]
            remainder /= outerShape[axis]
            for operand in offsets.indices {
                offsets[operand] += index[axis] * outerStrides[operand][axis]
            }
        }
        for _ in rows {
            body(offsets)
            // Advance the row-major multi-index and every operand's offset with it.
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                for operand in offsets.indices {
                    offsets[operand] += outerStrides[operand][axis]
                }
                if index[axis] < outerShape[axis] { break }
                for operand in offsets.indices {
                    offsets[operand] -= outerStrides[operand][axis] * outerShape[axis]
                }
                index[axis] = 0
                axis -= 1
            }
        }
    }
}

/// `combine(lhs, rhs)` over the broadcast `shape` of two tensors, written row-major, on the
/// calling thread.
/// - Precondition: both shapes broadcast to `shape`.
@inline(__always)
func broadcastZip(_ lhs: Tensor, _ rhs: Tensor, shape: [Int], _ combine: (Float, Float) -> Float) -> [Float] {
    let count = elementCount(shape)
    let iteration = StridedIteration(
        shape: shape,
        strides: [broadcastingStrides(of: lhs.shape, to: shape), broadcastingStrides(of: rhs.shape, to: shape), rowMajorStrides(shape)])
    let rowLength = iteration.rowLength
    let (leftStep, rightStep) = (iteration.rowStrides[0], iteration.rowStrides[1])
    return reusableScalars(count) { output in
        lhs.scalars.withUnsafeBufferPointer { left in
            rhs.scalars.withUnsafeBufferPointer { right in
                iteration.forEachRow(in: 0..<(count == 0 ? 0 : iteration.rowCount), baseOffsets: [0, 0, 0]) { offsets in
                    // The output is contiguous, so its row stride is 1.
                    let (l, r, o) = (offsets[0], offsets[1], offsets[2])
                    if leftStep == 1 && rightStep == 1 {
                        for j in 0..<rowLength { output[o &+ j] = combine(left[l &+ j], right[r &+ j]) }
                    } else if leftStep == 1 && rightStep == 0 {
                        let value = right[r]
                        for j in 0..<rowLength { output[o &+ j] = combine(left[l &+ j], value) }
                    } else if leftStep == 0 && rightStep == 1 {
                        let value = left[l]
                        for j in 0..<rowLength { output[o &+ j] = combine(value, right[r &+ j]) }
                    } else {
                        for j in 0..<rowLength {
                            output[o &+ j] = combine(left[l &+ j &* leftStep], right[r &+ j &* rightStep])
                        }
                    }
                }
            }
        }
    }
}

/// The elements `source[offset + Σ index[axis] · strides[axis]]` for every multi-index of
/// `shape`, written row-major: transposes, broadcasts and slices are all such gathers.
/// - Precondition: every addressed element lies inside `source`.
func gatherStrided(_ source: [Float], offset: Int = 0, strides: [Int], shape: [Int]) -> [Float] {
    let count = elementCount(shape)
    guard count > 0 else { return [] }
    var lastAddressed = offset
    for axis in shape.indices {
        lastAddressed += (shape[axis] - 1) * strides[axis]
    }
    precondition(offset >= 0 && lastAddressed < source.count && strides.allSatisfy { $0 >= 0 }, "gatherStrided: view out of bounds")
    let iteration = StridedIteration(shape: shape, strides: [strides, rowMajorStrides(shape)])
    let rowLength = iteration.rowLength
    let step = iteration.rowStrides[0]
    return reusableScalars(count) { output in
        source.withUnsafeBufferPointer { input in
            let minimumRows = max(1, elementwiseMinimumChunk / rowLength)
            parallelFor(iteration.rowCount, minimumChunk: minimumRows) { rows in
                iteration.forEachRow(in: rows, baseOffsets: [offset, 0]) { offsets in
                    let (i, o) = (offsets[0], offsets[1])
                    if step == 1 {
                        for j in 0..<rowLength { output[o &+ j] = input[i &+ j] }
                    } else {
                        for j in 0..<rowLength { output[o &+ j] = input[i &+ j &* step] }
                    }
                }
            }
        }
    }
}

/// Copies `count` consecutive blocks of `length` elements of `source` to `output`, block b at
/// `start + b·stride`, split over the compute threads by blocks (or, for one block, by elements)
/// from 2 × 2¹⁵ elements.
func copyBlocks(_ source: [Float], count: Int, length: Int, into output: UnsafeMutableBufferPointer<Float>, stride: Int, start: Int) {
    guard count > 0 && length > 0 else { return }
    source.withUnsafeBufferPointer { input in
        let (from, to) = (input.baseAddress!, output.baseAddress!)
        if count == 1 {
            parallelFor(length, minimumChunk: elementwiseMinimumChunk) { range in
                (to + (start &+ range.lowerBound)).update(from: from + range.lowerBound, count: range.count)
            }
            return
        }
        parallelFor(count, minimumChunk: max(1, elementwiseMinimumChunk / length)) { blocks in
            for block in blocks {
                (to + (start &+ block &* stride)).update(from: from + block &* length, count: length)
            }
        }
    }
}

/// Folds the elements of a row-major tensor of `shape` into `outputCount` accumulators:
/// element `index` goes into accumulator `Σ index[axis] · outputStrides[axis]` (stride 0 on
/// every reduced axis), starting from `initial`. Runs sequentially, visiting elements in
/// row-major order, so results are deterministic.
@inline(__always)
func reduceStrided<Accumulator>(
    _ input: [Float], shape: [Int], outputStrides: [Int], outputCount: Int, initial: Accumulator,
    _ combine: (Accumulator, Float) -> Accumulator
) -> [Accumulator] {
    precondition(input.count == elementCount(shape), "reduceStrided: \(input.count) scalars for shape \(shape)")
    var result = [Accumulator](repeating: initial, count: outputCount)
    guard !input.isEmpty else { return result }
    let iteration = StridedIteration(shape: shape, strides: [rowMajorStrides(shape), outputStrides])
    let rowLength = iteration.rowLength
    let (inputStep, outputStep) = (iteration.rowStrides[0], iteration.rowStrides[1])
    input.withUnsafeBufferPointer { source in
        result.withUnsafeMutableBufferPointer { accumulators in
            iteration.forEachRow(in: 0..<iteration.rowCount, baseOffsets: [0, 0]) { offsets in
                let (i, o) = (offsets[0], offsets[1])
                if outputStep == 0 {
                    // The row is reduced: fold it into one accumulator.
                    var accumulator = accumulators[o]
                    for j in 0..<rowLength { accumulator = combine(accumulator, source[i &+ j &* inputStep]) }
                    accumulators[o] = accumulator
                } else {
                    for j in 0..<rowLength {
                        let target = o &+ j &* outputStep
                        accumulators[target] = combine(accumulators[target], source[i &+ j &* inputStep])
                    }
                }
            }
        }
    }
    return result
}
