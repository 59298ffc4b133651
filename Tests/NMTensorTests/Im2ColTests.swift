import NMTensor
import NMTestSupport
import Testing

/// im2col by its definition, one element at a time.
private func referenceIm2col(_ input: Tensor, geometry g: ConvGeometry) -> Tensor {
    let batch = input.shape[0]
    var columns = Tensor.zeros([batch, g.columnRows, g.columnCount])
    for n in 0..<batch {
        for c in 0..<g.channels {
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    let row = (c * g.kernelHeight + kh) * g.kernelWidth + kw
                    for oh in 0..<g.outputHeight {
                        for ow in 0..<g.outputWidth {
                            let ih = oh * g.strideHeight - g.padding.top + kh * g.dilationHeight
                            let iw = ow * g.strideWidth - g.padding.left + kw * g.dilationWidth
                            let inside = ih >= 0 && ih < g.inputHeight && iw >= 0 && iw < g.inputWidth
                            columns[n, row, oh * g.outputWidth + ow] = inside ? input[n, c, ih, iw] : 0
                        }
                    }
                }
            }
        }
    }
    return columns
}

/// col2im by its definition: scatter-add every in-range column entry, accumulated in Double.
private func referenceCol2im(_ columns: Tensor, geometry g: ConvGeometry) -> Tensor {
    let batch = columns.shape[0]
    var sums = [Double](repeating: 0, count: batch * g.channels * g.inputHeight * g.inputWidth)
    for n in 0..<batch {
        for c in 0..<g.channels {
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    let row = (c * g.kernelHeight + kh) * g.kernelWidth + kw
                    for oh in 0..<g.outputHeight {
                        for ow in 0..<g.outputWidth {
                            let ih = oh * g.strideHeight - g.padding.top + kh * g.dilationHeight
                            let iw = ow * g.strideWidth - g.padding.left + kw * g.dilationWidth
                            guard ih >= 0 && ih < g.inputHeight && iw >= 0 && iw < g.inputWidth else { continue }
                            sums[((n * g.channels + c) * g.inputHeight + ih) * g.inputWidth + iw] += Double(columns[n, row, oh * g.outputWidth + ow])
                        }
                    }
                }
            }
        }
    }
    return Tensor(shape: [batch, g.channels, g.inputHeight, g.inputWidth], scalars: sums.map { Float($0) })
}

@Suite struct Im2ColTests {
    @Test func handWorkedUnpaddedCase() {
        // 3×3 image 1…9, 2×2 kernel, stride 1: one row per kernel tap, one column per window.
        let input = Tensor(shape: [1, 1, 3, 3], scalars: (1...9).map { Float($0) })
        let geometry = ConvGeometry(channels: 1, inputHeight: 3, inputWidth: 3, kernelHeight: 2, kernelWidth: 2)
        let expected: [Float] = [
            1, 2, 4, 5,  // tap (0, 0)
            2, 3, 5, 6,  // tap (0, 1)
            4, 5, 7, 8,  // tap (1, 0)
            5, 6, 8, 9,  // tap (1, 1)
        ]
        #expect(im2col(input, geometry: geometry) == Tensor(shape: [1, 4, 4], scalars: expected))
        // col2im of all-ones columns counts how many windows read each pixel.
        let counts = col2im(Tensor.ones([1, 4, 4]), geometry: geometry)
        #expect(counts == Tensor(shape: [1, 1, 3, 3], scalars: [1, 2, 1, 2, 4, 2, 1, 2, 1]))
    }

    @Test func handWorkedPaddedStridedCase() {
        // Same image, pad 1, stride 2: windows start at (−1, −1), (−1, 1), (1, −1), (1, 1).
        let input = Tensor(shape: [1, 1, 3, 3], scalars: (1...9).map { Float($0) })
        let geometry = ConvGeometry(
            channels: 1, inputHeight: 3, inputWidth: 3, kernelHeight: 2, kernelWidth: 2,
            strideHeight: 2, strideWidth: 2, padding: Padding2D(1))
        let expected: [Float] = [
            0, 0, 0, 5,  // tap (0, 0)
            0, 0, 4, 6,  // tap (0, 1)
            0, 2, 0, 8,  // tap (1, 0)
            1, 3, 7, 9,  // tap (1, 1)
        ]
        #expect(im2col(input, geometry: geometry) == Tensor(shape: [1, 4, 4], scalars: expected))
        // The four windows tile the padded 4×4 image, so each pixel is read exactly once.
        #expect(col2im(Tensor.ones([1, 4, 4]), geometry: geometry) == Tensor.ones([1, 1, 3, 3]))
    }

