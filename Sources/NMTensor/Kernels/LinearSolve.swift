import CBLASShim

/// Why a dense linear solve failed.
public enum LinearAlgebraError: Error, Equatable, CustomStringConvertible {
    /// Cholesky factorisation failed: the leading minor of this order (1-based, LAPACK's `info`)
    /// is not positive definite.
    case notPositiveDefinite(leadingMinor: Int)
    /// Column `column` (0-based) of the matrix is, to working precision, a linear combination
    /// of the columns before it, so least squares has no unique solution.
    case rankDeficient(column: Int)
    /// The operand named `argument` holds NaN or ±∞.
    case nonFiniteInput(argument: String)
    /// An intercept was requested but every sample weight is 0, so the weighted means are undefined.
    case zeroTotalWeight

    public var description: String {
        switch self {
        case .notPositiveDefinite(let order):
            return "matrix is not positive definite (leading minor of order \(order) fails)"
        case .rankDeficient(let column):
            return "matrix is rank deficient: column \(column) depends on the columns before it"
        case .nonFiniteInput(let argument):
            return "\(argument) contains NaN or infinity"
        case .zeroTotalWeight:
            return "all sample weights are zero; cannot fit an intercept"
        }
    }
}

/// Solves `a · x = b` for a symmetric positive definite `a` by Cholesky factorisation
/// (LAPACK `sposv`).
/// - Parameters:
///   - a: `[n, n]`, symmetric positive definite. Only the upper triangle (`a[i, j]`, `j ≥ i`)
///     is read.
///   - b: `[n]` or `[n, k]` (k right-hand sides).
/// - Returns: `x`, with the shape of `b`.
/// - Throws: `LinearAlgebraError.nonFiniteInput` if `a` or `b` holds NaN or ±∞;
///   `.notPositiveDefinite(leadingMinor:)` if the factorisation meets a non-positive pivot.
/// - Complexity: n³/3 + 2n²k flops.
public func solvePositiveDefinite(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    precondition(a.rank == 2 && a.shape[0] == a.shape[1], "solvePositiveDefinite: a must be [n, n], got \(a.shape)")
    let n = a.shape[0]
    precondition((b.rank == 1 || b.rank == 2) && b.shape[0] == n, "solvePositiveDefinite: b must be [\(n)] or [\(n), k], got \(b.shape)")
    guard a.isFinite else { throw LinearAlgebraError.nonFiniteInput(argument: "a") }
    guard b.isFinite else { throw LinearAlgebraError.nonFiniteInput(argument: "b") }
    let rightHandSides = b.rank == 2 ? b.shape[1] : 1
    guard n > 0 && rightHandSides > 0 else { return b }

    var factor = a.scalars  // overwritten by the Cholesky factor
    var solution = b.scalars  // [n, k] row-major; overwritten by x
    let info = factor.withUnsafeMutableBufferPointer { aBuffer in
        solution.withUnsafeMutableBufferPointer { bBuffer in
            // Row-major: lda = n, ldb = k.
            nm_sposv(Int32(n), Int32(rightHandSides), aBuffer.baseAddress!, Int32(n), bBuffer.baseAddress!, Int32(rightHandSides))
        }
    }
    precondition(info >= 0, "solvePositiveDefinite: LAPACK rejected argument \(-info)")
    if info > 0 {
        throw LinearAlgebraError.notPositiveDefinite(leadingMinor: Int(info))
    }
    return Tensor(shape: b.shape, scalars: solution)
}

/// Solves the least-squares problem `min ‖a · x − b‖₂` for a tall, full-rank `a` by QR
/// factorisation (LAPACK `sgels`).
/// - Parameters:
///   - a: `[m, n]` with `m ≥ n` and full column rank.
///   - b: `[m]` or `[m, k]`.
/// - Returns: `x`, `[n]` or `[n, k]` following `b`.
/// - Throws: `LinearAlgebraError.nonFiniteInput` if `a` or `b` holds NaN or ±∞;
///   `.rankDeficient(column:)` if a diagonal entry of R is zero or below
///   `max(m, n) · ε · max |Rᵢᵢ|` (a heuristic: the QR has no column pivoting).
/// - Complexity: 2mn² − 2n³/3 + O(mnk) flops.
public func solveLeastSquares(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    precondition(a.rank == 2, "solveLeastSquares: a must be [m, n], got \(a.shape)")
    let (m, n) = (a.shape[0], a.shape[1])
    precondition(m >= n, "solveLeastSquares: a must have at least as many rows as columns, got \(a.shape)")
    precondition((b.rank == 1 || b.rank == 2) && b.shape[0] == m, "solveLeastSquares: b must be [\(m)] or [\(m), k], got \(b.shape)")
    guard a.isFinite else { throw LinearAlgebraError.nonFiniteInput(argument: "a") }
    guard b.isFinite else { throw LinearAlgebraError.nonFiniteInput(argument: "b") }
    let rightHandSides = b.rank == 2 ? b.shape[1] : 1
    let solutionShape = b.rank == 2 ? [n, rightHandSides] : [n]
    guard n > 0 && rightHandSides > 0 else { return Tensor.zeros(solutionShape) }

    var factor = a.scalars  // overwritten by the QR factorisation (R in the upper triangle)
    var solution = b.scalars  // [m, k] row-major; its first n rows become x
    let info = factor.withUnsafeMutableBufferPointer { aBuffer in
        solution.withUnsafeMutableBufferPointer { bBuffer in
            // Row-major: lda = n, ldb = k.
            nm_sgels(Int32(m), Int32(n), Int32(rightHandSides), aBuffer.baseAddress!, Int32(n), bBuffer.baseAddress!, Int32(rightHandSides))
        }
    }
    precondition(info >= 0, "solveLeastSquares: LAPACK rejected argument \(-info)")
    if info > 0 {
        throw LinearAlgebraError.rankDeficient(column: Int(info) - 1)
    }
    let diagonal = (0..<n).map { Swift.abs(factor[$0 * n + $0]) }
    let tolerance = Float(m) * Float.ulpOfOne * diagonal.max()!
    if let column = diagonal.firstIndex(where: { $0 <= tolerance }) {
        throw LinearAlgebraError.rankDeficient(column: column)
    }
    return Tensor(shape: solutionShape, scalars: Array(solution[..<(n * rightHandSides)]))
}

