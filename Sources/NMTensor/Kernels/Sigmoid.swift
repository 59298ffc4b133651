// The logistic function over an array, in loops the compiler vectorises: e^t by range reduction
// and a polynomial (Cephes' expf: 2ⁿ · e^r with |r| ≤ ln 2 / 2, error within 2 ulp) instead of a
// call to `expf` per element, which no loop can vectorise. A NeuroMask iteration takes the
// sigmoid of the whole 224 × 224 mask: 0.3 ms with `expf` on this machine's cores.

import Foundation

/// The most negative t for which `negativeExponential` is exact to 2 ulp: below it, e^t is
/// subnormal (or 0), which 2ⁿ built from exponent bits cannot give.
private let smallestNormalExponent: Float = -87.33

/// e^t for t in [−87.33, 0] (NaN for NaN) without branches or calls, so that a loop of it
/// vectorises. Outside that range the result is meaningless; callers take `expf` there.
@inline(__always)
private func negativeExponential(_ t: Float) -> Float {
    // n = round(t / ln 2) by the 1.5 · 2²³ shift: the sum's low mantissa bits hold n.
    let roundingShift: Float = 12_582_912
    let shifted = t * 1.442_695_04 + roundingShift
    let n = shifted - roundingShift
    // r = t − n · ln 2, with ln 2 split in two so that n · ln 2 is exact in its first part.
    let r = (t - n * 0.693_359_375) - n * -2.121_944_4e-4
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_91e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let expR = p * r * r + r + 1
    // 2ⁿ from its exponent bits: n + 127 in bits 23–30 (n ≥ −126 in the range above).
    let twoToN = Float(bitPattern: (shifted.bitPattern &- roundingShift.bitPattern &+ 127) &<< 23)
    return expR * twoToN
}

/// The logistic function of every scalar (see `sigmoid(_:into:range:)`), in parallel chunks for
/// 2 × 2¹² or more elements (a 224 × 224 NeuroMask mask splits).
func sigmoidScalars(_ input: [Float]) -> [Float] {
    let count = input.count
    guard count > 0 else { return [] }
    return reusableScalars(count) { output in
        input.withUnsafeBufferPointer { source in
            parallelFor(count, minimumChunk: transcendentalMinimumChunk) { range in
                sigmoid(source.baseAddress!, into: output.baseAddress!, range: range)
            }
        }
    }
}

/// `output[i] = 1 / (1 + e^(−x))` for `x = input[i]`, i in `range`: for x ≥ 0 as 1 / (1 + e) and
/// for x < 0 as e / (1 + e), with e = e^(−|x|) ≤ 1, which never overflows. Elements with
/// |x| > 87.33 (e subnormal or 0), infinities and NaNs take e from `expf` (sigmoid(−100) = e⁻¹⁰⁰,
/// a subnormal; NaN stays NaN); each result depends on its own element only.
func sigmoid(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, range: Range<Int>) {
    @inline(__always) func logistic(_ x: Float, _ exponential: Float) -> Float {
        let reciprocal = 1 / (1 + exponential)
        return x >= 0 ? reciprocal : exponential * reciprocal  // a select, not a branch
    }
    let blockLength = 256
    var start = range.lowerBound
    while start < range.upperBound {
        let end = Swift.min(start &+ blockLength, range.upperBound)
        var outsideCount = 0
        for index in start..<end {
            let x = input[index]
            let t = -Swift.abs(x)
            outsideCount &+= t >= smallestNormalExponent ? 0 : 1  // NaN counts as outside
            output[index] = logistic(x, negativeExponential(Swift.max(t, smallestNormalExponent)))
        }
        if outsideCount > 0 {
            for index in start..<end where !(-Swift.abs(input[index]) >= smallestNormalExponent) {
                let x = input[index]
                output[index] = logistic(x, expf(-Swift.abs(x)))
            }
        }
        start = end
    }
}
