/// The Laplacian smoothness energy of a plane and its gradient: `mean(r²)` over the responses
/// `r = (K ∗ w)` of the k×k Laplacian K = k²·δ − 𝟙 (all −1, centre k² − 1), with a "valid"
/// convolution or, with `replicatingBorder`, one over w padded by ⌊k/2⌋ replicated edge values.
///
/// Each response is k²·(centre) − (k×k box sum), and the box sums are a column pass and a row
/// pass of k additions each: O(H·W·k) rather than O(H·W·k²). The gradient runs the same passes
/// backwards (the box filter's adjoint). Every pass runs over whole rows; the squares of a row
/// are summed in Float, the rows in Double.
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

/// `row[x] += times · source[x]` for x in 0..<count (`times` ±1 adds or subtracts exactly); a
/// plain loop that the compiler vectorises.
private func addRow(_ source: UnsafePointer<Float>, into row: UnsafeMutablePointer<Float>, count: Int, times: Float = 1) {
    for x in 0..<count { row[x] += times * source[x] }
}

/// One output row of responses `r[j] = centreWeight · centres[j] − Σ_b columnSums[j + b]`
/// (b < kernelSize, subtracted one after another): stores `scale · r[j]` into `gradients` and
/// returns Σ r[j]². Loops over whole rows, the inner ones vectorised by the compiler.
private func responses(
    centres: UnsafePointer<Float>, columnSums: UnsafePointer<Float>, kernelSize: Int, centreWeight: Float, scale: Float,
    into gradients: UnsafeMutablePointer<Float>, count: Int
) -> Float {
    for j in 0..<count { gradients[j] = centreWeight * centres[j] }
    for b in 0..<kernelSize {
        let sums = columnSums + b
        for j in 0..<count { gradients[j] -= sums[j] }
    }
    var squares: Float = 0
    for j in 0..<count { squares += gradients[j] * gradients[j] }
    for j in 0..<count { gradients[j] *= scale }
    return squares
}
