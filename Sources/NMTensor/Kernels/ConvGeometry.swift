/// Padding of a 2-D convolution or pooling window, in pixels on each side (may be asymmetric).
public struct Padding2D: Equatable, Hashable, Sendable {
    public var top: Int, bottom: Int, left: Int, right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        precondition(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "Padding2D: negative padding")
        (self.top, self.bottom, self.left, self.right) = (top, bottom, left, right)
    }

    /// The same padding on every side.
    public init(_ all: Int) { self.init(top: all, bottom: all, left: all, right: all) }

    /// No padding ("valid").
    public static let zero = Padding2D(0)

    /// TensorFlow's "SAME" padding for one axis: output = ceil(input / stride), total padding
    /// max((output − 1)·stride + (kernel − 1)·dilation + 1 − input, 0), the smaller half first
    /// (top/left). Returns (before, after).
    public static func tensorFlowSame(input: Int, kernel: Int, stride: Int, dilation: Int = 1) -> (before: Int, after: Int) {
        let output = (input + stride - 1) / stride
        let total = max((output - 1) * stride + (kernel - 1) * dilation + 1 - input, 0)
        return (total / 2, total - total / 2)
    }
}

/// The geometry of one 2-D convolution (or pooling) window over an `[N, C, H, W]` input:
/// everything im2col, col2im and the direct kernels need. Output sizes follow PyTorch:
/// `(in + padBefore + padAfter − dilation·(kernel − 1) − 1) / stride + 1`.
public struct ConvGeometry: Equatable, Hashable, Sendable {
    public var channels: Int
    public var inputHeight: Int, inputWidth: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var strideHeight: Int, strideWidth: Int
    public var padding: Padding2D
    public var dilationHeight: Int, dilationWidth: Int

    public init(
        channels: Int, inputHeight: Int, inputWidth: Int, kernelHeight: Int, kernelWidth: Int,
        strideHeight: Int = 1, strideWidth: Int = 1, padding: Padding2D = .zero,
        dilationHeight: Int = 1, dilationWidth: Int = 1
    ) {
        precondition(channels >= 0 && inputHeight >= 0 && inputWidth >= 0, "ConvGeometry: negative input size")
        precondition(kernelHeight >= 1 && kernelWidth >= 1, "ConvGeometry: kernel must be ≥ 1")
        precondition(strideHeight >= 1 && strideWidth >= 1, "ConvGeometry: stride must be ≥ 1")
        precondition(dilationHeight >= 1 && dilationWidth >= 1, "ConvGeometry: dilation must be ≥ 1")
        self.channels = channels
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.padding = padding
        self.dilationHeight = dilationHeight
        self.dilationWidth = dilationWidth
    }

    /// Output rows (0 when the padded input is smaller than the dilated kernel).
    public var outputHeight: Int {
        let span = inputHeight + padding.top + padding.bottom - dilationHeight * (kernelHeight - 1) - 1
        return span < 0 ? 0 : span / strideHeight + 1
    }

    /// Output columns (0 when the padded input is smaller than the dilated kernel).
    public var outputWidth: Int {
        let span = inputWidth + padding.left + padding.right - dilationWidth * (kernelWidth - 1) - 1
        return span < 0 ? 0 : span / strideWidth + 1
    }

    /// Rows of the im2col matrix: C·KH·KW, ordered (channel, kernel row, kernel column).
    public var columnRows: Int { channels * kernelHeight * kernelWidth }

    /// Columns of the im2col matrix: OH·OW.
    public var columnCount: Int { outputHeight * outputWidth }
}
