import NMTensor
import NMTestSupport
import Testing

/// A pooling configuration: the windows of ResNet (3×3 s2 pad 1), Inception-v3 (3×3 s2, 3×3 s1
/// pad 1 average), VGG (2×2 s2), plus asymmetric padding, dilation and odd sizes.
struct PoolingCase: Sendable, CustomTestStringConvertible {
    var batch: Int
    var geometry: ConvGeometry

    var testDescription: String {
        let g = geometry
        return "N\(batch) C\(g.channels) in \(g.inputHeight)×\(g.inputWidth) k \(g.kernelHeight)×\(g.kernelWidth) "
            + "s \(g.strideHeight),\(g.strideWidth) pad (t\(g.padding.top) b\(g.padding.bottom) l\(g.padding.left) r\(g.padding.right)) "
            + "d \(g.dilationHeight),\(g.dilationWidth)"
    }

    static func make(
        batch: Int = 2, channels: Int = 3, height: Int, width: Int, kernel: Int, stride: Int,
        padding: Padding2D = .zero, dilation: Int = 1
    ) -> PoolingCase {
        PoolingCase(batch: batch, geometry: ConvGeometry(
            channels: channels, inputHeight: height, inputWidth: width, kernelHeight: kernel, kernelWidth: kernel,
            strideHeight: stride, strideWidth: stride, padding: padding, dilationHeight: dilation, dilationWidth: dilation))
    }

    static let sweep: [PoolingCase] = [
        .make(height: 9, width: 8, kernel: 3, stride: 2, padding: Padding2D(1)),  // ResNet max pool
        .make(height: 11, width: 11, kernel: 3, stride: 2),  // Inception-v3 max pool
        .make(height: 7, width: 9, kernel: 3, stride: 1, padding: Padding2D(1)),  // Inception-v3 branch average pool
        .make(batch: 1, height: 8, width: 6, kernel: 2, stride: 2),  // VGG
        .make(batch: 1, height: 7, width: 7, kernel: 2, stride: 2),  // VGG on an odd size: last row/column dropped
        .make(height: 8, width: 7, kernel: 3, stride: 2, padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1)),
        .make(height: 9, width: 9, kernel: 2, stride: 1, padding: Padding2D(1), dilation: 2),
        .make(batch: 1, channels: 2, height: 2, width: 5, kernel: 3, stride: 1),  // OH = 0
        .make(channels: 16, height: 30, width: 28, kernel: 3, stride: 2, padding: Padding2D(1)),  // split across threads
        // Wide rows: long vectorised inner loops plus their edges.
        .make(batch: 1, height: 5, width: 37, kernel: 3, stride: 1, padding: Padding2D(1)),
        .make(batch: 1, height: 6, width: 40, kernel: 3, stride: 2),
        .make(batch: 1, height: 4, width: 36, kernel: 2, stride: 2),
        .make(batch: 1, height: 7, width: 30, kernel: 3, stride: 1, padding: Padding2D(2), dilation: 2),
        // Column stride 1 with another row stride, a non-square kernel and asymmetric padding
        // (the average pool's register-sum path).
        PoolingCase(batch: 2, geometry: ConvGeometry(
            channels: 3, inputHeight: 9, inputWidth: 19, kernelHeight: 2, kernelWidth: 3, strideHeight: 2, strideWidth: 1,
            padding: Padding2D(top: 1, bottom: 0, left: 2, right: 1))),
        .make(channels: 40, height: 17, width: 17, kernel: 3, stride: 1, padding: Padding2D(1)),  // Inception 17×17, split across threads
        // Inception-v3's unpadded 3×3 stride-2 pools on rows wide enough for 8 windows at a time,
        // odd and even widths (vector groups plus a scalar tail).
        .make(batch: 1, height: 35, width: 37, kernel: 3, stride: 2),
        .make(height: 20, width: 40, kernel: 3, stride: 2),
    ]
}

/// The (row, column) positions a pooling window at (oh, ow) reads inside the input, in
/// (kernel row, kernel column) order.
private func windowPositions(_ g: ConvGeometry, _ oh: Int, _ ow: Int) -> [(Int, Int)] {
    var positions: [(Int, Int)] = []
    for kh in 0..<g.kernelHeight {
        for kw in 0..<g.kernelWidth {
            let ih = oh * g.strideHeight - g.padding.top + kh * g.dilationHeight
            let iw = ow * g.strideWidth - g.padding.left + kw * g.dilationWidth
            if ih >= 0 && ih < g.inputHeight && iw >= 0 && iw < g.inputWidth { positions.append((ih, iw)) }
        }
    }
    return positions
}