    @Test(arguments: ConvolutionCase.sweep)
    func im2colMatchesDefinition(_ testCase: ConvolutionCase) {
        let g = testCase.geometry
        let input = randomTensor([testCase.batch, g.channels, g.inputHeight, g.inputWidth], seed: 21)
        let columns = im2col(input, geometry: g)
        #expect(columns.shape == [testCase.batch, g.columnRows, g.columnCount])
        #expect(columns == referenceIm2col(input, geometry: g))
    }

    @Test(arguments: ConvolutionCase.sweep)
    func col2imMatchesDefinition(_ testCase: ConvolutionCase) {
        let g = testCase.geometry
        let columns = randomTensor([testCase.batch, g.columnRows, g.columnCount], seed: 22)
        assertClose(col2im(columns, geometry: g), referenceCol2im(columns, geometry: g), rtol: 1e-5, atol: 1e-6)
    }

    @Test(arguments: ConvolutionCase.sweep)
    func col2imIsTheAdjointOfIm2col(_ testCase: ConvolutionCase) {
        // ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩ for every x and y.
        let g = testCase.geometry
        let x = randomTensor([testCase.batch, g.channels, g.inputHeight, g.inputWidth], seed: 23)
        let y = randomTensor([testCase.batch, g.columnRows, g.columnCount], seed: 24)
        let lhs = doubleInnerProduct(im2col(x, geometry: g), y)
        let rhs = doubleInnerProduct(x, col2im(y, geometry: g))
        #expect(abs(lhs - rhs) <= 1e-4 * max(abs(lhs), abs(rhs), 1e-3), "⟨im2col(x), y⟩ = \(lhs), ⟨x, col2im(y)⟩ = \(rhs)")
    }

    @Test func intoVariantsReuseAndOverwriteTheirBuffers() {
        let geometry = ConvGeometry(
            channels: 3, inputHeight: 9, inputWidth: 10, kernelHeight: 3, kernelWidth: 3,
            strideHeight: 2, strideWidth: 1, padding: Padding2D(top: 0, bottom: 1, left: 1, right: 2))
        let input = randomTensor([2, 3, 9, 10], seed: 25)
        let expectedColumns = referenceIm2col(input, geometry: geometry)
        // A buffer of the right size but the wrong shape, full of garbage, is reshaped and overwritten.
        var columns = Tensor(repeating: .nan, shape: [expectedColumns.count])
        let storage = columns.scalars.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        im2col(input, geometry: geometry, into: &columns)
        #expect(columns == expectedColumns)
        #expect(columns.scalars.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == storage, "the buffer was reallocated")
        // A buffer of the wrong size is replaced.
        var small = Tensor.zeros([3])
        im2col(input, geometry: geometry, into: &small)
        #expect(small == expectedColumns)

        var image = Tensor(repeating: 1e9, shape: [2, 3, 9, 10])
        col2im(expectedColumns, geometry: geometry, into: &image)
        assertClose(image, referenceCol2im(expectedColumns, geometry: geometry), rtol: 1e-5, atol: 1e-6)
    }

    @Test func largeInputSplitAcrossThreadsMatchesDefinition() {
        // Enough (n, c) planes that parallelFor hands chunks to every thread.
        let geometry = ConvGeometry(
            channels: 16, inputHeight: 30, inputWidth: 31, kernelHeight: 3, kernelWidth: 3,
            strideHeight: 1, strideWidth: 2, padding: Padding2D(1), dilationHeight: 2, dilationWidth: 1)
        let input = randomTensor([2, 16, 30, 31], seed: 26)
        let columns = im2col(input, geometry: geometry)
        #expect(columns == referenceIm2col(input, geometry: geometry))
        assertClose(col2im(columns, geometry: geometry), referenceCol2im(columns, geometry: geometry), rtol: 1e-5, atol: 1e-6)
    }
}
