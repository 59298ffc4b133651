// The phase layout of a depthwise convolution's zero-padded input plane: columns split by
// phase modulo the stride, so that every kernel tap reads a contiguous run for any stride; the
// register kernels that correlate a plane with its kernel (forward, and the stride-1 input
// gradient) and accumulate the adjoint (the strided input gradient).

/// The zero-padded input plane of a depthwise convolution stored as `SW` column phases: phase p,
/// row r, column j holds padded[r, j·SW + p]. Tap (kh, kw) of output (oh, ow) reads phase
/// (kw·DW) mod SW, row oh·SH + kh·DH, column ow + (kw·DW) div SW: contiguous in ow for any stride.
struct PhaseLayout {
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
