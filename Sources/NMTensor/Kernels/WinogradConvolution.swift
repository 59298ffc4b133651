// Winograd F(4×4, 3×3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", arXiv:1509.09308): a 3×3, stride-1 convolution as 36 GEMMs on transformed 6×6
// input tiles, 2.25× fewer multiplications per output than the direct sum (4× with 4×4 tiles
// vs 9 taps, minus the transforms). N = batch, C = input channels, K = output channels,
// H×W = input, OH×OW = output, TH×TW = 4×4 output tiles per image, P = N·TH·TW tiles.
//
//     U = G g Gᵀ       per filter (k, c)        → [36, K, C]
//     V = Bᵀ d B       per input tile (c, p)    → [36, C, P]
//     M[i] = U[i]·V[i] for i in 0..<36          → [36, K, P]
//     Y = Aᵀ M A       per output tile (k, p)   → 4×4, cropped at the bottom/right edge
//
// Transforms run 8 tiles of a tile row at a time in SIMD8 registers: the input band of a tile
// row is stored split by column phase modulo 4, so tile tx's column 4·tx + j is phase j % 4 at
// index tx + j / 4 — a contiguous run for 8 consecutive tiles.

import Foundation

/// Bᵀ·x for one 6-vector (the rows of Bᵀ of F(4×4, 3×3)), lane-wise over 8 tiles.
@inline(__always)
private func inputTransform(
    _ x0: SIMD8<Float>, _ x1: SIMD8<Float>, _ x2: SIMD8<Float>, _ x3: SIMD8<Float>, _ x4: SIMD8<Float>, _ x5: SIMD8<Float>
) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    // Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
    let a = x4 - 4 * x2
    let b = x3 - 4 * x1
    let c = x4 - x2
    let d = 2 * (x3 - x1)
    return (4 * x0 - 5 * x2 + x4, a + b, a - b, c + d, c - d, 4 * x1 - 5 * x3 + x5)
}

/// Aᵀ·m for one 6-vector (the rows of Aᵀ of F(4×4, 3×3)), lane-wise over 8 tiles.
@inline(__always)
private func outputTransform(
    _ m0: SIMD8<Float>, _ m1: SIMD8<Float>, _ m2: SIMD8<Float>, _ m3: SIMD8<Float>, _ m4: SIMD8<Float>, _ m5: SIMD8<Float>
) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    // Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
    let sum12 = m1 + m2
    let difference12 = m1 - m2
    let sum34 = m3 + m4
    let difference34 = m3 - m4
    return (m0 + sum12 + sum34, difference12 + 2 * difference34, sum12 + 4 * sum34, difference12 + 8 * difference34 + m5)
}

/// G·x for one 3-vector (the rows of G of F(4×4, 3×3)), in Double: the filter transform runs
/// once per weight tensor and its rounding then reaches every output.
@inline(__always)
private func filterTransform(_ x0: Double, _ x1: Double, _ x2: Double) -> (Double, Double, Double, Double, Double, Double) {
    // G = [1/4 0 0; −1/6 −1/6 −1/6; −1/6 1/6 −1/6; 1/24 1/12 1/6; 1/24 −1/12 1/6; 0 0 1]
    let (sixth, twelfth, twentyFourth) = (1.0 / 6, 1.0 / 12, 1.0 / 24)
    let outer = (x0 + x2) * sixth
    let middle = x1 * sixth
    let even = x0 * twentyFourth + x2 * sixth
    let odd = x1 * twelfth
    return (x0 * 0.25, -(outer + middle), middle - outer, even + odd, even - odd, x2)
}

/// The filters of a 3×3 convolution transformed for `winogradConvolution`: U = G·g·Gᵀ per
/// (output channel, input channel), stored `[36, K, C]` (the left operands of the 36 GEMMs).
/// Computing it costs about 160 multiply-adds per filter; reuse it while the weights are unchanged.
public struct WinogradFilter: Sendable {
    /// K: output channels of the convolution this filter computes.
    public let outputChannels: Int
    /// C: input channels of the convolution this filter computes.
    public let inputChannels: Int
    /// The 36 `[K, C]` matrices, plain or packed.
    let matrices: TransformedFilterMatrices

