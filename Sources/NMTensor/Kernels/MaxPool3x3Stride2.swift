// Max pooling with 3×3 windows, stride 2 and no padding (Inception-v3's reductions) on planes
// without NaN, 8 outputs at a time: a window row's three columns 2·ow, 2·ow + 1 and 2·ow + 2 of
// 8 consecutive outputs are the even and odd lanes of two 16-float loads. Results equal the
// general pooling loops (max is exact, though a zero maximum may carry the other sign; the
// backward pass routes each gradient to the same winner and adds in the same order).

/// Whether the 3×3, stride-2 kernels below apply to `geometry`.
func isUnpaddedMaxPool3x3Stride2(_ geometry: ConvGeometry) -> Bool {
    geometry.kernelHeight == 3 && geometry.kernelWidth == 3 && geometry.strideHeight == 2 && geometry.strideWidth == 2
        && geometry.dilationHeight == 1 && geometry.dilationWidth == 1 && geometry.padding == .zero
}

/// One NaN-free `height`×`width` plane's 3×3, stride-2 maxima: `output[oh, ow]` = the largest of
/// `image[2·oh + r, 2·ow + s]`, r, s < 3, for the `outputHeight`×`outputWidth` outputs.
/// - Parameter rowMax: scratch of `width + 16` floats.
func maxPool3x3Stride2Plane(
    _ image: UnsafePointer<Float>, width: Int, outputHeight: Int, outputWidth: Int, rowMax: UnsafeMutablePointer<Float>,
    into output: UnsafeMutablePointer<Float>
) {
    for outputRow in 0..<outputHeight {
        // The column maxima of the window's three rows, then the maxima of three neighbours.
        let top = image + 2 &* outputRow &* width
        var column = 0
        while column &+ 8 <= width {
            @inline(__always) func load(_ row: Int) -> SIMD8<Float> {
                UnsafeRawPointer(top + (row &* width &+ column)).loadUnaligned(as: SIMD8<Float>.self)
            }
            let value = load(0).replacing(with: load(1), where: load(1) .> load(0))
            UnsafeMutableRawPointer(rowMax + column).storeBytes(of: value.replacing(with: load(2), where: load(2) .> value), as: SIMD8<Float>.self)
            column &+= 8
        }
        while column < width {
            rowMax[column] = max(top[column], top[width &+ column], top[2 &* width &+ column])
            column &+= 1
        }
        let out = output + outputRow &* outputWidth
        var outputColumn = 0
        while outputColumn &+ 8 <= outputWidth {
            let first = UnsafeRawPointer(rowMax + 2 &* outputColumn).loadUnaligned(as: SIMD16<Float>.self)
            let third = UnsafeRawPointer(rowMax + (2 &* outputColumn &+ 2)).loadUnaligned(as: SIMD16<Float>.self)
            let pair = first.evenHalf.replacing(with: first.oddHalf, where: first.oddHalf .> first.evenHalf)
            UnsafeMutableRawPointer(out + outputColumn).storeBytes(of: pair.replacing(with: third.evenHalf, where: third.evenHalf .> pair), as: SIMD8<Float>.self)
            outputColumn &+= 8
        }
        while outputColumn < outputWidth {
            let start = rowMax + 2 &* outputColumn
            out[outputColumn] = max(start[0], start[1], start[2])
            outputColumn &+= 1
        }
    }
}

/// The input gradient of `maxPool3x3Stride2Plane` for one plane whose maxima hold no NaN: each
/// `gradOutput[oh, ow]` is added to the first tap of its window (in row-major order) that equals
/// `maxima[oh, ow]`, in output order.
/// - Parameters:
///   - image: the forward input plane, `height`×`width`.
///   - maxima: the forward output plane.
///   - gradOutput: ∂L/∂output plane.
///   - gradInput: the plane to add into (zero beforehand).
func maxPool3x3Stride2BackwardPlane(
    _ image: UnsafePointer<Float>, width: Int, outputHeight: Int, outputWidth: Int, maxima: UnsafePointer<Float>,
    gradOutput: UnsafePointer<Float>, into gradInput: UnsafeMutablePointer<Float>
) {
    // 8 windows at a time while their 16-float loads stay inside the row: 2·ow + 17 < width.
    let vectorColumns = width >= 18 ? min(outputWidth, (width &- 18) / 2 &+ 1) : 0
    for outputRow in 0..<outputHeight {
        let top = image + 2 &* outputRow &* width
        let rowOutputs = outputRow &* outputWidth
        var outputColumn = 0
        while outputColumn &+ 8 <= vectorColumns {
            let maximum = UnsafeRawPointer(maxima + (rowOutputs &+ outputColumn)).loadUnaligned(as: SIMD8<Float>.self)
            // The last match in reverse tap order is the first in order.
            var winner = SIMD8<Int32>(repeating: -1)
            for row in stride(from: 2, through: 0, by: -1) {
                let start = top + (row &* width &+ 2 &* outputColumn)
                let first = UnsafeRawPointer(start).loadUnaligned(as: SIMD16<Float>.self)
                let third = UnsafeRawPointer(start + 2).loadUnaligned(as: SIMD16<Float>.self)
                let tap = Int32(truncatingIfNeeded: 3 &* row)
                winner.replace(with: tap &+ 2, where: third.evenHalf .== maximum)
                winner.replace(with: tap &+ 1, where: first.oddHalf .== maximum)
                winner.replace(with: tap, where: first.evenHalf .== maximum)
            }
            for lane in 0..<8 where winner[lane] >= 0 {
                let tap = Int(winner[lane])
                gradInput[(2 &* outputRow &+ tap / 3) &* width &+ 2 &* (outputColumn &+ lane) &+ tap % 3] += gradOutput[rowOutputs &+ outputColumn &+ lane]
            }
            outputColumn &+= 8
        }
        while outputColumn < outputWidth {
            let maximum = maxima[rowOutputs &+ outputColumn]
            var winner = -1
            for tap in stride(from: 8, through: 0, by: -1) {
                let index = (2 &* outputRow &+ tap / 3) &* width &+ 2 &* outputColumn &+ tap % 3
                winner = image[index] == maximum ? index : winner
            }
            if winner >= 0 { gradInput[winner] += gradOutput[rowOutputs &+ outputColumn] }
            outputColumn &+= 1
        }
    }
}
