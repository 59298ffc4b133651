import Foundation
import NMTensor
import NMTestSupport
import Testing

/// Special values every elementwise function is checked at, besides random ones.
private let specialValues: [Float] = [0, -0.0, 1, -1, 0.5, -0.5, 20, -20, 88, -88, 100, -100, .infinity, -.infinity]

/// Every unary method with its Double reference (computed independently of Foundation's Float
/// functions) and the inputs it is defined on.
private let unaryCases: [(name: String, apply: @Sendable (Tensor) -> Tensor, reference: @Sendable (Double) -> Double, isDefined: @Sendable (Float) -> Bool)] = [
    ("exp", { $0.exp() }, { Foundation.exp($0) }, { _ in true }),
    ("log", { $0.log() }, { Foundation.log($0) }, { $0 >= 0 }),
    ("sigmoid", { $0.sigmoid() }, { 1 / (1 + Foundation.exp(-$0)) }, { _ in true }),
    ("tanh", { $0.tanh() }, { Foundation.tanh($0) }, { _ in true }),
    ("relu", { $0.relu() }, { Swift.max($0, 0) }, { _ in true }),
    ("sqrt", { $0.sqrt() }, { $0.squareRoot() }, { $0 >= 0 }),
    ("abs", { $0.abs() }, { Swift.abs($0) }, { _ in true }),
    ("clamped", { $0.clamped(min: -0.25, max: 0.5) }, { Swift.min(Swift.max($0, -0.25), 0.5) }, { _ in true }),
]

@Suite struct MathTests {
    @Test func unaryFunctionsMatchDoubleReference() {
        let random = randomTensor([5, 7, 3], seed: 11) * 6
        let inputs = random.scalars + specialValues + random.scalars.map { Swift.abs($0) }
        let tensor = Tensor(shape: [inputs.count], scalars: inputs)
        for unary in unaryCases {
            let result = unary.apply(tensor)
            #expect(result.shape == tensor.shape)
            for (index, x) in inputs.enumerated() where unary.isDefined(x) {
                let expected = Float(unary.reference(Double(x)))
                let actual = result.scalars[index]
                let isClose = actual == expected || Swift.abs(actual - expected) <= 2e-6 * Swift.abs(expected) + 1e-30
                #expect(isClose, "\(unary.name)(\(x)) = \(actual), expected \(expected)")
            }
        }
    }

    @Test func undefinedInputsGiveNaNAndNaNPropagates() {
        for unary in unaryCases {
            let nanResult = unary.apply(Tensor(shape: [1], scalars: [.nan]))
            #expect(nanResult.scalars[0].isNaN, "\(unary.name)(NaN)")
        }
        #expect(Tensor(shape: [1], scalars: [-1]).log().scalars[0].isNaN)
        #expect(Tensor(shape: [1], scalars: [0]).log().scalars[0] == -.infinity)
        #expect(Tensor(shape: [1], scalars: [-1]).sqrt().scalars[0].isNaN)
    }

    @Test func sigmoidIsStableAtLargeMagnitudes() {
        let result = Tensor(shape: [6], scalars: [100, -100, 1000, -1000, .infinity, -.infinity]).sigmoid()
        #expect(result.scalars[0] == 1)
        #expect(result.scalars[1] > 0)  // e⁻¹⁰⁰ is a subnormal Float, not 0 or NaN
        #expect(Swift.abs(result.scalars[1] - Float(Foundation.exp(-100.0))) <= Float.leastNonzeroMagnitude)
        #expect(result.scalars[2] == 1)
        #expect(result.scalars[3] == 0)
        #expect(result.scalars[4] == 1)
        #expect(result.scalars[5] == 0)
        // Symmetry sigmoid(-x) = 1 - sigmoid(x) where both are well represented.
        let x = randomTensor([50], seed: 12) * 8
        assertClose((-x).sigmoid(), 1 - x.sigmoid(), rtol: 1e-5, atol: 1e-6)
    }

    /// The vectorised e^(−|x|) (a polynomial) over a dense sweep that crosses its range's edge
    /// (|x| = 87.33, where `expf` takes over): within 4 ulp-scale relative error of the Double
    /// formula everywhere, and subnormal results where e^(−|x|) is subnormal.
    @Test func sigmoidMatchesDoubleReferenceOnADenseSweep() {
        let inputs = (0..<200_001).map { Float(-100 + 0.001 * Double($0)) }
        let result = Tensor(shape: [inputs.count], scalars: inputs).sigmoid()
        var worst = 0.0
        for (x, actual) in zip(inputs, result.scalars) {
            let expected = 1 / (1 + Foundation.exp(-Double(x)))
            worst = Swift.max(worst, Swift.abs(Double(actual) - expected) / Swift.max(expected, Double(Float.leastNormalMagnitude)))
        }
        #expect(worst <= 5e-7, "worst relative error \(worst)")
        #expect(result.scalars[0] > 0 && result.scalars[0] < Float.leastNormalMagnitude)  // sigmoid(−100), subnormal
    }

    @Test func clampedKeepsInsideValuesAndPinsOutsideOnes() {
        let tensor = Tensor(shape: [6], scalars: [-3, -1, 0, 1, 3, .nan])
        let result = tensor.clamped(min: -1, max: 2)
        #expect(Array(result.scalars.prefix(5)) == [-1, -1, 0, 1, 2])
        #expect(result.scalars[5].isNaN)
    }

    @Test func mapVisitsElementsInRowMajorOrderOnce() {
        let tensor = Tensor(shape: [2, 3], scalars: [6, 5, 4, 3, 2, 1])
        var visited: [Float] = []
        let doubled = tensor.map { value in
            visited.append(value)
            return 2 * value
        }
        #expect(visited == tensor.scalars)
        #expect(doubled.shape == [2, 3] && doubled.scalars == [12, 10, 8, 6, 4, 2])
    }

    @Test func largeInputsUseTheSameArithmeticAsSmallOnes() {
        // 2¹⁷ elements take the parallel path; each element must equal the single-element result.
        let tensor = randomTensor([1 << 17], seed: 13) * 10
        let exponentials = tensor.exp()
        let sigmoids = tensor.sigmoid()
        for index in stride(from: 0, to: tensor.count, by: 997) {
            let single = Tensor(shape: [1], scalars: [tensor.scalars[index]])
            #expect(exponentials.scalars[index] == single.exp().scalars[0])
            #expect(sigmoids.scalars[index] == single.sigmoid().scalars[0])
        }
    }

    @Test func zeroSizeAndRankZeroKeepTheirShape() {
        #expect(Tensor.zeros([0, 3]).exp().shape == [0, 3])
        #expect(Tensor.zeros([0, 3]).sigmoid().shape == [0, 3])
        #expect(Tensor(2).sqrt() == Tensor(Float(2).squareRoot()))
        #expect(Tensor(-2).relu() == Tensor(0))
    }
}
