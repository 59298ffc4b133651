// Winograd F(m, r) along one axis (Toom–Cook; Lavin & Gray, arXiv:1509.09308): an r×1 or 1×r,
// stride-1 convolution (Inception-v3's 7×1 and 1×7, 3×1 and 1×3) as α = m + r − 1 GEMMs on
// transformed tiles of α input pixels along the kernel's axis: α / m multiplications per output
// instead of r (F(4, 7): 2.5 instead of 7). N = batch, C = input channels, K = output channels,
// T = ⌈output length / m⌉ tiles per line, P = N·T·lines tiles.
//
//     U = G g          per filter (k, c)          → [α, K, C]
//     V = Bᵀ d         per input tile (c, p)      → [α, C, P]
//     M[i] = U[i]·V[i] for i in 0..<α             → [α, K, P]
//     Y = Aᵀ M         per output tile (k, p)     → m outputs, cropped at the line's end
//
// A line is a column of the plane for an r×1 kernel and a row for a 1×r kernel; tile
// p = (n·T + t)·lines + line covers the line's outputs m·t ..< m·t + m and reads its inputs
// m·t − padBefore ..< + α. Transforms run 8 lines at a time in SIMD8 registers, from a copy of
// the plane laid out with the kernel's axis as rows (transposed for 1×r kernels), zero-padded.

import Foundation

/// The axis along which a one-dimensional convolution kernel extends.
public enum KernelAxis: Sendable, Equatable {
    /// An r×1 kernel (`[K, C, r, 1]`): tiles run down the columns.
    case height
    /// A 1×r kernel (`[K, C, 1, r]`): tiles run along the rows.
    case width
}

/// The Toom–Cook matrices of F(m, r) for the points 0, ±1, ±2, ±1/2, ±3/4 (the first α − 1 of
/// them) and ∞, fractions in G (±3/4 rather than the usual ±3: F(4, 7)'s rounding error halves): Aᵀ `[m, α]`, Bᵀ `[α, α]`, G `[α, r]`, with
/// y = Aᵀ·((G·g) ⊙ (Bᵀ·d)) the correlation y[o] = Σ_s g[s]·d[o + s], o < m.
struct ToomCookMatrices: Sendable {
    static let points: [Double] = [0, 1, -1, 2, -2, 0.5, -0.5, 0.75, -0.75]
    /// The largest α the points allow.
    static let maximumAlpha = points.count + 1

    let tileLength: Int, kernelLength: Int, alpha: Int
    /// Aᵀ, row-major `[m, α]`.
    let output: [Float]
    /// Bᵀ, row-major `[α, α]`.
    let input: [Float]
    /// G, row-major `[α, r]`, in Double (the filter transform's rounding reaches every output).
    let filter: [Double]
    /// Aᵀ and Bᵀ with every entry broadcast to 8 lanes (the transforms' operands).
    let outputVectors: [SIMD8<Float>], inputVectors: [SIMD8<Float>]

    init(tileLength m: Int, kernelLength r: Int) {
        let alpha = m + r - 1
        precondition(m >= 1 && r >= 1 && alpha <= Self.maximumAlpha, "ToomCookMatrices: F(\(m), \(r)) needs more than \(Self.maximumAlpha) points")
        (tileLength, kernelLength, self.alpha) = (m, r, alpha)
        let points = Array(Self.points.prefix(alpha - 1))
        // Row i of a Vandermonde matrix with `columns` columns: point i's powers; ∞'s row picks the leading coefficient.
        func powers(_ i: Int, _ columns: Int) -> [Double] {
            i < points.count ? (0..<columns).map { pow(points[i], Double($0)) } : (0..<columns).map { $0 == columns - 1 ? 1 : 0 }
        }
        // f[i] = Π_{j ≠ i} (a_i − a_j) over the finite points, 1 for ∞: Bᵀ = diag(f)·W⁻ᵀ, G = diag(f)⁻¹·V_r.
        let scale = (0..<alpha).map { i in
            i < points.count ? points.indices.reduce(1.0) { $1 == i ? $0 : $0 * (points[i] - points[$1]) } : 1
        }
        let inverse = invertedMatrix((0..<alpha).flatMap { powers($0, alpha) }, size: alpha)
        input = (0..<alpha).flatMap { i in (0..<alpha).map { j in Float(scale[i] * inverse[j * alpha + i]) } }
        filter = (0..<alpha).flatMap { i in powers(i, r).map { $0 / scale[i] } }
        output = (0..<m).flatMap { o in (0..<alpha).map { i in Float(powers(i, m)[o]) } }
        outputVectors = output.map { SIMD8(repeating: $0) }
        inputVectors = input.map { SIMD8(repeating: $0) }
    }

