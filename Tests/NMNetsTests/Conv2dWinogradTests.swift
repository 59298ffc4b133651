import NMNets
import NMTensor
import NMTestSupport
import Testing

// Conv2d's Winograd paths (3×3, stride 1, ≥ 16 channels, ≥ 16 tiles of 4×4; r×1 and 1×r with ≥ 16
// tiles of 4 outputs) against the im2col + GEMM
// computation its other path does, including the weight gradient and the cached filter transform.
// (These tests do not toggle `Conv2d.isWinogradEnabled`: tests run concurrently. Under
// NEUROMASK_WINOGRAD=0 they still pass, then checking the im2col path against itself.)

/// im2col + GEMM forward: what Conv2d computes without Winograd.
private func im2colForward(_ input: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) -> Tensor {
    let (batch, outputChannels) = (input.shape[0], weight.shape[0])
    let columns = im2col(input, geometry: geometry)  // [N, C·9, OH·OW]
    var output = matmul(weight.reshaped([outputChannels, geometry.columnRows]), columns)  // [N, K, OH·OW]
    if let bias { output = output + bias.reshaped([1, outputChannels, 1]) }
    return output.reshaped([batch, outputChannels, geometry.outputHeight, geometry.outputWidth])
}

/// im2col + GEMM gradients: ∂/∂input = col2im(Wᵀ·g), ∂/∂W = Σ_n g·columnsᵀ, ∂/∂b = Σ g.
private func im2colBackward(_ gradOutput: Tensor, input: Tensor, weight: Tensor, geometry: ConvGeometry)
    -> (gradInput: Tensor, gradWeight: Tensor, gradBias: Tensor)
{
    let (batch, outputChannels) = (gradOutput.shape[0], gradOutput.shape[1])
    let gradFlat = gradOutput.reshaped([batch, outputChannels, geometry.columnCount])
    let gradColumns = matmul(weight.reshaped([outputChannels, geometry.columnRows]), gradFlat, transposeA: true)
    let gradInput = col2im(gradColumns, geometry: geometry)
    var gradWeight = Tensor.zeros([outputChannels, geometry.columnRows])
    gemm(gradFlat, im2col(input, geometry: geometry), into: &gradWeight, transposeB: true)
    var gradBias = Tensor.zeros([outputChannels])
    for n in 0..<batch {
        for k in 0..<outputChannels {
            for index in 0..<geometry.columnCount {
                gradBias.scalars[k] += gradFlat.scalars[(n * outputChannels + k) * geometry.columnCount + index]
            }
        }
    }
    return (gradInput, gradWeight.reshaped(weight.shape), gradBias)
}

@Suite("Conv2d Winograd path")
struct Conv2dWinogradTests {
    /// (batch, channels in, channels out, height, width, padding): all Winograd-eligible.
    static let cases: [(Int, Int, Int, Int, Int, ConvolutionPadding)] = [
        (1, 16, 24, 29, 31, .symmetric(1)),  // 8×8 tiles
        (2, 20, 16, 13, 27, .explicit(Padding2D(top: 0, bottom: 2, left: 2, right: 1))),  // 2 × 4×7 tiles
        (1, 16, 16, 28, 28, .tensorFlowSame),  // 7×7 tiles
        (2, 16, 32, 30, 30, .symmetric(0)),  // 2 × 7×7 tiles
    ]

