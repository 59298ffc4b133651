// 2-D max and average pooling over [N, C, H, W] images, forward and backward, with PyTorch's
// semantics in floor mode (output sizes from `ConvGeometry`). N = batch, C = channels,
// H×W = input, OH×OW = output. The forwards fold one window tap at a time over a whole output
// row (`PoolingWindows`), or sum all taps in registers (average pooling, column stride 1); each
// backward writes only its own (n, c) plane, so chunks never overlap.

/// 2-D max pooling. Positions in the padding never win (as if padded with −∞); a NaN in a
/// window wins and propagates, as in PyTorch. A window that lies entirely in the padding
/// (impossible when each padding is at most half the dilated kernel, PyTorch's rule) gives −∞.
///
/// Planes without NaN (checked first, one vectorised pass) take a branch-free max; the winner
/// of each window is found again by `maxPool2DBackward`, so the forward pass keeps no indices.
/// - Parameters:
///   - input: `[N, C, H, W]` with C, H, W as in `geometry`.
///   - geometry: window size, stride, padding and dilation.
/// - Returns: `[N, C, OH, OW]`.
public func maxPool2D(_ input: Tensor, geometry: ConvGeometry) -> Tensor {
    checkImageShape(input.shape, geometry: geometry, caller: "maxPool2D")
    let batch = input.shape[0]
    let (channels, height, width) = (geometry.channels, geometry.inputHeight, geometry.inputWidth)
    let (kernelHeight, kernelWidth) = (geometry.kernelHeight, geometry.kernelWidth)
    let (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
    return reusableTensor([batch, channels, outputHeight, outputWidth]) { output in
        output.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: -.infinity) }
        guard output.count > 0 && input.count > 0 else { return }

        let windows = PoolingWindows(geometry)
        let (inputPlane, outputPlane) = (height * width, outputHeight * outputWidth)

        input.scalars.withUnsafeBufferPointer { inputBuffer in
            output.scalars.withUnsafeMutableBufferPointer { outputBuffer in
                let (source, destination) = (inputBuffer.baseAddress!, outputBuffer.baseAddress!)
                let isThreeByThreeStrideTwo = isUnpaddedMaxPool3x3Stride2(geometry)
                parallelFor(batch * channels, minimumChunk: planesPerChunk(workPerPlane: outputPlane &* kernelHeight &* kernelWidth)) { planes in
                    let rowMax = UnsafeMutablePointer<Float>.allocate(capacity: isThreeByThreeStrideTwo ? width + 16 : 0)
                    defer { rowMax.deallocate() }
                    for plane in planes {
                        let (image, out) = (source + plane &* inputPlane, destination + plane &* outputPlane)
                        if containsNaN(image, count: inputPlane) {
                            windows.fold(image, into: out) { current, value in current.isNaN || !(value > current || value.isNaN) ? current : value }
                        } else if isThreeByThreeStrideTwo {
                            maxPool3x3Stride2Plane(image, width: width, outputHeight: outputHeight, outputWidth: outputWidth, rowMax: rowMax, into: out)
                        } else {
                            windows.fold(image, into: out) { current, value in value > current ? value : current }
                        }
                    }
                }
            }
        }
    }
}