/// Weighted ridge regression, as scikit-learn's `Ridge(alpha: lambda).fit(x, y, sample_weight: w)`
/// (and so as LIME fits its local surrogate): minimises
///
///     Σᵢ wᵢ (yᵢ − xᵢ·β − c)² + λ ‖β‖²
///
/// The intercept `c` is not penalised. With `fitIntercept`, `x` and `y` are centred on their
/// weighted means, `(Xcᵀ W Xc + λI) β = Xcᵀ W yc` is solved by Cholesky and
/// `c = ȳ − x̄·β`; without it, `c = 0` and the uncentred system is solved. The normal
/// equations are accumulated in Double and solved in Float.
/// - Parameters:
///   - x: `[n, d]` features.
///   - y: `[n]` targets.
///   - w: `[n]` sample weights, each ≥ 0.
///   - lambda: the ridge penalty, ≥ 0 (0 is ordinary weighted least squares, which needs
///     `x` to have full column rank on the positively weighted samples).
///   - fitIntercept: fit an unpenalised intercept.
/// - Returns: `coefficients` `[d]` and `intercept` (0 without `fitIntercept`).
/// - Throws: `LinearAlgebraError.nonFiniteInput(argument:)` naming `features`, `targets` or
///   `sampleWeights`; `.zeroTotalWeight` when fitting an intercept with all weights 0;
///   `.notPositiveDefinite` when the regularised system is singular (e.g. `lambda == 0` with
///   collinear features).
/// - Complexity: O(n·d² + d³).
public func ridgeRegression(
    features x: Tensor, targets y: Tensor, sampleWeights w: Tensor, lambda: Float, fitIntercept: Bool = true
) throws -> (coefficients: Tensor, intercept: Float) {
    precondition(x.rank == 2, "ridgeRegression: features must be [n, d], got \(x.shape)")
    let (sampleCount, featureCount) = (x.shape[0], x.shape[1])
    precondition(y.shape == [sampleCount], "ridgeRegression: targets must be [\(sampleCount)], got \(y.shape)")
    precondition(w.shape == [sampleCount], "ridgeRegression: sampleWeights must be [\(sampleCount)], got \(w.shape)")
    precondition(lambda >= 0, "ridgeRegression: lambda must be ≥ 0, got \(lambda)")
    guard x.isFinite else { throw LinearAlgebraError.nonFiniteInput(argument: "features") }
    guard y.isFinite else { throw LinearAlgebraError.nonFiniteInput(argument: "targets") }
    guard w.isFinite else { throw LinearAlgebraError.nonFiniteInput(argument: "sampleWeights") }
    precondition(w.scalars.allSatisfy { $0 >= 0 }, "ridgeRegression: sample weights must be ≥ 0")

    // Weighted means x̄ [d] and ȳ (zero without an intercept).
    var featureMeans = [Double](repeating: 0, count: featureCount)
    var targetMean = 0.0
    if fitIntercept {
        let totalWeight = w.scalars.reduce(0.0) { $0 + Double($1) }
        guard totalWeight > 0 else { throw LinearAlgebraError.zeroTotalWeight }
        for sample in 0..<sampleCount {
            let weight = Double(w.scalars[sample])
            targetMean += weight * Double(y.scalars[sample])
            for feature in 0..<featureCount {
                featureMeans[feature] += weight * Double(x.scalars[sample * featureCount + feature])
            }
        }
        targetMean /= totalWeight
        featureMeans = featureMeans.map { $0 / totalWeight }
    }

    // Normal equations: gram = Xcᵀ W Xc + λI [d, d], moment = Xcᵀ W yc [d].
    var gram = [Double](repeating: 0, count: featureCount * featureCount)
    var moment = [Double](repeating: 0, count: featureCount)
    var centred = [Double](repeating: 0, count: featureCount)  // one centred row of x
    for sample in 0..<sampleCount {
        let weight = Double(w.scalars[sample])
        guard weight > 0 else { continue }
        for feature in 0..<featureCount {
            centred[feature] = Double(x.scalars[sample * featureCount + feature]) - featureMeans[feature]
        }
        let centredTarget = Double(y.scalars[sample]) - targetMean
        for row in 0..<featureCount {
            let weighted = weight * centred[row]
            moment[row] += weighted * centredTarget
            for column in row..<featureCount {  // upper triangle; mirrored below
                gram[row * featureCount + column] += weighted * centred[column]
            }
        }
    }
    for row in 0..<featureCount {
        gram[row * featureCount + row] += Double(lambda)
        for column in 0..<row {
            gram[row * featureCount + column] = gram[column * featureCount + row]
        }
    }

    let coefficients = try solvePositiveDefinite(
        Tensor(shape: [featureCount, featureCount], scalars: gram.map { Float($0) }),
        Tensor(shape: [featureCount], scalars: moment.map { Float($0) }))
    var intercept = targetMean
    for feature in 0..<featureCount {
        intercept -= featureMeans[feature] * Double(coefficients.scalars[feature])
    }
    return (coefficients, Float(intercept))
}