    @Test(arguments: 0..<cases.count)
    func forwardAndBackwardMatchIm2col(caseIndex: Int) {
        let (batch, channels, outputChannels, height, width, padding) = Self.cases[caseIndex]
        let weight = randomTensor([outputChannels, channels, 3, 3], seed: 51) * 0.1
        let bias = randomTensor([outputChannels], seed: 52)
        let conv = Conv2d(weight: weight, bias: bias, padding: padding)
        let geometry = conv.geometry(inputHeight: height, inputWidth: width)
        let input = randomTensor([batch, channels, height, width], seed: 53)

        let (output, cache) = conv.forward(input)
        #expect(cache.isWinograd == Conv2d.isWinogradEnabled, "the case must take the Winograd path")
        let expected = im2colForward(input, weight: weight, bias: bias, geometry: geometry)
        #expect(relativeL2Error(output, expected) < 1e-5)
        assertClose(output, expected, rtol: 1e-4, atol: 1e-5)

        let gradOutput = randomTensor(output.shape, seed: 54)
        let (gradInput, gradLayer) = conv.backward(gradOutput, cache: cache, parameterGradients: true)
        let reference = im2colBackward(gradOutput, input: input, weight: weight, geometry: geometry)
        #expect(relativeL2Error(gradInput, reference.gradInput) < 1e-5)
        assertClose(gradInput, reference.gradInput, rtol: 1e-4, atol: 1e-5)
        assertClose(gradLayer!.weight, reference.gradWeight, rtol: 1e-4, atol: 1e-4)
        assertClose(gradLayer!.bias!, reference.gradBias, rtol: 1e-4, atol: 1e-4)

        // Without parameter gradients the input gradient is the same.
        let (gradInputOnly, noLayer) = conv.backward(gradOutput, cache: cache, parameterGradients: false)
        #expect(noLayer == nil)
        #expect(gradInputOnly.scalars == gradInput.scalars)
    }

    /// (weight shape, batch, input height and width, padding): r×1 and 1×r kernels, all eligible
    /// for one-dimensional Winograd (Inception-v3's 7×1, 1×7 at 17×17, 3×1 and 1×3 at 8×8, batch
    /// 2), and kernels that take it on unfolded rows (Inception-v3's 5×5 at 35×35 and 3×3 at 8×8,
    /// a 5×3 kernel with asymmetric padding).
    static let lineCases: [([Int], Int, Int, Int, ConvolutionPadding)] = [
        ([24, 16, 7, 1], 1, 17, 17, .explicit(Padding2D(top: 3, bottom: 3, left: 0, right: 0))),
        ([16, 20, 1, 7], 1, 17, 17, .explicit(Padding2D(top: 0, bottom: 0, left: 3, right: 3))),
        ([16, 16, 3, 1], 2, 8, 8, .explicit(Padding2D(top: 1, bottom: 1, left: 0, right: 0))),
        ([20, 16, 1, 3], 1, 9, 13, .explicit(Padding2D(top: 0, bottom: 0, left: 2, right: 0))),
        ([16, 16, 5, 5], 1, 14, 14, .symmetric(2)),
        ([24, 16, 3, 3], 1, 8, 8, .symmetric(1)),
        ([16, 20, 5, 3], 2, 9, 11, .explicit(Padding2D(top: 1, bottom: 3, left: 2, right: 0))),
    ]

    @Test(arguments: 0..<lineCases.count)
    func lineKernelsMatchIm2col(caseIndex: Int) {
        let (weightShape, batch, height, width, padding) = Self.lineCases[caseIndex]
        let weight = randomTensor(weightShape, seed: 55) * 0.1
        let bias = randomTensor([weightShape[0]], seed: 56)
        let conv = Conv2d(weight: weight, bias: bias, padding: padding)
        let geometry = conv.geometry(inputHeight: height, inputWidth: width)
        let input = randomTensor([batch, weightShape[1], height, width], seed: 57)

        let (output, cache) = conv.forward(input)
        #expect(cache.isWinograd == Conv2d.isWinogradEnabled, "the case must take the Winograd path")
        let expected = im2colForward(input, weight: weight, bias: bias, geometry: geometry)
        #expect(relativeL2Error(output, expected) < 1e-5)
        // Fused with relu6, the clamp is applied as the output transform stores.
        let fused = conv.forward(input, fusing: .relu6).output
        #expect(fused.scalars == output.scalars.map { min(max($0, 0), 6) })

        let gradOutput = randomTensor(output.shape, seed: 58)
        let (gradInput, gradLayer) = conv.backward(gradOutput, cache: cache, parameterGradients: true)
        let reference = im2colBackward(gradOutput, input: input, weight: weight, geometry: geometry)
        #expect(relativeL2Error(gradInput, reference.gradInput) < 1e-5)
        assertClose(gradLayer!.weight, reference.gradWeight, rtol: 1e-4, atol: 1e-4)
    }

