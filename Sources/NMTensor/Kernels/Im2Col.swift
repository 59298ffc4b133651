// im2col / col2im: a 2-D convolution as a GEMM.
// N = batch, C = channels, H×W = input, KH×KW = kernel, OH×OW = output, L = OH·OW.

/// Unfolds every sliding window of an image batch into a column, so that a convolution becomes
/// one GEMM per image and group (darknet's and Caffe's `im2col`).
///
///     columns[n, (c·KH + kh)·KW + kw, oh·OW + ow]
///         = input[n, c, oh·SH − padTop + kh·DH, ow·SW − padLeft + kw·DW]
///
/// and 0 where that position lies in the padding. Rows are ordered (channel, kernel row, kernel
/// column), so for a convolution with `g` groups `columns.reshaped([N, g, C/g·KH·KW, L])` splits
/// them by group without a copy.
/// - Parameters:
///   - input: `[N, C, H, W]` with C, H, W as in `geometry`.
///   - geometry: kernel, stride, padding (any, asymmetric allowed) and dilation.
/// - Returns: `[N, C·KH·KW, OH·OW]`.
public func im2col(_ input: Tensor, geometry: ConvGeometry) -> Tensor {
    checkImageShape(input.shape, geometry: geometry, caller: "im2col")
    return reusableTensor([input.shape[0], geometry.columnRows, geometry.columnCount]) { columns in
        im2col(input, geometry: geometry, into: &columns)
    }
}

