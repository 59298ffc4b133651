import NMTensor
import NMTestSupport
import Testing

/// A depthwise configuration: EfficientNet-Lite0's kernels (3×3, 5×5), strides (1, 2) and
/// TensorFlow SAME padding, plus PyTorch-style symmetric padding and dilation.
struct DepthwiseCase: Sendable, CustomTestStringConvertible {
    var batch: Int
    var geometry: ConvGeometry

    var testDescription: String {
        let g = geometry
        return "N\(batch) C\(g.channels) in \(g.inputHeight)×\(g.inputWidth) k \(g.kernelHeight)×\(g.kernelWidth) "
            + "s \(g.strideHeight),\(g.strideWidth) pad (t\(g.padding.top) b\(g.padding.bottom) l\(g.padding.left) r\(g.padding.right)) "
            + "d \(g.dilationHeight),\(g.dilationWidth)"
    }

    static func tensorFlowSame(batch: Int, channels: Int, height: Int, width: Int, kernel: Int, stride: Int, dilation: Int = 1) -> DepthwiseCase {
        let rows = Padding2D.tensorFlowSame(input: height, kernel: kernel, stride: stride, dilation: dilation)
        let cols = Padding2D.tensorFlowSame(input: width, kernel: kernel, stride: stride, dilation: dilation)
        return DepthwiseCase(batch: batch, geometry: ConvGeometry(
            channels: channels, inputHeight: height, inputWidth: width, kernelHeight: kernel, kernelWidth: kernel,
            strideHeight: stride, strideWidth: stride,
            padding: Padding2D(top: rows.before, bottom: rows.after, left: cols.before, right: cols.after),
            dilationHeight: dilation, dilationWidth: dilation))
    }

    static let sweep: [DepthwiseCase] = {
        var cases: [DepthwiseCase] = []
        for kernel in [3, 5] {
            for stride in [1, 2] {
                for (height, width) in [(9, 8), (7, 7), (12, 13)] {
                    for batch in [1, 2] {
                        cases.append(.tensorFlowSame(batch: batch, channels: 5, height: height, width: width, kernel: kernel, stride: stride))
                    }
                }
            }
        }
        cases.append(.tensorFlowSame(batch: 2, channels: 3, height: 10, width: 9, kernel: 3, stride: 1, dilation: 2))
        cases.append(DepthwiseCase(batch: 2, geometry: ConvGeometry(
            channels: 4, inputHeight: 8, inputWidth: 9, kernelHeight: 3, kernelWidth: 5, strideHeight: 2, strideWidth: 1,
            padding: Padding2D(top: 1, bottom: 1, left: 2, right: 2))))
        cases.append(DepthwiseCase(batch: 1, geometry: ConvGeometry(
            channels: 3, inputHeight: 6, inputWidth: 6, kernelHeight: 3, kernelWidth: 3)))  // valid padding
        cases.append(DepthwiseCase(batch: 1, geometry: ConvGeometry(
            channels: 2, inputHeight: 2, inputWidth: 6, kernelHeight: 3, kernelWidth: 3)))  // OH = 0
        // Enough planes for parallelFor to split the work.
        cases.append(.tensorFlowSame(batch: 2, channels: 24, height: 28, width: 28, kernel: 5, stride: 2))
        // Stride 2 with output rows of whole 8-lane blocks (16 wide): the input gradient reads
        // the gradient rows in place instead of a zero-padded copy.
        cases.append(.tensorFlowSame(batch: 1, channels: 4, height: 10, width: 32, kernel: 5, stride: 2))
        // Stride 2 on rows wide enough for 16-column blocks (copied as pairs of 8 phase columns),
        // with a left padding of 0 (3×3) and 2 (5×5 on 37 columns) and columns left over.
        cases.append(.tensorFlowSame(batch: 1, channels: 3, height: 6, width: 40, kernel: 3, stride: 2))
        cases.append(.tensorFlowSame(batch: 2, channels: 2, height: 5, width: 37, kernel: 5, stride: 2))
        return cases
    }()
}

