// Direct depthwise convolution (groups == channels, one KH×KW filter per channel), forward and
// backward. N = batch, C = channels, H×W = input, OH×OW = output. Every loop nest walks output
// rows and accumulates one kernel tap at a time over a whole row, so the innermost loop runs
// over output columns (contiguous, vectorisable when the stride is 1). Cross-correlation, as in
// PyTorch: no kernel flip.

/// Depthwise convolution: each channel is convolved with its own filter.
///
///     output[n, c, oh, ow] = bias[c] + Σ_kh Σ_kw weight[c, 0, kh, kw] · input[n, c, oh·SH − padTop + kh·DH, ow·SW − padLeft + kw·DW]
///
/// with zeros outside the input. Equals a grouped convolution with `groups == C`.
/// - Parameters:
///   - input: `[N, C, H, W]` with C, H, W as in `geometry`.
///   - weight: `[C, 1, KH, KW]`.
///   - bias: `[C]`, or `nil` for none.
///   - geometry: kernel, stride, padding (e.g. TensorFlow SAME, asymmetric) and dilation.
///   - clampUpper: clamp the output to [0, clampUpper] plane by plane while it is in cache (a
///     fused relu or relu6; NaN stays NaN), or nil.
/// - Returns: `[N, C, OH, OW]`.
public func depthwiseConvolution(
    _ input: Tensor, weight: Tensor, bias: Tensor? = nil, geometry: ConvGeometry, clampUpper: Float? = nil
) -> Tensor {
    checkImageShape(input.shape, geometry: geometry, caller: "depthwiseConvolution")
    return reusableTensor([input.shape[0], geometry.channels, geometry.outputHeight, geometry.outputWidth]) { output in
        depthwiseConvolution(input, weight: weight, bias: bias, geometry: geometry, clampUpper: clampUpper, into: &output)
    }
}

/// `depthwiseConvolution` writing into a reusable buffer.
/// - Parameter output: overwritten with `[N, C, OH, OW]`; keeps its storage when it already holds
///   that many elements, and is reallocated otherwise.
public func depthwiseConvolution(
    _ input: Tensor, weight: Tensor, bias: Tensor? = nil, geometry: ConvGeometry, clampUpper: Float? = nil, into output: inout Tensor
) {
    depthwiseCorrelation(input, weight: weight, bias: bias, geometry: geometry, clampUpper: clampUpper, gate: nil, into: &output)
}

