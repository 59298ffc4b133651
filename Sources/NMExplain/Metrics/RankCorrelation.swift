/// Ranks 1 … n of `values` in increasing order, tied values sharing the average of their ranks
/// (SciPy's `rankdata(method="average")`).
/// - Precondition: no NaN.
public func averageRanks(_ values: [Float]) -> [Double] {
    precondition(!values.contains { $0.isNaN }, "averageRanks: NaN has no rank")
    let order = values.indices.sorted { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }
    var ranks = [Double](repeating: 0, count: values.count)
    var start = 0
    while start < order.count {
        var end = start + 1
        while end < order.count && values[order[end]] == values[order[start]] { end += 1 }
        let rank = Double(start + 1 + end) / 2  // mean of the 1-based ranks start+1 … end
        for position in start..<end { ranks[order[position]] = rank }
        start = end
    }
    return ranks
}

/// Spearman's rank correlation: the Pearson correlation of the average ranks (SciPy's
/// `spearmanr`), accumulated in Double.
/// - Parameters: two sequences of the same length ≥ 2, without NaN.
/// - Returns: a value in [−1, 1]; NaN when either sequence is constant (the correlation is
///   undefined, as in SciPy).
public func spearmanCorrelation(_ first: [Float], _ second: [Float]) -> Float {
    precondition(first.count == second.count, "spearmanCorrelation: lengths \(first.count) and \(second.count)")
    precondition(first.count >= 2, "spearmanCorrelation: needs at least two values")
    let (a, b) = (averageRanks(first), averageRanks(second))
    let mean = Double(a.count + 1) / 2  // both rank lists average (n + 1) / 2
    var covariance = 0.0, varianceA = 0.0, varianceB = 0.0
    for (x, y) in zip(a, b) {
        covariance += (x - mean) * (y - mean)
        varianceA += (x - mean) * (x - mean)
        varianceB += (y - mean) * (y - mean)
    }
    guard varianceA > 0 && varianceB > 0 else { return .nan }
    return Float(max(-1, min(1, covariance / (varianceA * varianceB).squareRoot())))
}
