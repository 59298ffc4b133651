import NMTensor
import NMTestSupport
import Testing

/// Solves `a · x = b` by Gaussian elimination with partial pivoting in Double.
/// `a` is `[n][n]`, `b` is `[n][k]`.
private func gaussianElimination(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
    let n = a.count
    var matrix = a
    var rhs = b
    for pivotColumn in 0..<n {
        let pivotRow = (pivotColumn..<n).max { Swift.abs(matrix[$0][pivotColumn]) < Swift.abs(matrix[$1][pivotColumn]) }!
        matrix.swapAt(pivotColumn, pivotRow)
        rhs.swapAt(pivotColumn, pivotRow)
        for row in (pivotColumn + 1)..<n {
            let factor = matrix[row][pivotColumn] / matrix[pivotColumn][pivotColumn]
            for column in pivotColumn..<n { matrix[row][column] -= factor * matrix[pivotColumn][column] }
            for column in rhs[row].indices { rhs[row][column] -= factor * rhs[pivotColumn][column] }
        }
    }
    var solution = rhs
    for row in stride(from: n - 1, through: 0, by: -1) {
        for column in solution[row].indices {
            var value = rhs[row][column]
            for inner in (row + 1)..<n { value -= matrix[row][inner] * solution[inner][column] }
            solution[row][column] = value / matrix[row][row]
        }
    }
    return solution
}

/// The rows of a rank-2 tensor (or a rank-1 tensor as a column) in Double.
private func doubleRows(_ tensor: Tensor) -> [[Double]] {
    let columns = tensor.rank == 2 ? tensor.shape[1] : 1
    return (0..<tensor.shape[0]).map { row in (0..<columns).map { Double(tensor.scalars[row * columns + $0]) } }
}

/// A random symmetric positive definite `[n, n]` matrix MᵀM + n·I.
private func randomSPD(_ n: Int, seed: UInt64) -> Tensor {
    let m = randomTensor([n, n], seed: seed)
    return matmul(m, m, transposeA: true) + identity(n) * Float(n)
}

private func identity(_ n: Int) -> Tensor {
    var result = Tensor.zeros([n, n])
    for i in 0..<n { result[i, i] = 1 }
    return result
}

/// `a · x` for `x` of shape `[n]` or `[n, k]`, returned with `x`'s rank.
private func apply(_ a: Tensor, _ x: Tensor) -> Tensor {
    let product = matmul(a, x.rank == 1 ? x.expandingDimension(at: 1) : x)
    return x.rank == 1 ? product.squeezed(axis: 1) : product
}

@Suite struct LinearSolveTests {
    @Test(arguments: [1, 3, 8, 17])
    func positiveDefiniteSolveMatchesGaussianElimination(n: Int) throws {
        let a = randomSPD(n, seed: UInt64(40 + n))
        for b in [randomTensor([n], seed: 41), randomTensor([n, 3], seed: 42)] {
            let x = try solvePositiveDefinite(a, b)
            #expect(x.shape == b.shape)
            let reference = gaussianElimination(doubleRows(a), doubleRows(b)).flatMap { $0 }
            assertClose(x, Tensor(shape: b.shape, scalars: reference.map { Float($0) }), rtol: 1e-4, atol: 1e-5, "n=\(n) b \(b.shape)")
            assertClose(apply(a, x), b, rtol: 1e-4, atol: 1e-5, "A·x reconstructs b")
        }
    }

    @Test func positiveDefiniteSolveReadsOnlyTheUpperTriangle() throws {
        let a = Tensor(shape: [2, 2], scalars: [4, 1, 1, 3])
        let garbledLower = Tensor(shape: [2, 2], scalars: [4, 1, 1000, 3])
        let b = Tensor(shape: [2], scalars: [1, 2])
        let x = try solvePositiveDefinite(a, b)
        #expect(try solvePositiveDefinite(garbledLower, b) == x)
        // 4x + y = 1, x + 3y = 2 → x = 1/11, y = 7/11.
        assertClose(x, Tensor(shape: [2], scalars: [1.0 / 11, 7.0 / 11]), rtol: 1e-6, atol: 1e-7)
    }