    /// The tile length m used for a kernel of length r: 4 (α = r + 3), or fewer where the
    /// points run out.
    static func tileLength(kernelLength r: Int) -> Int { max(1, min(4, maximumAlpha + 1 - r)) }
}

/// The inverse of a small, well-conditioned `size`×`size` row-major matrix, by Gauss–Jordan
/// elimination with partial pivoting.
private func invertedMatrix(_ matrix: [Double], size n: Int) -> [Double] {
    var a = matrix
    var inverse = (0..<n * n).map { $0 / n == $0 % n ? 1.0 : 0 }
    for column in 0..<n {
        let pivot = (column..<n).max { abs(a[$0 * n + column]) < abs(a[$1 * n + column]) }!
        precondition(a[pivot * n + column] != 0, "invertedMatrix: singular matrix")
        for j in 0..<n {
            a.swapAt(column * n + j, pivot * n + j)
            inverse.swapAt(column * n + j, pivot * n + j)
        }
        let divisor = a[column * n + column]
        for j in 0..<n {
            a[column * n + j] /= divisor
            inverse[column * n + j] /= divisor
        }
        for row in 0..<n where row != column {
            let factor = a[row * n + column]
            guard factor != 0 else { continue }
            for j in 0..<n {
                a[row * n + j] -= factor * a[column * n + j]
                inverse[row * n + j] -= factor * inverse[column * n + j]
            }
        }
    }
    return inverse
}

/// The filters of an r×1 or 1×r convolution transformed for `lineWinogradConvolution`:
/// U = G·g per (output channel, input channel), stored `[α, K, C]` (the left operands of the α
/// GEMMs). Reuse it while the weights are unchanged.
public struct LineWinogradFilter: Sendable {
    /// K: output channels of the convolution this filter computes.
    public let outputChannels: Int
    /// C: input channels of the convolution this filter computes.
    public let inputChannels: Int
    /// The axis the kernel extends along.
    public let axis: KernelAxis
    let matrices: ToomCookMatrices
    /// The α transformed `[K, C]` filter matrices, plain or packed.
    let products: TransformedFilterMatrices

    /// The transform of a convolution's weights.
    /// - Parameters:
    ///   - weight: `[K, C, r, 1]` (axis `.height`) or `[K, C, 1, r]` (axis `.width`), PyTorch
    ///     layout (cross-correlation); r ≤ 9.
    ///   - packed: store the α matrices as `PackedMatrix`es, multiplied by the packed kernel instead
    ///     of OpenBLAS.
    public init(weight: Tensor, packed: Bool = false) {
        self.init(weight: weight, isInputGradient: false, packed: packed)
    }

    /// The transform of the convolution that computes the input gradient of the convolution with
    /// `weight`: its filters are `weight` reversed along the axis with input and output channels
    /// swapped (`[C, K]` filters, filter (c, k) = reverse(weight[k, c])).
    /// - Parameters:
    ///   - weight: the forward weights, `[K, C, r, 1]` or `[K, C, 1, r]`.
    ///   - packed: as in `init(weight:packed:)`.
    public init(inputGradientOf weight: Tensor, packed: Bool = false) {
        self.init(weight: weight, isInputGradient: true, packed: packed)
    }

