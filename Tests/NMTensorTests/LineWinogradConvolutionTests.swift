import NMTensor
import NMTestSupport
import Testing

// One-dimensional Winograd F(4, r) for r×1 and 1×r convolutions, checked against a direct
// nested-loop convolution in Double (forward and input gradient) and the adjoint identity
// ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩; kernel lengths 2…9 cover every tile length (F(4, r) up to r = 7,
// F(3, 8), F(2, 9)) and so every set of Toom–Cook matrices the kernel builds.

/// One line-Winograd test configuration: kernel of length `length` along `axis`, stride 1.
struct LineWinogradCase: Sendable, CustomTestStringConvertible {
    var batch: Int
    var channels: Int
    var outputChannels: Int
    var height: Int
    var width: Int
    var axis: KernelAxis
    var length: Int
    /// Padding before and after along the axis.
    var padding: (before: Int, after: Int)
    var hasBias: Bool

    var testDescription: String {
        "N\(batch) C\(channels)→\(outputChannels) \(height)×\(width) \(axis == .height ? "\(length)×1" : "1×\(length)") pad \(padding)\(hasBias ? " bias" : "")"
    }

    var weightShape: [Int] { axis == .height ? [outputChannels, channels, length, 1] : [outputChannels, channels, 1, length] }

    var padding2D: Padding2D {
        axis == .height
            ? Padding2D(top: padding.before, bottom: padding.after, left: 0, right: 0)
            : Padding2D(top: 0, bottom: 0, left: padding.before, right: padding.after)
    }

    /// Inception's 17×17 layers (7×1, 1×7, padding 3) and 8×8 ones (3×1, 1×3, padding 1);
    /// outputs shorter than a tile, lines not a multiple of 8 (partial SIMD blocks) and fewer
    /// than 8, padding 0 and r − 1 and asymmetric, kernel lengths 2…9 (α = 5…10),
    /// batch 1 and 2, with and without bias.
    static let sweep: [LineWinogradCase] = [
        LineWinogradCase(batch: 1, channels: 6, outputChannels: 5, height: 17, width: 17, axis: .height, length: 7, padding: (3, 3), hasBias: true),
        LineWinogradCase(batch: 1, channels: 6, outputChannels: 5, height: 17, width: 17, axis: .width, length: 7, padding: (3, 3), hasBias: true),
        LineWinogradCase(batch: 2, channels: 4, outputChannels: 7, height: 8, width: 8, axis: .height, length: 3, padding: (1, 1), hasBias: false),
        LineWinogradCase(batch: 2, channels: 4, outputChannels: 7, height: 8, width: 8, axis: .width, length: 3, padding: (1, 1), hasBias: true),
        LineWinogradCase(batch: 1, channels: 3, outputChannels: 2, height: 9, width: 5, axis: .height, length: 7, padding: (0, 0), hasBias: true),
        LineWinogradCase(batch: 2, channels: 3, outputChannels: 4, height: 5, width: 12, axis: .width, length: 5, padding: (4, 1), hasBias: false),
        LineWinogradCase(batch: 1, channels: 5, outputChannels: 3, height: 2, width: 19, axis: .height, length: 7, padding: (6, 0), hasBias: true),
        LineWinogradCase(batch: 1, channels: 2, outputChannels: 3, height: 23, width: 3, axis: .width, length: 2, padding: (0, 1), hasBias: true),
        LineWinogradCase(batch: 2, channels: 3, outputChannels: 3, height: 11, width: 26, axis: .width, length: 9, padding: (2, 8), hasBias: false),
        LineWinogradCase(batch: 1, channels: 16, outputChannels: 24, height: 13, width: 10, axis: .height, length: 3, padding: (0, 2), hasBias: true),
        LineWinogradCase(batch: 1, channels: 4, outputChannels: 5, height: 14, width: 9, axis: .height, length: 4, padding: (2, 1), hasBias: true),
        LineWinogradCase(batch: 2, channels: 3, outputChannels: 2, height: 7, width: 15, axis: .width, length: 6, padding: (5, 5), hasBias: false),
        LineWinogradCase(batch: 1, channels: 5, outputChannels: 4, height: 20, width: 11, axis: .height, length: 8, padding: (3, 4), hasBias: true),
    ]
}

