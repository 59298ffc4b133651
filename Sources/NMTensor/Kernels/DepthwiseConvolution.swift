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

/// The zero-padded input plane of a depthwise convolution stored as `SW` column phases: phase p,
/// row r, column j holds padded[r, j·SW + p]. Tap (kh, kw) of output (oh, ow) reads phase
/// (kw·DW) mod SW, row oh·SH + kh·DH, column ow + (kw·DW) div SW: contiguous in ow for any stride.
private struct PhaseLayout {
    let height: Int, width: Int, top: Int, left: Int
    let kernelHeight: Int, kernelWidth: Int, strideHeight: Int, strideWidth: Int, dilationHeight: Int, dilationWidth: Int
    let outputHeight: Int, outputWidth: Int
    let paddedHeight: Int, phaseWidth: Int

    init(_ geometry: ConvGeometry) {
        (height, width) = (geometry.inputHeight, geometry.inputWidth)
        (top, left) = (geometry.padding.top, geometry.padding.left)
        (kernelHeight, kernelWidth) = (geometry.kernelHeight, geometry.kernelWidth)
        (strideHeight, strideWidth) = (geometry.strideHeight, geometry.strideWidth)
        (dilationHeight, dilationWidth) = (geometry.dilationHeight, geometry.dilationWidth)
        (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
        paddedHeight = height + geometry.padding.top + geometry.padding.bottom
        let paddedWidth = width + geometry.padding.left + geometry.padding.right
        phaseWidth = (paddedWidth + strideWidth - 1) / strideWidth
    }

    var inputPlane: Int { height * width }
    var outputPlane: Int { outputHeight * outputWidth }
    var taps: Int { kernelHeight * kernelWidth }
    /// The phases plus 8 floats of slack for `correlate`'s last partial block.
    var scratchCount: Int { strideWidth * paddedHeight * phaseWidth + 8 }

    /// Offset in the scratch of tap (kh, kw) for output (0, 0).
    func writeTapOffsets(_ offsets: UnsafeMutablePointer<Int>) {
        for kernelRow in 0..<kernelHeight {
            for kernelColumn in 0..<kernelWidth {
                let shift = kernelColumn * dilationWidth
                let phase = shift % strideWidth
                offsets[kernelRow * kernelWidth + kernelColumn] = (phase * paddedHeight + kernelRow * dilationHeight) * phaseWidth + shift / strideWidth
            }
        }
    }

    /// Copies an input plane into the interior of the scratch (the padding is left untouched).
    @inline(__always)
    func scatter(_ image: UnsafePointer<Float>, into scratch: UnsafeMutablePointer<Float>) {
        if strideWidth == 2 {
            let (pairs, evenColumns, oddColumns) = (pairedColumns, unpairedColumns(0), unpairedColumns(1))
            for row in 0..<height {
                let source = image + row &* width
                let (even, odd) = (scratch + (row &+ top) &* phaseWidth, scratch + (paddedHeight &+ row &+ top) &* phaseWidth)
                var column = pairs.lowerBound
                while column < pairs.upperBound {
                    let pair = UnsafeRawPointer(source + (2 &* column &- left)).loadUnaligned(as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(even + column).storeBytes(of: pair.evenHalf, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(odd + column).storeBytes(of: pair.oddHalf, as: SIMD8<Float>.self)
                    column &+= 8
                }
                for j in evenColumns.before { even[j] = source[2 &* j &- left] }
                for j in evenColumns.after { even[j] = source[2 &* j &- left] }
                for j in oddColumns.before { odd[j] = source[2 &* j &+ 1 &- left] }
                for j in oddColumns.after { odd[j] = source[2 &* j &+ 1 &- left] }
            }
            return
        }
        for row in 0..<height {
            let source = image + row &* width
            if strideWidth == 1 {
                (scratch + ((row &+ top) &* phaseWidth &+ left)).update(from: source, count: width)
                continue
            }
            for phase in 0..<strideWidth {
                // Padded columns j·SW + phase that hold input column j·SW + phase − left.
                let (first, end) = phaseColumns(phase)
                let target = scratch + ((phase &* paddedHeight &+ row &+ top) &* phaseWidth)
                var column = first &* strideWidth &+ phase &- left
                for j in first..<end {
                    target[j] = source[column]
                    column &+= strideWidth
                }
            }
        }
    }

    /// Reads the interior of the scratch back into an input-shaped plane.
    @inline(__always)
    func gather(_ scratch: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>) {
        if strideWidth == 2 {
            let (pairs, evenColumns, oddColumns) = (pairedColumns, unpairedColumns(0), unpairedColumns(1))
            for row in 0..<height {
                let destination = image + row &* width
                let (even, odd) = (scratch + (row &+ top) &* phaseWidth, scratch + (paddedHeight &+ row &+ top) &* phaseWidth)
                var column = pairs.lowerBound
                while column < pairs.upperBound {
                    var pair = SIMD16<Float>()
                    pair.evenHalf = UnsafeRawPointer(even + column).loadUnaligned(as: SIMD8<Float>.self)
                    pair.oddHalf = UnsafeRawPointer(odd + column).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(destination + (2 &* column &- left)).storeBytes(of: pair, as: SIMD16<Float>.self)
                    column &+= 8
                }
                for j in evenColumns.before { destination[2 &* j &- left] = even[j] }
                for j in evenColumns.after { destination[2 &* j &- left] = even[j] }
                for j in oddColumns.before { destination[2 &* j &+ 1 &- left] = odd[j] }
                for j in oddColumns.after { destination[2 &* j &+ 1 &- left] = odd[j] }
            }
            return
        }
        for row in 0..<height {
            let destination = image + row &* width
            if strideWidth == 1 {
                destination.update(from: scratch + ((row &+ top) &* phaseWidth &+ left), count: width)
                continue
            }
            for phase in 0..<strideWidth {
                let (first, end) = phaseColumns(phase)
                let source = scratch + ((phase &* paddedHeight &+ row &+ top) &* phaseWidth)
                var column = first &* strideWidth &+ phase &- left
                for j in first..<end {
                    destination[column] = source[j]
                    column &+= strideWidth
                }
            }
        }
    }

    /// With stride 2: the phase columns j, in whole 8-column blocks, whose input columns
    /// 2j − left (phase 0) and 2j + 1 − left (phase 1) both lie inside the input row, so that
    /// one 16-float load or store covers a block of both phases.
    var pairedColumns: Range<Int> {
        let first = (left + 1) / 2
        let blocks = max(0, (width + left) / 2 - first) / 8
        return first..<(first + 8 * blocks)
    }

    /// With stride 2: the columns of `phase` inside the input (`phaseColumns`) but outside
    /// `pairedColumns`, copied one at a time.
    func unpairedColumns(_ phase: Int) -> (before: Range<Int>, after: Range<Int>) {
        let (first, end) = phaseColumns(phase)
        let pairs = pairedColumns
        return pairs.isEmpty ? (first..<end, end..<end) : (first..<pairs.lowerBound, pairs.upperBound..<end)
    }

    /// The phase columns j with `left ≤ j·SW + phase < left + width` (inside the input).
    @inline(__always)
    func phaseColumns(_ phase: Int) -> (Int, Int) {
        let first = left > phase ? (left - phase + strideWidth - 1) / strideWidth : 0
        let end = left + width > phase ? (left + width - phase + strideWidth - 1) / strideWidth : 0
        return (first, max(first, end))
    }

    /// One output plane: `result[oh, ow] = bias + Σ_t weights[t] · scratch[oh·SH·phaseWidth + offsets[t] + ow]`,
    /// 16 or 8 columns of two rows at a time in registers (two rows give the adds two
    /// independent chains per register: the loop is bound by add latency, not throughput), or
    /// on planes narrower than 16 columns, 8 columns of four rows (four chains). Each output
    /// sums its taps in the same order either way.
    @inline(__always)
    func correlate(
        _ scratch: UnsafePointer<Float>, taps offsets: UnsafePointer<Int>, weights: UnsafePointer<Float>, bias: Float,
        into result: UnsafeMutablePointer<Float>
    ) {
        let rowStep = strideHeight &* phaseWidth
        var outputRow = 0
        if outputWidth < 16 {
            while outputRow &+ 4 <= outputHeight {
                correlateFourNarrowRows(
                    rowStep, scratch + outputRow &* rowStep, taps: offsets, weights: weights, bias: bias,
                    into: result + outputRow &* outputWidth)
                outputRow &+= 4
            }
        }
        while outputRow &+ 2 <= outputHeight {
            correlateRows(
                SIMD2<Int>(0, rowStep), scratch + outputRow &* rowStep, taps: offsets, weights: weights, bias: bias,
                into: result + outputRow &* outputWidth)
            outputRow &+= 2
        }
        if outputRow < outputHeight {
            correlateRows(
                SIMD2<Int>(0, 0), scratch + outputRow &* rowStep, taps: offsets, weights: weights, bias: bias,
                into: result + outputRow &* outputWidth, rows: 1)
        }
    }

    /// `correlate` for four output rows of fewer than 16 columns, whose scratch rows start at
    /// `rowBase + i·rowStep`: 8 columns at a time, the last block possibly partial (8 lanes
    /// computed within the scratch's slack, only the ones inside the row stored).
    @inline(__always)
    private func correlateFourNarrowRows(
        _ rowStep: Int, _ rowBase: UnsafePointer<Float>, taps offsets: UnsafePointer<Int>, weights: UnsafePointer<Float>,
        bias: Float, into out: UnsafeMutablePointer<Float>
    ) {
        @inline(__always) func load(_ row: Int, _ tap: Int, _ column: Int) -> SIMD8<Float> {
            UnsafeRawPointer(rowBase + (row &* rowStep &+ offsets[tap] &+ column)).loadUnaligned(as: SIMD8<Float>.self)
        }
        var column = 0
        while column < outputWidth {
            var (sum0, sum1, sum2, sum3) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
            for tap in 0..<taps {
                let weight = weights[tap]
                sum0 += weight * load(0, tap, column)
                sum1 += weight * load(1, tap, column)
                sum2 += weight * load(2, tap, column)
                sum3 += weight * load(3, tap, column)
            }
            let lanes = min(8, outputWidth &- column)
            @inline(__always) func store(_ sum: SIMD8<Float>, row: Int) {
                let target = out + (row &* outputWidth &+ column)
                // The bias last, as a separate bias add would round.
                if lanes == 8 {
                    UnsafeMutableRawPointer(target).storeBytes(of: sum + bias, as: SIMD8<Float>.self)
                } else {
                    for lane in 0..<lanes { target[lane] = sum[lane] + bias }
                }
            }
            store(sum0, row: 0)
            store(sum1, row: 1)
            store(sum2, row: 2)
            store(sum3, row: 3)
            column &+= 8
        }
    }

    /// `correlate` for `rows` (1 or 2) output rows whose scratch rows start at `rowBase + rowOffsets[i]`.
    /// With one row, the second lane of `rowOffsets` repeats the first and its sums are dropped.
    @inline(__always)
    private func correlateRows(
        _ rowOffsets: SIMD2<Int>, _ rowBase: UnsafePointer<Float>, taps offsets: UnsafePointer<Int>, weights: UnsafePointer<Float>,
        bias: Float, into out: UnsafeMutablePointer<Float>, rows: Int = 2
    ) {
        let tapCount = taps
        @inline(__always) func load<V: SIMD>(_ row: Int, _ tap: Int, _ column: Int, as type: V.Type) -> V where V.Scalar == Float {
            UnsafeRawPointer(rowBase + (rowOffsets[row] &+ offsets[tap] &+ column)).loadUnaligned(as: V.self)
        }
        var column = 0
        while column &+ 16 <= outputWidth {
            var (first, second) = (SIMD16<Float>(repeating: 0), SIMD16<Float>(repeating: 0))
            for tap in 0..<tapCount {
                first += weights[tap] * load(0, tap, column, as: SIMD16<Float>.self)
                second += weights[tap] * load(1, tap, column, as: SIMD16<Float>.self)
            }
            // The bias last, as a separate bias add would round.
            UnsafeMutableRawPointer(out + column).storeBytes(of: first + bias, as: SIMD16<Float>.self)
            if rows == 2 { UnsafeMutableRawPointer(out + (outputWidth &+ column)).storeBytes(of: second + bias, as: SIMD16<Float>.self) }
            column &+= 16
        }
        while column < outputWidth {
            // 8 columns, the last block possibly partial: 8 lanes computed (the scratch has 8
            // floats of slack to read), only the ones inside the row stored.
            var (first, second) = (SIMD8<Float>(repeating: 0), SIMD8<Float>(repeating: 0))
            for tap in 0..<tapCount {
                first += weights[tap] * load(0, tap, column, as: SIMD8<Float>.self)
                second += weights[tap] * load(1, tap, column, as: SIMD8<Float>.self)
            }
            let lanes = min(8, outputWidth &- column)
            if lanes == 8 {
                UnsafeMutableRawPointer(out + column).storeBytes(of: first + bias, as: SIMD8<Float>.self)
                if rows == 2 { UnsafeMutableRawPointer(out + (outputWidth &+ column)).storeBytes(of: second + bias, as: SIMD8<Float>.self) }
            } else {
                for lane in 0..<lanes { out[column &+ lane] = first[lane] + bias }
                if rows == 2 {
                    for lane in 0..<lanes { out[outputWidth &+ column &+ lane] = second[lane] + bias }
                }
            }
            column &+= 8
        }
    }

    /// Output columns rounded up to whole 8-lane blocks.
    var blockedOutputWidth: Int { (outputWidth + 7) / 8 * 8 }

    /// The adjoint of `correlate` (without bias): adds `weights[t] · gradient[oh, ow]` to
    /// `scratch[oh·SH·phaseWidth + offsets[t] + ow]` for every tap and output.
    /// - Parameter gradient: `OH` rows of `blockedOutputWidth` floats, zero past `OW`, so that
    ///   every row is whole 8-lane blocks: the lanes past a row add zeros (within the scratch's
    ///   slack), and no column goes scalar.
    @inline(__always)
    func accumulateTransposed(
        _ gradient: UnsafePointer<Float>, taps offsets: UnsafePointer<Int>, weights: UnsafePointer<Float>,
        into scratch: UnsafeMutablePointer<Float>
    ) {
        let rowStride = blockedOutputWidth
        // Tap by tap over blocks of `rowsPerBlock` output rows: updates of one row at
        // neighbouring taps overlap by all but a float or two, and a load of a range that the
        // store buffer still holds at another offset stalls until the store completes; a block's
        // scratch rows stay in L1 for all its taps.
        let rowsPerBlock = 8
        for firstRow in stride(from: 0, to: outputHeight, by: rowsPerBlock) {
            for tap in 0..<taps {
                let tapWeight = weights[tap]
                for outputRow in firstRow..<min(firstRow &+ rowsPerBlock, outputHeight) {
                    let target = scratch + (outputRow &* strideHeight &* phaseWidth &+ offsets[tap])
                    let gradientRow = gradient + outputRow &* rowStride
                    var column = 0
                    while column < rowStride {
                        let pointer = UnsafeMutableRawPointer(target + column)
                        let updated = pointer.loadUnaligned(as: SIMD8<Float>.self)
                            + tapWeight * UnsafeRawPointer(gradientRow + column).loadUnaligned(as: SIMD8<Float>.self)
                        pointer.storeBytes(of: updated, as: SIMD8<Float>.self)
                        column &+= 8
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

extension ClampGate {
    /// Gates plane `plane` (of `planeSize` elements) of a gradient shaped like the output, in place.
    fileprivate func apply(to values: UnsafeMutablePointer<Float>, plane: Int, planeSize: Int) {
        output.scalars.withUnsafeBufferPointer { gate in
            applyGate(gate.baseAddress! + plane &* planeSize, upper: upper, to: values, count: planeSize)
        }
    }
}