    private init(weight: Tensor, isInputGradient: Bool, packed: Bool) {
        precondition(weight.rank == 4 && (weight.shape[2] == 1 || weight.shape[3] == 1),
            "LineWinogradFilter: weight \(weight.shape) is not [K, C, r, 1] or [K, C, 1, r]")
        axis = weight.shape[3] == 1 && weight.shape[2] > 1 ? .height : .width
        let r = weight.shape[2] * weight.shape[3]
        precondition(r <= ToomCookMatrices.maximumAlpha, "LineWinogradFilter: kernel length \(r) is over \(ToomCookMatrices.maximumAlpha)")
        let matrices = ToomCookMatrices(tileLength: ToomCookMatrices.tileLength(kernelLength: r), kernelLength: r)
        self.matrices = matrices
        let (forwardOut, forwardIn) = (weight.shape[0], weight.shape[1])
        let (rows, columns) = isInputGradient ? (forwardIn, forwardOut) : (forwardOut, forwardIn)
        (outputChannels, inputChannels) = (rows, columns)
        let (alpha, matrixSize) = (matrices.alpha, rows * columns)
        var result = [Float](unsafeUninitializedCapacity: alpha * matrixSize) { _, initialized in initialized = alpha * matrixSize }
        weight.scalars.withUnsafeBufferPointer { weightBuffer in
            matrices.filter.withUnsafeBufferPointer { filterMatrix in
                result.withUnsafeMutableBufferPointer { resultBuffer in
                    let (source, g, destination) = (weightBuffer.baseAddress!, filterMatrix.baseAddress!, resultBuffer.baseAddress!)
                    parallelFor(rows, minimumChunk: max(1, 4096 / max(1, columns))) { range in
                        for row in range {
                            for column in 0..<columns {
                                // Filter (row, column) is weight[row, column], or weight[column, row] reversed.
                                let taps = source + (isInputGradient ? column &* forwardIn &+ row : row &* forwardIn &+ column) &* r
                                for i in 0..<alpha {
                                    var sum = 0.0
                                    for s in 0..<r { sum += g[i &* r &+ s] * Double(taps[isInputGradient ? r &- 1 &- s : s]) }
                                    destination[i &* matrixSize &+ row &* columns &+ column] = Float(sum)
                                }
                            }
                        }
                    }
                }
            }
        }
        products = TransformedFilterMatrices(result, count: alpha, outputChannels: rows, inputChannels: columns, packed: packed)
    }
}

