// Direct depthwise convolution (groups == channels, one KH×KW filter per channel), forward and
// backward. N = batch, C = channels, H×W = input, OH×OW = output. Every loop nest walks output
// rows and accumulates one kernel tap at a time over a whole row, so the innermost loop runs
// over output columns (contiguous, vectorisable when the stride is 1). Cross-correlation, as in
// PyTorch: no kernel flip.

/// Depthwise convolution: each channel is convolved with its own filter.
///
///     output[n, c, oh, ow] = Σ_kh Σ_kw weight[c, 0, kh, kw] · input[n, c, oh·SH − padTop + kh·DH, ow·SW − padLeft + kw·DW]
///
/// with zeros outside the input. Equals a grouped convolution with `groups == C` and no bias.
/// - Parameters:
///   - input: `[N, C, H, W]` with C, H, W as in `geometry`.
///   - weight: `[C, 1, KH, KW]`.
///   - geometry: kernel, stride, padding (e.g. TensorFlow SAME, asymmetric) and dilation.
/// - Returns: `[N, C, OH, OW]`.
public func depthwiseConvolution(_ input: Tensor, weight: Tensor, geometry: ConvGeometry) -> Tensor {
    var output = Tensor.zeros([0])
    depthwiseConvolution(input, weight: weight, geometry: geometry, into: &output)
    return output
}