/// Max pooling by its definition: the first largest in-range element of each window.
private func referenceMaxPool(_ input: Tensor, geometry g: ConvGeometry) -> (output: Tensor, argmax: [Int32]) {
    let batch = input.shape[0]
    var output = Tensor.zeros([batch, g.channels, g.outputHeight, g.outputWidth])
    var argmax: [Int32] = []
    for n in 0..<batch {
        for c in 0..<g.channels {
            for oh in 0..<g.outputHeight {
                for ow in 0..<g.outputWidth {
                    var best = -Float.infinity
                    var bestIndex = -1
                    for (ih, iw) in windowPositions(g, oh, ow) where bestIndex < 0 || input[n, c, ih, iw] > best {
                        best = input[n, c, ih, iw]
                        bestIndex = ih * g.inputWidth + iw
                    }
                    output[n, c, oh, ow] = best
                    argmax.append(Int32(bestIndex))
                }
            }
        }
    }
    return (output, argmax)
}

/// The max-pool gradient by its definition: each output gradient added, in output order, to the
/// input element its window's `argmax` names (−1: none).
private func referenceMaxPoolBackward(_ gradOutput: Tensor, argmax: [Int32], geometry g: ConvGeometry) -> Tensor {
    let batch = gradOutput.shape[0]
    var gradInput = Tensor.zeros([batch, g.channels, g.inputHeight, g.inputWidth])
    let outputPlane = g.outputHeight * g.outputWidth
    let inputPlane = g.inputHeight * g.inputWidth
    for (outputIndex, winner) in argmax.enumerated() where winner >= 0 {
        gradInput.scalars[(outputIndex / outputPlane) * inputPlane + Int(winner)] += gradOutput.scalars[outputIndex]
    }
    return gradInput
}

/// Average pooling by its definition, in Double.
private func referenceAveragePool(_ input: Tensor, geometry g: ConvGeometry, countIncludePadding: Bool) -> Tensor {
    let batch = input.shape[0]
    var output = Tensor.zeros([batch, g.channels, g.outputHeight, g.outputWidth])
    for n in 0..<batch {
        for c in 0..<g.channels {
            for oh in 0..<g.outputHeight {
                for ow in 0..<g.outputWidth {
                    let positions = windowPositions(g, oh, ow)
                    let sum = positions.reduce(0.0) { $0 + Double(input[n, c, $1.0, $1.1]) }
                    let divisor = countIncludePadding ? g.kernelHeight * g.kernelWidth : positions.count
                    output[n, c, oh, ow] = divisor == 0 ? 0 : Float(sum / Double(divisor))
                }
            }
        }
    }
    return output
}

/// Central differences of `loss` at `input`, one element at a time.
private func numericGradient(_ input: Tensor, epsilon: Float, _ loss: (Tensor) -> Double) -> Tensor {
    var gradient = Tensor.zeros(input.shape)
    for index in 0..<input.count {
        var plus = input, minus = input
        plus.scalars[index] += epsilon
        minus.scalars[index] -= epsilon
        gradient.scalars[index] = Float((loss(plus) - loss(minus)) / Double(2 * epsilon))
    }
    return gradient
}

/// A seeded shuffle of 0.1·(0 ..< count) − 0.1·count/2: distinct values 0.1 apart, so max-pool
/// winners do not change under a perturbation smaller than 0.05.
private func distinctValues(_ shape: [Int], seed: UInt64) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    let count = shape.reduce(1, *)
    let values = (0..<count).map { 0.1 * Float($0 - count / 2) }.shuffled(using: &generator)
    return Tensor(shape: shape, scalars: values)
}

@Suite struct PoolingTests {
    @Test(arguments: PoolingCase.sweep)
    func maxPoolMatchesDefinition(_ testCase: PoolingCase) {
        let g = testCase.geometry
        let input = randomTensor([testCase.batch, g.channels, g.inputHeight, g.inputWidth], seed: 51)
        let output = maxPool2D(input, geometry: g)
        let expected = referenceMaxPool(input, geometry: g)
        #expect(output == expected.output)
        let probe = randomTensor(output.shape, seed: 59)
        let gradInput = maxPool2DBackward(probe, input: input, output: output, geometry: g)
        #expect(gradInput == referenceMaxPoolBackward(probe, argmax: expected.argmax, geometry: g))
    }