/// An r×1 or 1×r, stride-1, dilation-1, ungrouped convolution (cross-correlation, as PyTorch's
/// `conv2d`) by Winograd F(m, r) along the kernel's axis (m = 4 for r ≤ 7):
///
///     output[n, k, oh, ow] = bias[k] + Σ_c Σ_s weight[k, c, s] · input[n, c, oh − padTop + s, ow]      (r×1)
///     output[n, k, oh, ow] = bias[k] + Σ_c Σ_s weight[k, c, s] · input[n, c, oh, ow − padLeft + s]     (1×r)
///
/// with zeros outside the input; the output is r − 1 shorter than the padded input along the
/// axis. Same contract as im2col + GEMM with the same geometry; results differ by Float32
/// rounding (relative L2 difference ≈ 1e-6 on random data).
/// - Parameters:
///   - input: `[N, C, H, W]`.
///   - filter: the transformed weights (`LineWinogradFilter(weight:)`), C input channels.
///   - bias: `[K]`, or `nil`.
///   - padding: zero padding along the kernel's axis; 0 across it.
///   - clampUpper: if given, the output is clamped to [0, clampUpper] as it is stored (a fused
///     relu or relu6; NaN stays NaN).
/// - Returns: `[N, K, OH, OW]` (empty when the output length is ≤ 0).
/// - Complexity: α·K·C·P multiply-adds in the GEMMs plus O(α²·(C + K)·P) for the transforms;
///   temporary buffers of α·(C + K)·P floats.
public func lineWinogradConvolution(
    _ input: Tensor, filter: LineWinogradFilter, bias: Tensor? = nil, padding: Padding2D, clampUpper: Float? = nil
) -> Tensor {
    precondition(input.rank == 4 && input.shape[1] == filter.inputChannels,
        "lineWinogradConvolution: input \(input.shape) is not [N, \(filter.inputChannels), H, W]")
    precondition(bias.map { $0.count == filter.outputChannels } ?? true, "lineWinogradConvolution: bias \(bias!.shape) for \(filter.outputChannels) output channels")
    let isVertical = filter.axis == .height
    precondition(isVertical ? padding.left == 0 && padding.right == 0 : padding.top == 0 && padding.bottom == 0,
        "lineWinogradConvolution: padding \(padding) across the kernel's axis")
    let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let outputChannels = filter.outputChannels
    let r = filter.matrices.kernelLength
    let outputHeight = isVertical ? height + padding.top + padding.bottom - r + 1 : height
    let outputWidth = isVertical ? width : width + padding.left + padding.right - r + 1
    guard batch > 0 && outputChannels > 0 && outputHeight > 0 && outputWidth > 0 else {
        return Tensor.zeros([batch, outputChannels, max(0, outputHeight), max(0, outputWidth)])
    }
    let tiles = LineWinogradTiles(
        batch: batch, height: height, width: width, axis: filter.axis, outputLength: isVertical ? outputHeight : outputWidth,
        padBefore: isVertical ? padding.top : padding.left, matrices: filter.matrices)
    let (alpha, tileCount) = (filter.matrices.alpha, tiles.count)
    let biasValues = bias?.scalars ?? [Float](repeating: 0, count: outputChannels)
    return reusableTensor([batch, outputChannels, outputHeight, outputWidth]) { output in
        // V [α, C, P] and M [α, K, P] (+8 floats of slack: the output transform reads 8 lines at once).
        withScratchBuffer(alpha &* channels &* tileCount) { transformedBuffer in
            withScratchBuffer(alpha &* outputChannels &* tileCount &+ 8) { productBuffer in
                productBuffer.baseAddress!.advanced(by: productBuffer.count - 8).update(repeating: 0, count: 8)
                input.scalars.withUnsafeBufferPointer { inputBuffer in
                    biasValues.withUnsafeBufferPointer { biasBuffer in
                        output.scalars.withUnsafeMutableBufferPointer { outputBuffer in
                            let (v, m) = (transformedBuffer.baseAddress!, productBuffer.baseAddress!)
                            tiles.transformInput(inputBuffer.baseAddress!, channels: channels, into: v)
                            if channels == 0 {
                                m.update(repeating: 0, count: alpha &* outputChannels &* tileCount)
                            } else {
                                // M[i] [K, P] = U[i] [K, C] · V[i] [C, P]; the α products run concurrently, each single-threaded.
                                parallelFor(alpha) { range in
                                    for i in range {
                                        filter.products.multiply(
                                            matrix: i, v + i &* channels &* tileCount, columns: tileCount, into: m + i &* outputChannels &* tileCount)
                                    }
                                }
                            }
                            tiles.transformOutput(
                                m, outputChannels: outputChannels, bias: biasBuffer.baseAddress!, clampUpper: clampUpper,
                                into: outputBuffer.baseAddress!)
                        }
                    }
                }
            }
        }
    }
}

/// The input gradient of an r×1 or 1×r, stride-1 convolution, by Winograd: itself such a
/// convolution of `gradOutput` with the weights reversed and channels swapped, padded by
/// r − 1 − p on each side along the axis (so that its output has the input's size).
/// - Parameters:
///   - gradOutput: `[N, K, OH, OW]`.
///   - filter: `LineWinogradFilter(inputGradientOf: weight)` for the forward weight.
///   - padding: the forward convolution's padding: 0...r − 1 along the axis, 0 across it.
/// - Returns: `[N, C, H, W]`.
public func lineWinogradConvolutionBackwardInput(_ gradOutput: Tensor, filter: LineWinogradFilter, padding: Padding2D) -> Tensor {
    let reach = filter.matrices.kernelLength - 1
    let isVertical = filter.axis == .height
    let (before, after) = isVertical ? (padding.top, padding.bottom) : (padding.left, padding.right)
    precondition((0...reach).contains(before) && (0...reach).contains(after),
        "lineWinogradConvolutionBackwardInput: padding \(padding) must be 0...\(reach) along the kernel's axis")
    let adjoint = isVertical
        ? Padding2D(top: reach - before, bottom: reach - after, left: 0, right: 0)
        : Padding2D(top: 0, bottom: 0, left: reach - before, right: reach - after)
    return lineWinogradConvolution(gradOutput, filter: filter, padding: adjoint)
}