    /// The transform of a convolution's weights.
    /// - Parameters:
    ///   - weight: `[K, C, 3, 3]` (PyTorch layout, cross-correlation).
    ///   - packed: store the 36 matrices as `PackedMatrix`es, multiplied by the packed kernel
    ///     instead of OpenBLAS (same memory, no packing per product).
    public init(weight: Tensor, packed: Bool = false) {
        precondition(weight.rank == 4 && weight.shape[2] == 3 && weight.shape[3] == 3, "WinogradFilter: weight \(weight.shape) is not [K, C, 3, 3]")
        self.init(weight: weight, isInputGradient: false, packed: packed)
    }

    /// The transform of the convolution that computes the input gradient of the convolution with
    /// `weight`: its filters are `weight` rotated by 180° with input and output channels swapped
    /// (`[C, K, 3, 3]`, filter (c, k) = rot180(weight[k, c])).
    /// - Parameters:
    ///   - weight: the forward weights, `[K, C, 3, 3]`.
    ///   - packed: as in `init(weight:packed:)`.
    public init(inputGradientOf weight: Tensor, packed: Bool = false) {
        precondition(weight.rank == 4 && weight.shape[2] == 3 && weight.shape[3] == 3, "WinogradFilter: weight \(weight.shape) is not [K, C, 3, 3]")
        self.init(weight: weight, isInputGradient: true, packed: packed)
    }

    private init(weight: Tensor, isInputGradient: Bool, packed: Bool) {
        let (forwardOut, forwardIn) = (weight.shape[0], weight.shape[1])
        let (rows, columns) = isInputGradient ? (forwardIn, forwardOut) : (forwardOut, forwardIn)
        (outputChannels, inputChannels) = (rows, columns)
        let matrixSize = rows * columns
        var result = [Float](unsafeUninitializedCapacity: 36 * matrixSize) { _, initialized in initialized = 36 * matrixSize }
        weight.scalars.withUnsafeBufferPointer { weightBuffer in
            result.withUnsafeMutableBufferPointer { resultBuffer in
                let (source, destination) = (weightBuffer.baseAddress!, resultBuffer.baseAddress!)
                // Filters are transformed 64 columns at a time into a scratch block, which is then
                // copied out in 36 contiguous runs: writing the 36 matrices element by element
                // (strides of K·C floats, often a multiple of 4 KiB) thrashes the caches' sets.
                let blockWidth = 64
                parallelFor(rows, minimumChunk: max(1, 4096 / max(1, columns))) { range in
                    let block = UnsafeMutablePointer<Float>.allocate(capacity: 36 &* blockWidth)
                    defer { block.deallocate() }
                    for row in range {
                        var blockStart = 0
                        while blockStart < columns {
                            let width = min(blockWidth, columns &- blockStart)
                            for offset in 0..<width {
                                let column = blockStart &+ offset
                                // Filter (row, column) of this convolution is weight[row, column], or
                                // rot180(weight[column, row]) for the input gradient (tap t reads 8 − t).
                                let filter = source + (isInputGradient ? column &* forwardIn &+ row : row &* forwardIn &+ column) &* 9
                                @inline(__always) func tap(_ index: Int) -> Double { Double(filter[isInputGradient ? 8 &- index : index]) }
                                // G·g, column by column: (G·g)[i, j] = (G · g[:, j])[i].
                                let c0 = filterTransform(tap(0), tap(3), tap(6))
                                let c1 = filterTransform(tap(1), tap(4), tap(7))
                                let c2 = filterTransform(tap(2), tap(5), tap(8))
                                // U[6·i + l] = (G · (G·g)[i, :])[l], into block[6·i + l][offset].
                                @inline(__always) func emit(_ i: Int, _ a: Double, _ b: Double, _ c: Double) {
                                    let u = filterTransform(a, b, c)
                                    let base = block + (i &* 6 &* blockWidth &+ offset)
                                    base[0] = Float(u.0)
                                    base[blockWidth] = Float(u.1)
                                    base[2 &* blockWidth] = Float(u.2)
                                    base[3 &* blockWidth] = Float(u.3)
                                    base[4 &* blockWidth] = Float(u.4)
                                    base[5 &* blockWidth] = Float(u.5)
                                }
                                emit(0, c0.0, c1.0, c2.0)
                                emit(1, c0.1, c1.1, c2.1)
                                emit(2, c0.2, c1.2, c2.2)
                                emit(3, c0.3, c1.3, c2.3)
                                emit(4, c0.4, c1.4, c2.4)
                                emit(5, c0.5, c1.5, c2.5)
                            }
                            let target = destination + (row &* columns &+ blockStart)
                            for i in 0..<36 {
                                (target + i &* matrixSize).update(from: block + i &* blockWidth, count: width)
                            }
                            blockStart &+= blockWidth
                        }
                    }
                }
            }
        }
        matrices = TransformedFilterMatrices(result, count: 36, outputChannels: rows, inputChannels: columns, packed: packed)
    }
}

