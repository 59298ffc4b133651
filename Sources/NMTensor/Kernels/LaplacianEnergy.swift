/// The Laplacian smoothness energy of a plane and its gradient: `mean(r²)` over the responses
/// `r = (K ∗ w)` of the k×k Laplacian K = k²·δ − 𝟙 (all −1, centre k² − 1), with a "valid"
/// convolution or, with `replicatingBorder`, one over w padded by ⌊k/2⌋ replicated edge values.
///
/// Each response is k²·(centre) − (k×k box sum), and the box sums are a column pass and a row
/// pass of k additions each: O(H·W·k) rather than O(H·W·k²). The gradient runs the same passes
/// backwards (the box filter's adjoint). Every pass runs over whole rows, 8 lanes at a time;
/// the squares of a row are summed in Float lanes, the rows in Double.
/// - Parameters:
///   - w: `[H, W]`.
///   - kernelSize: k, odd.
/// - Returns: the energy (0 when no response fits) and its gradient `[H, W]`.
public func laplacianEnergy(_ w: Tensor, kernelSize: Int, replicatingBorder: Bool) -> (value: Float, gradient: Tensor) {
    precondition(w.rank == 2, "laplacianEnergy: w \(w.shape) is not [H, W]")
    precondition(kernelSize >= 3 && kernelSize % 2 == 1, "laplacianEnergy: kernel size \(kernelSize) is not odd and ≥ 3")
    let (height, width) = (w.shape[0], w.shape[1])
    let k = kernelSize
    let radius = k / 2
    // The plane the kernel slides over: w itself (valid) or w with replicated edges.
    let pad = replicatingBorder ? radius : 0
    let (paddedHeight, paddedWidth) = (height + 2 * pad, width + 2 * pad)
    let (outputHeight, outputWidth) = (max(paddedHeight - k + 1, 0), max(paddedWidth - k + 1, 0))
    let count = outputHeight * outputWidth
    guard count > 0 else { return (0, .zeros(w.shape)) }
    let rowSource = (0..<paddedHeight).map { min(max($0 - pad, 0), height - 1) }
    let columnSource = (0..<paddedWidth).map { min(max($0 - pad, 0), width - 1) }
    // One scratch for the five planes below (this runs once per NeuroMask iteration).
    let paddedCount = paddedHeight * paddedWidth, bandCount = outputHeight * paddedWidth
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * paddedCount + 2 * bandCount + count)
    defer { scratch.deallocate() }
    let padded = scratch, gradPadded = scratch + paddedCount
    let columnSums = gradPadded + paddedCount, rowSpread = columnSums + bandCount
    let gradResponse = rowSpread + bandCount  // ∂value/∂response
    gradPadded.initialize(repeating: 0, count: paddedCount)
    rowSpread.initialize(repeating: 0, count: bandCount)
    w.scalars.withUnsafeBufferPointer { source in
        for y in 0..<paddedHeight {
            let sourceRow = source.baseAddress! + rowSource[y] * width, paddedRow = padded + y * paddedWidth
            if pad == 0 {
                paddedRow.update(from: sourceRow, count: width)
            } else {
                for x in 0..<paddedWidth { paddedRow[x] = sourceRow[columnSource[x]] }
            }
        }
    }

    // Column sums over k rows, then row sums over k columns: the k×k box sums.
    for i in 0..<outputHeight {
        let sumsRow = columnSums + i * paddedWidth
        sumsRow.update(from: padded + i * paddedWidth, count: paddedWidth)
        for a in 1..<k { addRow(padded + (i + a) * paddedWidth, into: sumsRow, count: paddedWidth) }
    }
    let centreWeight = Float(k * k)
    let scale = 2 / Float(count)
    var sum = 0.0
    for i in 0..<outputHeight {
        sum += Double(
            responses(
                centres: padded + (i + radius) * paddedWidth + radius, columnSums: columnSums + i * paddedWidth, kernelSize: k,
                centreWeight: centreWeight, scale: scale, into: gradResponse + i * outputWidth, count: outputWidth))
    }

    // Adjoint: every response sends k²·g to its centre and −g to each pixel of its box.
    for i in 0..<outputHeight {
        for b in 0..<k { addRow(gradResponse + i * outputWidth, into: rowSpread + i * paddedWidth + b, count: outputWidth) }
    }
    for i in 0..<outputHeight {
        for a in 0..<k { addRow(rowSpread + i * paddedWidth, into: gradPadded + (i + a) * paddedWidth, count: paddedWidth, times: -1) }
        addRow(
            gradResponse + i * outputWidth, into: gradPadded + (i + radius) * paddedWidth + radius, count: outputWidth,
            times: centreWeight)
    }
    // Replicated pixels pass their gradient back to the edge pixel they copy.
    var gradient = [Float](repeating: 0, count: w.count)
    gradient.withUnsafeMutableBufferPointer { target in
        if pad == 0 {
            target.baseAddress!.update(from: gradPadded, count: w.count)
            return
        }
        for y in 0..<paddedHeight {
            let targetRow = rowSource[y] * width
            for x in 0..<paddedWidth { target[targetRow + columnSource[x]] += gradPadded[y * paddedWidth + x] }
        }
    }
    return (Float(sum / Double(count)), Tensor(shape: w.shape, scalars: gradient))
}

/// `row[x] += times · source[x]` for x in 0..<count, 8 lanes at a time (`times` ±1 adds or
/// subtracts exactly).
private func addRow(_ source: UnsafePointer<Float>, into row: UnsafeMutablePointer<Float>, count: Int, times: Float = 1) {
    var x = 0
    while x + 8 <= count {
        let target = UnsafeMutableRawPointer(row + x)
        let sum = target.loadUnaligned(as: SIMD8<Float>.self) + times * UnsafeRawPointer(source + x).loadUnaligned(as: SIMD8<Float>.self)
        target.storeBytes(of: sum, as: SIMD8<Float>.self)
        x += 8
    }
    while x < count {
        row[x] += times * source[x]
        x += 1
    }
}

/// One output row of responses `r[j] = centreWeight · centres[j] − Σ_b columnSums[j + b]`
/// (b < kernelSize): stores `scale · r[j]` into `gradients` and returns Σ r[j]².
private func responses(
    centres: UnsafePointer<Float>, columnSums: UnsafePointer<Float>, kernelSize: Int, centreWeight: Float, scale: Float,
    into gradients: UnsafeMutablePointer<Float>, count: Int
) -> Float {
    @inline(__always) func load(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }
    var squares = SIMD8<Float>(repeating: 0)
    var j = 0
    while j + 8 <= count {
        var box = load(columnSums + j)
        for b in 1..<kernelSize { box += load(columnSums + j + b) }
        let response = centreWeight * load(centres + j) - box
        squares += response * response
        UnsafeMutableRawPointer(gradients + j).storeBytes(of: scale * response, as: SIMD8<Float>.self)
        j += 8
    }
    var tail: Float = 0
    while j < count {
        var box = columnSums[j]
        for b in 1..<kernelSize { box += columnSums[j + b] }
        let response = centreWeight * centres[j] - box
        tail += response * response
        gradients[j] = scale * response
        j += 1
    }
    return squares.sum() + tail
}
