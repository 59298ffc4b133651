import NMTensor
import NMTestSupport
import Testing

/// The element of `tensor` that NumPy broadcasting reads at multi-index `index` of a
/// higher-or-equal-rank result: shapes align at the right and size-1 axes read index 0.
private func broadcastElement(_ tensor: Tensor, at index: [Int]) -> Float {
    let offset = index.count - tensor.rank
    var flat = 0
    for axis in 0..<tensor.rank {
        let position = tensor.shape[axis] == 1 ? 0 : index[axis + offset]
        flat = flat * tensor.shape[axis] + position
    }
    return tensor.scalars[flat]
}

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

/// Naive broadcasting: one multi-index at a time.
private func naiveBroadcast(_ lhs: Tensor, _ rhs: Tensor, _ combine: (Float, Float) -> Float) -> Tensor {
    let shape = broadcastShapes(lhs.shape, rhs.shape)!
    let count = shape.reduce(1, *)
    let scalars = (0..<count).map { flat in
        let index = multiIndex(flat, in: shape)
        return combine(broadcastElement(lhs, at: index), broadcastElement(rhs, at: index))
    }
    return Tensor(shape: shape, scalars: scalars)
}

@Suite struct ArithmeticTests {
    /// The four binary operators, for parameterised tests.
    enum Operator: String, CaseIterable, Sendable {
        case add = "+", subtract = "-", multiply = "*", divide = "/"

        func apply(_ lhs: Tensor, _ rhs: Tensor) -> Tensor {
            switch self {
            case .add: lhs + rhs
            case .subtract: lhs - rhs
            case .multiply: lhs * rhs
            case .divide: lhs / rhs
            }
        }

        func apply(_ lhs: Float, _ rhs: Float) -> Float {
            switch self {
            case .add: lhs + rhs
            case .subtract: lhs - rhs
            case .multiply: lhs * rhs
            case .divide: lhs / rhs
            }
        }

        func applyInPlace(_ lhs: inout Tensor, _ rhs: Tensor) {
            switch self {
            case .add: lhs += rhs
            case .subtract: lhs -= rhs
            case .multiply: lhs *= rhs
            case .divide: lhs /= rhs
            }
        }
    }

    @Test(arguments: Operator.allCases)
    func equalShapesMatchElementwiseLoop(operation: Operator) {
        // Odd, large (> 2¹⁶), single-element, rank-0 and zero-size shapes.
        for shape in [[3, 5, 7], [300, 301], [1], [], [0, 4]] {
            let lhs = randomTensor(shape, seed: 1)
            let rhs = randomTensor(shape, seed: 2) + 2  // keep divisors away from 0
            let expected = Tensor(shape: shape, scalars: zip(lhs.scalars, rhs.scalars).map { operation.apply($0, $1) })
            assertClose(operation.apply(lhs, rhs), expected, rtol: 0, atol: 0, "shape \(shape)")
        }
    }

    @Test(arguments: Operator.allCases)
    func broadcastingMatchesNaiveIndexing(operation: Operator) {
        let pairs: [([Int], [Int])] = [
            ([3, 1, 5], [4, 1]),  // → [3, 4, 5]
            ([2, 3, 4], [4]),
            ([2, 3, 4], [3, 1]),
            ([4], [2, 3, 4]),
            ([1], [2, 3]),
            ([], [2, 3]),
            ([2, 3], []),
            ([5, 1, 1], [1, 1, 6]),
            ([2, 1, 3], [1, 4, 1]),
            ([2, 1, 7, 1], [3, 1, 5]),
            ([0, 3], [1, 3]),
            ([2, 0, 3], [3]),
            ([64, 1, 1100], [1, 8, 1]),  // 563 200 elements in rows of 1100
            ([1, 8, 1], [64, 1, 1100]),
        ]
        for (lhsShape, rhsShape) in pairs {
            let lhs = randomTensor(lhsShape, seed: 3)
            let rhs = randomTensor(rhsShape, seed: 4) + 2
            let result = operation.apply(lhs, rhs)
            assertClose(result, naiveBroadcast(lhs, rhs) { operation.apply($0, $1) }, rtol: 0, atol: 0, "\(lhsShape) \(operation.rawValue) \(rhsShape)")
        }
    }

    @Test func broadcastOfThreeOneFiveAndFourOneHasExpectedShapeAndValues() {
        let lhs = Tensor(shape: [3, 1, 5], scalars: (0..<15).map { Float($0) })  // lhs[i, 0, k] = 5i + k
        let rhs = Tensor(shape: [4, 1], scalars: [100, 200, 300, 400])  // rhs[j, 0] = 100(j + 1)
        let sum = lhs + rhs
        #expect(sum.shape == [3, 4, 5])
        for i in 0..<3 {
            for j in 0..<4 {
                for k in 0..<5 {
                    #expect(sum[i, j, k] == Float(5 * i + k + 100 * (j + 1)))
                }
            }
        }
    }