/// The tiling of one line Winograd convolution and its input and output transforms.
private struct LineWinogradTiles {
    let batch: Int, height: Int, width: Int
    let isVertical: Bool
    /// Input and output length along the kernel's axis, and the lines across it.
    let length: Int, outputLength: Int, lines: Int
    let padBefore: Int
    let matrices: ToomCookMatrices
    /// T.
    let tilesPerLine: Int
    /// Rows of the padded plane copy: every input position a tile reads, padding included.
    let paddedLength: Int
    /// Floats per row of the padded plane copy: the lines rounded up to 8.
    let lineStride: Int

    init(batch: Int, height: Int, width: Int, axis: KernelAxis, outputLength: Int, padBefore: Int, matrices: ToomCookMatrices) {
        (self.batch, self.height, self.width) = (batch, height, width)
        isVertical = axis == .height
        (length, lines) = isVertical ? (height, width) : (width, height)
        (self.outputLength, self.padBefore, self.matrices) = (outputLength, padBefore, matrices)
        tilesPerLine = (outputLength + matrices.tileLength - 1) / matrices.tileLength
        paddedLength = (tilesPerLine - 1) * matrices.tileLength + matrices.alpha
        lineStride = (lines + 7) / 8 * 8
    }

    /// P.
    var count: Int { batch * tilesPerLine * lines }

    /// V[i, c, p] = (Bᵀ d)[i] for every input plane (n, c) and tile p.
    /// - Parameters:
    ///   - input: `[N, C, H, W]`.
    ///   - v: `[α, C, P]`.
    func transformInput(_ input: UnsafePointer<Float>, channels: Int, into v: UnsafeMutablePointer<Float>) {
        // A literal α per case lets the compiler unroll the α×α loops.
        switch matrices.alpha {
        case 6: transformInput(input, channels: channels, into: v, alpha: 6)
        case 8: transformInput(input, channels: channels, into: v, alpha: 8)
        case 10: transformInput(input, channels: channels, into: v, alpha: 10)
        default: transformInput(input, channels: channels, into: v, alpha: matrices.alpha)
        }
    }

