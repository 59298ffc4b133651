import NMTensor
import NMTestSupport
import Testing

// Winograd F(4×4, 3×3) convolution and its input gradient, checked against a direct nested-loop
// convolution in Double, against im2col + GEMM, and by the adjoint identity ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩.

/// One Winograd test configuration: 3×3 kernel, stride 1.
struct WinogradCase: Sendable, CustomTestStringConvertible {
    var batch: Int
    var channels: Int
    var outputChannels: Int
    var height: Int
    var width: Int
    var padding: Padding2D
    var hasBias: Bool

    var testDescription: String {
        let p = padding
        return "N\(batch) C\(channels)→\(outputChannels) \(height)×\(width) pad (t\(p.top) b\(p.bottom) l\(p.left) r\(p.right))\(hasBias ? " bias" : "")"
    }

    var geometry: ConvGeometry {
        ConvGeometry(channels: channels, inputHeight: height, inputWidth: width, kernelHeight: 3, kernelWidth: 3, padding: padding)
    }

    /// Sizes that are and are not multiples of 4, smaller than a tile (H or W < 4, down to a
    /// 1-pixel output), wider than 8 tiles (a partial SIMD block), padding 0, 1, 2 and asymmetric
    /// (TensorFlow SAME), batch 1 and 2, with and without bias, whole-tensor and blocked.
    static let sweep: [WinogradCase] = [
        WinogradCase(batch: 1, channels: 3, outputChannels: 5, height: 8, width: 8, padding: Padding2D(1), hasBias: true),
        WinogradCase(batch: 2, channels: 4, outputChannels: 3, height: 7, width: 9, padding: Padding2D(1), hasBias: false),
        WinogradCase(batch: 2, channels: 5, outputChannels: 6, height: 13, width: 10, padding: .zero, hasBias: true),
        WinogradCase(batch: 1, channels: 2, outputChannels: 2, height: 3, width: 3, padding: .zero, hasBias: true),
        WinogradCase(batch: 2, channels: 3, outputChannels: 4, height: 2, width: 5, padding: Padding2D(2), hasBias: false),
        WinogradCase(batch: 1, channels: 6, outputChannels: 4, height: 1, width: 1, padding: Padding2D(1), hasBias: true),
        WinogradCase(batch: 2, channels: 4, outputChannels: 5, height: 11, width: 6, padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1), hasBias: true),
        WinogradCase(batch: 1, channels: 3, outputChannels: 3, height: 9, width: 14, padding: Padding2D(top: 2, bottom: 0, left: 1, right: 2), hasBias: false),
        WinogradCase(batch: 2, channels: 8, outputChannels: 7, height: 5, width: 37, padding: Padding2D(1), hasBias: true),
        WinogradCase(batch: 1, channels: 16, outputChannels: 16, height: 14, width: 14, padding: Padding2D(1), hasBias: true),
        WinogradCase(batch: 1, channels: 4, outputChannels: 4, height: 33, width: 70, padding: Padding2D(top: 1, bottom: 2, left: 2, right: 0), hasBias: false),
        // Small filters and wide rows take the block-by-block path (`rowsPerBlock`): 34 tiles a
        // row, 10 tile rows a block, 13 tile rows an image (a partial last block), 2 images.
        WinogradCase(batch: 2, channels: 4, outputChannels: 4, height: 49, width: 133, padding: Padding2D(top: 0, bottom: 2, left: 1, right: 2), hasBias: true),
    ]
}