    /// Where Winograd was measured slower, im2col + GEMM is kept: fewer than 16 tiles (a 7×7
    /// output: 4 tiles of 4×4, 14 of 4 along its rows), fewer than 16 channels, stride 2. A 14×14
    /// output (16 tiles) takes Winograd.
    @Test func winogradOnlyWhereItPays() {
        let wide = Conv2d(weight: randomTensor([32, 32, 3, 3], seed: 65), bias: nil, padding: .symmetric(1))
        #expect(!wide.forward(randomTensor([1, 32, 7, 7], seed: 66)).cache.isWinograd)
        #expect(wide.forward(randomTensor([1, 32, 14, 14], seed: 67)).cache.isWinograd == Conv2d.isWinogradEnabled)
        #expect(wide.forward(randomTensor([4, 32, 7, 7], seed: 68)).cache.isWinograd == Conv2d.isWinogradEnabled)  // 4 × 4 tiles
        let narrow = Conv2d(weight: randomTensor([8, 32, 3, 3], seed: 69), bias: nil, padding: .symmetric(1))
        #expect(!narrow.forward(randomTensor([1, 32, 28, 28], seed: 70)).cache.isWinograd)
        let strided = Conv2d(weight: randomTensor([32, 32, 3, 3], seed: 71), bias: nil, stride: 2, padding: .symmetric(1))
        #expect(!strided.forward(randomTensor([1, 32, 56, 56], seed: 72)).cache.isWinograd)
        // One-dimensional kernels: not with padding across the axis, nor with fewer than 16 tiles.
        let paddedAcross = Conv2d(weight: randomTensor([32, 32, 1, 7], seed: 73), bias: nil, padding: .symmetric(3))
        #expect(!paddedAcross.forward(randomTensor([1, 32, 17, 17], seed: 74)).cache.isWinograd)
        let line = Conv2d(weight: randomTensor([32, 32, 7, 1], seed: 75), bias: nil, padding: .explicit(Padding2D(top: 3, bottom: 3, left: 0, right: 0)))
        #expect(!line.forward(randomTensor([1, 32, 4, 3], seed: 76)).cache.isWinograd)  // 1 tile × 3 lines
        #expect(line.forward(randomTensor([1, 32, 17, 4], seed: 77)).cache.isWinograd == Conv2d.isWinogradEnabled)  // 5 × 4
    }

    @Test func changedWeightsAreNotServedFromTheCache() {
        // The layer caches its weight transforms; a weight changed in place, a copy of the layer
        // with other weights, and alternating between them must each use their own weights.
        // 28×28: 49 tiles, so the Winograd path (and its cache) is taken.
        let geometry = ConvGeometry(channels: 16, inputHeight: 28, inputWidth: 28, kernelHeight: 3, kernelWidth: 3, padding: Padding2D(1))
        let input = randomTensor([1, 16, 28, 28], seed: 61)
        let gradOutput = randomTensor([1, 16, 28, 28], seed: 62)
        var conv = Conv2d(weight: randomTensor([16, 16, 3, 3], seed: 63), bias: nil, padding: .symmetric(1))
        _ = conv.backward(gradOutput, cache: conv.forward(input).cache, parameterGradients: false)

        conv.weight.scalars[5] += 1  // in place: the cache must notice
        var other = conv  // shares the cache object
        other.weight = randomTensor([16, 16, 3, 3], seed: 64)
        for layer in [conv, other, conv, other] {
            let (output, cache) = layer.forward(input)
            #expect(cache.isWinograd == Conv2d.isWinogradEnabled, "the case must take the Winograd path")
            #expect(relativeL2Error(output, im2colForward(input, weight: layer.weight, bias: nil, geometry: geometry)) < 1e-5)
            let gradInput = layer.backward(gradOutput, cache: cache, parameterGradients: false).gradInput
            let expected = im2colBackward(gradOutput, input: input, weight: layer.weight, geometry: geometry).gradInput
            #expect(relativeL2Error(gradInput, expected) < 1e-5)
        }
    }
}