/// A 3×3, stride-1, dilation-1, ungrouped convolution (cross-correlation, as PyTorch's
/// `conv2d`) by Winograd F(4×4, 3×3):
///
///     output[n, k, oh, ow] = bias[k] + Σ_c Σ_{r,s<3} weight[k, c, r, s] · input[n, c, oh − padTop + r, ow − padLeft + s]
///
/// with zeros outside the input; OH = H + padTop + padBottom − 2, OW = W + padLeft + padRight − 2.
/// Same contract as im2col + GEMM with the same geometry; results differ by Float32 rounding
/// (relative L2 difference ≈ 1e-6 on random data).
/// - Parameters:
///   - input: `[N, C, H, W]`.
///   - filter: the transformed weights (`WinogradFilter(weight:)`), C input channels.
///   - bias: `[K]`, or `nil`.
///   - padding: zero padding on each side, any size ≥ 0.
/// - Returns: `[N, K, OH, OW]` (empty when OH or OW ≤ 0).
/// - Complexity: 36·K·C·P multiply-adds in sgemm (P = N·⌈OH/4⌉·⌈OW/4⌉ tiles) plus O((C + K)·P)
///   for the transforms; temporary buffers of 36·(C + K)·P floats.
public func winogradConvolution(_ input: Tensor, filter: WinogradFilter, bias: Tensor? = nil, padding: Padding2D) -> Tensor {
    precondition(input.rank == 4 && input.shape[1] == filter.inputChannels,
        "winogradConvolution: input \(input.shape) is not [N, \(filter.inputChannels), H, W]")
    precondition(bias.map { $0.count == filter.outputChannels } ?? true, "winogradConvolution: bias \(bias!.shape) for \(filter.outputChannels) output channels")
    let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let outputChannels = filter.outputChannels
    let outputHeight = height + padding.top + padding.bottom - 2
    let outputWidth = width + padding.left + padding.right - 2
    guard batch > 0 && outputChannels > 0 && outputHeight > 0 && outputWidth > 0 else {
        return Tensor.zeros([batch, outputChannels, max(0, outputHeight), max(0, outputWidth)])
    }
    let tiles = WinogradTiles(
        batch: batch, height: height, width: width, outputHeight: outputHeight, outputWidth: outputWidth,
        padTop: padding.top, padLeft: padding.left)
    let tileCount = tiles.count
    let biasValues = bias?.scalars ?? [Float](repeating: 0, count: outputChannels)
    return reusableTensor([batch, outputChannels, outputHeight, outputWidth]) { output in
        input.scalars.withUnsafeBufferPointer { inputBuffer in
            biasValues.withUnsafeBufferPointer { biasBuffer in
                output.scalars.withUnsafeMutableBufferPointer { outputBuffer in
                    let (source, biases, destination) = (inputBuffer.baseAddress!, biasBuffer.baseAddress!, outputBuffer.baseAddress!)
                    if channels > 0, let rowsPerBlock = tiles.rowsPerBlock(channels: channels, outputChannels: outputChannels) {
                        winogradByBlocks(source, tiles: tiles, filter: filter, bias: biases, rowsPerBlock: rowsPerBlock, into: destination)
                        return
                    }
                    // V [36, C, P] and M [36, K, P] (+8 floats of slack: the output transform reads 8 tiles at once).
                    withScratchBuffer(36 &* channels &* tileCount) { transformedBuffer in
                        withScratchBuffer(36 &* outputChannels &* tileCount &+ 8) { productBuffer in
                            // The GEMMs overwrite everything but the slack.
                            productBuffer.baseAddress!.advanced(by: productBuffer.count - 8).update(repeating: 0, count: 8)
                            let (v, m) = (transformedBuffer.baseAddress!, productBuffer.baseAddress!)
                            tiles.transformInput(source, channels: channels, into: v)
                            if channels == 0 {
                                m.update(repeating: 0, count: 36 &* outputChannels &* tileCount)
                            } else {
                                // The 36 independent products run concurrently, each single-threaded.
                                parallelFor(36) { range in
                                    for i in range {
                                        filter.matrices.multiply(
                                            matrix: i, v + i &* channels &* tileCount, columns: tileCount, into: m + i &* outputChannels &* tileCount)
                                    }
                                }
                            }
                            tiles.transformOutput(m, outputChannels: outputChannels, bias: biases, into: destination)
                        }
                    }
                }
            }
        }
    }
}

