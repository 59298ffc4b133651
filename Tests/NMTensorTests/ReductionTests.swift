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

/// Naive reduction: groups every element by its index on the kept axes (row-major over the
/// kept axes), then folds each group with `fold`.
private func naiveReduce(
    _ tensor: Tensor, axes: Set<Int>, keepingDimensions: Bool, _ fold: ([Float]) -> Float
) -> Tensor {
    let keptAxes = tensor.shape.indices.filter { !axes.contains($0) }
    let keptShape = keptAxes.map { tensor.shape[$0] }
    var groups = [[Float]](repeating: [], count: keptShape.reduce(1, *))
    for flat in 0..<tensor.count {
        let index = multiIndex(flat, in: tensor.shape)
        var group = 0
        for axis in keptAxes {
            group = group * tensor.shape[axis] + index[axis]
        }
        groups[group].append(tensor.scalars[flat])
    }
    let shape = keepingDimensions ? tensor.shape.indices.map { axes.contains($0) ? 1 : tensor.shape[$0] } : keptShape
    return Tensor(shape: shape, scalars: groups.map(fold))
}

private func doubleSum(_ values: [Float]) -> Float { Float(values.reduce(0.0) { $0 + Double($1) }) }

/// Every subset of the axes of a rank-`rank` tensor.
private func allAxisSubsets(rank: Int) -> [[Int]] {
    (0..<(1 << rank)).map { mask in (0..<rank).filter { mask & (1 << $0) != 0 } }
}

@Suite struct ReductionTests {
    @Test func sumOfAMillionOnesIsExact() {
        let ones = Tensor.ones([1_000_000])
        #expect(ones.sum() == Tensor(1_000_000))
        #expect(ones.mean() == Tensor(1))
        #expect(ones.reshaped([1000, 1000]).sum(alongAxes: [0, 1]) == Tensor(1_000_000))
        #expect(ones.sum().shape == [])
    }

    @Test func fullSumAndMeanMatchDoubleLoop() {
        let tensor = randomTensor([3, 4, 5], seed: 21)
        let total = tensor.scalars.reduce(0.0) { $0 + Double($1) }
        #expect(tensor.sum().scalar == Float(total))
        #expect(tensor.mean().scalar == Float(total / 60))
        #expect(Tensor.zeros([0, 4]).sum() == Tensor(0))
    }

    @Test(arguments: [false, true])
    func axisReductionsMatchNaiveGroupingForEverySubset(keepingDimensions: Bool) {
        let tensor = randomTensor([2, 3, 4, 5], seed: 22)
        for axes in allAxisSubsets(rank: 4) {
            let axisSet = Set(axes)
            let label: Comment = "axes \(axes), keep \(keepingDimensions)"
            assertClose(tensor.sum(alongAxes: axes, keepingDimensions: keepingDimensions), naiveReduce(tensor, axes: axisSet, keepingDimensions: keepingDimensions, doubleSum), rtol: 1e-6, atol: 1e-6, label)
            assertClose(
                tensor.mean(alongAxes: axes, keepingDimensions: keepingDimensions),
                naiveReduce(tensor, axes: axisSet, keepingDimensions: keepingDimensions) { Float($0.reduce(0.0) { $0 + Double($1) } / Double($0.count)) },
                rtol: 1e-6, atol: 1e-6, label)
            assertClose(tensor.max(alongAxes: axes, keepingDimensions: keepingDimensions), naiveReduce(tensor, axes: axisSet, keepingDimensions: keepingDimensions) { $0.max()! }, rtol: 0, atol: 0, label)
            assertClose(tensor.min(alongAxes: axes, keepingDimensions: keepingDimensions), naiveReduce(tensor, axes: axisSet, keepingDimensions: keepingDimensions) { $0.min()! }, rtol: 0, atol: 0, label)
        }
    }

    @Test func negativeAndRepeatedAxesNameTheSameAxes() {
        let tensor = randomTensor([2, 3, 4], seed: 23)
        #expect(tensor.sum(alongAxes: [-1]) == tensor.sum(alongAxes: [2]))
        #expect(tensor.max(alongAxes: [-3, -1], keepingDimensions: true) == tensor.max(alongAxes: [0, 2], keepingDimensions: true))
        #expect(tensor.sum(alongAxes: [1, 1, -2]) == tensor.sum(alongAxes: [1]))
        #expect(tensor.sum(alongAxes: []) == tensor)
        #expect(Tensor(3).sum(alongAxes: []) == Tensor(3))
    }

