import NMTensor
import NMTestSupport
import Testing

// Convolution as im2col + batched GEMM, checked against a direct nested-loop convolution.

/// One convolution configuration of the test sweeps.
struct ConvolutionCase: Sendable, CustomTestStringConvertible {
    var batch: Int
    var channels: Int
    var outputChannels: Int
    var groups: Int
    var geometry: ConvGeometry

    var testDescription: String {
        let g = geometry
        let p = g.padding
        return "N\(batch) C\(channels)→\(outputChannels) g\(groups) in \(g.inputHeight)×\(g.inputWidth) "
            + "k \(g.kernelHeight)×\(g.kernelWidth) s \(g.strideHeight),\(g.strideWidth) "
            + "pad (t\(p.top) b\(p.bottom) l\(p.left) r\(p.right)) d \(g.dilationHeight),\(g.dilationWidth) "
            + "→ \(g.outputHeight)×\(g.outputWidth)"
    }

    /// stride {1, 2} × padding {0, 1, (t0 b1 l1 r2)} × dilation {1, 2} × groups {1, 2, C} × batch
    /// {1, 2} on an odd 7×6 input with a 3×3 kernel, plus 1×1 and non-square kernels, unequal
    /// strides and dilations, and windows larger than the input (output size 0).
    static let sweep: [ConvolutionCase] = {
        var cases: [ConvolutionCase] = []
        let paddings = [Padding2D.zero, Padding2D(1), Padding2D(top: 0, bottom: 1, left: 1, right: 2)]
        for stride in [1, 2] {
            for padding in paddings {
                for dilation in [1, 2] {
                    for groups in [1, 2, 4] {
                        for batch in [1, 2] {
                            let geometry = ConvGeometry(
                                channels: 4, inputHeight: 7, inputWidth: 6, kernelHeight: 3, kernelWidth: 3,
                                strideHeight: stride, strideWidth: stride, padding: padding,
                                dilationHeight: dilation, dilationWidth: dilation)
                            cases.append(ConvolutionCase(batch: batch, channels: 4, outputChannels: 4, groups: groups, geometry: geometry))
                        }
                    }
                }
            }
        }
        // 1×1 kernels (stride 1 and 2, padded), a non-square kernel with unequal strides and
        // dilations, three input channels per group, and the empty-output edge cases.
        cases.append(ConvolutionCase(batch: 2, channels: 6, outputChannels: 5, groups: 1, geometry: ConvGeometry(
            channels: 6, inputHeight: 5, inputWidth: 7, kernelHeight: 1, kernelWidth: 1)))
        cases.append(ConvolutionCase(batch: 1, channels: 6, outputChannels: 4, groups: 2, geometry: ConvGeometry(
            channels: 6, inputHeight: 5, inputWidth: 7, kernelHeight: 1, kernelWidth: 1, strideHeight: 2, strideWidth: 2,
            padding: Padding2D(top: 1, bottom: 0, left: 0, right: 1))))
        cases.append(ConvolutionCase(batch: 2, channels: 6, outputChannels: 6, groups: 2, geometry: ConvGeometry(
            channels: 6, inputHeight: 9, inputWidth: 8, kernelHeight: 2, kernelWidth: 3, strideHeight: 2, strideWidth: 1,
            padding: Padding2D(top: 2, bottom: 0, left: 1, right: 1), dilationHeight: 1, dilationWidth: 2)))
        cases.append(ConvolutionCase(batch: 1, channels: 3, outputChannels: 2, groups: 1, geometry: ConvGeometry(
            channels: 3, inputHeight: 11, inputWidth: 13, kernelHeight: 5, kernelWidth: 5, strideHeight: 2, strideWidth: 2,
            padding: Padding2D(top: 1, bottom: 2, left: 1, right: 2))))
        cases.append(ConvolutionCase(batch: 2, channels: 2, outputChannels: 3, groups: 1, geometry: ConvGeometry(
            channels: 2, inputHeight: 2, inputWidth: 5, kernelHeight: 3, kernelWidth: 3)))  // OH = 0
        cases.append(ConvolutionCase(batch: 1, channels: 2, outputChannels: 2, groups: 2, geometry: ConvGeometry(
            channels: 2, inputHeight: 4, inputWidth: 4, kernelHeight: 3, kernelWidth: 3, dilationHeight: 3, dilationWidth: 3)))  // 0×0
        return cases
    }()
}