/// `depthwiseConvolution` writing into a reusable buffer.
/// - Parameter output: overwritten with `[N, C, OH, OW]`; keeps its storage when it already holds
///   that many elements, and is reallocated otherwise.
public func depthwiseConvolution(_ input: Tensor, weight: Tensor, geometry: ConvGeometry, into output: inout Tensor) {
    checkImageShape(input.shape, geometry: geometry, caller: "depthwiseConvolution")
    checkDepthwiseWeight(weight.shape, geometry: geometry, caller: "depthwiseConvolution")
    let batch = input.shape[0]
    let (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
    prepareBuffer(&output, shape: [batch, geometry.channels, outputHeight, outputWidth])
    guard output.count > 0 else { return }
    output.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    guard input.count > 0 else { return }

    let (channels, height, width) = (geometry.channels, geometry.inputHeight, geometry.inputWidth)
    let (kernelHeight, kernelWidth) = (geometry.kernelHeight, geometry.kernelWidth)
    let (strideHeight, strideWidth) = (geometry.strideHeight, geometry.strideWidth)
    let rows = ConvolutionAxis(rowsOf: geometry)
    let cols = ConvolutionAxis(columnsOf: geometry)
    let validColumns = (0..<kernelWidth).map { cols.validOutputs(tap: $0) }
    let (inputPlane, outputPlane, taps) = (height * width, outputHeight * outputWidth, kernelHeight * kernelWidth)

    input.scalars.withUnsafeBufferPointer { inputBuffer in
        weight.scalars.withUnsafeBufferPointer { weightBuffer in
            output.scalars.withUnsafeMutableBufferPointer { outputBuffer in
                let (source, weights, destination) = (inputBuffer.baseAddress!, weightBuffer.baseAddress!, outputBuffer.baseAddress!)
                parallelFor(batch * channels, minimumChunk: planesPerChunk(workPerPlane: outputPlane &* taps)) { planes in
                    for plane in planes {
                        let image = source + plane &* inputPlane
                        let filter = weights + (plane % channels) &* taps
                        let result = destination + plane &* outputPlane
                        for outputRow in 0..<outputHeight {
                            let out = result + outputRow &* outputWidth
                            for kernelRow in 0..<kernelHeight {
                                let inputRow = outputRow &* strideHeight &+ rows.offset(tap: kernelRow)
                                guard inputRow >= 0 && inputRow < height else { continue }
                                for kernelColumn in 0..<kernelWidth {
                                    let tapWeight = filter[kernelRow &* kernelWidth &+ kernelColumn]
                                    let base = inputRow &* width &+ cols.offset(tap: kernelColumn)
                                    if strideWidth == 1 {
                                        for outputColumn in validColumns[kernelColumn] {
                                            out[outputColumn] += tapWeight * image[base &+ outputColumn]
                                        }
                                    } else {
                                        for outputColumn in validColumns[kernelColumn] {
                                            out[outputColumn] += tapWeight * image[base &+ outputColumn &* strideWidth]
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

/// Gradient of `depthwiseConvolution` with respect to its input (the adjoint in the input):
///
///     gradInput[n, c, ih, iw] = Σ over (oh, ow, kh, kw) reading (ih, iw) of weight[c, 0, kh, kw] · gradOutput[n, c, oh, ow]
///
/// - Parameters:
///   - gradOutput: `[N, C, OH, OW]`.
///   - weight: `[C, 1, KH, KW]`.
///   - geometry: the forward geometry.
/// - Returns: `[N, C, H, W]`.
public func depthwiseConvolutionBackwardInput(_ gradOutput: Tensor, weight: Tensor, geometry: ConvGeometry) -> Tensor {
    var gradInput = Tensor.zeros([0])
    depthwiseConvolutionBackwardInput(gradOutput, weight: weight, geometry: geometry, into: &gradInput)
    return gradInput
}

/// `depthwiseConvolutionBackwardInput` writing into a reusable buffer.
/// - Parameter gradInput: overwritten with `[N, C, H, W]`; keeps its storage when it already
///   holds that many elements, and is reallocated otherwise.
public func depthwiseConvolutionBackwardInput(_ gradOutput: Tensor, weight: Tensor, geometry: ConvGeometry, into gradInput: inout Tensor) {
    checkOutputShape(gradOutput.shape, geometry: geometry, caller: "depthwiseConvolutionBackwardInput")
    checkDepthwiseWeight(weight.shape, geometry: geometry, caller: "depthwiseConvolutionBackwardInput")
    let batch = gradOutput.shape[0]
    let (channels, height, width) = (geometry.channels, geometry.inputHeight, geometry.inputWidth)
    prepareBuffer(&gradInput, shape: [batch, channels, height, width])
    guard gradInput.count > 0 else { return }
    gradInput.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    guard gradOutput.count > 0 else { return }

    let (kernelHeight, kernelWidth) = (geometry.kernelHeight, geometry.kernelWidth)
    let (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
    let (strideHeight, strideWidth) = (geometry.strideHeight, geometry.strideWidth)
    let rows = ConvolutionAxis(rowsOf: geometry)
    let cols = ConvolutionAxis(columnsOf: geometry)
    let validColumns = (0..<kernelWidth).map { cols.validOutputs(tap: $0) }
    let (inputPlane, outputPlane, taps) = (height * width, outputHeight * outputWidth, kernelHeight * kernelWidth)

    gradOutput.scalars.withUnsafeBufferPointer { gradOutputBuffer in
        weight.scalars.withUnsafeBufferPointer { weightBuffer in
            gradInput.scalars.withUnsafeMutableBufferPointer { gradInputBuffer in
                let (source, weights, destination) = (gradOutputBuffer.baseAddress!, weightBuffer.baseAddress!, gradInputBuffer.baseAddress!)
                // Each (n, c) plane of gradInput is written by exactly one chunk.
                parallelFor(batch * channels, minimumChunk: planesPerChunk(workPerPlane: outputPlane &* taps)) { planes in
                    for plane in planes {
                        let gradient = source + plane &* outputPlane
                        let filter = weights + (plane % channels) &* taps
                        let result = destination + plane &* inputPlane
                        for outputRow in 0..<outputHeight {
                            let gradientRow = gradient + outputRow &* outputWidth
                            for kernelRow in 0..<kernelHeight {
                                let inputRow = outputRow &* strideHeight &+ rows.offset(tap: kernelRow)
                                guard inputRow >= 0 && inputRow < height else { continue }
                                for kernelColumn in 0..<kernelWidth {
                                    let tapWeight = filter[kernelRow &* kernelWidth &+ kernelColumn]
                                    let base = inputRow &* width &+ cols.offset(tap: kernelColumn)
                                    if strideWidth == 1 {
                                        for outputColumn in validColumns[kernelColumn] {
                                            result[base &+ outputColumn] += tapWeight * gradientRow[outputColumn]
                                        }
                                    } else {
                                        for outputColumn in validColumns[kernelColumn] {
                                            result[base &+ outputColumn &* strideWidth] += tapWeight * gradientRow[outputColumn]
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

/// Gradient of `depthwiseConvolution` with respect to its weight, summed over the batch:
///
///     gradWeight[c, 0, kh, kw] = Σ_n Σ_oh Σ_ow gradOutput[n, c, oh, ow] · input[n, c, oh·SH − padTop + kh·DH, ow·SW − padLeft + kw·DW]
///
/// - Parameters:
///   - gradOutput: `[N, C, OH, OW]`.
///   - input: the forward input, `[N, C, H, W]`.
///   - geometry: the forward geometry.
/// - Returns: `[C, 1, KH, KW]`.
public func depthwiseConvolutionBackwardWeight(_ gradOutput: Tensor, input: Tensor, geometry: ConvGeometry) -> Tensor {
    checkImageShape(input.shape, geometry: geometry, caller: "depthwiseConvolutionBackwardWeight")
    checkOutputShape(gradOutput.shape, geometry: geometry, caller: "depthwiseConvolutionBackwardWeight")
    precondition(gradOutput.shape[0] == input.shape[0], "depthwiseConvolutionBackwardWeight: batch of gradOutput \(gradOutput.shape) and input \(input.shape) differ")
    let batch = input.shape[0]
    let (channels, height, width) = (geometry.channels, geometry.inputHeight, geometry.inputWidth)
    let (kernelHeight, kernelWidth) = (geometry.kernelHeight, geometry.kernelWidth)
    let (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
    let (strideHeight, strideWidth) = (geometry.strideHeight, geometry.strideWidth)
    var gradWeight = Tensor.zeros([channels, 1, kernelHeight, kernelWidth])
    guard gradOutput.count > 0 && input.count > 0 else { return gradWeight }

    let rows = ConvolutionAxis(rowsOf: geometry)
    let cols = ConvolutionAxis(columnsOf: geometry)
    let validColumns = (0..<kernelWidth).map { cols.validOutputs(tap: $0) }
    let (inputPlane, outputPlane, taps) = (height * width, outputHeight * outputWidth, kernelHeight * kernelWidth)

    gradOutput.scalars.withUnsafeBufferPointer { gradOutputBuffer in
        input.scalars.withUnsafeBufferPointer { inputBuffer in
            gradWeight.scalars.withUnsafeMutableBufferPointer { gradWeightBuffer in
                let (gradients, images, destination) = (gradOutputBuffer.baseAddress!, inputBuffer.baseAddress!, gradWeightBuffer.baseAddress!)
                // Split by channel: each chunk owns its channels' weights and sums over the batch.
                parallelFor(channels, minimumChunk: planesPerChunk(workPerPlane: batch &* outputPlane &* taps)) { channelRange in
                    // Per tap, a row of partial sums over output columns: the products are added
                    // elementwise (vectorisable) and reduced once per channel, in Double.
                    let partial = UnsafeMutableBufferPointer<Float>.allocate(capacity: taps &* outputWidth)
                    defer { partial.deallocate() }
                    let sums = partial.baseAddress!
                    for channel in channelRange {
                        partial.update(repeating: 0)
                        for n in 0..<batch {
                            let plane = n &* channels &+ channel
                            let gradient = gradients + plane &* outputPlane
                            let image = images + plane &* inputPlane
                            for outputRow in 0..<outputHeight {
                                let gradientRow = gradient + outputRow &* outputWidth
                                for kernelRow in 0..<kernelHeight {
                                    let inputRow = outputRow &* strideHeight &+ rows.offset(tap: kernelRow)
                                    guard inputRow >= 0 && inputRow < height else { continue }
                                    for kernelColumn in 0..<kernelWidth {
                                        let tapSums = sums + (kernelRow &* kernelWidth &+ kernelColumn) &* outputWidth
                                        let base = inputRow &* width &+ cols.offset(tap: kernelColumn)
                                        if strideWidth == 1 {
                                            for outputColumn in validColumns[kernelColumn] {
                                                tapSums[outputColumn] += gradientRow[outputColumn] * image[base &+ outputColumn]
                                            }
                                        } else {
                                            for outputColumn in validColumns[kernelColumn] {
                                                tapSums[outputColumn] += gradientRow[outputColumn] * image[base &+ outputColumn &* strideWidth]
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        for tap in 0..<taps {
                            var total = 0.0
                            for outputColumn in 0..<outputWidth {
                                total += Double(sums[tap &* outputWidth &+ outputColumn])
                            }
                            destination[channel &* taps &+ tap] = Float(total)
                        }
                    }
                }
            }
        }
    }
    return gradWeight
}

/// Checks that `shape` is `[C, 1, KH, KW]` for `geometry`.
private func checkDepthwiseWeight(_ shape: [Int], geometry: ConvGeometry, caller: String) {
    precondition(
        shape == [geometry.channels, 1, geometry.kernelHeight, geometry.kernelWidth],
        "\(caller): weight \(shape) is not [\(geometry.channels), 1, \(geometry.kernelHeight), \(geometry.kernelWidth)]")
}

/// Checks that `shape` is `[N, C, OH, OW]` for `geometry`.
func checkOutputShape(_ shape: [Int], geometry: ConvGeometry, caller: String) {
    precondition(
        shape.count == 4 && shape[1] == geometry.channels && shape[2] == geometry.outputHeight && shape[3] == geometry.outputWidth,
        "\(caller): gradOutput \(shape) is not [N, \(geometry.channels), \(geometry.outputHeight), \(geometry.outputWidth)]")
}