/// `im2col` writing into a reusable buffer. `columns` is overwritten; it keeps its storage when
/// it already holds `N·C·KH·KW·OH·OW` elements (it is then reshaped to `[N, C·KH·KW, OH·OW]`),
/// and is reallocated otherwise.
/// - Parameters:
///   - input: `[N, C, H, W]` with C, H, W as in `geometry`.
///   - columns: on return `[N, C·KH·KW, OH·OW]`.
public func im2col(_ input: Tensor, geometry: ConvGeometry, into columns: inout Tensor) {
    checkImageShape(input.shape, geometry: geometry, caller: "im2col")
    let batch = input.shape[0]
    prepareBuffer(&columns, shape: [batch, geometry.columnRows, geometry.columnCount])
    guard columns.count > 0 else { return }

    let (channels, height, width) = (geometry.channels, geometry.inputHeight, geometry.inputWidth)
    let (kernelHeight, kernelWidth) = (geometry.kernelHeight, geometry.kernelWidth)
    let (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
    let (strideHeight, strideWidth) = (geometry.strideHeight, geometry.strideWidth)
    let rows = ConvolutionAxis(rowsOf: geometry)
    let cols = ConvolutionAxis(columnsOf: geometry)
    let validColumns = (0..<kernelWidth).map { cols.validOutputs(tap: $0) }
    let planeSize = height * width
    if input.count == 0 {
        // H or W is 0: every window lies in the padding.
        columns.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        return
    }

    input.scalars.withUnsafeBufferPointer { inputBuffer in
        columns.scalars.withUnsafeMutableBufferPointer { columnBuffer in
            let source = inputBuffer.baseAddress!
            let destination = columnBuffer.baseAddress!
            // One unit per (plane, kernel row): a contiguous block of KW·OH·OW columns (few-channel
            // inputs such as RGB images split evenly over the threads too).
            let rowColumns = kernelWidth &* outputHeight &* outputWidth
            parallelFor(batch * channels * kernelHeight, minimumChunk: planesPerChunk(workPerPlane: rowColumns)) { units in
                for unit in units {
                    let (plane, kernelRow) = (unit / kernelHeight, unit % kernelHeight)
                    let image = source + plane &* planeSize
                    var row = destination + unit &* rowColumns
                    for kernelColumn in 0..<kernelWidth {
                        let valid = validColumns[kernelColumn]
                        let columnOffset = cols.offset(tap: kernelColumn)
                        for outputRow in 0..<outputHeight {
                            let out = row + outputRow &* outputWidth
                            let inputRow = outputRow &* strideHeight &+ rows.offset(tap: kernelRow)
                            if inputRow < 0 || inputRow >= height {
                                out.update(repeating: 0, count: outputWidth)
                                continue
                            }
                            let base = inputRow &* width &+ columnOffset
                            out.update(repeating: 0, count: valid.lowerBound)
                            if strideWidth == 1 {
                                (out + valid.lowerBound).update(from: image + (base &+ valid.lowerBound), count: valid.count)
                            } else {
                                for outputColumn in valid {
                                    out[outputColumn] = image[base &+ outputColumn &* strideWidth]
                                }
                            }
                            (out + valid.upperBound).update(repeating: 0, count: outputWidth &- valid.upperBound)
                        }
                        row += outputHeight &* outputWidth
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: folds columns back into an image batch, summing the contributions
/// of overlapping windows and dropping those that fall in the padding. This is the input
/// gradient of a convolution given `Wᵀ · gradOutput` in column form.
/// - Parameters:
///   - columns: `[N, C·KH·KW, OH·OW]`.
///   - geometry: the geometry `columns` was unfolded with.
///   - image: overwritten with `[N, C, H, W]`; keeps its storage when it already holds
///     `N·C·H·W` elements, and is reallocated otherwise.
public func col2im(_ columns: Tensor, geometry: ConvGeometry, into image: inout Tensor) {
    precondition(
        columns.rank == 3 && columns.shape[1] == geometry.columnRows && columns.shape[2] == geometry.columnCount,
        "col2im: columns \(columns.shape) are not [N, \(geometry.columnRows), \(geometry.columnCount)]")
    let batch = columns.shape[0]
    let (channels, height, width) = (geometry.channels, geometry.inputHeight, geometry.inputWidth)
    prepareBuffer(&image, shape: [batch, channels, height, width])
    guard image.count > 0 else { return }
    image.scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    guard columns.count > 0 else { return }

    let (kernelHeight, kernelWidth) = (geometry.kernelHeight, geometry.kernelWidth)
    let (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
    let strideWidth = geometry.strideWidth
    let rows = ConvolutionAxis(rowsOf: geometry)
    let cols = ConvolutionAxis(columnsOf: geometry)
    let validColumns = (0..<kernelWidth).map { cols.validOutputs(tap: $0) }
    let planeSize = height * width
    let planeColumns = kernelHeight * kernelWidth * outputHeight * outputWidth

    columns.scalars.withUnsafeBufferPointer { columnBuffer in
        image.scalars.withUnsafeMutableBufferPointer { imageBuffer in
            let source = columnBuffer.baseAddress!
            let destination = imageBuffer.baseAddress!
            // Units of (n, c) plane and block of image rows: each image row is written by exactly one
            // unit, adding the taps in the same order as a whole plane would (few-channel images,
            // such as RGB inputs, are split into row blocks so that every thread has work).
            let planes = batch * channels
            let rowBlocks = min(height, max(1, 4 * ComputeThreads.count / max(1, planes)))
            parallelFor(planes * rowBlocks, minimumChunk: planesPerChunk(workPerPlane: planeColumns / rowBlocks)) { units in
                for unit in units {
                    let (plane, block) = (unit / rowBlocks, unit % rowBlocks)
                    let imageRows = (height * block / rowBlocks)..<(height * (block + 1) / rowBlocks)
                    let imagePlane = destination + plane &* planeSize
                    var row = source + plane &* planeColumns
                    for kernelRow in 0..<kernelHeight {
                        // The output rows whose tap kernelRow reads an image row of this block.
                        let blockRows = rows.outputs(tap: kernelRow, reading: imageRows)
                        for kernelColumn in 0..<kernelWidth {
                            let valid = validColumns[kernelColumn]
                            let columnOffset = cols.offset(tap: kernelColumn)
                            for outputRow in blockRows {
                                let inputRow = outputRow &* geometry.strideHeight &+ rows.offset(tap: kernelRow)
                                let from = row + outputRow &* outputWidth
                                let base = inputRow &* width &+ columnOffset
                                if strideWidth == 1 {
                                    for outputColumn in valid {
                                        imagePlane[base &+ outputColumn] += from[outputColumn]
                                    }
                                } else {
                                    for outputColumn in valid {
                                        imagePlane[base &+ outputColumn &* strideWidth] += from[outputColumn]
                                    }
                                }
                            }
                            row += outputHeight &* outputWidth
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col` (see `col2im(_:geometry:into:)`).
/// - Parameter columns: `[N, C·KH·KW, OH·OW]`.
/// - Returns: `[N, C, H, W]`.
public func col2im(_ columns: Tensor, geometry: ConvGeometry) -> Tensor {
    precondition(columns.rank == 3, "col2im: columns \(columns.shape) are not [N, \(geometry.columnRows), \(geometry.columnCount)]")
    return reusableTensor([columns.shape[0], geometry.channels, geometry.inputHeight, geometry.inputWidth]) { image in
        col2im(columns, geometry: geometry, into: &image)
    }
}

// MARK: - Shared by the convolution and pooling kernels

/// One spatial axis of a sliding window: which outputs read an in-range input at each tap.
///
/// Output `o` at kernel tap `t` reads input `o·stride + offset(t)`, with
/// `offset(t) = t·dilation − padBefore`.
struct ConvolutionAxis {
    let inputSize: Int
    let outputSize: Int
    let stride: Int
    let dilation: Int
    let padBefore: Int

    init(rowsOf geometry: ConvGeometry) {
        inputSize = geometry.inputHeight
        outputSize = geometry.outputHeight
        stride = geometry.strideHeight
        dilation = geometry.dilationHeight
        padBefore = geometry.padding.top
    }

    init(columnsOf geometry: ConvGeometry) {
        inputSize = geometry.inputWidth
        outputSize = geometry.outputWidth
        stride = geometry.strideWidth
        dilation = geometry.dilationWidth
        padBefore = geometry.padding.left
    }

    /// The input position read by output 0 at `tap` (negative inside the leading padding).
    @inline(__always)
    func offset(tap: Int) -> Int { tap &* dilation &- padBefore }

    /// The outputs whose every tap of a `kernel`-tap window lies inside the input.
    func windowsInside(kernel: Int) -> Range<Int> {
        let (first, last) = (validOutputs(tap: 0), validOutputs(tap: kernel - 1))
        let lower = max(first.lowerBound, last.lowerBound)
        return lower..<max(lower, min(first.upperBound, last.upperBound))
    }

    /// The outputs `o` with `o·stride + offset(tap)` in `inputs` (a subrange of the input): a
    /// contiguous range, empty at a position within 0...outputSize when there are none.
    func outputs(tap: Int, reading inputs: Range<Int>) -> Range<Int> {
        let offset = offset(tap: tap)
        // o ≥ ⌈(lower − offset) / stride⌉ and o ≤ ⌊(upper − 1 − offset) / stride⌋, within 0..<outputSize.
        func ceilDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }
        func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
        let lower = min(outputSize, max(0, ceilDivide(inputs.lowerBound - offset, stride)))
        let upper = min(outputSize, floorDivide(inputs.upperBound - 1 - offset, stride) + 1)
        return lower..<max(lower, upper)
    }

    /// The outputs `o` with `0 ≤ o·stride + offset(tap) < inputSize`: a contiguous range.
    func validOutputs(tap: Int) -> Range<Int> { outputs(tap: tap, reading: 0..<inputSize) }
}

/// Checks that `shape` is `[N, C, H, W]` with C, H, W as in `geometry`.
func checkImageShape(_ shape: [Int], geometry: ConvGeometry, caller: String) {
    precondition(
        shape.count == 4 && shape[1] == geometry.channels && shape[2] == geometry.inputHeight && shape[3] == geometry.inputWidth,
        "\(caller): input \(shape) is not [N, \(geometry.channels), \(geometry.inputHeight), \(geometry.inputWidth)]")
}

/// Gives `buffer` the shape `shape`, keeping its storage when the element count already matches.
/// Contents are unspecified afterwards; callers overwrite every element.
func prepareBuffer(_ buffer: inout Tensor, shape: [Int]) {
    guard buffer.shape != shape else { return }
    if buffer.count == elementCount(shape) {
        buffer = buffer.reshaped(shape)
    } else {
        buffer = Tensor.zeros(shape)
    }
}

/// How many (n, c) planes make a chunk worth a thread: about 32 K elements of work.
func planesPerChunk(workPerPlane: Int) -> Int {
    max(1, 32_768 / max(1, workPerPlane))
}