/// `winogradConvolution` block by block, for filters small enough to stay in cache (see
/// `WinogradTiles.rowsPerBlock`): each thread takes whole blocks of tile rows and transforms,
/// multiplies and transforms back one block at a time, so that V and M never leave its cache.
/// Same results as the whole-tensor path up to rounding (bit-identical with packed filters).
/// - Parameters:
///   - input: `[N, C, H, W]`, C = `filter.inputChannels` > 0.
///   - bias: `[K]`.
///   - output: `[N, K, OH, OW]`.
private func winogradByBlocks(
    _ input: UnsafePointer<Float>, tiles: WinogradTiles, filter: WinogradFilter, bias: UnsafePointer<Float>, rowsPerBlock: Int,
    into output: UnsafeMutablePointer<Float>
) {
    let (channels, outputChannels) = (filter.inputChannels, filter.outputChannels)
    let (tilesHigh, tilesWide) = (tiles.tilesHigh, tiles.tilesWide)
    let (planeSize, outputPlane) = (tiles.height &* tiles.width, tiles.outputHeight &* tiles.outputWidth)
    let blocksPerImage = (tilesHigh + rowsPerBlock - 1) / rowsPerBlock
    let largestBlock = rowsPerBlock &* tilesWide
    parallelFor(tiles.batch &* blocksPerImage) { blocks in
        let band = WinogradTiles.InputBand(tiles)
        let rows = WinogradTiles.OutputRows(tiles)
        // V [36, C, block] and M [36, K, block] (+8 floats of slack for the output transform).
        let (vCount, mCount) = (36 &* channels &* largestBlock, 36 &* outputChannels &* largestBlock &+ 8)
        let v = UnsafeMutablePointer<Float>.allocate(capacity: vCount)
        let m = UnsafeMutablePointer<Float>.allocate(capacity: mCount)
        v.initialize(repeating: 0, count: vCount)
        m.initialize(repeating: 0, count: mCount)
        defer {
            band.deallocate()
            rows.deallocate()
            v.deallocate()
            m.deallocate()
        }
        for block in blocks {
            let (image, firstRow) = (block / blocksPerImage, block % blocksPerImage &* rowsPerBlock)
            let rowCount = min(rowsPerBlock, tilesHigh &- firstRow)
            let blockTiles = rowCount &* tilesWide
            for channel in 0..<channels {
                for row in 0..<rowCount {
                    tiles.transformInputRow(
                        input + (image &* channels &+ channel) &* planeSize, tileRow: firstRow &+ row, band: band,
                        into: v + (channel &* blockTiles &+ row &* tilesWide), transformStride: channels &* blockTiles)
                }
            }
            for i in 0..<36 {
                filter.matrices.multiply(matrix: i, v + i &* channels &* blockTiles, columns: blockTiles, into: m + i &* outputChannels &* blockTiles)
            }
            for channel in 0..<outputChannels {
                for row in 0..<rowCount {
                    tiles.transformOutputRow(
                        m + (channel &* blockTiles &+ row &* tilesWide), transformStride: outputChannels &* blockTiles, bias: bias[channel],
                        tileRow: firstRow &+ row, scratch: rows, into: output + (image &* outputChannels &+ channel) &* outputPlane)
                }
            }
        }
    }
}