/// Gradient of `maxPool2D` with respect to its input: each output gradient goes to the element
/// that won its window — the first in-range tap in (kernel row, kernel column) order that equals
/// the window's output (for a NaN output, the first NaN) — summed where windows overlap.
/// Windows entirely in the padding contribute nothing.
/// - Parameters:
///   - gradOutput: `[N, C, OH, OW]`.
///   - input: the forward input `[N, C, H, W]`.
///   - output: the forward output `maxPool2D(input, geometry:)`.
///   - geometry: the forward geometry.
/// - Returns: `[N, C, H, W]`.
public func maxPool2DBackward(_ gradOutput: Tensor, input: Tensor, output: Tensor, geometry: ConvGeometry) -> Tensor {
    checkOutputShape(gradOutput.shape, geometry: geometry, caller: "maxPool2DBackward")
    checkImageShape(input.shape, geometry: geometry, caller: "maxPool2DBackward")
    precondition(output.shape == gradOutput.shape && input.shape[0] == gradOutput.shape[0],
        "maxPool2DBackward: output \(output.shape), gradOutput \(gradOutput.shape) and input \(input.shape) do not match")
    let batch = gradOutput.shape[0]
    let (channels, height, width) = (geometry.channels, geometry.inputHeight, geometry.inputWidth)
    let (kernelHeight, kernelWidth) = (geometry.kernelHeight, geometry.kernelWidth)
    let (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
    let (strideHeight, strideWidth) = (geometry.strideHeight, geometry.strideWidth)
    return reusableTensor([batch, channels, height, width]) { gradInput in
        gradInput.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        guard gradInput.count > 0 && gradOutput.count > 0 else { return }
        let rows = ConvolutionAxis(rowsOf: geometry)
        let cols = ConvolutionAxis(columnsOf: geometry)
        let (inputPlane, outputPlane) = (height * width, outputHeight * outputWidth)

        gradOutput.scalars.withUnsafeBufferPointer { gradOutputBuffer in
            input.scalars.withUnsafeBufferPointer { inputBuffer in
                output.scalars.withUnsafeBufferPointer { outputBuffer in
                    gradInput.scalars.withUnsafeMutableBufferPointer { gradInputBuffer in
                        let (gradients, source, maxima, destination) = (gradOutputBuffer.baseAddress!, inputBuffer.baseAddress!, outputBuffer.baseAddress!, gradInputBuffer.baseAddress!)
                        // Windows wholly inside the input (and a number as their maximum) take a
                        // branch-free scan in reverse tap order: its last match is the first in order.
                        let (insideRows, insideColumns) = (rows.windowsInside(kernel: kernelHeight), cols.windowsInside(kernel: kernelWidth))
                        let (rowStep, columnStep) = (rows.dilation &* width, cols.dilation)
                        let isThreeByThreeStrideTwo = isUnpaddedMaxPool3x3Stride2(geometry)
                        parallelFor(batch * channels, minimumChunk: planesPerChunk(workPerPlane: outputPlane &* kernelHeight &* kernelWidth)) { planes in
                            for plane in planes {
                                let (image, result) = (source + plane &* inputPlane, destination + plane &* inputPlane)
                                if isThreeByThreeStrideTwo && !containsNaN(maxima + plane &* outputPlane, count: outputPlane) {
                                    maxPool3x3Stride2BackwardPlane(
                                        image, width: width, outputHeight: outputHeight, outputWidth: outputWidth, maxima: maxima + plane &* outputPlane,
                                        gradOutput: gradients + plane &* outputPlane, into: result)
                                    continue
                                }
                                for outputRow in 0..<outputHeight {
                                    let isRowInside = insideRows.contains(outputRow)
                                    let rowCorner = (outputRow &* strideHeight &+ rows.offset(tap: 0)) &* width &+ cols.offset(tap: 0)
                                    for outputColumn in 0..<outputWidth {
                                        let outputIndex = plane &* outputPlane &+ outputRow &* outputWidth &+ outputColumn
                                        let maximum = maxima[outputIndex]
                                        if isRowInside && insideColumns.contains(outputColumn) && !maximum.isNaN {
                                            let corner = rowCorner &+ outputColumn &* strideWidth
                                            var winner = -1
                                            for kernelRow in stride(from: kernelHeight &- 1, through: 0, by: -1) {
                                                for kernelColumn in stride(from: kernelWidth &- 1, through: 0, by: -1) {
                                                    let index = corner &+ kernelRow &* rowStep &+ kernelColumn &* columnStep
                                                    winner = image[index] == maximum ? index : winner
                                                }
                                            }
                                            if winner >= 0 { result[winner] += gradients[outputIndex] }
                                            continue
                                        }
                                        search: for kernelRow in 0..<kernelHeight {
                                            let inputRow = outputRow &* strideHeight &+ rows.offset(tap: kernelRow)
                                            guard inputRow >= 0 && inputRow < height else { continue }
                                            for kernelColumn in 0..<kernelWidth {
                                                let inputColumn = outputColumn &* strideWidth &+ cols.offset(tap: kernelColumn)
                                                guard inputColumn >= 0 && inputColumn < width else { continue }
                                                let index = inputRow &* width &+ inputColumn
                                                let value = image[index]
                                                if value == maximum || (value.isNaN && maximum.isNaN) {
                                                    result[index] += gradients[outputIndex]
                                                    break search
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The windows of a pooling geometry over one (n, c) plane, walked one window tap at a time over
/// a whole output row (contiguous inner loops when the column stride is 1).
private struct PoolingWindows {
    let geometry: ConvGeometry
    let rows: ConvolutionAxis
    let columns: ConvolutionAxis
    /// For each kernel column, the output columns whose tap lies inside the input.
    let validColumns: [Range<Int>]

    init(_ geometry: ConvGeometry) {
        self.geometry = geometry
        rows = ConvolutionAxis(rowsOf: geometry)
        columns = ConvolutionAxis(columnsOf: geometry)
        validColumns = (0..<geometry.kernelWidth).map { [columns] in columns.validOutputs(tap: $0) }
    }

    /// Folds every in-range tap of each window of `image` (H×W) into `plane` (OH×OW, already
    /// holding the fold's start value): `plane[o] = combine(plane[o], tap)` in (kernel row,
    /// kernel column) order.
    @inline(__always)
    func fold(_ image: UnsafePointer<Float>, into plane: UnsafeMutablePointer<Float>, _ combine: (Float, Float) -> Float) {
        let (height, width, strideWidth) = (geometry.inputHeight, geometry.inputWidth, geometry.strideWidth)
        for outputRow in 0..<geometry.outputHeight {
            let out = plane + outputRow &* geometry.outputWidth
            for kernelRow in 0..<geometry.kernelHeight {
                let inputRow = outputRow &* geometry.strideHeight &+ rows.offset(tap: kernelRow)
                guard inputRow >= 0 && inputRow < height else { continue }
                for kernelColumn in 0..<geometry.kernelWidth {
                    let base = inputRow &* width &+ columns.offset(tap: kernelColumn)
                    if strideWidth == 1 {
                        for outputColumn in validColumns[kernelColumn] {
                            out[outputColumn] = combine(out[outputColumn], image[base &+ outputColumn])
                        }
                    } else {
                        for outputColumn in validColumns[kernelColumn] {
                            out[outputColumn] = combine(out[outputColumn], image[base &+ outputColumn &* strideWidth])
                        }
                    }
                }
            }
        }
    }
}

/// Whether any of `count` floats at `values` is NaN: one pass, 8 lanes at a time (x ≠ x), with
/// no branch until the end.
private func containsNaN(_ values: UnsafePointer<Float>, count: Int) -> Bool {
    var found = SIMDMask<SIMD8<Int32>>(repeating: false)
    var index = 0
    while index &+ 8 <= count {
        let v = UnsafeRawPointer(values + index).loadUnaligned(as: SIMD8<Float>.self)
        found .|= v .!= v
        index &+= 8
    }
    while index < count {
        if values[index].isNaN { return true }
        index &+= 1
    }
    return any(found)
}

/// 2-D average pooling (PyTorch `avg_pool2d`, floor mode).
///
/// With `countIncludePadding` (PyTorch's default `count_include_pad=True`) every window is
/// divided by KH·KW, padding counted as zeros; otherwise by the number of its taps that fall
/// inside the input (a window with none gives 0).
/// - Parameters:
///   - input: `[N, C, H, W]` with C, H, W as in `geometry`.
///   - geometry: window size, stride, padding (dilation is allowed and spaces the taps).
///   - countIncludePadding: whether padded positions count in the divisor.
/// - Returns: `[N, C, OH, OW]`.
public func averagePool2D(_ input: Tensor, geometry: ConvGeometry, countIncludePadding: Bool = true) -> Tensor {
    checkImageShape(input.shape, geometry: geometry, caller: "averagePool2D")
    let batch = input.shape[0]
    let (channels, height, width) = (geometry.channels, geometry.inputHeight, geometry.inputWidth)
    let (kernelHeight, kernelWidth) = (geometry.kernelHeight, geometry.kernelWidth)
    let (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
    let strideWidth = geometry.strideWidth
    return reusableTensor([batch, channels, outputHeight, outputWidth]) { output in
        output.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        guard output.count > 0 && input.count > 0 else { return }

        let windows = PoolingWindows(geometry)
        let (rowCounts, columnCounts) = averagingCounts(geometry: geometry, countIncludePadding: countIncludePadding)
        let (inputPlane, outputPlane) = (height * width, outputHeight * outputWidth)

        input.scalars.withUnsafeBufferPointer { inputBuffer in
            output.scalars.withUnsafeMutableBufferPointer { outputBuffer in
                let (source, destination) = (inputBuffer.baseAddress!, outputBuffer.baseAddress!)
                parallelFor(batch * channels, minimumChunk: planesPerChunk(workPerPlane: outputPlane &* kernelHeight &* kernelWidth)) { planes in
                    if strideWidth == 1 {
                        averagePoolUnitStrideColumns(
                            source: source, planes: planes, destination: destination, geometry: geometry,
                            rowCounts: rowCounts, columnCounts: columnCounts)
                        return
                    }
                    for plane in planes {
                        windows.fold(source + plane &* inputPlane, into: destination + plane &* outputPlane, +)
                        for outputRow in 0..<outputHeight {
                            let out = destination + (plane &* outputPlane &+ outputRow &* outputWidth)
                            let rowCount = rowCounts[outputRow]
                            for outputColumn in 0..<outputWidth {
                                let divisor = rowCount * columnCounts[outputColumn]
                                out[outputColumn] = divisor == 0 ? 0 : out[outputColumn] / divisor
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `averagePool2D` for a column stride of 1, over the (n, c) planes `planes`: each plane is
/// copied into a zero-padded scratch plane, then every 8 output columns sum all their taps in a
/// register and are divided and stored once (instead of one read-modify-write per tap).
private func averagePoolUnitStrideColumns(
    source: UnsafePointer<Float>, planes: Range<Int>, destination: UnsafeMutablePointer<Float>, geometry: ConvGeometry,
    rowCounts: [Float], columnCounts: [Float]
) {
    let (height, width) = (geometry.inputHeight, geometry.inputWidth)
    let (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
    let (top, left) = (geometry.padding.top, geometry.padding.left)
    let paddedWidth = width + left + geometry.padding.right
    let paddedHeight = height + top + geometry.padding.bottom
    // 8 floats of slack: the last block of a row reads up to 7 columns past it.
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: paddedHeight * paddedWidth + 8)
    defer { scratch.deallocate() }
    scratch.initialize(repeating: 0, count: paddedHeight * paddedWidth + 8)
    // A window without valid taps sums only padding zeros: dividing by 1 keeps it 0, as defined.
    let columnDivisors = columnCounts.map { $0 == 0 ? 1 : $0 } + [Float](repeating: 1, count: 8)
    let tapOffsets = (0..<geometry.kernelHeight).flatMap { kernelRow in
        (0..<geometry.kernelWidth).map { kernelColumn in kernelRow * geometry.dilationHeight * paddedWidth + kernelColumn * geometry.dilationWidth }
    }
    columnDivisors.withUnsafeBufferPointer { divisors in
        tapOffsets.withUnsafeBufferPointer { offsets in
            for plane in planes {
                let image = source + plane &* height &* width
                for row in 0..<height {
                    (scratch + ((row &+ top) &* paddedWidth &+ left)).update(from: image + row &* width, count: width)
                }
                for outputRow in 0..<outputHeight {
                    let rowBase = scratch + outputRow &* geometry.strideHeight &* paddedWidth
                    let out = destination + (plane &* outputHeight &+ outputRow) &* outputWidth
                    let rowDivisor = SIMD8<Float>(repeating: rowCounts[outputRow] == 0 ? 1 : rowCounts[outputRow])
                    var column = 0
                    while column < outputWidth {
                        var sum = SIMD8<Float>(repeating: 0)
                        for offset in offsets {
                            sum += UnsafeRawPointer(rowBase + (offset &+ column)).loadUnaligned(as: SIMD8<Float>.self)
                        }
                        let divisor = rowDivisor * UnsafeRawPointer(divisors.baseAddress! + column).loadUnaligned(as: SIMD8<Float>.self)
                        let average = sum / divisor
                        let lanes = min(8, outputWidth &- column)
                        if lanes == 8 {
                            UnsafeMutableRawPointer(out + column).storeBytes(of: average, as: SIMD8<Float>.self)
                        } else {
                            for lane in 0..<lanes { out[column &+ lane] = average[lane] }
                        }
                        column &+= 8
                    }
                }
            }
        }
    }
}

/// Gradient of `averagePool2D` with respect to its input: each output gradient, divided as in
/// the forward pass, is added to every input element of its window.
/// - Parameters:
///   - gradOutput: `[N, C, OH, OW]`.
///   - geometry: the forward geometry.
///   - countIncludePadding: as in the forward call.
/// - Returns: `[N, C, H, W]`.
public func averagePool2DBackward(_ gradOutput: Tensor, geometry: ConvGeometry, countIncludePadding: Bool = true) -> Tensor {
    checkOutputShape(gradOutput.shape, geometry: geometry, caller: "averagePool2DBackward")
    let batch = gradOutput.shape[0]
    let (channels, height, width) = (geometry.channels, geometry.inputHeight, geometry.inputWidth)
    let (kernelHeight, kernelWidth) = (geometry.kernelHeight, geometry.kernelWidth)
    let (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
    let (strideHeight, strideWidth) = (geometry.strideHeight, geometry.strideWidth)
    let (rowCounts, columnCounts) = averagingCounts(geometry: geometry, countIncludePadding: countIncludePadding)
    if isCenteredUnitStride(geometry) && gradOutput.count > 0 {
        // The windows are centred boxes: the adjoint sums the divided gradient over the same box
        // around each input element — the forward kernel's vectorised sum, with divisors 1.
        let scaled = dividedByWindowCounts(gradOutput, rowCounts: rowCounts, columnCounts: columnCounts)
        return reusableTensor([batch, channels, height, width]) { gradInput in
            scaled.scalars.withUnsafeBufferPointer { scaledBuffer in
                gradInput.scalars.withUnsafeMutableBufferPointer { gradInputBuffer in
                    let (source, destination) = (scaledBuffer.baseAddress!, gradInputBuffer.baseAddress!)
                    let (rowOnes, columnOnes) = ([Float](repeating: 1, count: height), [Float](repeating: 1, count: width))
                    parallelFor(batch * channels, minimumChunk: planesPerChunk(workPerPlane: height &* width &* kernelHeight &* kernelWidth)) { planes in
                        averagePoolUnitStrideColumns(
                            source: source, planes: planes, destination: destination, geometry: geometry,
                            rowCounts: rowOnes, columnCounts: columnOnes)
                    }
                }
            }
        }
    }
    return reusableTensor([batch, channels, height, width]) { gradInput in
        gradInput.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        guard gradInput.count > 0 && gradOutput.count > 0 else { return }

        let rows = ConvolutionAxis(rowsOf: geometry)
        let cols = ConvolutionAxis(columnsOf: geometry)
        let validColumns = (0..<kernelWidth).map { cols.validOutputs(tap: $0) }
        let (inputPlane, outputPlane) = (height * width, outputHeight * outputWidth)

        gradOutput.scalars.withUnsafeBufferPointer { gradOutputBuffer in
            gradInput.scalars.withUnsafeMutableBufferPointer { gradInputBuffer in
                let (gradients, destination) = (gradOutputBuffer.baseAddress!, gradInputBuffer.baseAddress!)
                parallelFor(batch * channels, minimumChunk: planesPerChunk(workPerPlane: outputPlane &* kernelHeight &* kernelWidth)) { planes in
                    // One output row of gradients, already divided by each window's divisor.
                    let scaled = UnsafeMutableBufferPointer<Float>.allocate(capacity: outputWidth)
                    defer { scaled.deallocate() }
                    let gradientRow = scaled.baseAddress!
                    for plane in planes {
                        let result = destination + plane &* inputPlane
                        for outputRow in 0..<outputHeight {
                            let gradient = gradients + (plane &* outputPlane &+ outputRow &* outputWidth)
                            let rowCount = rowCounts[outputRow]
                            for outputColumn in 0..<outputWidth {
                                let divisor = rowCount * columnCounts[outputColumn]
                                gradientRow[outputColumn] = divisor == 0 ? 0 : gradient[outputColumn] / divisor
                            }
                            for kernelRow in 0..<kernelHeight {
                                let inputRow = outputRow &* strideHeight &+ rows.offset(tap: kernelRow)
                                guard inputRow >= 0 && inputRow < height else { continue }
                                for kernelColumn in 0..<kernelWidth {
                                    let base = inputRow &* width &+ cols.offset(tap: kernelColumn)
                                    if strideWidth == 1 {
                                        for outputColumn in validColumns[kernelColumn] {
                                            result[base &+ outputColumn] += gradientRow[outputColumn]
                                        }
                                    } else {
                                        for outputColumn in validColumns[kernelColumn] {
                                            result[base &+ outputColumn &* strideWidth] += gradientRow[outputColumn]
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether every window of `geometry` is a box centred on its output position: stride and
/// dilation 1, odd kernel sides, each padding half the kernel side − 1 (output size = input size).
private func isCenteredUnitStride(_ geometry: ConvGeometry) -> Bool {
    let (kernelHeight, kernelWidth, padding) = (geometry.kernelHeight, geometry.kernelWidth, geometry.padding)
    return geometry.strideHeight == 1 && geometry.strideWidth == 1 && geometry.dilationHeight == 1 && geometry.dilationWidth == 1
        && kernelHeight % 2 == 1 && kernelWidth % 2 == 1
        && padding.top == kernelHeight / 2 && padding.bottom == kernelHeight / 2
        && padding.left == kernelWidth / 2 && padding.right == kernelWidth / 2
}

/// `gradOutput[n, c, oh, ow] / (rowCounts[oh] · columnCounts[ow])`, 0 where that divisor is 0.
private func dividedByWindowCounts(_ gradOutput: Tensor, rowCounts: [Float], columnCounts: [Float]) -> Tensor {
    let (outputHeight, outputWidth) = (gradOutput.shape[2], gradOutput.shape[3])
    let outputPlane = outputHeight * outputWidth
    return reusableTensor(gradOutput.shape) { scaled in
        gradOutput.scalars.withUnsafeBufferPointer { gradients in
            scaled.scalars.withUnsafeMutableBufferPointer { results in
                let (g, r) = (gradients.baseAddress!, results.baseAddress!)
                parallelFor(gradOutput.count / max(1, outputPlane), minimumChunk: planesPerChunk(workPerPlane: outputPlane)) { planes in
                    for plane in planes {
                        for outputRow in 0..<outputHeight {
                            let offset = plane &* outputPlane &+ outputRow &* outputWidth
                            for outputColumn in 0..<outputWidth {
                                let divisor = rowCounts[outputRow] * columnCounts[outputColumn]
                                r[offset &+ outputColumn] = divisor == 0 ? 0 : g[offset &+ outputColumn] / divisor
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Global average pooling: the mean of each (n, c) plane.
/// - Parameter input: `[N, C, H, W]`.
/// - Returns: `[N, C, 1, 1]` (0 for an empty plane).
public func globalAveragePool(_ input: Tensor) -> Tensor {
    precondition(input.rank == 4, "globalAveragePool: input \(input.shape) is not [N, C, H, W]")
    let (batch, channels) = (input.shape[0], input.shape[1])
    let planeSize = input.shape[2] * input.shape[3]
    return reusableTensor([batch, channels, 1, 1]) { output in
        output.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        guard planeSize > 0 && output.count > 0 else { return }
        let scale = 1 / Float(planeSize)
        input.scalars.withUnsafeBufferPointer { inputBuffer in
            output.scalars.withUnsafeMutableBufferPointer { outputBuffer in
                for plane in 0..<(batch * channels) {
                    var sum: Float = 0
                    for index in (plane &* planeSize)..<((plane &+ 1) &* planeSize) {
                        sum += inputBuffer[index]
                    }
                    outputBuffer[plane] = sum * scale
                }
            }
        }
    }
}

/// Gradient of `globalAveragePool`: each plane receives its output gradient divided by H·W.
/// - Parameters:
///   - gradOutput: `[N, C, 1, 1]`.
///   - height: H of the forward input.
///   - width: W of the forward input.
/// - Returns: `[N, C, H, W]`.
public func globalAveragePoolBackward(_ gradOutput: Tensor, height: Int, width: Int) -> Tensor {
    precondition(
        gradOutput.rank == 4 && gradOutput.shape[2] == 1 && gradOutput.shape[3] == 1,
        "globalAveragePoolBackward: gradOutput \(gradOutput.shape) is not [N, C, 1, 1]")
    precondition(height >= 0 && width >= 0, "globalAveragePoolBackward: negative size \(height)×\(width)")
    let (batch, channels) = (gradOutput.shape[0], gradOutput.shape[1])
    let planeSize = height * width
    return reusableTensor([batch, channels, height, width]) { gradInput in
        gradInput.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        guard gradInput.count > 0 else { return }
        let scale = 1 / Float(planeSize)
        gradOutput.scalars.withUnsafeBufferPointer { gradOutputBuffer in
            gradInput.scalars.withUnsafeMutableBufferPointer { gradInputBuffer in
                for plane in 0..<(batch * channels) {
                    let value = gradOutputBuffer[plane] * scale
                    for index in (plane &* planeSize)..<((plane &+ 1) &* planeSize) {
                        gradInputBuffer[index] = value
                    }
                }
            }
        }
    }
}

/// Per-row and per-column counts whose product is the divisor of the window at (oh, ow).
/// With padding counted, the divisor is KH·KW; otherwise it is (valid rows)·(valid columns) of
/// the window, which factorises by axis. Small integers, so the Float product is exact.
private func averagingCounts(geometry: ConvGeometry, countIncludePadding: Bool) -> (rows: [Float], columns: [Float]) {
    func counts(_ axis: ConvolutionAxis, taps: Int) -> [Float] {
        guard !countIncludePadding else { return [Float](repeating: Float(taps), count: axis.outputSize) }
        var counts = [Float](repeating: 0, count: axis.outputSize)
        for tap in 0..<taps {
            for output in axis.validOutputs(tap: tap) { counts[output] += 1 }
        }
        return counts
    }
    return (counts(ConvolutionAxis(rowsOf: geometry), taps: geometry.kernelHeight),
            counts(ConvolutionAxis(columnsOf: geometry), taps: geometry.kernelWidth))
}