/// Direct cross-correlation in Double with an r×1 or 1×r kernel (`Padding2D` along the axis only).
private func directLineConvolution(_ input: Tensor, weight: Tensor, bias: Tensor?, padding: Padding2D) -> Tensor {
    let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let (outputChannels, kernelHeight, kernelWidth) = (weight.shape[0], weight.shape[2], weight.shape[3])
    let outputHeight = height + padding.top + padding.bottom - kernelHeight + 1
    let outputWidth = width + padding.left + padding.right - kernelWidth + 1
    var output = Tensor.zeros([batch, outputChannels, outputHeight, outputWidth])
    for n in 0..<batch {
        for k in 0..<outputChannels {
            for oh in 0..<outputHeight {
                for ow in 0..<outputWidth {
                    var sum = Double(bias?.scalars[k] ?? 0)
                    for c in 0..<channels {
                        for r in 0..<kernelHeight {
                            let ih = oh - padding.top + r
                            guard ih >= 0 && ih < height else { continue }
                            for s in 0..<kernelWidth {
                                let iw = ow - padding.left + s
                                guard iw >= 0 && iw < width else { continue }
                                sum += Double(weight.scalars[((k * channels + c) * kernelHeight + r) * kernelWidth + s])
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

/// The input gradient of `directLineConvolution` in Double: every output's gradient spread back
/// over the inputs its window read.
private func directLineBackwardInput(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], padding: Padding2D) -> Tensor {
    let (batch, channels, height, width) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
    let (outputChannels, kernelHeight, kernelWidth) = (weight.shape[0], weight.shape[2], weight.shape[3])
    let (outputHeight, outputWidth) = (gradOutput.shape[2], gradOutput.shape[3])
    var gradInput = [Double](repeating: 0, count: inputShape.reduce(1, *))
    for n in 0..<batch {
        for k in 0..<outputChannels {
            for oh in 0..<outputHeight {
                for ow in 0..<outputWidth {
                    let g = Double(gradOutput.scalars[((n * outputChannels + k) * outputHeight + oh) * outputWidth + ow])
                    for c in 0..<channels {
                        for r in 0..<kernelHeight {
                            let ih = oh - padding.top + r
                            guard ih >= 0 && ih < height else { continue }
                            for s in 0..<kernelWidth {
                                let iw = ow - padding.left + s
                                guard iw >= 0 && iw < width else { continue }
                                gradInput[((n * channels + c) * height + ih) * width + iw] +=
                                    g * Double(weight.scalars[((k * channels + c) * kernelHeight + r) * kernelWidth + s])
                            }
                        }
                    }
                }
            }
        }
    }
    return Tensor(shape: inputShape, scalars: gradInput.map(Float.init))
}

@Suite("Winograd F(4, r) along one axis")
struct LineWinogradConvolutionTests {
    @Test(arguments: LineWinogradCase.sweep)
    func forwardMatchesDirect(_ testCase: LineWinogradCase) {
        let input = randomTensor([testCase.batch, testCase.channels, testCase.height, testCase.width], seed: 71)
        let weight = randomTensor(testCase.weightShape, seed: 72)
        let bias = testCase.hasBias ? randomTensor([testCase.outputChannels], seed: 73) : nil
        let expected = directLineConvolution(input, weight: weight, bias: bias, padding: testCase.padding2D)
        for packed in [false, true] {
            let output = lineWinogradConvolution(input, filter: LineWinogradFilter(weight: weight, packed: packed), bias: bias, padding: testCase.padding2D)
            #expect(output.shape == expected.shape)
            assertClose(output, expected, rtol: 1e-4, atol: 2e-5)
            #expect(relativeL2Error(output, expected) < 1e-5)
        }
    }

    @Test(arguments: LineWinogradCase.sweep)
    func backwardInputMatchesDirectAndAdjoint(_ testCase: LineWinogradCase) {
        let input = randomTensor([testCase.batch, testCase.channels, testCase.height, testCase.width], seed: 81)
        let weight = randomTensor(testCase.weightShape, seed: 82)
        let output = directLineConvolution(input, weight: weight, bias: nil, padding: testCase.padding2D)
        let gradOutput = randomTensor(output.shape, seed: 83)
        let expected = directLineBackwardInput(gradOutput, weight: weight, inputShape: input.shape, padding: testCase.padding2D)
        for packed in [false, true] {
            let gradInput = lineWinogradConvolutionBackwardInput(
                gradOutput, filter: LineWinogradFilter(inputGradientOf: weight, packed: packed), padding: testCase.padding2D)
            #expect(gradInput.shape == input.shape)
            assertClose(gradInput, expected, rtol: 1e-4, atol: 2e-5)
            #expect(relativeL2Error(gradInput, expected) < 1e-5)
            // ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩, with the forward in Double.
            let left = weightedSum(output, gradOutput)
            let right = weightedSum(input, gradInput)
            #expect(abs(left - right) <= 1e-5 * max(1, abs(left)) * Double(input.count).squareRoot())
        }
    }

    @Test func fusedClampMatchesClampAfterwards() {
        let input = randomTensor([1, 8, 17, 17], seed: 91)
        var weight = randomTensor([12, 8, 1, 7], seed: 92)
        weight.scalars[3] = .nan  // output channel 0 becomes NaN everywhere: NaN stays NaN through the clamp
        let filter = LineWinogradFilter(weight: weight)
        let padding = Padding2D(top: 0, bottom: 0, left: 3, right: 3)
        let plain = lineWinogradConvolution(input, filter: filter, padding: padding)
        let clamped = lineWinogradConvolution(input, filter: filter, padding: padding, clampUpper: 0.5)
        for (value, result) in zip(plain.scalars, clamped.scalars) {
            if value.isNaN {
                #expect(result.isNaN)
            } else {
                #expect(result == min(max(value, 0), 0.5))
            }
        }
        #expect(plain.scalars[0].isNaN)
    }

    @Test func handComputableCase() {
        // The ramp 0…8 down one column convolved with the 3×1 kernel (1, 2, 3), padding 1:
        // y[h] = x[h − 1] + 2·x[h] + 3·x[h + 1] → [3, 8, 14, 20, 26, 32, 38, 44, 23], plus bias 1.
        let input = Tensor(shape: [1, 1, 9, 1], scalars: (0..<9).map(Float.init))
        let weight = Tensor(shape: [1, 1, 3, 1], scalars: [1, 2, 3])
        let output = lineWinogradConvolution(
            input, filter: LineWinogradFilter(weight: weight), bias: Tensor(shape: [1], scalars: [1]),
            padding: Padding2D(top: 1, bottom: 1, left: 0, right: 0))
        assertClose(output, Tensor(shape: [1, 1, 9, 1], scalars: [4, 9, 15, 21, 27, 33, 39, 45, 24]), rtol: 1e-6, atol: 1e-5)
    }

    @Test func realisticLayerAccuracy() {
        // Inception-v3-like 7×1 layer (64 channels, 17×17, ReLU-like non-negative input): the
        // relative L2 error vs the direct sum in Double stays at the Float32 level.
        var generator = SeededGenerator(seed: 97)
        let input = Tensor.uniform([1, 64, 17, 17], low: 0, high: 1, generator: &generator)
        let weight = Tensor.uniform([48, 64, 7, 1], low: -0.05, high: 0.05, generator: &generator)
        let padding = Padding2D(top: 3, bottom: 3, left: 0, right: 0)
        let output = lineWinogradConvolution(input, filter: LineWinogradFilter(weight: weight), padding: padding)
        let error = relativeL2Error(output, directLineConvolution(input, weight: weight, bias: nil, padding: padding))
        #expect(error < 1e-5, "relative L2 error \(error)")
    }
}