    @inline(__always)
    private func transformInput(_ input: UnsafePointer<Float>, channels: Int, into v: UnsafeMutablePointer<Float>, alpha: Int) {
        let m = matrices.tileLength
        let (tileCount, planeSize) = (count, height &* width)
        // Input positions that some tile reads (the rest of the plane copy stays zero).
        let copied = max(0, min(length, paddedLength &- padBefore))
        matrices.inputVectors.withUnsafeBufferPointer { coefficients in
            let bt = coefficients.baseAddress!
            parallelFor(batch &* channels, minimumChunk: max(1, 4096 / max(1, tilesPerLine &* lines &* alpha))) { planes in
                let padded = UnsafeMutablePointer<Float>.allocate(capacity: paddedLength &* lineStride)
                defer { padded.deallocate() }
                padded.initialize(repeating: 0, count: paddedLength &* lineStride)
                let x = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: alpha)
                defer { x.deallocate() }
                for plane in planes {
                    let (image, channel) = (plane / channels, plane % channels)
                    let source = input + plane &* planeSize
                    // padded[padBefore + j][line] = input position j of the line.
                    for j in 0..<copied {
                        let row = padded + (padBefore &+ j) &* lineStride
                        if isVertical {
                            row.update(from: source + j &* width, count: width)
                        } else {
                            for line in 0..<lines { row[line] = source[line &* width &+ j] }
                        }
                    }
                    for tile in 0..<tilesPerLine {
                        let band = padded + tile &* m &* lineStride
                        let destination = v + (channel &* tileCount &+ (image &* tilesPerLine &+ tile) &* lines)
                        var line = 0
                        while line < lines {
                            for j in 0..<alpha {
                                x[j] = UnsafeRawPointer(band + (j &* lineStride &+ line)).loadUnaligned(as: SIMD8<Float>.self)
                            }
                            let lanes = min(8, lines &- line)
                            for i in 0..<alpha {
                                var sum = bt[i &* alpha] * x[0]
                                for j in 1..<alpha { multiplyAdd(&sum, bt[i &* alpha &+ j], x[j]) }
                                store(sum, lanes: lanes, to: destination + (i &* channels &* tileCount &+ line))
                            }
                            line &+= 8
                        }
                    }
                }
            }
        }
    }

    /// output[n, k] = crop(Aᵀ M) + bias[k] (then clamped) for every output plane (n, k).
    /// - Parameters:
    ///   - product: M, `[α, K, P]` plus 8 floats of slack.
    ///   - bias: `[K]`.
    ///   - clampUpper: clamp to [0, clampUpper] as stored, or nil.
    ///   - output: `[N, K, OH, OW]`.
    func transformOutput(
        _ product: UnsafePointer<Float>, outputChannels: Int, bias: UnsafePointer<Float>, clampUpper: Float?,
        into output: UnsafeMutablePointer<Float>
    ) {
        switch (matrices.alpha, matrices.tileLength) {
        case (6, 4): transformOutput(product, outputChannels: outputChannels, bias: bias, clampUpper: clampUpper, into: output, alpha: 6, m: 4)
        case (8, 4): transformOutput(product, outputChannels: outputChannels, bias: bias, clampUpper: clampUpper, into: output, alpha: 8, m: 4)
        case (10, 4): transformOutput(product, outputChannels: outputChannels, bias: bias, clampUpper: clampUpper, into: output, alpha: 10, m: 4)
        default:
            transformOutput(
                product, outputChannels: outputChannels, bias: bias, clampUpper: clampUpper, into: output,
                alpha: matrices.alpha, m: matrices.tileLength)
        }
    }

    @inline(__always)
    private func transformOutput(
        _ product: UnsafePointer<Float>, outputChannels: Int, bias: UnsafePointer<Float>, clampUpper: Float?,
        into output: UnsafeMutablePointer<Float>, alpha: Int, m: Int
    ) {
        let tileCount = count
        let outputPlane = outputLength &* lines
        let top = clampUpper.map { SIMD8<Float>(repeating: $0) }
        matrices.outputVectors.withUnsafeBufferPointer { coefficients in
            let at = coefficients.baseAddress!
            parallelFor(batch &* outputChannels, minimumChunk: max(1, 4096 / max(1, tilesPerLine &* lines &* alpha))) { planes in
                let products = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: alpha)
                defer { products.deallocate() }
                for plane in planes {
                    let (image, channel) = (plane / outputChannels, plane % outputChannels)
                    let biasValue = SIMD8<Float>(repeating: bias[channel])
                    let destination = output + plane &* outputPlane
                    for tile in 0..<tilesPerLine {
                        let source = product + (channel &* tileCount &+ (image &* tilesPerLine &+ tile) &* lines)
                        let outputs = min(m, outputLength &- tile &* m)
                        var line = 0
                        while line < lines {
                            for i in 0..<alpha {
                                products[i] = UnsafeRawPointer(source + (i &* outputChannels &* tileCount &+ line)).loadUnaligned(as: SIMD8<Float>.self)
                            }
                            let lanes = min(8, lines &- line)
                            for o in 0..<m where o < outputs {
                                var y = biasValue
                                for i in 0..<alpha { multiplyAdd(&y, at[o &* alpha &+ i], products[i]) }
                                if let top { y = clamped(y, upper: top) }
                                let position = tile &* m &+ o
                                if isVertical {
                                    store(y, lanes: lanes, to: destination + (position &* lines &+ line))
                                } else {
                                    for lane in 0..<lanes { destination[(line &+ lane) &* outputLength &+ position] = y[lane] }
                                }
                            }
                            line &+= 8
                        }
                    }
                }
            }
        }
    }
}

/// sum += a·b, fused where the build targets FMA (as the GEMM micro-kernel).
@inline(__always)
private func multiplyAdd(_ sum: inout SIMD8<Float>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) {
    if microKernelUsesFMA { sum.addProduct(a, b) } else { sum += a * b }
}

/// Stores the first `lanes` (1...8) lanes of `value` at `target`.
@inline(__always)
private func store(_ value: SIMD8<Float>, lanes: Int, to target: UnsafeMutablePointer<Float>) {
    if lanes == 8 {
        UnsafeMutableRawPointer(target).storeBytes(of: value, as: SIMD8<Float>.self)
    } else {
        for lane in 0..<lanes { target[lane] = value[lane] }
    }
}