/// `winogradConvolution` with the filter transform computed on the fly.
/// - Parameters:
///   - input: `[N, C, H, W]`.
///   - weight: `[K, C, 3, 3]`.
///   - bias: `[K]`, or `nil`.
///   - padding: zero padding on each side.
/// - Returns: `[N, K, OH, OW]`.
public func winogradConvolution(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, padding: Padding2D) -> Tensor {
    winogradConvolution(input, filter: WinogradFilter(weight: weight), bias: bias, padding: padding)
}

/// The input gradient of a 3×3, stride-1 convolution, by Winograd: itself a stride-1 3×3
/// convolution of `gradOutput` with the weights rotated by 180° and channels swapped, padded by
/// 2 − p on each side (so that its output has the input's size):
///
///     gradInput[n, c, h, w] = Σ_k Σ_{r,s} weight[k, c, r, s] · gradOutput[n, k, h + padTop − r, w + padLeft − s]
///
/// - Parameters:
///   - gradOutput: `[N, K, OH, OW]`.
///   - filter: `WinogradFilter(inputGradientOf: weight)` for the forward weight `[K, C, 3, 3]`.
///   - padding: the forward convolution's padding; every side in 0...2.
/// - Returns: `[N, C, OH + 2 − padTop − padBottom, OW + 2 − padLeft − padRight]` = `[N, C, H, W]`.
public func winogradConvolutionBackwardInput(_ gradOutput: Tensor, filter: WinogradFilter, padding: Padding2D) -> Tensor {
    precondition(
        (0...2).contains(padding.top) && (0...2).contains(padding.bottom) && (0...2).contains(padding.left) && (0...2).contains(padding.right),
        "winogradConvolutionBackwardInput: padding \(padding) must be 0...2 on every side")
    let adjointPadding = Padding2D(top: 2 - padding.top, bottom: 2 - padding.bottom, left: 2 - padding.left, right: 2 - padding.right)
    return winogradConvolution(gradOutput, filter: filter, bias: nil, padding: adjointPadding)
}

/// `winogradConvolutionBackwardInput` with the filter transform computed on the fly.
/// - Parameters:
///   - gradOutput: `[N, K, OH, OW]`.
///   - weight: the forward weights `[K, C, 3, 3]`.
///   - padding: the forward padding, 0...2 on every side.
/// - Returns: `[N, C, H, W]`.
public func winogradConvolutionBackwardInput(_ gradOutput: Tensor, weight: Tensor, padding: Padding2D) -> Tensor {
    winogradConvolutionBackwardInput(gradOutput, filter: WinogradFilter(inputGradientOf: weight), padding: padding)
}

/// The tiling of one Winograd convolution and its input and output transforms.
/// Tile p = (n·TH + ty)·TW + tx covers output rows 4·ty ..< 4·ty + 4 and columns 4·tx ..< 4·tx + 4,
/// and reads input rows 4·ty − padTop ..< +6 and columns 4·tx − padLeft ..< +6.
private struct WinogradTiles {
    let batch: Int
    let height: Int, width: Int
    let outputHeight: Int, outputWidth: Int
    let padTop: Int, padLeft: Int
    /// TH, TW.
    let tilesHigh: Int, tilesWide: Int
    /// Per phase row of the input band: TW + 1 entries rounded up to 8, plus 8 of slack.
    let bandStride: Int
    /// Per row of the output-row scratch: 4·(TW rounded up to 8).
    let rowStride: Int

