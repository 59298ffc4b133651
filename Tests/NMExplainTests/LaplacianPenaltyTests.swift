import NMExplain
import NMTensor
import NMTestSupport
import Testing

/// `LaplacianPenalty` (box-sum implementation) against the definition evaluated by a direct
/// loop over every output and kernel tap, and against finite differences.
@Suite struct LaplacianPenaltyTests {
    /// mean((K ∗ w)²) and its gradient straight from the definition, in Double.
    static func direct(_ w: Tensor, kernelSize k: Int, border: LaplacianPenalty.Border) -> (Double, [Double]) {
        let (height, width) = (w.shape[0], w.shape[1])
        let radius = k / 2
        let (outputHeight, outputWidth) = border == .valid ? (height - k + 1, width - k + 1) : (height, width)
        func source(_ index: Int, _ offset: Int, _ size: Int) -> Int {
            border == .valid ? index + offset : min(max(index + offset - radius, 0), size - 1)
        }
        func weight(_ a: Int, _ b: Int) -> Double { a == radius && b == radius ? Double(k * k - 1) : -1 }
        guard outputHeight > 0 && outputWidth > 0 else { return (0, [Double](repeating: 0, count: w.count)) }
        let count = Double(outputHeight * outputWidth)
        var value = 0.0
        var gradient = [Double](repeating: 0, count: w.count)
        for i in 0..<outputHeight {
            for j in 0..<outputWidth {
                var response = 0.0
                for a in 0..<k {
                    for b in 0..<k { response += weight(a, b) * Double(w.scalars[source(i, a, height) * width + source(j, b, width)]) }
                }
                value += response * response / count
                for a in 0..<k {
                    for b in 0..<k { gradient[source(i, a, height) * width + source(j, b, width)] += 2 * response * weight(a, b) / count }
                }
            }
        }
        return (value, gradient)
    }

    @Test(arguments: [3, 5], LaplacianPenalty.Border.allCases)
    func matchesTheDirectDefinition(kernelSize: Int, border: LaplacianPenalty.Border) {
        var generator = SeededGenerator(seed: UInt64(kernelSize))
        for (height, width) in [(1, 1), (2, 7), (5, 5), (9, 6), (17, 23), (64, 64)] {
            let w = Tensor.uniform([height, width], low: -10, high: 10, generator: &generator)
            let (value, gradient) = LaplacianPenalty(kernelSize: kernelSize, border: border).valueAndGradient(w)
            let (expectedValue, expectedGradient) = Self.direct(w, kernelSize: kernelSize, border: border)
            #expect(abs(Double(value) - expectedValue) <= 1e-5 * max(1, expectedValue), "\(height)×\(width)")
            assertClose(gradient, Tensor(shape: w.shape, scalars: expectedGradient.map { Float($0) }), rtol: 1e-4, atol: 1e-5, "\(height)×\(width)")
        }
    }

    @Test func gradientMatchesCentralFiniteDifferences() {
        var generator = SeededGenerator(seed: 9)
        let w = Tensor.normal([7, 8], generator: &generator)
        for border in LaplacianPenalty.Border.allCases {
            let penalty = LaplacianPenalty(kernelSize: 5, border: border)
            let gradient = penalty.valueAndGradient(w).gradient
            let numerical = numericalGradient(of: { Double(penalty.valueAndGradient($0).value) }, at: w, epsilon: 0.5)  // exact for a quadratic; a wide step keeps rounding small
            assertClose(gradient, numerical, rtol: 1e-2, atol: 1e-3, "\(border)")
        }
    }
}
