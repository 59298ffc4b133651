import NMTensor

/// The window of a pooling layer: square kernel, stride and symmetric padding (PyTorch floor mode).
public struct PoolingWindow: Sendable, Equatable {
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int

    /// - Parameter stride: defaults to the kernel size, as in PyTorch.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        precondition(kernelSize >= 1 && (stride ?? kernelSize) >= 1 && padding >= 0, "PoolingWindow: invalid window")
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    func geometry(for shape: [Int]) -> ConvGeometry {
        precondition(shape.count == 4, "pooling: input \(shape) is not [N, C, H, W]")
        return ConvGeometry(
            channels: shape[1], inputHeight: shape[2], inputWidth: shape[3], kernelHeight: kernelSize, kernelWidth: kernelSize,
            strideHeight: stride, strideWidth: stride, padding: Padding2D(padding))
    }
}

/// Max pooling (PyTorch `nn.MaxPool2d`, floor mode); the gradient goes to each window's maximum.
public struct MaxPool2d: ParameterFreeLayer {
    public let window: PoolingWindow

    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        window = PoolingWindow(kernelSize: kernelSize, stride: stride, padding: padding)
    }

    /// The input and output: the backward pass finds each window's winner again.
    public struct Cache {
        var geometry: ConvGeometry
        var input: Tensor
        var output: Tensor
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Cache) {
        let geometry = window.geometry(for: input.shape)
        let output = maxPool2D(input, geometry: geometry)
        return (output, Cache(geometry: geometry, input: input, output: output))
    }

    public func backward(_ gradOutput: Tensor, cache: Cache) -> Tensor {
        maxPool2DBackward(gradOutput, input: cache.input, output: cache.output, geometry: cache.geometry)
    }
}

/// Average pooling (PyTorch `nn.AvgPool2d`, floor mode; padding counts in the divisor unless
/// `countIncludePadding` is false).
public struct AvgPool2d: ParameterFreeLayer {
    public let window: PoolingWindow
    public let countIncludePadding: Bool

    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, countIncludePadding: Bool = true) {
        window = PoolingWindow(kernelSize: kernelSize, stride: stride, padding: padding)
        self.countIncludePadding = countIncludePadding
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: ConvGeometry) {
        let geometry = window.geometry(for: input.shape)
        return (averagePool2D(input, geometry: geometry, countIncludePadding: countIncludePadding), geometry)
    }

    public func backward(_ gradOutput: Tensor, cache geometry: ConvGeometry) -> Tensor {
        averagePool2DBackward(gradOutput, geometry: geometry, countIncludePadding: countIncludePadding)
    }
}