    init(batch: Int, height: Int, width: Int, outputHeight: Int, outputWidth: Int, padTop: Int, padLeft: Int) {
        (self.batch, self.height, self.width) = (batch, height, width)
        (self.outputHeight, self.outputWidth) = (outputHeight, outputWidth)
        (self.padTop, self.padLeft) = (padTop, padLeft)
        tilesHigh = (outputHeight + 3) / 4
        tilesWide = (outputWidth + 3) / 4
        bandStride = (tilesWide + 1 + 7) / 8 * 8 + 8
        rowStride = 4 * ((tilesWide + 7) / 8 * 8)
    }

    /// P.
    var count: Int { batch * tilesHigh * tilesWide }

    /// Tile rows per block when `winogradConvolution` goes block by block, or nil for the
    /// whole-tensor path. Blocks pay when the 36 filter matrices (≤ 512 KB) stay in a core's L2
    /// next to a block's V and M (≈ 384 KB, at least one tile row), a block holds at least 32
    /// tiles (the products' width), and there are at least two blocks per thread: Inception-v3's
    /// 32-channel stem layers (2-D Winograd samples −22 %). Measured slower: ResNet-50's 64@56²
    /// (14 tiles a row), and in the network VGG-16's 64@224² (1 MB of filters; iteration 235–250 →
    /// 258–264 ms); with larger filters each block reads them again (512 channels: 37.7 MB).
    func rowsPerBlock(channels: Int, outputChannels: Int) -> Int? {
        let rows = max(1, (96 << 10) / (36 &* (channels &+ outputChannels) &* tilesWide))
        guard 36 &* channels &* outputChannels <= 1 << 17, rows &* tilesWide >= 32, batch &* tilesHigh >= 4 &* ComputeThreads.count else { return nil }
        return rows
    }

    /// V[i, c, p] = (Bᵀ d B)[i / 6, i % 6] for every input plane (n, c) and tile p.
    /// - Parameters:
    ///   - input: `[N, C, H, W]`.
    ///   - v: `[36, C, P]`.
    func transformInput(_ input: UnsafePointer<Float>, channels: Int, into v: UnsafeMutablePointer<Float>) {
        let planeSize = height &* width
        let tileCount = count
        let tilesPerImage = tilesHigh &* tilesWide
        parallelFor(batch &* channels, minimumChunk: max(1, 8192 / max(1, tilesPerImage &* 36))) { planes in
            let band = InputBand(self)
            defer { band.deallocate() }
            for plane in planes {
                let (image, channel) = (plane / channels, plane % channels)
                for tileRow in 0..<tilesHigh {
                    let firstTile = (image &* tilesHigh &+ tileRow) &* tilesWide
                    transformInputRow(
                        input + plane &* planeSize, tileRow: tileRow, band: band,
                        into: v + (channel &* tileCount &+ firstTile), transformStride: channels &* tileCount)
                }
            }
        }
    }

    /// Scratch of one thread's input transform: the zero-padded input rows of one tile row
    /// ([6 rows][4 phases][bandStride]), Bᵀ applied down their columns (the same size), and
    /// one zero-padded input row of 4·bandStride floats for `fillBand`.
    struct InputBand {
        let band: UnsafeMutablePointer<Float>
        let rows: UnsafeMutablePointer<Float>
        let paddedRow: UnsafeMutablePointer<Float>

        init(_ tiles: WinogradTiles) {
            let stride = tiles.bandStride
            band = UnsafeMutablePointer<Float>.allocate(capacity: 52 &* stride)
            band.initialize(repeating: 0, count: 52 &* stride)
            rows = band + 24 &* stride
            paddedRow = band + 48 &* stride
        }

        func deallocate() { band.deallocate() }
    }