/// `depthwiseConvolution` into `output`, then clamped (`clampUpper`) or gated (`gate`, shaped like
/// the output) plane by plane while the plane is in cache.
private func depthwiseCorrelation(
    _ input: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry, clampUpper: Float?, gate: ClampGate?, into output: inout Tensor
) {
    checkImageShape(input.shape, geometry: geometry, caller: "depthwiseConvolution")
    checkDepthwiseWeight(weight.shape, geometry: geometry, caller: "depthwiseConvolution")
    precondition(bias.map { $0.count == geometry.channels } ?? true, "depthwiseConvolution: bias \(bias!.shape) for \(geometry.channels) channels")
    let batch = input.shape[0]
    let layout = PhaseLayout(geometry)
    prepareBuffer(&output, shape: [batch, geometry.channels, layout.outputHeight, layout.outputWidth])
    guard output.count > 0 else { return }
    precondition(gate.map { $0.output.count == output.count } ?? true, "depthwise convolution: gate \(gate!.output.shape) for \(output.shape)")
    guard input.count > 0 else {
        output.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        return
    }
    let channels = geometry.channels
    let biasValues = bias?.scalars ?? [Float](repeating: 0, count: channels)
    input.scalars.withUnsafeBufferPointer { inputBuffer in
        weight.scalars.withUnsafeBufferPointer { weightBuffer in
            biasValues.withUnsafeBufferPointer { biasBuffer in
                output.scalars.withUnsafeMutableBufferPointer { outputBuffer in
                    let (source, weights, biases, destination) = (inputBuffer.baseAddress!, weightBuffer.baseAddress!, biasBuffer.baseAddress!, outputBuffer.baseAddress!)
                    parallelFor(batch * channels, minimumChunk: planesPerChunk(workPerPlane: layout.outputPlane &* layout.taps)) { planes in
                        // The zero-padded input plane, split by column phase modulo the stride:
                        // every tap then reads a contiguous run. Padding stays zero across planes.
                        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: layout.scratchCount)
                        defer { scratch.deallocate() }
                        scratch.initialize(repeating: 0, count: layout.scratchCount)
                        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: layout.taps)
                        defer { offsets.deallocate() }
                        layout.writeTapOffsets(offsets)
                        for plane in planes {
                            layout.scatter(source + plane &* layout.inputPlane, into: scratch)
                            let result = destination + plane &* layout.outputPlane
                            layout.correlate(
                                scratch, taps: offsets, weights: weights + (plane % channels) &* layout.taps,
                                bias: biases[plane % channels], into: result)
                            if let clampUpper { clampRange(result, result, 0..<layout.outputPlane, upper: clampUpper) }
                            gate?.apply(to: result, plane: plane, planeSize: layout.outputPlane)
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
///   - gate: the relu/relu6 that produced the input (its output, `[N, C, H, W]`), applied to the
///     gradient plane by plane as it is stored, or nil.
/// - Returns: `[N, C, H, W]`.
public func depthwiseConvolutionBackwardInput(_ gradOutput: Tensor, weight: Tensor, geometry: ConvGeometry, gate: ClampGate? = nil) -> Tensor {
    checkOutputShape(gradOutput.shape, geometry: geometry, caller: "depthwiseConvolutionBackwardInput")
    return reusableTensor([gradOutput.shape[0], geometry.channels, geometry.inputHeight, geometry.inputWidth]) { gradInput in
        depthwiseConvolutionBackwardInput(gradOutput, weight: weight, geometry: geometry, gate: gate, into: &gradInput)
    }
}

/// `depthwiseConvolutionBackwardInput` writing into a reusable buffer.
/// - Parameter gradInput: overwritten with `[N, C, H, W]`; keeps its storage when it already
///   holds that many elements, and is reallocated otherwise.
public func depthwiseConvolutionBackwardInput(
    _ gradOutput: Tensor, weight: Tensor, geometry: ConvGeometry, gate: ClampGate? = nil, into gradInput: inout Tensor
) {
    checkOutputShape(gradOutput.shape, geometry: geometry, caller: "depthwiseConvolutionBackwardInput")
    checkDepthwiseWeight(weight.shape, geometry: geometry, caller: "depthwiseConvolutionBackwardInput")
    let batch = gradOutput.shape[0]
    let (channels, height, width) = (geometry.channels, geometry.inputHeight, geometry.inputWidth)
    prepareBuffer(&gradInput, shape: [batch, channels, height, width])
    guard gradInput.count > 0 else { return }
    precondition(gate.map { $0.output.count == gradInput.count } ?? true, "depthwiseConvolutionBackwardInput: gate \(gate!.output.shape) for \(gradInput.shape)")
    guard gradOutput.count > 0 else {
        gradInput.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        return
    }
    if let transposed = strideOneTransposedGeometry(geometry) {
        // With stride 1 the adjoint is itself a correlation: the gradient padded by
        // (kernel − 1)·dilation − padding on each side, with the kernel flipped. The forward
        // kernel keeps its sums in registers instead of scattering into memory.
        depthwiseCorrelation(gradOutput, weight: flippedKernels(weight), bias: nil, geometry: transposed, clampUpper: nil, gate: gate, into: &gradInput)
        return
    }
    let layout = PhaseLayout(geometry)
    gradOutput.scalars.withUnsafeBufferPointer { gradOutputBuffer in
        weight.scalars.withUnsafeBufferPointer { weightBuffer in
            gradInput.scalars.withUnsafeMutableBufferPointer { gradInputBuffer in
                let (source, weights, destination) = (gradOutputBuffer.baseAddress!, weightBuffer.baseAddress!, gradInputBuffer.baseAddress!)
                // Each (n, c) plane of gradInput is written by exactly one chunk.
                parallelFor(batch * channels, minimumChunk: planesPerChunk(workPerPlane: layout.outputPlane &* layout.taps)) { planes in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: layout.scratchCount)
                    defer { scratch.deallocate() }
                    let offsets = UnsafeMutablePointer<Int>.allocate(capacity: layout.taps)
                    defer { offsets.deallocate() }
                    layout.writeTapOffsets(offsets)
                    // The gradient plane with rows padded by zeros to whole 8-lane blocks (a copy
                    // unless they are whole blocks already).
                    let isBlocked = layout.outputWidth == layout.blockedOutputWidth
                    let paddedCount = isBlocked ? 0 : layout.outputHeight &* layout.blockedOutputWidth
                    let paddedGradient = UnsafeMutablePointer<Float>.allocate(capacity: paddedCount)
                    defer { paddedGradient.deallocate() }
                    paddedGradient.initialize(repeating: 0, count: paddedCount)
                    for plane in planes {
                        scratch.update(repeating: 0, count: layout.scratchCount)
                        var gradient = source + plane &* layout.outputPlane
                        if !isBlocked {
                            for row in 0..<layout.outputHeight {
                                (paddedGradient + row &* layout.blockedOutputWidth).update(from: gradient + row &* layout.outputWidth, count: layout.outputWidth)
                            }
                            gradient = UnsafePointer(paddedGradient)
                        }
                        layout.accumulateTransposed(gradient, taps: offsets, weights: weights + (plane % channels) &* layout.taps, into: scratch)
                        layout.gather(scratch, into: destination + plane &* layout.inputPlane)
                        gate?.apply(to: destination + plane &* layout.inputPlane, plane: plane, planeSize: layout.inputPlane)
                    }
                }
            }
        }
    }
}

/// For a stride-1 geometry, the geometry of the correlation that computes its input gradient:
/// over the output plane, padded by `(kernel − 1)·dilation − padding` on each side, so that its
/// output is the input plane. `nil` for other strides or when a
/// padding exceeds the dilated kernel.
private func strideOneTransposedGeometry(_ geometry: ConvGeometry) -> ConvGeometry? {
    guard geometry.strideHeight == 1 && geometry.strideWidth == 1 else { return nil }
    let spanHeight = (geometry.kernelHeight - 1) * geometry.dilationHeight
    let spanWidth = (geometry.kernelWidth - 1) * geometry.dilationWidth
    let padding = geometry.padding
    guard max(padding.top, padding.bottom) <= spanHeight && max(padding.left, padding.right) <= spanWidth else { return nil }
    let transposed = ConvGeometry(
        channels: geometry.channels, inputHeight: geometry.outputHeight, inputWidth: geometry.outputWidth,
        kernelHeight: geometry.kernelHeight, kernelWidth: geometry.kernelWidth,
        padding: Padding2D(
            top: spanHeight - padding.top, bottom: spanHeight - padding.bottom,
            left: spanWidth - padding.left, right: spanWidth - padding.right),
        dilationHeight: geometry.dilationHeight, dilationWidth: geometry.dilationWidth)
    precondition(transposed.outputHeight == geometry.inputHeight && transposed.outputWidth == geometry.inputWidth)
    return transposed
}

/// Every `[KH, KW]` kernel of a `[C, 1, KH, KW]` weight rotated by 180°.
private func flippedKernels(_ weight: Tensor) -> Tensor {
    let taps = weight.shape[2] * weight.shape[3]
    var flipped = weight
    for channel in 0..<weight.shape[0] {
        let base = channel * taps
        for tap in 0..<taps { flipped.scalars[base + tap] = weight.scalars[base + taps - 1 - tap] }
    }
    return flipped
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

extension ClampGate {
    /// Gates plane `plane` (of `planeSize` elements) of a gradient shaped like the output, in place.
    fileprivate func apply(to values: UnsafeMutablePointer<Float>, plane: Int, planeSize: Int) {
        output.scalars.withUnsafeBufferPointer { gate in
            applyGate(gate.baseAddress! + plane &* planeSize, upper: upper, to: values, count: planeSize)
        }
    }
}
