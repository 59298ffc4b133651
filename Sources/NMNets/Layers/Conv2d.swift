import Foundation
import NMTensor

/// How a convolution pads its input.
public enum ConvolutionPadding: Sendable, Equatable {
    /// Fixed padding on each side (PyTorch's `padding=`).
    case explicit(Padding2D)
    /// TensorFlow's "SAME": output = ceil(input / stride), the extra pixel on the bottom/right.
    case tensorFlowSame

    /// PyTorch's symmetric `padding=p`.
    public static func symmetric(_ pixels: Int) -> ConvolutionPadding { .explicit(Padding2D(pixels)) }
}

/// 2-D convolution over `[N, C, H, W]` (PyTorch `nn.Conv2d`, cross-correlation).
///
/// Six code paths with one contract: depthwise convolutions (groups == channels, one filter
/// each) use a direct kernel; 1×1 convolutions with stride 1 and no padding are a plain GEMM;
/// 3×3 stride-1 convolutions with enough channels and tiles use Winograd F(4×4, 3×3), stride-1
/// r×1 and 1×r ones (Inception's 7×1, 1×7, 3×1, 1×3) Winograd F(4, r) along their axis, and
/// other stride-1 kernels (Inception's 5×5, 3×3 at 8×8) their rows unfolded and Winograd
/// F(4, KW) along the width, forward and backward to the input (see `isWinogradEnabled`);
/// everything else is im2col + GEMM. Grouped convolutions reshape without copying.
public struct Conv2d: Layer {
    public var weight: Tensor  // [OC, IC/groups, KH, KW]
    public var bias: Tensor?  // [OC]
    public let stride: (height: Int, width: Int)
    public let padding: ConvolutionPadding
    public let dilation: (height: Int, width: Int)
    public let groups: Int
    /// The Winograd transforms and packed GEMM operands of `weight`, computed on first use and
    /// reused while `weight` is unchanged.
    private let weightTransforms = WeightTransformCache()

    /// - Parameters:
    ///   - weight: `[outputChannels, inputChannels / groups, kernelHeight, kernelWidth]`.
    ///   - bias: `[outputChannels]` or `nil`.
    public init(
        weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: ConvolutionPadding = .explicit(.zero),
        dilation: Int = 1, groups: Int = 1
    ) {
        precondition(weight.rank == 4, "Conv2d: weight \(weight.shape) must be [OC, IC/groups, KH, KW]")
        precondition(groups >= 1 && weight.shape[0] % groups == 0, "Conv2d: output channels \(weight.shape[0]) not divisible by groups \(groups)")
        precondition(bias == nil || bias!.shape == [weight.shape[0]], "Conv2d: bias \(bias!.shape) for \(weight.shape[0]) output channels")
        self.weight = weight
        self.bias = bias
        self.stride = (stride, stride)
        self.padding = padding
        self.dilation = (dilation, dilation)
        self.groups = groups
    }