    @Test func sizeOneAndOddShapes() {
        let tensor = randomTensor([1, 7, 1, 3], seed: 24)
        assertClose(tensor.sum(alongAxes: [0, 2]), tensor.reshaped([7, 3]), rtol: 0, atol: 0)
        let column = randomTensor([13, 1], seed: 25)
        assertClose(column.max(alongAxes: [0]), Tensor(shape: [1], scalars: [column.scalars.max()!]), rtol: 0, atol: 0)
    }

    @Test func zeroSizeAxes() {
        let empty = Tensor.zeros([0, 3])
        #expect(empty.sum(alongAxes: [0]) == Tensor.zeros([3]))
        #expect(empty.sum(alongAxes: [0], keepingDimensions: true) == Tensor.zeros([1, 3]))
        // Reducing a non-empty axis of an empty tensor gives an empty result.
        #expect(empty.sum(alongAxes: [1]).shape == [0])
        #expect(empty.mean(alongAxes: [1]).shape == [0])
        #expect(empty.max(alongAxes: [1]).shape == [0])
    }

    @Test func maximaAndMinimaPropagateNaN() {
        let tensor = Tensor(shape: [2, 3], scalars: [1, .nan, 3, 4, 5, -6])
        let rowMaxima = tensor.max(alongAxes: [1])
        #expect(rowMaxima.scalars[0].isNaN && rowMaxima.scalars[1] == 5)
        let rowMinima = tensor.min(alongAxes: [1])
        #expect(rowMinima.scalars[0].isNaN && rowMinima.scalars[1] == -6)
        let columnMaxima = tensor.max(alongAxes: [0])
        #expect(columnMaxima.scalars[0] == 4 && columnMaxima.scalars[1].isNaN && columnMaxima.scalars[2] == 3)
        #expect(tensor.max().isNaN && tensor.min().isNaN)
        #expect(tensor.sum().scalar.isNaN)
        // NaN first in a group must not be overwritten by later numbers either.
        #expect(Tensor(shape: [3], scalars: [.nan, 1, 2]).max().isNaN)
    }

    @Test func scalarMaxMinAndArgmax() {
        let tensor = Tensor(shape: [2, 3], scalars: [1, 7, -2, 7, 0, -2])
        #expect(tensor.max() == 7)
        #expect(tensor.min() == -2)
        #expect(tensor.argmax() == 1)  // first of the two 7s
        #expect(Tensor(shape: [4], scalars: [-.infinity, -.infinity, -.infinity, -.infinity]).argmax() == 0)
        #expect(Tensor(shape: [4], scalars: [1, 9, .nan, .nan]).argmax() == 2)  // first NaN, as NumPy
        #expect(Tensor(5).argmax() == 0)
    }

    @Test func argmaxAlongEachAxisMatchesNaiveScan() {
        let tensor = randomTensor([3, 4, 5], seed: 26)
        for axis in -3..<3 {
            let positive = axis < 0 ? axis + 3 : axis
            let keptAxes = (0..<3).filter { $0 != positive }
            let keptShape = keptAxes.map { tensor.shape[$0] }
            var expected: [Int] = []
            for flat in 0..<keptShape.reduce(1, *) {
                let kept = [flat / keptShape[1], flat % keptShape[1]]
                var best = 0
                var bestValue = -Float.infinity
                for position in 0..<tensor.shape[positive] {
                    var index = [0, 0, 0]
                    index[keptAxes[0]] = kept[0]
                    index[keptAxes[1]] = kept[1]
                    index[positive] = position
                    let value = tensor[index[0], index[1], index[2]]
                    if value > bestValue { (best, bestValue) = (position, value) }
                }
                expected.append(best)
            }
            #expect(tensor.argmax(alongAxis: axis) == expected, "axis \(axis)")
        }
    }

    @Test func argmaxAlongAxisBreaksTiesTowardsTheFirst() {
        let logits = Tensor(shape: [3, 4], scalars: [0, 2, 2, 1, 5, 5, 5, 5, -1, -3, .nan, 9])
        #expect(logits.argmax(alongAxis: 1) == [1, 0, 2])
        #expect(logits.argmax(alongAxis: 0) == [1, 1, 2, 2])
        #expect(Tensor.zeros([0, 4]).argmax(alongAxis: 1) == [])
    }
}