    @Test func notPositiveDefiniteNamesTheFailingLeadingMinor() {
        #expect(throws: LinearAlgebraError.notPositiveDefinite(leadingMinor: 2)) {
            try solvePositiveDefinite(Tensor(shape: [2, 2], scalars: [1, 2, 2, 1]), Tensor.ones([2]))
        }
        #expect(throws: LinearAlgebraError.notPositiveDefinite(leadingMinor: 1)) {
            try solvePositiveDefinite(Tensor(shape: [1, 1], scalars: [-1]), Tensor.ones([1]))
        }
        #expect(throws: LinearAlgebraError.notPositiveDefinite(leadingMinor: 3)) {
            try solvePositiveDefinite(Tensor(shape: [3, 3], scalars: [2, 0, 0, 0, 1, 0, 0, 0, 0]), Tensor.ones([3, 2]))
        }
    }

    @Test func nonFiniteInputsAreRejectedByName() {
        let a = identity(2)
        #expect(throws: LinearAlgebraError.nonFiniteInput(argument: "b")) {
            try solvePositiveDefinite(a, Tensor(shape: [2], scalars: [1, .nan]))
        }
        #expect(throws: LinearAlgebraError.nonFiniteInput(argument: "a")) {
            try solveLeastSquares(Tensor(shape: [2, 2], scalars: [1, 0, .infinity, 1]), Tensor.ones([2]))
        }
        #expect(LinearAlgebraError.nonFiniteInput(argument: "b").description == "b contains NaN or infinity")
    }

    @Test func emptySystemsGiveEmptySolutions() throws {
        #expect(try solvePositiveDefinite(Tensor.zeros([0, 0]), Tensor.zeros([0])) == Tensor.zeros([0]))
        #expect(try solveLeastSquares(Tensor.zeros([3, 0]), Tensor.ones([3, 2])) == Tensor.zeros([0, 2]))
    }

    @Test(arguments: [(3, 3), (7, 3), (20, 5), (9, 1)])
    func leastSquaresMatchesDoubleNormalEquations(rows: Int, columns: Int) throws {
        let a = randomTensor([rows, columns], seed: 43) + identity(Swift.max(rows, columns)).sliced(alongAxis: 1, 0..<columns).sliced(alongAxis: 0, 0..<rows) * 3
        for b in [randomTensor([rows], seed: 44), randomTensor([rows, 2], seed: 45)] {
            let x = try solveLeastSquares(a, b)
            #expect(x.shape == (b.rank == 1 ? [columns] : [columns, 2]))
            // Reference: (AᵀA) x = Aᵀ b in Double.
            let aRows = doubleRows(a), bRows = doubleRows(b)
            let gram = (0..<columns).map { i in (0..<columns).map { j in (0..<rows).reduce(0.0) { $0 + aRows[$1][i] * aRows[$1][j] } } }
            let moment = (0..<columns).map { i in bRows[0].indices.map { k in (0..<rows).reduce(0.0) { $0 + aRows[$1][i] * bRows[$1][k] } } }
            let reference = gaussianElimination(gram, moment).flatMap { $0 }.map { Float($0) }
            assertClose(x, Tensor(shape: x.shape, scalars: reference), rtol: 1e-4, atol: 1e-5, "\(rows)×\(columns), b \(b.shape)")
            if rows == columns {
                assertClose(apply(a, x), b, rtol: 1e-4, atol: 1e-5, "square system is solved exactly")
            }
        }
    }

    @Test func rankDeficientMatricesAreRejected() {
        // Column 1 is zero: R₁₁ is exactly 0 (LAPACK's own check).
        let zeroColumn = Tensor(shape: [4, 2], scalars: [1, 0, 2, 0, 3, 0, 4, 0])
        #expect(throws: LinearAlgebraError.rankDeficient(column: 1)) {
            try solveLeastSquares(zeroColumn, Tensor.ones([4]))
        }
        // Column 2 repeats column 0: R₂₂ is rounding noise (the relative tolerance).
        let a = randomTensor([6, 2], seed: 46)
        let repeated = Tensor.concatenated([a, a.sliced(alongAxis: 1, 0..<1)], alongAxis: 1)
        #expect(throws: LinearAlgebraError.rankDeficient(column: 2)) {
            try solveLeastSquares(repeated, Tensor.ones([6]))
        }
    }

    @Test(arguments: [Float(0), 1e-6])
    func ridgeWithVanishingPenaltyRecoversExactLinearModel(lambda: Float) throws {
        let x = randomTensor([40, 3], seed: 47) * 2
        let coefficients = Tensor(shape: [3], scalars: [1.5, -2, 0.25])
        let y = apply(x, coefficients) + 0.75
        let weights = randomTensor([40], seed: 48).abs() + 0.1
        let fit = try ridgeRegression(features: x, targets: y, sampleWeights: weights, lambda: lambda)
        assertClose(fit.coefficients, coefficients, rtol: 1e-4, atol: 1e-4)
        #expect(Swift.abs(fit.intercept - 0.75) < 1e-4)

        let noIntercept = try ridgeRegression(features: x, targets: y - 0.75, sampleWeights: weights, lambda: lambda, fitIntercept: false)
        assertClose(noIntercept.coefficients, coefficients, rtol: 1e-4, atol: 1e-4)
        #expect(noIntercept.intercept == 0)
    }

    @Test(arguments: [true, false])
    func ridgeSatisfiesItsOptimalityConditions(fitIntercept: Bool) throws {
        // LIME-like: binary features, noisy targets, uneven weights, some weights 0.
        let (n, d) = (60, 5)
        let x = (randomTensor([n, d], seed: 49) + 0.3).map { $0 > 0 ? 1 : 0 }
        let y = randomTensor([n], seed: 50) * 3
        let weights = randomTensor([n], seed: 51).map { $0 < -0.8 ? 0 : $0 + 1 }
        let lambda: Float = 1
        let fit = try ridgeRegression(features: x, targets: y, sampleWeights: weights, lambda: lambda, fitIntercept: fitIntercept)
        #expect(fit.coefficients.shape == [d])
        // Gradient of Σ wᵢ (yᵢ − xᵢ·β − c)² + λ‖β‖², halved, in Double: −Σ wᵢ rᵢ xᵢ + λβ = 0 and −Σ wᵢ rᵢ = 0.
        let xRows = doubleRows(x)
        let beta = fit.coefficients.scalars.map { Double($0) }
        var gradient = beta.map { Double(lambda) * $0 }
        var interceptGradient = 0.0
        for i in 0..<n {
            let prediction = zip(xRows[i], beta).reduce(Double(fit.intercept)) { $0 + $1.0 * $1.1 }
            let weightedResidual = Double(weights.scalars[i]) * (Double(y.scalars[i]) - prediction)
            interceptGradient -= weightedResidual
            for j in 0..<d { gradient[j] -= weightedResidual * xRows[i][j] }
        }
        for j in 0..<d { #expect(Swift.abs(gradient[j]) < 1e-3, "∂/∂β\(j) = \(gradient[j])") }
        if fitIntercept {
            #expect(Swift.abs(interceptGradient) < 1e-3, "∂/∂c = \(interceptGradient)")
        } else {
            #expect(fit.intercept == 0)
        }
    }

    @Test func ridgeErrors() {
        let x = Tensor.ones([3, 2]), y = Tensor.ones([3])
        #expect(throws: LinearAlgebraError.zeroTotalWeight) {
            try ridgeRegression(features: x, targets: y, sampleWeights: Tensor.zeros([3]), lambda: 1)
        }
        #expect(throws: LinearAlgebraError.nonFiniteInput(argument: "targets")) {
            try ridgeRegression(features: x, targets: Tensor(shape: [3], scalars: [1, .nan, 1]), sampleWeights: Tensor.ones([3]), lambda: 1)
        }
        // A constant-zero feature without a penalty: the normal equations are singular.
        let zeroFeature = Tensor(shape: [3, 2], scalars: [1, 0, 1, 0, 1, 0])
        #expect(throws: LinearAlgebraError.notPositiveDefinite(leadingMinor: 2)) {
            try ridgeRegression(features: zeroFeature, targets: y, sampleWeights: Tensor.ones([3]), lambda: 0, fitIntercept: false)
        }
    }
}