    /// A zero-initialised convolution with a square kernel (weights are loaded or initialised later).
    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1,
        padding: ConvolutionPadding = .explicit(.zero), dilation: Int = 1, groups: Int = 1, hasBias: Bool = true
    ) {
        self.init(
            inputChannels: inputChannels, outputChannels: outputChannels, kernelHeight: kernelSize, kernelWidth: kernelSize,
            stride: stride, padding: padding, dilation: dilation, groups: groups, hasBias: hasBias)
    }

    /// A zero-initialised convolution with a rectangular kernel (Inception's 1×7 and 7×1).
    public init(
        inputChannels: Int, outputChannels: Int, kernelHeight: Int, kernelWidth: Int, stride: Int = 1,
        padding: ConvolutionPadding = .explicit(.zero), dilation: Int = 1, groups: Int = 1, hasBias: Bool = true
    ) {
        precondition(inputChannels % groups == 0, "Conv2d: input channels \(inputChannels) not divisible by groups \(groups)")
        self.init(
            weight: .zeros([outputChannels, inputChannels / groups, kernelHeight, kernelWidth]),
            bias: hasBias ? .zeros([outputChannels]) : nil, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    public var outputChannels: Int { weight.shape[0] }
    public var inputChannels: Int { weight.shape[1] * groups }
    public var kernelSize: (height: Int, width: Int) { (weight.shape[2], weight.shape[3]) }

    /// Whether each output channel sees exactly one input channel (depthwise convolution).
    public var isDepthwise: Bool { groups > 1 && groups == inputChannels && groups == outputChannels }

    /// The window geometry for an input of the given spatial size (resolves "SAME").
    public func geometry(inputHeight: Int, inputWidth: Int) -> ConvGeometry {
        let resolved: Padding2D
        switch padding {
        case .explicit(let fixed):
            resolved = fixed
        case .tensorFlowSame:
            let vertical = Padding2D.tensorFlowSame(input: inputHeight, kernel: kernelSize.height, stride: stride.height, dilation: dilation.height)
            let horizontal = Padding2D.tensorFlowSame(input: inputWidth, kernel: kernelSize.width, stride: stride.width, dilation: dilation.width)
            resolved = Padding2D(top: vertical.before, bottom: vertical.after, left: horizontal.before, right: horizontal.after)
        }
        return ConvGeometry(
            channels: inputChannels, inputHeight: inputHeight, inputWidth: inputWidth,
            kernelHeight: kernelSize.height, kernelWidth: kernelSize.width,
            strideHeight: stride.height, strideWidth: stride.width, padding: resolved,
            dilationHeight: dilation.height, dilationWidth: dilation.width)
    }

    private func isPointwise(_ geometry: ConvGeometry) -> Bool {
        geometry.kernelHeight == 1 && geometry.kernelWidth == 1 && stride == (1, 1) && geometry.padding == .zero
    }

    /// Whether 3×3 stride-1 convolutions may use Winograd F(4×4, 3×3) (`winogradConvolution`),
    /// and r×1 / 1×r ones Winograd F(4, r) (`lineWinogradConvolution`), instead of im2col + GEMM,
    /// forward and backward to the input; the weight gradient always
    /// comes from im2col + GEMM. On by default; the environment variable `NEUROMASK_WINOGRAD=0`
    /// (read at first use) turns it off, and setting this property overrides both (for A/B
    /// measurements and debugging; affects convolutions forwarded afterwards).
    public static var isWinogradEnabled: Bool {
        get { WinogradSetting.lock.withLock { WinogradSetting.isEnabled } }
        set { WinogradSetting.lock.withLock { WinogradSetting.isEnabled = newValue } }
    }

    /// When Winograd is used: at least 16 input and output channels and at least 16 output tiles
    /// of 4×4 (over the batch; a 14×14 output). Measured on a quiet machine (`nmtensor-bench
    /// --winograd`, 2 threads, batch 1, the 36 products run concurrently; speed relative to
    /// im2col + GEMM, forward / input gradient): 14×14 with 256 channels 1.37× / 1.20×, 28×28 and
    /// 56×56 with 64–128 channels 1.6–2.1×, VGG-16's layers 1.3–2.7×; 7×7 (4 tiles) 0.62×.
    static let winogradMinimumChannels = 16
    static let winogradMinimumTiles = 16

    private func usesWinograd(_ geometry: ConvGeometry, batch: Int) -> Bool {
        let p = geometry.padding
        let tiles = batch * ((geometry.outputHeight + 3) / 4) * ((geometry.outputWidth + 3) / 4)
        return geometry.kernelHeight == 3 && geometry.kernelWidth == 3 && stride == (1, 1) && dilation == (1, 1) && groups == 1
            && max(p.top, p.bottom, p.left, p.right) <= 2
            && inputChannels >= Self.winogradMinimumChannels && outputChannels >= Self.winogradMinimumChannels
            && tiles >= Self.winogradMinimumTiles && Self.isWinogradEnabled
    }

    /// When one-dimensional Winograd is used: an r×1 or 1×r kernel (2 ≤ r ≤ 9), stride and
    /// dilation 1, no padding across the kernel's axis and at most r − 1 along it, the same
    /// channel and tile minimums as the 3×3 path (tiles of 4 outputs along the axis, over every
    /// line and image). Measured on Inception-v3's 17×17 layers (`nmtensor-bench --line-winograd`).
    private func usesLineWinograd(_ geometry: ConvGeometry, batch: Int) -> Bool {
        let (kernelHeight, kernelWidth) = (geometry.kernelHeight, geometry.kernelWidth)
        let isVertical = kernelWidth == 1
        let length = isVertical ? kernelHeight : kernelWidth
        let p = geometry.padding
        let (alongBefore, alongAfter, across) = isVertical ? (p.top, p.bottom, max(p.left, p.right)) : (p.left, p.right, max(p.top, p.bottom))
        let outputLength = isVertical ? geometry.outputHeight : geometry.outputWidth
        let lines = isVertical ? geometry.outputWidth : geometry.outputHeight
        let tiles = batch * ((outputLength + 3) / 4) * lines
        return min(kernelHeight, kernelWidth) == 1 && (2...9).contains(length) && stride == (1, 1) && dilation == (1, 1) && groups == 1
            && across == 0 && max(alongBefore, alongAfter) <= length - 1
            && inputChannels >= Self.winogradMinimumChannels && outputChannels >= Self.winogradMinimumChannels
            && tiles >= Self.winogradMinimumTiles && Self.isWinogradEnabled
    }

    /// When a KH×KW kernel (KH > 1, 2 ≤ KW ≤ 9) that the 3×3 Winograd path does not take runs as
    /// its rows unfolded (`rowGeometry`: im2col with a KH×1 kernel, `[N, C·KH, OH, W]`) convolved
    /// with the weight read as `[K, C·KH, 1, KW]` by one-dimensional Winograd along the width:
    /// KW / 4 + 3/4 multiplications per output and tap row instead of KW. Stride and dilation 1,
    /// at most KW − 1 of padding left and right, the same channel and tile minimums as the other
    /// Winograd paths (tiles of 4 outputs along each output row).
    private func usesUnfoldedRows(_ geometry: ConvGeometry, batch: Int) -> Bool {
        let p = geometry.padding
        let tiles = batch * geometry.outputHeight * ((geometry.outputWidth + 3) / 4)
        return geometry.kernelHeight > 1 && (2...9).contains(geometry.kernelWidth) && stride == (1, 1) && dilation == (1, 1) && groups == 1
            && max(p.left, p.right) <= geometry.kernelWidth - 1
            && inputChannels >= Self.winogradMinimumChannels && outputChannels >= Self.winogradMinimumChannels
            && tiles >= Self.winogradMinimumTiles && Self.isWinogradEnabled
    }

    /// The KH×1 geometry whose im2col unfolds the rows for `usesUnfoldedRows`: `[N, C·KH, OH·W]`,
    /// row c·KH + kh holding input row oh − padTop + kh of channel c.
    private func rowGeometry(_ geometry: ConvGeometry) -> ConvGeometry {
        let p = geometry.padding
        return ConvGeometry(
            channels: geometry.channels, inputHeight: geometry.inputHeight, inputWidth: geometry.inputWidth,
            kernelHeight: geometry.kernelHeight, kernelWidth: 1, padding: Padding2D(top: p.top, bottom: p.bottom, left: 0, right: 0))
    }

    /// The weight as the 1×KW filters of the unfolded rows: `[K, C·KH, 1, KW]` (a reshape).
    private var rowFilterWeight: Tensor { weight.reshaped([outputChannels, inputChannels * kernelSize.height, 1, kernelSize.width]) }

    /// Whether 1×1, im2col and Winograd convolutions multiply by packed copies of the weight
    /// (forward and transposed, or the 36 Winograd matrices, made once per weight: `PackedMatrix`)
    /// instead of calling OpenBLAS, which packs the weight anew on every call. Defaults to on
    /// where the packed kernel is the faster one (`PackedMatrix.hasFusedMultiplyAdd`: a build for
    /// AVX2 + FMA), else off; `NEUROMASK_PACKED_GEMM=1` or `0` sets it at start. Both paths give
    /// the same results up to rounding. Ungrouped convolutions only.
    public static var isPackedGEMMEnabled: Bool {
        get { PackedGEMMSetting.lock.withLock { PackedGEMMSetting.isEnabled } }
        set { PackedGEMMSetting.lock.withLock { PackedGEMMSetting.isEnabled = newValue } }
    }

    private var usesPackedWeights: Bool { groups == 1 && Self.isPackedGEMMEnabled }

    /// What backward needs: the input (depthwise, 1×1 and Winograd paths) or its im2col columns.
    public struct Cache {
        var geometry: ConvGeometry
        var input: Tensor?  // [N, C, H, W]
        var columns: Tensor?  // [N, C·KH·KW, OH·OW]
        /// The Winograd path the forward pass (and so the backward pass) took, or nil.
        var winograd: WinogradPath?
        /// Whether the forward pass (and so the backward pass) took a Winograd path.
        public var isWinograd: Bool { winograd != nil }
    }

    /// The Winograd paths of `forward` and `backward`.
    enum WinogradPath {
        /// F(4×4, 3×3).
        case tiles3x3
        /// F(4, r) along the axis of an r×1 or 1×r kernel.
        case line
        /// Rows unfolded, then F(4, KW) along the width.
        case unfoldedRows
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Cache) {
        forward(input, activation: nil)
    }

    /// `forward` followed by `activation` (relu or relu6: a clamp): the same values as
    /// `Activation(activation).forward(forward(input).output).output`, with the clamp applied as
    /// the depthwise and packed-GEMM kernels store their results (one pass over the output less),
    /// else as a separate pass. The cache is `forward`'s (backward is unchanged: the activation's
    /// derivative follows from this output).
    public func forward(_ input: Tensor, fusing activation: ActivationFunction) -> (output: Tensor, cache: Cache) {
        precondition(activation.clampUpperBound != nil, "Conv2d.forward(fusing:): \(activation) is not relu or relu6")
        return forward(input, activation: activation)
    }

    private func forward(_ input: Tensor, activation: ActivationFunction?) -> (output: Tensor, cache: Cache) {
        precondition(input.rank == 4 && input.shape[1] == inputChannels, "Conv2d: input \(input.shape) is not [N, \(inputChannels), H, W]")
        let batch = input.shape[0]
        let geometry = geometry(inputHeight: input.shape[2], inputWidth: input.shape[3])
        let (outputHeight, outputWidth) = (geometry.outputHeight, geometry.outputWidth)
        let groupOut = outputChannels / groups
        var output: Tensor
        var cache = Cache(geometry: geometry, input: nil, columns: nil)
        let clampUpper = activation?.clampUpperBound
        var isClamped = false  // whether the kernel applied the activation
        if isDepthwise {
            output = depthwiseConvolution(input, weight: weight, bias: bias, geometry: geometry, clampUpper: clampUpper)  // [N, C, OH, OW]
            cache.input = input
            isClamped = true
        } else if isPointwise(geometry) && usesPackedWeights {
            output = matmul(
                weightTransforms.packedForward(for: weight), input.reshaped([batch, inputChannels, geometry.columnCount]),
                rowBias: bias, clampUpper: clampUpper)  // [N, OC, H·W]
            cache.input = input
            isClamped = true
        } else if isPointwise(geometry) {
            let groupIn = inputChannels / groups
            output = matmul(
                weight.reshaped([groups, groupOut, groupIn]),
                input.reshaped([batch, groups, groupIn, geometry.columnCount]), rowBias: bias)  // [N, g, OC/g, H·W]
            cache.input = input
        } else if usesWinograd(geometry, batch: batch) {
            output = winogradConvolution(input, filter: weightTransforms.winogradFilter(for: weight, packed: usesPackedWeights), bias: bias, padding: geometry.padding)  // [N, OC, OH, OW]
            cache.input = input
            cache.winograd = .tiles3x3
        } else if usesLineWinograd(geometry, batch: batch) {
            output = lineWinogradConvolution(
                input, filter: weightTransforms.lineWinogradFilter(for: weight, packed: usesPackedWeights), bias: bias,
                padding: geometry.padding, clampUpper: clampUpper)  // [N, OC, OH, OW]
            cache.input = input
            cache.winograd = .line
            isClamped = true
        } else if usesUnfoldedRows(geometry, batch: batch) {
            let p = geometry.padding
            let rows = im2col(input, geometry: rowGeometry(geometry))  // [N, C·KH, OH·W]
            output = lineWinogradConvolution(
                rows.reshaped([batch, inputChannels * kernelSize.height, outputHeight, geometry.inputWidth]),
                filter: weightTransforms.lineWinogradFilter(for: rowFilterWeight, packed: usesPackedWeights), bias: bias,
                padding: Padding2D(top: 0, bottom: 0, left: p.left, right: p.right), clampUpper: clampUpper)  // [N, OC, OH, OW]
            cache.input = input
            cache.winograd = .unfoldedRows
            isClamped = true
        } else {
            let columns = im2col(input, geometry: geometry)  // [N, C·KH·KW, OH·OW]
            let groupRows = geometry.columnRows / groups
            if usesPackedWeights {
                output = matmul(weightTransforms.packedForward(for: weight), columns, rowBias: bias, clampUpper: clampUpper)  // [N, OC, OH·OW]
                isClamped = true
            } else {
                output = matmul(
                    weight.reshaped([groups, groupOut, groupRows]),
                    columns.reshaped([batch, groups, groupRows, geometry.columnCount]), rowBias: bias)  // [N, g, OC/g, OH·OW]
            }
            cache.columns = columns
        }
        // The bias is already in: added by the depthwise kernel or the GEMM's initial C.
        output = output.reshaped([batch, outputChannels, outputHeight, outputWidth])
        if let activation, !isClamped { output = activationForward(activation, output) }
        return (output, cache)
    }

    public func backward(_ gradOutput: Tensor, cache: Cache, parameterGradients: Bool) -> (gradInput: Tensor, gradLayer: Conv2d?) {
        backward(gradOutput, cache: cache, parameterGradients: parameterGradients, gate: nil)
    }

    /// `backward` followed by the backward pass of the relu or relu6 whose output was this
    /// layer's input (`gate`): the same values as `gate.applied(to: backward(…).gradInput)`,
    /// with the gate applied as the depthwise and packed 1×1 kernels store the input gradient
    /// (one pass over it less), else as a separate pass.
    public func backward(
        _ gradOutput: Tensor, cache: Cache, parameterGradients: Bool, gatingInputBy gate: ClampGate
    ) -> (gradInput: Tensor, gradLayer: Conv2d?) {
        backward(gradOutput, cache: cache, parameterGradients: parameterGradients, gate: gate)
    }

    private func backward(_ gradOutput: Tensor, cache: Cache, parameterGradients: Bool, gate: ClampGate?) -> (gradInput: Tensor, gradLayer: Conv2d?) {
        let geometry = cache.geometry
        let batch = gradOutput.shape[0]
        let groupOut = outputChannels / groups
        let length = geometry.columnCount
        var gradLayer: Conv2d?
        if parameterGradients {
            gradLayer = self
            gradLayer!.bias = bias.map { _ in channelSum(gradOutput) }
        }
        var gradInput: Tensor
        var isGated = false  // whether the kernel applied the gate
        if isDepthwise, let input = cache.input {
            gradInput = depthwiseConvolutionBackwardInput(gradOutput, weight: weight, geometry: geometry, gate: gate)
            isGated = true
            if parameterGradients {
                gradLayer!.weight = depthwiseConvolutionBackwardWeight(gradOutput, input: input, geometry: geometry)
            }
        } else if isPointwise(geometry), let input = cache.input {
            let groupIn = inputChannels / groups
            if usesPackedWeights {
                gradInput = matmul(
                    weightTransforms.packedInputGradient(for: weight), gradOutput.reshaped([batch, outputChannels, length]), gate: gate
                ).reshaped(input.shape)  // [N, C, H·W] → [N, C, H, W]
                isGated = true
            } else {
                let gradOutputGroups = gradOutput.reshaped([batch, groups, groupOut, length])  // [N, g, OC/g, H·W]
                gradInput = matmul(weight.reshaped([groups, groupOut, groupIn]), gradOutputGroups, transposeA: true)
                    .reshaped(input.shape)  // [N, g, C/g, H·W] → [N, C, H, W]
            }
            if parameterGradients {
                gradLayer!.weight = weightGradient(gradOutput, columns: input, geometry: geometry)  // a 1×1 input is its own columns
            }
        } else if let path = cache.winograd, let input = cache.input {
            switch path {
            case .tiles3x3:
                gradInput = winogradConvolutionBackwardInput(
                    gradOutput, filter: weightTransforms.winogradInputGradientFilter(for: weight, packed: usesPackedWeights), padding: geometry.padding)  // [N, C, H, W]
            case .line:
                gradInput = lineWinogradConvolutionBackwardInput(
                    gradOutput, filter: weightTransforms.lineWinogradInputGradientFilter(for: weight, packed: usesPackedWeights), padding: geometry.padding)  // [N, C, H, W]
            case .unfoldedRows:
                let p = geometry.padding
                let gradRows = lineWinogradConvolutionBackwardInput(
                    gradOutput, filter: weightTransforms.lineWinogradInputGradientFilter(for: rowFilterWeight, packed: usesPackedWeights),
                    padding: Padding2D(top: 0, bottom: 0, left: p.left, right: p.right))  // [N, C·KH, OH, W]
                let rows = rowGeometry(geometry)
                gradInput = col2im(gradRows.reshaped([batch, rows.columnRows, rows.columnCount]), geometry: rows)  // [N, C, H, W]
            }
            if parameterGradients {
                gradLayer!.weight = weightGradient(gradOutput, columns: im2col(input, geometry: geometry), geometry: geometry)
            }
        } else if let columns = cache.columns {
            let groupRows = geometry.columnRows / groups
            let gradColumns: Tensor  // [N, C·KH·KW, OH·OW]
            if usesPackedWeights {
                gradColumns = matmul(weightTransforms.packedInputGradient(for: weight), gradOutput.reshaped([batch, outputChannels, length]))
            } else {
                let gradOutputGroups = gradOutput.reshaped([batch, groups, groupOut, length])  // [N, g, OC/g, OH·OW]
                gradColumns = matmul(weight.reshaped([groups, groupOut, groupRows]), gradOutputGroups, transposeA: true)
                    .reshaped([batch, geometry.columnRows, length])
            }
            gradInput = col2im(gradColumns, geometry: geometry)  // [N, C, H, W]
            if parameterGradients {
                gradLayer!.weight = weightGradient(gradOutput, columns: columns, geometry: geometry)
            }
        } else {
            preconditionFailure("Conv2d.backward: cache holds neither input nor columns")
        }
        if let gate, !isGated { gradInput = gate.applied(to: gradInput) }
        return (gradInput, gradLayer)
    }

    /// ∂L/∂weight from ∂L/∂output `[N, OC, OH, OW]` and the unfolded input `columns`
    /// (`[N, C·KH·KW, OH·OW]` in any shape with that many elements): Σ_n gradOutput · columnsᵀ per group.
    private func weightGradient(_ gradOutput: Tensor, columns: Tensor, geometry: ConvGeometry) -> Tensor {
        let (batch, length) = (gradOutput.shape[0], geometry.columnCount)
        let (groupOut, groupRows) = (outputChannels / groups, geometry.columnRows / groups)
        var gradWeight = Tensor.zeros([groups, groupOut, groupRows])
        gemm(
            gradOutput.reshaped([batch, groups, groupOut, length]), columns.reshaped([batch, groups, groupRows, length]),
            into: &gradWeight, transposeB: true)
        return gradWeight.reshaped(weight.shape)
    }

    public func visitTensors(prefix: String, _ visit: (String, TensorRole, Tensor) -> Void) {
        visit(prefix + "weight", .parameter, weight)
        if let bias { visit(prefix + "bias", .parameter, bias) }
    }

    public mutating func updateTensors(prefix: String, _ update: (String, TensorRole, inout Tensor) -> Void) {
        update(prefix + "weight", .parameter, &weight)
        if bias != nil { update(prefix + "bias", .parameter, &bias!) }
    }
}

/// Storage of `Conv2d.isWinogradEnabled`.
private enum WinogradSetting {
    static let lock = NSLock()
    nonisolated(unsafe) static var isEnabled: Bool = ProcessInfo.processInfo.environment["NEUROMASK_WINOGRAD"] != "0"
}

/// Storage of `Conv2d.isPackedGEMMEnabled`.
private enum PackedGEMMSetting {
    static let lock = NSLock()
    nonisolated(unsafe) static var isEnabled: Bool = {
        switch ProcessInfo.processInfo.environment["NEUROMASK_PACKED_GEMM"] {
        case "0": false
        case "1": true
        default: PackedMatrix.hasFusedMultiplyAdd
        }
    }()
}