    @Test(arguments: PoolingCase.sweep)
    func maxPoolBackwardRoutesTiesToTheFirstMaximum(_ testCase: PoolingCase) {
        // Values from {0, 1, 2} without NaN (many ties; such planes take the fast kernels where
        // they apply): each gradient goes to the first maximum of its window.
        let g = testCase.geometry
        var generator = SeededGenerator(seed: 55)
        let shape = [testCase.batch, g.channels, g.inputHeight, g.inputWidth]
        let input = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float(Int.random(in: 0..<3, using: &generator)) })
        let output = maxPool2D(input, geometry: g)
        let expected = referenceMaxPool(input, geometry: g)
        #expect(output == expected.output)
        let probe = randomTensor(output.shape, seed: 61)
        let gradInput = maxPool2DBackward(probe, input: input, output: output, geometry: g)
        #expect(gradInput == referenceMaxPoolBackward(probe, argmax: expected.argmax, geometry: g), "\(testCase)")
    }

    @Test(arguments: PoolingCase.sweep)
    func maxPoolKeepsTieAndNaNRulesOnWideRows(_ testCase: PoolingCase) {
        // Values from {0, 1, 2} (many ties) with some NaNs: the first maximum of a window wins,
        // and the first NaN wins for good (such planes take the exact, NaN-aware loop).
        let g = testCase.geometry
        let count = testCase.batch * g.channels * g.inputHeight * g.inputWidth
        var generator = SeededGenerator(seed: 54)
        let scalars = (0..<count).map { _ -> Float in
            let draw = Int.random(in: 0..<40, using: &generator)
            return draw == 0 ? .nan : Float(draw % 3)
        }
        let input = Tensor(shape: [testCase.batch, g.channels, g.inputHeight, g.inputWidth], scalars: scalars)
        let output = maxPool2D(input, geometry: g)
        var expectedArgmax: [Int32] = []
        for n in 0..<testCase.batch {
            for c in 0..<g.channels {
                for oh in 0..<g.outputHeight {
                    for ow in 0..<g.outputWidth {
                        var best = -Float.infinity
                        var bestIndex = -1
                        for (ih, iw) in windowPositions(g, oh, ow) {
                            let value = input[n, c, ih, iw]
                            if bestIndex < 0 || (!best.isNaN && (value > best || value.isNaN)) {
                                best = value
                                bestIndex = ih * g.inputWidth + iw
                            }
                        }
                        let found = output[n, c, oh, ow]
                        #expect(found == best || (found.isNaN && best.isNaN), "\(testCase) at \(n),\(c),\(oh),\(ow)")
                        expectedArgmax.append(Int32(bestIndex))
                    }
                }
            }
        }
        // The backward pass finds the same winners: the first maximum, or the first NaN.
        let probe = randomTensor(output.shape, seed: 60)
        let gradInput = maxPool2DBackward(probe, input: input, output: output, geometry: g)
        #expect(gradInput == referenceMaxPoolBackward(probe, argmax: expectedArgmax, geometry: g), "\(testCase)")
    }

    @Test(arguments: PoolingCase.sweep)
    func maxPoolBackwardMatchesFiniteDifferences(_ testCase: PoolingCase) {
        let g = testCase.geometry
        guard testCase.batch * g.channels * g.inputHeight * g.inputWidth <= 800 else { return }  // keep the loop small
        let input = distinctValues([testCase.batch, g.channels, g.inputHeight, g.inputWidth], seed: 52)
        let probe = randomTensor([testCase.batch, g.channels, g.outputHeight, g.outputWidth], seed: 53)
        let gradInput = maxPool2DBackward(probe, input: input, output: maxPool2D(input, geometry: g), geometry: g)
        let numeric = numericGradient(input, epsilon: 0.01) { doubleInnerProduct(maxPool2D($0, geometry: g), probe) }
        assertClose(gradInput, numeric, rtol: 1e-3, atol: 1e-3)
    }

    @Test(arguments: PoolingCase.sweep, [true, false])
    func averagePoolMatchesDefinition(_ testCase: PoolingCase, countIncludePadding: Bool) {
        let g = testCase.geometry
        let input = randomTensor([testCase.batch, g.channels, g.inputHeight, g.inputWidth], seed: 54)
        let output = averagePool2D(input, geometry: g, countIncludePadding: countIncludePadding)
        assertClose(output, referenceAveragePool(input, geometry: g, countIncludePadding: countIncludePadding), rtol: 1e-5, atol: 1e-6)
    }

    @Test(arguments: PoolingCase.sweep, [true, false])
    func averagePoolBackwardMatchesFiniteDifferences(_ testCase: PoolingCase, countIncludePadding: Bool) {
        let g = testCase.geometry
        guard testCase.batch * g.channels * g.inputHeight * g.inputWidth <= 800 else { return }
        let input = randomTensor([testCase.batch, g.channels, g.inputHeight, g.inputWidth], seed: 55)
        let probe = randomTensor([testCase.batch, g.channels, g.outputHeight, g.outputWidth], seed: 56)
        let gradInput = averagePool2DBackward(probe, geometry: g, countIncludePadding: countIncludePadding)
        let numeric = numericGradient(input, epsilon: 0.05) {
            doubleInnerProduct(averagePool2D($0, geometry: g, countIncludePadding: countIncludePadding), probe)
        }
        assertClose(gradInput, numeric, rtol: 1e-3, atol: 1e-4)
    }

    @Test(arguments: PoolingCase.sweep)
    func backwardPassesAreAdjointsOnLargeInputs(_ testCase: PoolingCase) {
        // Every case, including those too large for finite differences: the max-pool backward
        // routes each output gradient to exactly one input (Σ gradInput = Σ gradOutput), and
        // average pooling is linear with its backward as adjoint: ⟨avg(x), r⟩ = ⟨x, avgBackward(r)⟩.
        let g = testCase.geometry
        let input = randomTensor([testCase.batch, g.channels, g.inputHeight, g.inputWidth], seed: 57)
        let probe = randomTensor([testCase.batch, g.channels, g.outputHeight, g.outputWidth], seed: 58)
        let gradInput = maxPool2DBackward(probe, input: input, output: maxPool2D(input, geometry: g), geometry: g)
        let total = gradInput.scalars.reduce(0.0) { $0 + Double($1) }
        let expectedTotal = probe.scalars.reduce(0.0) { $0 + Double($1) }
        #expect(abs(total - expectedTotal) <= 1e-4 * max(1, abs(expectedTotal)))
        for countIncludePadding in [true, false] {
            let lhs = doubleInnerProduct(averagePool2D(input, geometry: g, countIncludePadding: countIncludePadding), probe)
            let rhs = doubleInnerProduct(input, averagePool2DBackward(probe, geometry: g, countIncludePadding: countIncludePadding))
            #expect(abs(lhs - rhs) <= 1e-4 * max(1, abs(lhs)), "countIncludePadding \(countIncludePadding): \(lhs) vs \(rhs)")
        }
    }

    @Test func handWorkedPaddedAveragePool() {
        // 2×2 image [1 2; 3 4], 2×2 window, stride 1, pad 1 → 3×3 output. The corner window holds
        // only the 1: 1/4 with padding counted, 1/1 without; the centre holds all four: 10/4.
        let input = Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4])
        let g = ConvGeometry(channels: 1, inputHeight: 2, inputWidth: 2, kernelHeight: 2, kernelWidth: 2, padding: Padding2D(1))
        let counted = averagePool2D(input, geometry: g)
        #expect(counted == Tensor(shape: [1, 1, 3, 3], scalars: [0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1]))
        let uncounted = averagePool2D(input, geometry: g, countIncludePadding: false)
        #expect(uncounted == Tensor(shape: [1, 1, 3, 3], scalars: [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]))
    }

    @Test func maxPoolTiesGoToTheFirstTapAndNaNPropagates() {
        let g = ConvGeometry(channels: 1, inputHeight: 2, inputWidth: 4, kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2)
        let input = Tensor(shape: [1, 1, 2, 4], scalars: [5, 5, 1, .nan, 5, 5, 9, 2])
        let output = maxPool2D(input, geometry: g)
        #expect(output.scalars[0] == 5 && output.scalars[1].isNaN)
        // The 5 at (0, 0) and the NaN at (0, 3) win their windows.
        let gradInput = maxPool2DBackward(Tensor(shape: [1, 1, 1, 2], scalars: [1, 2]), input: input, output: output, geometry: g)
        #expect(gradInput == Tensor(shape: [1, 1, 2, 4], scalars: [1, 0, 0, 2, 0, 0, 0, 0]))
        // Without the NaN the plane takes the fast path: the first 5 still wins, 9 the other window.
        let finite = Tensor(shape: [1, 1, 2, 4], scalars: [5, 5, 1, 3, 5, 5, 9, 2])
        let finiteOutput = maxPool2D(finite, geometry: g)
        #expect(finiteOutput.scalars == [5, 9])
        let finiteGrad = maxPool2DBackward(Tensor(shape: [1, 1, 1, 2], scalars: [1, 2]), input: finite, output: finiteOutput, geometry: g)
        #expect(finiteGrad == Tensor(shape: [1, 1, 2, 4], scalars: [1, 0, 0, 0, 0, 0, 2, 0]))
    }

    @Test func globalAveragePoolAndItsGradient() {
        let input = randomTensor([2, 3, 5, 4], seed: 59)
        let output = globalAveragePool(input)
        #expect(output.shape == [2, 3, 1, 1])
        for plane in 0..<6 {
            let mean = input.scalars[(plane * 20)..<(plane * 20 + 20)].reduce(0.0) { $0 + Double($1) } / 20
            #expect(abs(Double(output.scalars[plane]) - mean) <= 1e-6)
        }
        let gradOutput = randomTensor([2, 3, 1, 1], seed: 60)
        let gradInput = globalAveragePoolBackward(gradOutput, height: 5, width: 4)
        let numeric = numericGradient(input, epsilon: 0.05) { doubleInnerProduct(globalAveragePool($0), gradOutput) }
        assertClose(gradInput, numeric, rtol: 1e-3, atol: 1e-5)
    }
}