    /// The transformed tiles of one tile row of one input plane: entry i of the row's tile tx
    /// goes to `destination[i·transformStride + tx]`.
    @inline(__always)
    func transformInputRow(
        _ source: UnsafePointer<Float>, tileRow: Int, band scratch: InputBand, into destination: UnsafeMutablePointer<Float>, transformStride: Int
    ) {
        let (band, rows) = (scratch.band, scratch.rows)
        fillBand(band, from: source, tileRow: tileRow, paddedRow: scratch.paddedRow)
        // Down the columns: rows[r'][phase] = Σ_r Bᵀ[r', r] · band[r][phase], for all TW + 1 entries.
        for phase in 0..<4 {
            var index = 0
            while index < tilesWide &+ 1 {
                @inline(__always) func load(_ row: Int) -> SIMD8<Float> {
                    UnsafeRawPointer(band + ((row &* 4 &+ phase) &* bandStride &+ index)).loadUnaligned(as: SIMD8<Float>.self)
                }
                let t = inputTransform(load(0), load(1), load(2), load(3), load(4), load(5))
                @inline(__always) func store(_ row: Int, _ value: SIMD8<Float>) {
                    UnsafeMutableRawPointer(rows + ((row &* 4 &+ phase) &* bandStride &+ index)).storeBytes(of: value, as: SIMD8<Float>.self)
                }
                store(0, t.0)
                store(1, t.1)
                store(2, t.2)
                store(3, t.3)
                store(4, t.4)
                store(5, t.5)
                index &+= 8
            }
        }
        // Along the rows: column j of tile tx is phase j % 4 at index tx + j / 4.
        for row in 0..<6 {
            let rowBase = rows + row &* 4 &* bandStride
            var tile = 0
            while tile < tilesWide {
                @inline(__always) func load(_ column: Int) -> SIMD8<Float> {
                    UnsafeRawPointer(rowBase + ((column & 3) &* bandStride &+ tile &+ (column >> 2))).loadUnaligned(as: SIMD8<Float>.self)
                }
                let t = inputTransform(load(0), load(1), load(2), load(3), load(4), load(5))
                let lanes = min(8, tilesWide &- tile)
                @inline(__always) func store(_ column: Int, _ value: SIMD8<Float>) {
                    let target = destination + ((row &* 6 &+ column) &* transformStride &+ tile)
                    if lanes == 8 {
                        UnsafeMutableRawPointer(target).storeBytes(of: value, as: SIMD8<Float>.self)
                    } else {
                        for lane in 0..<lanes { target[lane] = value[lane] }
                    }
                }
                store(0, t.0)
                store(1, t.1)
                store(2, t.2)
                store(3, t.3)
                store(4, t.4)
                store(5, t.5)
                tile &+= 8
            }
        }
    }

    /// Copies the 6 input rows read by tile row `tileRow` into `band`, split by column phase:
    /// band[r][j % 4][tx'] = input[4·tileRow − padTop + r, 4·tx' + j % 4 − padLeft], zero outside.
    /// `paddedRow` is scratch for 4·`bandStride` floats: each input row is copied there between
    /// zeros first, so that the phase split reads without bounds checks.
    @inline(__always)
    private func fillBand(_ band: UnsafeMutablePointer<Float>, from plane: UnsafePointer<Float>, tileRow: Int, paddedRow: UnsafeMutablePointer<Float>) {
        let entries = tilesWide &+ 1
        // padded[j] = input column j − padLeft for j < 4·entries, zero outside the input.
        let copied = max(0, min(width, 4 &* entries &- padLeft))
        paddedRow.update(repeating: 0, count: 4 &* entries)
        for r in 0..<6 {
            let inputRow = tileRow &* 4 &- padTop &+ r
            let rowBand = band + r &* 4 &* bandStride
            guard inputRow >= 0 && inputRow < height else {
                for phase in 0..<4 { (rowBand + phase &* bandStride).update(repeating: 0, count: entries) }
                continue
            }
            (paddedRow + padLeft).update(from: plane + inputRow &* width, count: copied)
            for phase in 0..<4 {
                let target = rowBand + phase &* bandStride
                for entry in 0..<entries { target[entry] = paddedRow[entry &* 4 &+ phase] }
            }
        }
    }

