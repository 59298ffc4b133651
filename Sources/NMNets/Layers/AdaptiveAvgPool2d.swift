import NMTensor

/// Adaptive average pooling to a fixed `[outputHeight, outputWidth]` (PyTorch
/// `nn.AdaptiveAvgPool2d`): output cell i averages input rows ⌊i·H/OH⌋ ..< ⌈(i+1)·H/OH⌉, and
/// likewise for columns. Bins may overlap or repeat when the input is smaller than the output.
public struct AdaptiveAvgPool2d: ParameterFreeLayer {
    public let outputHeight: Int
    public let outputWidth: Int

    public init(outputHeight: Int, outputWidth: Int) {
        precondition(outputHeight >= 1 && outputWidth >= 1, "AdaptiveAvgPool2d: output size must be ≥ 1")
        self.outputHeight = outputHeight
        self.outputWidth = outputWidth
    }

    private static func bins(input: Int, output: Int) -> [Range<Int>] {
        (0..<output).map { i in (i * input / output)..<(((i + 1) * input + output - 1) / output) }
    }

    public struct Cache {
        var inputShape: [Int]
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Cache) {
        precondition(input.rank == 4, "AdaptiveAvgPool2d: input \(input.shape) is not [N, C, H, W]")
        let (planes, height, width) = (input.shape[0] * input.shape[1], input.shape[2], input.shape[3])
        if height == outputHeight && width == outputWidth { return (input, Cache(inputShape: input.shape)) }
        let rows = Self.bins(input: height, output: outputHeight), columns = Self.bins(input: width, output: outputWidth)
        var output = [Float](repeating: 0, count: planes * outputHeight * outputWidth)
        for plane in 0..<planes {
            for (i, rowBin) in rows.enumerated() {
                for (j, columnBin) in columns.enumerated() {
                    var sum: Float = 0
                    for y in rowBin { for x in columnBin { sum += input.scalars[(plane * height + y) * width + x] } }
                    output[(plane * outputHeight + i) * outputWidth + j] = sum / Float(rowBin.count * columnBin.count)
                }
            }
        }
        return (Tensor(shape: [input.shape[0], input.shape[1], outputHeight, outputWidth], scalars: output), Cache(inputShape: input.shape))
    }

    public func backward(_ gradOutput: Tensor, cache: Cache) -> Tensor {
        let shape = cache.inputShape
        let (planes, height, width) = (shape[0] * shape[1], shape[2], shape[3])
        if height == outputHeight && width == outputWidth { return gradOutput }
        let rows = Self.bins(input: height, output: outputHeight), columns = Self.bins(input: width, output: outputWidth)
        var gradInput = [Float](repeating: 0, count: planes * height * width)
        for plane in 0..<planes {
            for (i, rowBin) in rows.enumerated() {
                for (j, columnBin) in columns.enumerated() {
                    let share = gradOutput.scalars[(plane * outputHeight + i) * outputWidth + j] / Float(rowBin.count * columnBin.count)
                    for y in rowBin { for x in columnBin { gradInput[(plane * height + y) * width + x] += share } }
                }
            }
        }
        return Tensor(shape: shape, scalars: gradInput)
    }
}