/// Direct cross-correlation in Double: output[n, k, oh, ow] = bias[k] + Σ w[k, c, r, s]·x[n, c, oh − pt + r, ow − pl + s].
private func directConvolution(_ input: Tensor, weight: Tensor, bias: Tensor?, padding: Padding2D) -> Tensor {
    let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let outputChannels = weight.shape[0]
    let outputHeight = height + padding.top + padding.bottom - 2
    let outputWidth = width + padding.left + padding.right - 2
    var output = Tensor.zeros([batch, outputChannels, outputHeight, outputWidth])
    for n in 0..<batch {
        for k in 0..<outputChannels {
            for oh in 0..<outputHeight {
                for ow in 0..<outputWidth {
                    var sum = Double(bias?.scalars[k] ?? 0)
                    for c in 0..<channels {
                        for r in 0..<3 {
                            let ih = oh - padding.top + r
                            guard ih >= 0 && ih < height else { continue }
                            for s in 0..<3 {
                                let iw = ow - padding.left + s
                                guard iw >= 0 && iw < width else { continue }
                                sum += Double(weight.scalars[((k * channels + c) * 3 + r) * 3 + s])
                                    * Double(input.scalars[((n * channels + c) * height + ih) * width + iw])
                            }
                        }
                    }
                    output.scalars[((n * outputChannels + k) * outputHeight + oh) * outputWidth + ow] = Float(sum)
                }
            }
        }
    }
    return output
}

/// The im2col + GEMM convolution (the path Conv2d takes without Winograd).
private func im2colConvolution(_ input: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) -> Tensor {
    let batch = input.shape[0]
    let outputChannels = weight.shape[0]
    let columns = im2col(input, geometry: geometry)  // [N, C·9, OH·OW]
    var output = matmul(weight.reshaped([outputChannels, geometry.columnRows]), columns)  // [N, K, OH·OW]
    if let bias {
        output = output + bias.reshaped([1, outputChannels, 1])
    }
    return output.reshaped([batch, outputChannels, geometry.outputHeight, geometry.outputWidth])
}

/// The im2col path's input gradient: col2im(Wᵀ · gradOutput).
private func im2colBackwardInput(_ gradOutput: Tensor, weight: Tensor, geometry: ConvGeometry) -> Tensor {
    let (batch, outputChannels) = (gradOutput.shape[0], gradOutput.shape[1])
    let gradColumns = matmul(
        weight.reshaped([outputChannels, geometry.columnRows]),
        gradOutput.reshaped([batch, outputChannels, geometry.columnCount]), transposeA: true)  // [N, C·9, OH·OW]
    return col2im(gradColumns, geometry: geometry)
}

@Suite("Winograd F(4×4, 3×3) convolution")
struct WinogradConvolutionTests {
    @Test(arguments: WinogradCase.sweep)
    func forwardMatchesDirectAndIm2col(_ testCase: WinogradCase) {
        let input = randomTensor([testCase.batch, testCase.channels, testCase.height, testCase.width], seed: 11)
        let weight = randomTensor([testCase.outputChannels, testCase.channels, 3, 3], seed: 12)
        let bias = testCase.hasBias ? randomTensor([testCase.outputChannels], seed: 13) : nil
        let output = winogradConvolution(input, weight: weight, bias: bias, padding: testCase.padding)
        let expected = directConvolution(input, weight: weight, bias: bias, padding: testCase.padding)
        assertClose(output, expected, rtol: 1e-4, atol: 2e-5)
        #expect(relativeL2Error(output, expected) < 1e-5)
        let viaIm2col = im2colConvolution(input, weight: weight, bias: bias, geometry: testCase.geometry)
        #expect(relativeL2Error(output, viaIm2col) < 1e-5)
    }

    @Test(arguments: WinogradCase.sweep)
    func backwardInputMatchesIm2colAndAdjoint(_ testCase: WinogradCase) {
        let geometry = testCase.geometry
        let input = randomTensor([testCase.batch, testCase.channels, testCase.height, testCase.width], seed: 21)
        let weight = randomTensor([testCase.outputChannels, testCase.channels, 3, 3], seed: 22)
        let gradOutput = randomTensor([testCase.batch, testCase.outputChannels, geometry.outputHeight, geometry.outputWidth], seed: 23)
        let gradInput = winogradConvolutionBackwardInput(gradOutput, weight: weight, padding: testCase.padding)
        #expect(gradInput.shape == input.shape)
        let expected = im2colBackwardInput(gradOutput, weight: weight, geometry: geometry)
        assertClose(gradInput, expected, rtol: 1e-4, atol: 2e-5)
        #expect(relativeL2Error(gradInput, expected) < 1e-5)
        // ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩, with the forward in Double.
        let output = directConvolution(input, weight: weight, bias: nil, padding: testCase.padding)
        let left = weightedSum(output, gradOutput)
        let right = weightedSum(input, gradInput)
        #expect(abs(left - right) <= 1e-5 * max(1, abs(left)) * Double(input.count).squareRoot())
    }

