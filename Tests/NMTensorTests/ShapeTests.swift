import NMTensor
import NMTestSupport
import Testing

/// The row-major multi-index of flat position `flat` in `shape`.
private func multiIndex(_ flat: Int, in shape: [Int]) -> [Int] {
    var index = [Int](repeating: 0, count: shape.count)
    var remainder = flat
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        index[axis] = remainder % shape[axis]
        remainder /= shape[axis]
    }
    return index
}

/// The row-major flat position of `index` in `shape`.
private func flatIndex(_ index: [Int], in shape: [Int]) -> Int {
    zip(index, shape).reduce(0) { $0 * $1.1 + $1.0 }
}

/// Builds a tensor of `shape` whose element at each multi-index is `value(index)`.
private func tabulate(_ shape: [Int], _ value: ([Int]) -> Float) -> Tensor {
    Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { value(multiIndex($0, in: shape)) })
}

@Suite struct ShapeTests {
    @Test func permutedMatchesIndexMappingAndInverts() {
        let tensor = randomTensor([2, 3, 4, 5], seed: 31)
        for permutation in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 3, 2], [2, 3, 0, 1], [0, 3, 1, 2], [3, 0, 2, 1]] {
            let permuted = tensor.permuted(permutation)
            let expected = tabulate(permutation.map { tensor.shape[$0] }) { index in
                var source = [Int](repeating: 0, count: 4)
                for (position, axis) in permutation.enumerated() { source[axis] = index[position] }
                return tensor.scalars[flatIndex(source, in: tensor.shape)]
            }
            assertClose(permuted, expected, rtol: 0, atol: 0, "permutation \(permutation)")
            var inverse = [Int](repeating: 0, count: 4)
            for (position, axis) in permutation.enumerated() { inverse[axis] = position }
            #expect(permuted.permuted(inverse) == tensor, "inverse of \(permutation)")
        }
        #expect(tensor.permuted([-1, 0, 1, 2]) == tensor.permuted([3, 0, 1, 2]))
    }

    @Test func permutedHandlesSizeOneZeroSizeRankZeroAndLargeTensors() {
        let withOnes = randomTensor([1, 5, 1, 3], seed: 32)
        let moved = withOnes.permuted([3, 1, 2, 0])
        #expect(moved.shape == [3, 5, 1, 1])
        #expect(moved.permuted([3, 1, 2, 0]) == withOnes)
        #expect(Tensor.zeros([0, 4, 2]).permuted([2, 0, 1]).shape == [2, 0, 4])
        #expect(Tensor(7).permuted([]) == Tensor(7))
        // 256 × 515 elements take the parallel gather.
        let large = randomTensor([256, 515], seed: 33)
        let transposed = large.transposed()
        #expect(transposed.shape == [515, 256])
        #expect(transposed[400, 17] == large[17, 400])
        #expect(transposed.transposed() == large)
    }

    @Test func transposedMatchesNaiveLoop() {
        for shape in [[3, 7], [1, 5], [5, 1], [0, 4]] {
            let matrix = randomTensor(shape, seed: 34)
            let expected = tabulate([shape[1], shape[0]]) { matrix[$0[1], $0[0]] }
            assertClose(matrix.transposed(), expected, rtol: 0, atol: 0, "shape \(shape)")
        }
    }

    @Test func slicedMatchesIndexMapping() {
        let tensor = randomTensor([4, 5, 6], seed: 35)
        for axis in 0..<3 {
            for range in [0..<1, 1..<3, 0..<tensor.shape[axis], 2..<2] {
                var shape = tensor.shape
                shape[axis] = range.count
                let expected = tabulate(shape) { index in
                    var source = index
                    source[axis] += range.lowerBound
                    return tensor.scalars[flatIndex(source, in: tensor.shape)]
                }
                assertClose(tensor.sliced(alongAxis: axis, range), expected, rtol: 0, atol: 0, "axis \(axis) range \(range)")
                #expect(tensor.sliced(alongAxis: axis - 3, range) == tensor.sliced(alongAxis: axis, range))
            }
        }
    }

    @Test func concatenatingSlicesRestoresTheTensor() {
        let tensor = randomTensor([3, 7, 5], seed: 36)
        for axis in 0..<3 {
            let length = tensor.shape[axis]
            let cuts = [0, 1, length / 2, length / 2, length]  // includes an empty piece
            let pieces = (0..<(cuts.count - 1)).map { tensor.sliced(alongAxis: axis, cuts[$0]..<cuts[$0 + 1]) }
            #expect(Tensor.concatenated(pieces, alongAxis: axis) == tensor, "axis \(axis)")
        }
        #expect(Tensor.concatenated([tensor], alongAxis: -1) == tensor)
        // Large enough for the threaded copies: one block per piece (batch 1, split by elements)
        // and several blocks per piece (batch 3, split by blocks).
        for batch in [1, 3] {
            let large = randomTensor([batch, 96, 35, 35], seed: 37)
            let pieces = [0..<64, 64..<65, 65..<96].map { large.sliced(alongAxis: 1, $0) }
            #expect(Tensor.concatenated(pieces, alongAxis: 1) == large, "batch \(batch)")
        }
    }

    @Test func concatenatedPlacesBlocksInOrder() {
        let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        let b = Tensor(shape: [2, 1], scalars: [5, 6])
        #expect(Tensor.concatenated([a, b], alongAxis: 1) == Tensor(shape: [2, 3], scalars: [1, 2, 5, 3, 4, 6]))
        #expect(Tensor.concatenated([a, b.transposed()], alongAxis: 0) == Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]))
    }

    @Test func paddedSurroundsWithTheValue() {
        let tensor = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let padded = tensor.padded([(before: 1, after: 2), (before: 0, after: 1)], value: 7)
        #expect(padded.shape == [5, 4])
        #expect(padded.scalars == [
            7, 7, 7, 7,
            1, 2, 3, 7,
            4, 5, 6, 7,
            7, 7, 7, 7,
            7, 7, 7, 7,
        ])
    }

    @Test func paddedMatchesIndexMappingInRankFour() {
        let tensor = randomTensor([2, 1, 3, 4], seed: 37)
        let padding = [(before: 0, after: 1), (before: 2, after: 0), (before: 1, after: 1), (before: 3, after: 2)]
        let newShape = (0..<4).map { tensor.shape[$0] + padding[$0].before + padding[$0].after }
        let expected = tabulate(newShape) { index in
            let source = (0..<4).map { index[$0] - padding[$0].before }
            let isInside = (0..<4).allSatisfy { source[$0] >= 0 && source[$0] < tensor.shape[$0] }
            return isInside ? tensor.scalars[flatIndex(source, in: tensor.shape)] : -1.5
        }
        assertClose(tensor.padded(padding, value: -1.5), expected, rtol: 0, atol: 0)
        #expect(tensor.padded(Array(repeating: (before: 0, after: 0), count: 4)) == tensor)
        #expect(Tensor.zeros([0, 2]).padded([(before: 1, after: 0), (before: 0, after: 1)], value: 3) == Tensor.full([1, 3], value: 3))
        #expect(Tensor(4).padded([]) == Tensor(4))
    }

    @Test func expandingAndSqueezingAxes() {
        let tensor = randomTensor([3, 4], seed: 38)
        #expect(tensor.expandingDimension(at: 0).shape == [1, 3, 4])
        #expect(tensor.expandingDimension(at: 1).shape == [3, 1, 4])
        #expect(tensor.expandingDimension(at: 2).shape == [3, 4, 1])
        #expect(tensor.expandingDimension(at: -1).shape == [3, 4, 1])
        #expect(tensor.expandingDimension(at: -3).shape == [1, 3, 4])
        #expect(tensor.expandingDimension(at: 1).scalars == tensor.scalars)
        #expect(tensor.expandingDimension(at: 1).squeezed(axis: 1) == tensor)
        #expect(tensor.expandingDimension(at: -1).squeezed(axis: -1) == tensor)
        let withOnes = Tensor.zeros([1, 3, 1, 1])
        #expect(withOnes.squeezed().shape == [3])
        #expect(Tensor.zeros([1, 1]).squeezed().shape == [])
        #expect(Tensor(2).expandingDimension(at: 0) == Tensor(shape: [1], scalars: [2]))
    }

    @Test func broadcastedMaterialisesTheRepeatedTensor() {
        let column = Tensor(shape: [3, 1], scalars: [1, 2, 3])
        #expect(column.broadcasted(to: [2, 3, 4]) == tabulate([2, 3, 4]) { Float($0[1] + 1) })
        #expect(Tensor(5).broadcasted(to: [2, 2]) == Tensor.full([2, 2], value: 5))
        let tensor = randomTensor([4, 1, 6], seed: 39)
        let broadcast = tensor.broadcasted(to: [2, 4, 3, 6])
        #expect(broadcast == tensor + Tensor.zeros([2, 4, 3, 6]))
        #expect(tensor.broadcasted(to: [4, 1, 6]) == tensor)
        #expect(tensor.broadcasted(to: [4, 0, 6]).shape == [4, 0, 6])
    }
}