@Suite struct DepthwiseConvolutionTests {
    @Test(arguments: DepthwiseCase.sweep)
    func forwardMatchesIm2colWithGroupsEqualToChannels(_ testCase: DepthwiseCase) {
        let g = testCase.geometry
        let input = randomTensor([testCase.batch, g.channels, g.inputHeight, g.inputWidth], seed: 31)
        let weight = randomTensor([g.channels, 1, g.kernelHeight, g.kernelWidth], seed: 32)
        let output = depthwiseConvolution(input, weight: weight, geometry: g)
        assertClose(output, im2colConvolution(input, weight: weight, geometry: g, groups: g.channels), rtol: 1e-5, atol: 1e-5)
        assertClose(output, referenceConvolution(input, weight: weight, geometry: g, groups: g.channels), rtol: 1e-5, atol: 1e-5)
    }

    @Test(arguments: DepthwiseCase.sweep)
    func backwardInputMatchesCol2imOfWeightTransposeTimesGradient(_ testCase: DepthwiseCase) {
        let g = testCase.geometry
        let taps = g.kernelHeight * g.kernelWidth
        let weight = randomTensor([g.channels, 1, g.kernelHeight, g.kernelWidth], seed: 33)
        let gradOutput = randomTensor([testCase.batch, g.channels, g.outputHeight, g.outputWidth], seed: 34)
        // Per channel: Wᵀ [K, 1] · gradOutput [1, L] → columns [N, C, K, L] → col2im.
        let columns = matmul(weight.reshaped([g.channels, 1, taps]), gradOutput.reshaped([testCase.batch, g.channels, 1, g.columnCount]), transposeA: true)
        let expected = col2im(columns.reshaped([testCase.batch, g.columnRows, g.columnCount]), geometry: g)
        assertClose(depthwiseConvolutionBackwardInput(gradOutput, weight: weight, geometry: g), expected, rtol: 1e-5, atol: 1e-5)
    }

    /// A gate (relu6, relu) applied as the input gradient is stored equals gating it afterwards,
    /// bit for bit, on the stride-1 (flipped correlation) and strided (scatter) paths; NaN and
    /// outputs exactly at 0 or 6 block.
    @Test(arguments: DepthwiseCase.sweep)
    func gatedInputGradientEqualsGatingAfterwards(_ testCase: DepthwiseCase) {
        let g = testCase.geometry
        let weight = randomTensor([g.channels, 1, g.kernelHeight, g.kernelWidth], seed: 35)
        let gradOutput = randomTensor([testCase.batch, g.channels, g.outputHeight, g.outputWidth], seed: 36)
        let plain = depthwiseConvolutionBackwardInput(gradOutput, weight: weight, geometry: g)
        for function in [ActivationFunction.relu6, .relu] {
            var output = (randomTensor(plain.shape, seed: 37) * 8).relu()  // some at 0, some above 6
            for (index, value) in [(0, Float.nan), (1, 6), (2, 0)] where index < output.count { output.scalars[index] = value }
            let gate = ClampGate(function, output: output)
            let gated = depthwiseConvolutionBackwardInput(gradOutput, weight: weight, geometry: g, gate: gate)
            #expect(gated.scalars == gate.applied(to: plain).scalars, "\(function)")
        }
    }

    @Test(arguments: DepthwiseCase.sweep)
    func backwardWeightMatchesGradientTimesColumnsTranspose(_ testCase: DepthwiseCase) {
        let g = testCase.geometry
        let taps = g.kernelHeight * g.kernelWidth
        let input = randomTensor([testCase.batch, g.channels, g.inputHeight, g.inputWidth], seed: 35)
        let gradOutput = randomTensor([testCase.batch, g.channels, g.outputHeight, g.outputWidth], seed: 36)
        // Per channel: gradOutput [1, L] · columnsᵀ [L, K], summed over the batch by a broadcast output.
        let columns = im2col(input, geometry: g).reshaped([testCase.batch, g.channels, taps, g.columnCount])
        var expected = Tensor.zeros([g.channels, 1, taps])
        gemm(gradOutput.reshaped([testCase.batch, g.channels, 1, g.columnCount]), columns, into: &expected, transposeB: true)
        let actual = depthwiseConvolutionBackwardWeight(gradOutput, input: input, geometry: g)
        #expect(actual.shape == [g.channels, 1, g.kernelHeight, g.kernelWidth])
        assertClose(actual, expected.reshaped(actual.shape), rtol: 1e-4, atol: 1e-4)
    }

