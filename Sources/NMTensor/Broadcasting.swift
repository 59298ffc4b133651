/// The NumPy broadcast of two shapes (aligned at the right; a dimension of 1 stretches), or
/// `nil` when they are incompatible.
public func broadcastShapes(_ lhs: [Int], _ rhs: [Int]) -> [Int]? {
    let rank = max(lhs.count, rhs.count)
    let left = [Int](repeating: 1, count: rank - lhs.count) + lhs
    let right = [Int](repeating: 1, count: rank - rhs.count) + rhs
    var result = [Int](repeating: 0, count: rank)
    for axis in 0..<rank {
        switch (left[axis], right[axis]) {
        case let (l, r) where l == r: result[axis] = l
        case let (1, r): result[axis] = r
        case let (l, 1): result[axis] = l
        default: return nil
        }
    }
    return result
}