/// Direct cross-correlation with zero padding, accumulated in Double:
/// `output[n, o, oh, ow] = Σ_{c in group(o), kh, kw} weight[o, c − group start, kh, kw] · input[n, c, ih, iw]`.
/// - Parameters: input `[N, C, H, W]`, weight `[OC, C/groups, KH, KW]`.
func referenceConvolution(_ input: Tensor, weight: Tensor, geometry g: ConvGeometry, groups: Int) -> Tensor {
    let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let outputChannels = weight.shape[0]
    let (channelsPerGroup, outputsPerGroup) = (channels / groups, outputChannels / groups)
    var output = Tensor.zeros([batch, outputChannels, g.outputHeight, g.outputWidth])
    for n in 0..<batch {
        for o in 0..<outputChannels {
            let group = o / outputsPerGroup
            for oh in 0..<g.outputHeight {
                for ow in 0..<g.outputWidth {
                    var sum = 0.0
                    for c in 0..<channelsPerGroup {
                        for kh in 0..<g.kernelHeight {
                            for kw in 0..<g.kernelWidth {
                                let ih = oh * g.strideHeight - g.padding.top + kh * g.dilationHeight
                                let iw = ow * g.strideWidth - g.padding.left + kw * g.dilationWidth
                                guard ih >= 0 && ih < height && iw >= 0 && iw < width else { continue }
                                sum += Double(weight[o, c, kh, kw]) * Double(input[n, group * channelsPerGroup + c, ih, iw])
                            }
                        }
                    }
                    output[n, o, oh, ow] = Float(sum)
                }
            }
        }
    }
    return output
}

/// Convolution as im2col + one batched GEMM: weight `[g, OC/g, K]` × columns `[N, g, K, L]`
/// → `[N, g, OC/g, L]`, with K = C/g·KH·KW and L = OH·OW; reshapes only, no copies.
func im2colConvolution(_ input: Tensor, weight: Tensor, geometry: ConvGeometry, groups: Int) -> Tensor {
    let batch = input.shape[0]
    let outputChannels = weight.shape[0]
    let k = geometry.columnRows / groups
    let columns = im2col(input, geometry: geometry).reshaped([batch, groups, k, geometry.columnCount])
    let product = matmul(weight.reshaped([groups, outputChannels / groups, k]), columns)
    return product.reshaped([batch, outputChannels, geometry.outputHeight, geometry.outputWidth])
}

/// ⟨a, b⟩ accumulated in Double.
func doubleInnerProduct(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape, "doubleInnerProduct: \(a.shape) vs \(b.shape)")
    var sum = 0.0
    for (x, y) in zip(a.scalars, b.scalars) { sum += Double(x) * Double(y) }
    return sum
}

@Suite struct ConvolutionTests {
    @Test(arguments: ConvolutionCase.sweep)
    func im2colGEMMConvolutionMatchesDirectLoops(_ testCase: ConvolutionCase) {
        let g = testCase.geometry
        let input = randomTensor([testCase.batch, testCase.channels, g.inputHeight, g.inputWidth], seed: 11)
        let weight = randomTensor([testCase.outputChannels, testCase.channels / testCase.groups, g.kernelHeight, g.kernelWidth], seed: 12)
        let actual = im2colConvolution(input, weight: weight, geometry: g, groups: testCase.groups)
        let expected = referenceConvolution(input, weight: weight, geometry: g, groups: testCase.groups)
        #expect(actual.shape == [testCase.batch, testCase.outputChannels, g.outputHeight, g.outputWidth])
        assertClose(actual, expected, rtol: 1e-5, atol: 1e-5)
    }