    @Test func gradientsMatchCentralFiniteDifferences() {
        // loss = ⟨depthwiseConvolution(x, w), r⟩; ∂loss/∂x = backwardInput(r), ∂loss/∂w = backwardWeight(r, x).
        let g = DepthwiseCase.tensorFlowSame(batch: 2, channels: 2, height: 5, width: 4, kernel: 3, stride: 2).geometry
        let input = randomTensor([2, 2, 5, 4], seed: 37)
        let weight = randomTensor([2, 1, 3, 3], seed: 38)
        let probe = randomTensor([2, 2, g.outputHeight, g.outputWidth], seed: 39)
        func loss(_ x: Tensor, _ w: Tensor) -> Double {
            doubleInnerProduct(depthwiseConvolution(x, weight: w, geometry: g), probe)
        }
        let epsilon: Float = 0.05
        let gradInput = depthwiseConvolutionBackwardInput(probe, weight: weight, geometry: g)
        var numericInput = Tensor.zeros(input.shape)
        for index in 0..<input.count {
            var plus = input, minus = input
            plus.scalars[index] += epsilon
            minus.scalars[index] -= epsilon
            numericInput.scalars[index] = Float((loss(plus, weight) - loss(minus, weight)) / Double(2 * epsilon))
        }
        assertClose(gradInput, numericInput, rtol: 1e-3, atol: 1e-4)

        let gradWeight = depthwiseConvolutionBackwardWeight(probe, input: input, geometry: g)
        var numericWeight = Tensor.zeros(weight.shape)
        for index in 0..<weight.count {
            var plus = weight, minus = weight
            plus.scalars[index] += epsilon
            minus.scalars[index] -= epsilon
            numericWeight.scalars[index] = Float((loss(input, plus) - loss(input, minus)) / Double(2 * epsilon))
        }
        assertClose(gradWeight, numericWeight, rtol: 1e-3, atol: 1e-4)
    }

    @Test func handWorkedStrideTwoSamePadding() {
        // 1×1×4×4 image 1…16, 3×3 kernel of ones, stride 2, SAME → pad (0, 1):
        // window (0,0) = rows 0…2 × cols 0…2; (1,1) = rows 2…3 × cols 2…3 (the rest is padding).
        let g = DepthwiseCase.tensorFlowSame(batch: 1, channels: 1, height: 4, width: 4, kernel: 3, stride: 2).geometry
        let input = Tensor(shape: [1, 1, 4, 4], scalars: (1...16).map { Float($0) })
        let output = depthwiseConvolution(input, weight: Tensor.ones([1, 1, 3, 3]), geometry: g)
        let expected: [Float] = [
            1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11, 3 + 4 + 7 + 8 + 11 + 12,
            9 + 10 + 11 + 13 + 14 + 15, 11 + 12 + 15 + 16,
        ]
        #expect(output == Tensor(shape: [1, 1, 2, 2], scalars: expected))
    }

    @Test func intoVariantsOverwriteTheirBuffers() {
        let g = DepthwiseCase.tensorFlowSame(batch: 2, channels: 3, height: 9, width: 7, kernel: 5, stride: 2).geometry
        let input = randomTensor([2, 3, 9, 7], seed: 40)
        let weight = randomTensor([3, 1, 5, 5], seed: 41)
        let gradOutput = randomTensor([2, 3, g.outputHeight, g.outputWidth], seed: 42)
        var output = Tensor(repeating: .nan, shape: [2 * 3 * g.outputHeight * g.outputWidth])
        depthwiseConvolution(input, weight: weight, geometry: g, into: &output)
        #expect(output == depthwiseConvolution(input, weight: weight, geometry: g))
        var gradInput = Tensor(repeating: 7, shape: [2, 3, 9, 7])
        depthwiseConvolutionBackwardInput(gradOutput, weight: weight, geometry: g, into: &gradInput)
        #expect(gradInput == depthwiseConvolutionBackwardInput(gradOutput, weight: weight, geometry: g))
    }
}