    /// Filters stored as packed matrices (multiplied by `PackedMatrix`'s kernel) give the direct
    /// convolution and its adjoint as the plain ones do.
    @Test(arguments: WinogradCase.sweep)
    func packedFiltersMatchDirectConvolution(_ testCase: WinogradCase) {
        let geometry = testCase.geometry
        let input = randomTensor([testCase.batch, testCase.channels, testCase.height, testCase.width], seed: 31)
        let weight = randomTensor([testCase.outputChannels, testCase.channels, 3, 3], seed: 32)
        let bias = testCase.hasBias ? randomTensor([testCase.outputChannels], seed: 33) : nil
        let output = winogradConvolution(input, filter: WinogradFilter(weight: weight, packed: true), bias: bias, padding: testCase.padding)
        #expect(relativeL2Error(output, directConvolution(input, weight: weight, bias: bias, padding: testCase.padding)) < 1e-5)
        let gradOutput = randomTensor(output.shape, seed: 34)
        let gradInput = winogradConvolutionBackwardInput(
            gradOutput, filter: WinogradFilter(inputGradientOf: weight, packed: true), padding: testCase.padding)
        #expect(relativeL2Error(gradInput, im2colBackwardInput(gradOutput, weight: weight, geometry: geometry)) < 1e-5)
    }

    @Test func filterForInputGradientIsRotatedSwappedFilter() {
        // WinogradFilter(inputGradientOf: w) must equal WinogradFilter(weight: w') with w'[c, k] = rot180(w[k, c]).
        let weight = randomTensor([3, 2, 3, 3], seed: 31)
        var rotated = Tensor.zeros([2, 3, 3, 3])
        for k in 0..<3 {
            for c in 0..<2 {
                for tap in 0..<9 {
                    rotated.scalars[(c * 3 + k) * 9 + tap] = weight.scalars[(k * 2 + c) * 9 + 8 - tap]
                }
            }
        }
        let input = randomTensor([1, 3, 6, 5], seed: 32)
        let viaGradientFilter = winogradConvolution(input, filter: WinogradFilter(inputGradientOf: weight), padding: Padding2D(1))
        let viaRotatedWeight = directConvolution(input, weight: rotated, bias: nil, padding: Padding2D(1))
        assertClose(viaGradientFilter, viaRotatedWeight, rtol: 1e-4, atol: 2e-5)
    }

    @Test func handComputableCase() {
        // A 4×4 ramp 0…15 convolved with the all-ones 3×3 filter, no padding: each output is the
        // sum of a 3×3 window: [[45, 54], [81, 90]], plus bias 1.
        let input = Tensor(shape: [1, 1, 4, 4], scalars: (0..<16).map(Float.init))
        let weight = Tensor(shape: [1, 1, 3, 3], scalars: [Float](repeating: 1, count: 9))
        let output = winogradConvolution(input, weight: weight, bias: Tensor(shape: [1], scalars: [1]), padding: .zero)
        assertClose(output, Tensor(shape: [1, 1, 2, 2], scalars: [46, 55, 82, 91]), rtol: 1e-6, atol: 1e-5)
    }

    @Test func realisticLayerAccuracy() {
        // ResNet-50-like layer (64 channels, 28×28, ReLU-like non-negative input): the relative L2
        // error vs the direct sum in Double stays at the Float32 level.
        var generator = SeededGenerator(seed: 41)
        let input = Tensor.uniform([1, 64, 28, 28], low: 0, high: 1, generator: &generator)
        let weight = Tensor.uniform([32, 64, 3, 3], low: -0.06, high: 0.06, generator: &generator)
        let output = winogradConvolution(input, weight: weight, padding: Padding2D(1))
        let expected = directConvolution(input, weight: weight, bias: nil, padding: Padding2D(1))
        let error = relativeL2Error(output, expected)
        #expect(error < 1e-5, "relative L2 error \(error)")
    }
}
