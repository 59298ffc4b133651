// 2-D max and average pooling over [N, C, H, W] images, forward and backward, with PyTorch's
// semantics in floor mode (output sizes from `ConvGeometry`). N = batch, C = channels,
// H×W = input, OH×OW = output. Each forward accumulates one window tap at a time over a whole
// output row; each backward scatters into its own (n, c) plane, so chunks never overlap.

/// 2-D max pooling. Positions in the padding never win (as if padded with −∞).
///
/// Ties go to the first tap in (kernel row, kernel column) order; a NaN in a window wins and
/// propagates, as in PyTorch. A window that lies entirely in the padding (impossible when each
/// padding is at most half the dilated kernel, PyTorch's rule) gives −∞ and argmax −1.
/// - Parameters:
///   - input: `[N, C, H, W]` with C, H, W as in `geometry`.
///   - geometry: window size, stride, padding and dilation.
/// - Returns: `output` `[N, C, OH, OW]` and, for each output element in the same order,
///   `argmax`: the flat index `ih·W + iw` of the winning element within its (n, c) input plane
///   (what `maxPool2DBackward` needs).
public func maxPool2D(_ input: Tensor, geometry: ConvGeometry) -> (output: Tensor, argmax: [Int32]) {
    checkImageShape(input.shape, geometry: geometry, caller: "maxPool2D")
    let batch = input.shape[0]
    let (channels, height, width) = (geometry.channels, geometry.inputHeight, geometry.inputWidth)
    precondition(height * width <= Int(Int32.max), "maxPool2D: plane of \(height)×\(width) is too large for Int32 indices")
    let (kernelHeight, kernelWidth) = (geometry.kernelHeight, geometry.kernelWidth)
    let (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
    let (strideHeight, strideWidth) = (geometry.strideHeight, geometry.strideWidth)
    var argmax = [Int32](repeating: -1, count: batch * channels * outputHeight * outputWidth)
    let output = reusableTensor([batch, channels, outputHeight, outputWidth]) { output in
        output.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: -.infinity) }
        guard output.count > 0 && input.count > 0 else { return }

        let rows = ConvolutionAxis(rowsOf: geometry)
        let cols = ConvolutionAxis(columnsOf: geometry)
        let validColumns = (0..<kernelWidth).map { cols.validOutputs(tap: $0) }
        let (inputPlane, outputPlane) = (height * width, outputHeight * outputWidth)

        input.scalars.withUnsafeBufferPointer { inputBuffer in
            output.scalars.withUnsafeMutableBufferPointer { outputBuffer in
                argmax.withUnsafeMutableBufferPointer { argmaxBuffer in
                    let (source, destination, indices) = (inputBuffer.baseAddress!, outputBuffer.baseAddress!, argmaxBuffer.baseAddress!)
                    parallelFor(batch * channels, minimumChunk: planesPerChunk(workPerPlane: outputPlane &* kernelHeight &* kernelWidth)) { planes in
                        for plane in planes {
                            let image = source + plane &* inputPlane
                            for outputRow in 0..<outputHeight {
                                let rowStart = plane &* outputPlane &+ outputRow &* outputWidth
                                let out = destination + rowStart
                                let winner = indices + rowStart
                                for kernelRow in 0..<kernelHeight {
                                    let inputRow = outputRow &* strideHeight &+ rows.offset(tap: kernelRow)
                                    guard inputRow >= 0 && inputRow < height else { continue }
                                    for kernelColumn in 0..<kernelWidth {
                                        let base = inputRow &* width &+ cols.offset(tap: kernelColumn)
                                        for outputColumn in validColumns[kernelColumn] {
                                            let index = base &+ outputColumn &* strideWidth
                                            let value = image[index]
                                            if value > out[outputColumn] || value.isNaN || winner[outputColumn] < 0 {
                                                if !out[outputColumn].isNaN {
                                                    out[outputColumn] = value
                                                    winner[outputColumn] = Int32(truncatingIfNeeded: index)
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
    return (output, argmax)
}

/// Gradient of `maxPool2D` with respect to its input: each output gradient goes to the input
/// element that won its window (summed where windows overlap). Entries of `argmax` that are −1
/// contribute nothing.
/// - Parameters:
///   - gradOutput: `[N, C, OH, OW]`.
///   - argmax: the indices `maxPool2D` returned with the forward output.
///   - geometry: the forward geometry.
/// - Returns: `[N, C, H, W]`.
public func maxPool2DBackward(_ gradOutput: Tensor, argmax: [Int32], geometry: ConvGeometry) -> Tensor {
    checkOutputShape(gradOutput.shape, geometry: geometry, caller: "maxPool2DBackward")
    precondition(argmax.count == gradOutput.count, "maxPool2DBackward: \(argmax.count) argmax entries for gradOutput \(gradOutput.shape)")
    let batch = gradOutput.shape[0]
    let (channels, height, width) = (geometry.channels, geometry.inputHeight, geometry.inputWidth)
    return reusableTensor([batch, channels, height, width]) { gradInput in
        gradInput.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        guard gradInput.count > 0 && gradOutput.count > 0 else { return }
        let (inputPlane, outputPlane) = (height * width, geometry.outputHeight * geometry.outputWidth)

        gradOutput.scalars.withUnsafeBufferPointer { gradOutputBuffer in
            argmax.withUnsafeBufferPointer { argmaxBuffer in
                gradInput.scalars.withUnsafeMutableBufferPointer { gradInputBuffer in
                    let (gradients, indices, destination) = (gradOutputBuffer.baseAddress!, argmaxBuffer.baseAddress!, gradInputBuffer.baseAddress!)
                    parallelFor(batch * channels, minimumChunk: planesPerChunk(workPerPlane: outputPlane)) { planes in
                        for plane in planes {
                            let result = destination + plane &* inputPlane
                            for outputIndex in (plane &* outputPlane)..<((plane &+ 1) &* outputPlane) {
                                let index = Int(indices[outputIndex])
                                guard index >= 0 else { continue }
                                precondition(index < inputPlane, "maxPool2DBackward: argmax \(index) outside a \(height)×\(width) plane")
                                result[index] += gradients[outputIndex]
                            }
                        }
                    }
                }
            }
        }
    }
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
    let (strideHeight, strideWidth) = (geometry.strideHeight, geometry.strideWidth)
    return reusableTensor([batch, channels, outputHeight, outputWidth]) { output in
        output.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        guard output.count > 0 && input.count > 0 else { return }

        let rows = ConvolutionAxis(rowsOf: geometry)
        let cols = ConvolutionAxis(columnsOf: geometry)
        let validColumns = (0..<kernelWidth).map { cols.validOutputs(tap: $0) }
        let (rowCounts, columnCounts) = averagingCounts(geometry: geometry, countIncludePadding: countIncludePadding)
        let (inputPlane, outputPlane) = (height * width, outputHeight * outputWidth)

        input.scalars.withUnsafeBufferPointer { inputBuffer in
            output.scalars.withUnsafeMutableBufferPointer { outputBuffer in
                let (source, destination) = (inputBuffer.baseAddress!, outputBuffer.baseAddress!)
                parallelFor(batch * channels, minimumChunk: planesPerChunk(workPerPlane: outputPlane &* kernelHeight &* kernelWidth)) { planes in
                    for plane in planes {
                        let image = source + plane &* inputPlane
                        for outputRow in 0..<outputHeight {
                            let out = destination + (plane &* outputPlane &+ outputRow &* outputWidth)
                            for kernelRow in 0..<kernelHeight {
                                let inputRow = outputRow &* strideHeight &+ rows.offset(tap: kernelRow)
                                guard inputRow >= 0 && inputRow < height else { continue }
                                for kernelColumn in 0..<kernelWidth {
                                    let base = inputRow &* width &+ cols.offset(tap: kernelColumn)
                                    if strideWidth == 1 {
                                        for outputColumn in validColumns[kernelColumn] {
                                            out[outputColumn] += image[base &+ outputColumn]
                                        }
                                    } else {
                                        for outputColumn in validColumns[kernelColumn] {
                                            out[outputColumn] += image[base &+ outputColumn &* strideWidth]
                                        }
                                    }
                                }
                            }
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
    return reusableTensor([batch, channels, height, width]) { gradInput in
        gradInput.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        guard gradInput.count > 0 && gradOutput.count > 0 else { return }

        let rows = ConvolutionAxis(rowsOf: geometry)
        let cols = ConvolutionAxis(columnsOf: geometry)
        let validColumns = (0..<kernelWidth).map { cols.validOutputs(tap: $0) }
        let (rowCounts, columnCounts) = averagingCounts(geometry: geometry, countIncludePadding: countIncludePadding)
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