    @Test func scalarOperandsOnEitherSide() {
        let tensor = randomTensor([3, 7], seed: 5) + 2
        let scalar: Float = 1.75
        assertClose(tensor + scalar, tensor.map { $0 + scalar }, rtol: 0, atol: 0)
        assertClose(scalar + tensor, tensor.map { scalar + $0 }, rtol: 0, atol: 0)
        assertClose(tensor - scalar, tensor.map { $0 - scalar }, rtol: 0, atol: 0)
        assertClose(scalar - tensor, tensor.map { scalar - $0 }, rtol: 0, atol: 0)
        assertClose(tensor * scalar, tensor.map { $0 * scalar }, rtol: 0, atol: 0)
        assertClose(scalar * tensor, tensor.map { scalar * $0 }, rtol: 0, atol: 0)
        assertClose(tensor / scalar, tensor.map { $0 / scalar }, rtol: 0, atol: 0)
        assertClose(scalar / tensor, tensor.map { scalar / $0 }, rtol: 0, atol: 0)
        // A rank-0 tensor operand broadcasts like a scalar.
        assertClose(tensor - Tensor(scalar), tensor - scalar, rtol: 0, atol: 0)
    }

    /// Equal shapes take the threaded SIMD sum (`elementwiseSum`): element for element the scalar
    /// sum, below and above the threading threshold and with a tail past the last 8 lanes; with a
    /// clamp, the sum clamped afterwards (relu6, relu), NaN and infinities included.
    @Test func elementwiseSumMatchesScalarLoop() {
        for count in [13, 70_001] {
            var lhs = randomTensor([count], seed: 21) * 8
            let rhs = randomTensor([count], seed: 22) * 8
            lhs.scalars[3] = .nan
            lhs.scalars[count - 1] = .infinity
            let expected = zip(lhs.scalars, rhs.scalars).map { $0 + $1 }
            let sum = lhs + rhs
            #expect(zip(sum.scalars, expected).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "count \(count)")
            for upper: Float in [6, .infinity] {
                let clamped = elementwiseSum(lhs, rhs, clampUpper: upper)
                let expectedClamped = expected.map { $0.isNaN ? $0 : min(max($0, 0), upper) }
                #expect(zip(clamped.scalars, expectedClamped).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "count \(count) upper \(upper)")
                #expect(clamped.scalars.contains(0) && clamped.scalars.contains(upper))
            }
        }
        #expect(elementwiseSum(Tensor.zeros([0, 3]), Tensor.zeros([0, 3])).shape == [0, 3])
    }

    @Test func unaryMinusFlipsEverySign() {
        let tensor = Tensor(shape: [5], scalars: [1.5, -2, 0, -0.0, .infinity])
        let negated = -tensor
        #expect(negated.scalars == [-1.5, 2, -0.0, 0, -.infinity])
        #expect(negated.scalars[2].sign == .minus && negated.scalars[3].sign == .plus)
        #expect((-Tensor(shape: [1], scalars: [.nan])).scalars[0].isNaN)
    }

    @Test(arguments: Operator.allCases)
    func inPlaceMatchesOutOfPlaceAndKeepsValueSemantics(operation: Operator) {
        for rhsShape in [[4, 5], [5], [4, 1], [1, 1], []] {
            let original = randomTensor([4, 5], seed: 6)
            let rhs = randomTensor(rhsShape, seed: 7) + 2
            var updated = original
            operation.applyInPlace(&updated, rhs)
            assertClose(updated, operation.apply(original, rhs), rtol: 0, atol: 0, "rhs \(rhsShape)")
            // `original` shared its storage with `updated` before the update and must not change.
            assertClose(original, randomTensor([4, 5], seed: 6), rtol: 0, atol: 0)
        }
        // A large equal-shape update.
        let large = randomTensor([70_000], seed: 8)
        let largeRhs = randomTensor([70_000], seed: 9) + 2
        var largeUpdated = large
        operation.applyInPlace(&largeUpdated, largeRhs)
        assertClose(largeUpdated, operation.apply(large, largeRhs), rtol: 0, atol: 0)
    }

    @Test func inPlaceWithItselfAndWithScalars() {
        var tensor = Tensor(shape: [3], scalars: [1, -2, 3])
        tensor += tensor
        #expect(tensor.scalars == [2, -4, 6])
        tensor *= tensor
        #expect(tensor.scalars == [4, 16, 36])
        tensor += 1
        tensor -= 3
        tensor *= 0.5
        tensor /= 4
        #expect(tensor.scalars == [0.25, 1.75, 4.25])
    }

    @Test func nanAndInfinityPropagate() {
        let lhs = Tensor(shape: [2, 2], scalars: [1, .nan, 0, -1])
        let rhs = Tensor(shape: [2], scalars: [.nan, 0])
        let sum = lhs + rhs
        #expect(sum.scalars[0].isNaN && sum.scalars[1].isNaN && sum.scalars[2].isNaN && sum.scalars[3] == -1)
        let quotient = lhs / rhs
        #expect(quotient.scalars[0].isNaN && quotient.scalars[1].isNaN)
        #expect(quotient.scalars[3] == -.infinity)
        let zeroOverZero = Tensor(shape: [1], scalars: [0]) / 0
        #expect(zeroOverZero.scalars[0].isNaN)
        #expect((Tensor(shape: [1], scalars: [.infinity]) - .infinity).scalars[0].isNaN)
    }
}