    @Test func outputSizesFollowPyTorch() {
        // ResNet-50 stem: 224, k 7, s 2, pad 3 → 112; its max pool: 112, k 3, s 2, pad 1 → 56.
        #expect(ConvGeometry(channels: 3, inputHeight: 224, inputWidth: 224, kernelHeight: 7, kernelWidth: 7,
                             strideHeight: 2, strideWidth: 2, padding: Padding2D(3)).outputHeight == 112)
        #expect(ConvGeometry(channels: 64, inputHeight: 112, inputWidth: 112, kernelHeight: 3, kernelWidth: 3,
                             strideHeight: 2, strideWidth: 2, padding: Padding2D(1)).outputWidth == 56)
        // Inception-v3 stem: 299, k 3, s 2, no pad → 149; dilation 2 on 7 with k 3 → 3.
        #expect(ConvGeometry(channels: 3, inputHeight: 299, inputWidth: 299, kernelHeight: 3, kernelWidth: 3,
                             strideHeight: 2, strideWidth: 2).outputHeight == 149)
        #expect(ConvGeometry(channels: 1, inputHeight: 7, inputWidth: 7, kernelHeight: 3, kernelWidth: 3,
                             dilationHeight: 2, dilationWidth: 2).outputHeight == 3)
    }

    @Test func tensorFlowSamePaddingOnHandWorkedCases() {
        // 224, k 3, s 2: output 112, total (112−1)·2 + 3 − 224 = 1 → (0, 1).
        #expect(Padding2D.tensorFlowSame(input: 224, kernel: 3, stride: 2) == (0, 1))
        // 224, k 5, s 2: total 111·2 + 5 − 224 = 3 → (1, 2).
        #expect(Padding2D.tensorFlowSame(input: 224, kernel: 5, stride: 2) == (1, 2))
        // 7, k 3, s 1: total 6 + 3 − 7 = 2 → (1, 1).
        #expect(Padding2D.tensorFlowSame(input: 7, kernel: 3, stride: 1) == (1, 1))
        // 14, k 5, s 2 (EfficientNet-Lite0 stage 6): total 6·2 + 5 − 14 = 3 → (1, 2).
        #expect(Padding2D.tensorFlowSame(input: 14, kernel: 5, stride: 2) == (1, 2))
        // The padded geometry then gives ceil(input / stride) outputs.
        let (before, after) = Padding2D.tensorFlowSame(input: 224, kernel: 3, stride: 2)
        let geometry = ConvGeometry(
            channels: 1, inputHeight: 224, inputWidth: 224, kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
            padding: Padding2D(top: before, bottom: after, left: before, right: after))
        #expect(geometry.outputHeight == 112 && geometry.outputWidth == 112)
    }

    @Test func tensorFlowSamePaddedConvolutionPutsTheExtraRowAtTheBottom() {
        // 1×1×4×4 input of ones, 3×3 kernel of ones, stride 2, SAME → pad (0, 1): output 2×2.
        // Window (0,0) covers rows/cols 0…2 (9 ones); window (1,1) covers rows/cols 2…4 with
        // row/col 4 in the padding (4 ones); mixed windows see 6.
        let (before, after) = Padding2D.tensorFlowSame(input: 4, kernel: 3, stride: 2)
        let geometry = ConvGeometry(
            channels: 1, inputHeight: 4, inputWidth: 4, kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
            padding: Padding2D(top: before, bottom: after, left: before, right: after))
        let output = im2colConvolution(Tensor.ones([1, 1, 4, 4]), weight: Tensor.ones([1, 1, 3, 3]), geometry: geometry, groups: 1)
        #expect(output == Tensor(shape: [1, 1, 2, 2], scalars: [9, 6, 6, 4]))
    }
}