    /// output[n, k] = crop(Aᵀ M A) + bias[k] for every output plane (n, k).
    /// - Parameters:
    ///   - m: `[36, K, P]` plus 8 floats of slack.
    ///   - bias: `[K]`.
    ///   - output: `[N, K, OH, OW]`.
    func transformOutput(_ m: UnsafePointer<Float>, outputChannels: Int, bias: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let tileCount = count
        let tilesPerImage = tilesHigh &* tilesWide
        let outputPlane = outputHeight &* outputWidth
        parallelFor(batch &* outputChannels, minimumChunk: max(1, 8192 / max(1, tilesPerImage &* 36))) { planes in
            let scratch = OutputRows(self)
            defer { scratch.deallocate() }
            for plane in planes {
                let (image, channel) = (plane / outputChannels, plane % outputChannels)
                for tileRow in 0..<tilesHigh {
                    let firstTile = (image &* tilesHigh &+ tileRow) &* tilesWide
                    transformOutputRow(
                        m + (channel &* tileCount &+ firstTile), transformStride: outputChannels &* tileCount, bias: bias[channel],
                        tileRow: tileRow, scratch: scratch, into: output + plane &* outputPlane)
                }
            }
        }
    }

    /// Scratch of one thread's output transform: Aᵀ applied down the tile columns ([4 output
    /// rows][6 columns] of 8 lanes), and the 4 output rows of one tile row, 4·TW (rounded up)
    /// columns each.
    struct OutputRows {
        let columns: UnsafeMutablePointer<SIMD8<Float>>
        let rows: UnsafeMutablePointer<Float>

        init(_ tiles: WinogradTiles) {
            columns = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 24)
            columns.initialize(repeating: SIMD8<Float>(repeating: 0), count: 24)
            rows = UnsafeMutablePointer<Float>.allocate(capacity: 4 &* tiles.rowStride)
            rows.initialize(repeating: 0, count: 4 &* tiles.rowStride)
        }

        func deallocate() {
            columns.deallocate()
            rows.deallocate()
        }
    }

    /// The output rows of one tile row of one output plane (`destination`, OH×OW) from the
    /// products of its tiles: entry i of tile tx at `source[i·transformStride + tx]` (8 floats
    /// readable past the row's last tile).
    @inline(__always)
    func transformOutputRow(
        _ source: UnsafePointer<Float>, transformStride: Int, bias: Float, tileRow: Int, scratch: OutputRows,
        into destination: UnsafeMutablePointer<Float>
    ) {
        let (columns, outputRows) = (scratch.columns, scratch.rows)
        let biasValue = SIMD8<Float>(repeating: bias)
        var tile = 0
        while tile < tilesWide {
            for column in 0..<6 {
                @inline(__always) func load(_ row: Int) -> SIMD8<Float> {
                    UnsafeRawPointer(source + ((row &* 6 &+ column) &* transformStride &+ tile)).loadUnaligned(as: SIMD8<Float>.self)
                }
                let t = outputTransform(load(0), load(1), load(2), load(3), load(4), load(5))
                columns[column] = t.0
                columns[6 &+ column] = t.1
                columns[12 &+ column] = t.2
                columns[18 &+ column] = t.3
            }
            for row in 0..<4 {
                let w = columns + row &* 6
                let y = outputTransform(w[0], w[1], w[2], w[3], w[4], w[5])
                let (y0, y1, y2, y3) = (y.0 + biasValue, y.1 + biasValue, y.2 + biasValue, y.3 + biasValue)
                let target = outputRows + (row &* rowStride &+ tile &* 4)
                for lane in 0..<8 {
                    target[lane &* 4] = y0[lane]
                    target[lane &* 4 &+ 1] = y1[lane]
                    target[lane &* 4 &+ 2] = y2[lane]
                    target[lane &* 4 &+ 3] = y3[lane]
                }
            }
            tile &+= 8
        }
        let firstRow = tileRow &* 4
        for row in 0..<min(4, outputHeight &- firstRow) {
            (destination + (firstRow &+ row) &* outputWidth).update(from: outputRows + row &* rowStride, count: outputWidth)
        }
    }
}
