import Foundation

extension Tensor {
    /// An `[H, W, C]` image resized to `[height, width, C]` exactly as scikit-image's
    /// `skimage.transform.resize(image, (height, width))` does with its defaults (order=1,
    /// mode='reflect', anti_aliasing=None, clip=True; checked against scikit-image 0.26):
    ///
    /// 1. Anti-aliasing, when `antialias` is true and either axis shrinks: a Gaussian filter
    ///    with standard deviation σ = max(0, (s − 1) / 2) per axis, where s = input size /
    ///    output size, truncated at 4σ (radius ⌊4σ + 0.5⌋), with mirrored edges
    ///    (`scipy.ndimage` mode 'mirror', NumPy's 'reflect': d c b | a b c d | c b a).
    ///    Axes that do not shrink get σ = 0, i.e. no filtering.
    /// 2. Bilinear interpolation with pixel-centre alignment: output index j samples input
    ///    coordinate (j + 0.5) · s − 0.5; coordinates outside [0, n − 1] are mirrored back.
    /// 3. Clipping to the input's [min, max].
    ///
    /// With `antialias: false` step 1 is skipped, as with `anti_aliasing=False`. Arithmetic is
    /// in Float (scikit-image uses Float64 for 8-bit input); results agree to about 1e-6.
    /// - Precondition: rank 3, every input dimension > 0, `height > 0`, `width > 0`.
    /// - Complexity: O(height·W·C·t_H + height·width·C·t_W) with t = 2 without
    ///   anti-aliasing and t = 2·(2r + 1) with it, r the filter radius of that axis.
    public func resized(height: Int, width: Int, antialias: Bool = true) -> Tensor {
        precondition(rank == 3, "resized: expected [H, W, C], got \(shape)")
        let (inputHeight, inputWidth, channels) = (shape[0], shape[1], shape[2])
        precondition(inputHeight > 0 && inputWidth > 0, "resized: empty image \(shape)")
        precondition(height > 0 && width > 0, "resized: output size \(height)×\(width) must be positive")
        var rowTaps = ResamplingTaps.linear(from: inputHeight, to: height)
        var columnTaps = ResamplingTaps.linear(from: inputWidth, to: width)
        if antialias && (height < inputHeight || width < inputWidth) {
            // Filtering then interpolating is one linear map per axis; composing the taps means
            // the filter is evaluated only where the interpolation reads it.
            let rowSigma = Swift.max(0, (Double(inputHeight) / Double(height) - 1) / 2)
            let columnSigma = Swift.max(0, (Double(inputWidth) / Double(width) - 1) / 2)
            if let filter = ResamplingTaps.gaussian(length: inputHeight, sigma: rowSigma) { rowTaps = rowTaps.composed(with: filter) }
            if let filter = ResamplingTaps.gaussian(length: inputWidth, sigma: columnSigma) { columnTaps = columnTaps.composed(with: filter) }
        }
        var values = rowTaps.apply(to: scalars, outer: 1, inner: inputWidth * channels)
        values = columnTaps.apply(to: values, outer: height, inner: channels)

        // Clip to the input range (scikit-image's clip=True); NaNs are left alone.
        var (low, high) = (Float.infinity, -Float.infinity)
        for value in scalars where !value.isNaN {
            low = Swift.min(low, value)
            high = Swift.max(high, value)
        }
        for index in values.indices where low <= high && (values[index] < low || values[index] > high) {
            values[index] = Swift.min(Swift.max(values[index], low), high)
        }
        return Tensor(shape: [height, width, channels], scalars: values)
    }

    /// The central `[height, width, C]` window of an `[H, W, C]` image. The window starts at
    /// row ⌊(H − height) / 2⌋ and column ⌊(W − width) / 2⌋ (an odd excess puts the extra
    /// pixel at the bottom or right).
    /// - Precondition: rank 3, `0 < height ≤ H`, `0 < width ≤ W`.
    public func centreCropped(height: Int, width: Int) -> Tensor {
        precondition(rank == 3, "centreCropped: expected [H, W, C], got \(shape)")
        let (inputHeight, inputWidth, channels) = (shape[0], shape[1], shape[2])
        precondition(height > 0 && height <= inputHeight && width > 0 && width <= inputWidth,
                     "centreCropped: \(height)×\(width) does not fit in \(shape)")
        let top = (inputHeight - height) / 2
        let left = (inputWidth - width) / 2
        var result: [Float] = []
        result.reserveCapacity(height * width * channels)
        for y in top..<(top + height) {
            let start = (y * inputWidth + left) * channels
            result.append(contentsOf: scalars[start..<(start + width * channels)])
        }
        return Tensor(shape: [height, width, channels], scalars: result)
    }
}

/// A 1-D resampling along one axis: output index j is Σₜ weights[j·tapCount + t] ·
/// input[indices[j·tapCount + t]]. Both the Gaussian filter and linear interpolation are of
/// this form, so one loop applies either.
struct ResamplingTaps {
    let outputLength: Int
    let tapCount: Int
    let indices: [Int]
    let weights: [Double]

    /// scipy.ndimage.gaussian_filter1d (truncate 4, mode 'mirror') as taps, or nil when σ is
    /// too small to filter (scipy skips σ ≤ 1e-15).
    static func gaussian(length: Int, sigma: Double) -> ResamplingTaps? {
        guard sigma > 1e-15 else { return nil }
        let radius = Int(4 * sigma + 0.5)
        let kernel = (-radius...radius).map { exp(-0.5 / (sigma * sigma) * Double($0 * $0)) }
        let total = kernel.reduce(0, +)
        let normalised = kernel.map { $0 / total }
        var indices: [Int] = []
        var weights: [Double] = []
        indices.reserveCapacity(length * kernel.count)
        weights.reserveCapacity(length * kernel.count)
        for position in 0..<length {
            for offset in -radius...radius {
                indices.append(mirroredIndex(position + offset, length: length))
                weights.append(normalised[offset + radius])
            }
        }
        return ResamplingTaps(outputLength: length, tapCount: kernel.count, indices: indices, weights: weights)
    }

    /// scipy.ndimage.zoom(order=1, mode='mirror', grid_mode=True) along one axis as taps.
    static func linear(from inputLength: Int, to outputLength: Int) -> ResamplingTaps {
        let scale = Double(inputLength) / Double(outputLength)
        var indices: [Int] = []
        var weights: [Double] = []
        for position in 0..<outputLength {
            let coordinate = mirroredCoordinate((Double(position) + 0.5) * scale - 0.5, length: inputLength)
            let lower = Int(coordinate.rounded(.down))
            let fraction = coordinate - Double(lower)
            indices += [lower, min(lower + 1, inputLength - 1)]
            weights += [1 - fraction, fraction]
        }
        return ResamplingTaps(outputLength: outputLength, tapCount: 2, indices: indices, weights: weights)
    }

    /// These taps applied to the output of `first`: output j reads, for each of its taps
    /// (i, w), every tap (k, g) of `first`'s output i with weight w·g.
    /// - Precondition: `first.outputLength` is the length these taps read.
    func composed(with first: ResamplingTaps) -> ResamplingTaps {
        precondition(indices.allSatisfy { $0 < first.outputLength }, "ResamplingTaps.composed: lengths differ")
        var composedIndices: [Int] = []
        var composedWeights: [Double] = []
        composedIndices.reserveCapacity(outputLength * tapCount * first.tapCount)
        composedWeights.reserveCapacity(outputLength * tapCount * first.tapCount)
        for slot in 0..<(outputLength * tapCount) {
            let middle = indices[slot]
            for inner in (middle * first.tapCount)..<((middle + 1) * first.tapCount) {
                composedIndices.append(first.indices[inner])
                composedWeights.append(weights[slot] * first.weights[inner])
            }
        }
        return ResamplingTaps(outputLength: outputLength, tapCount: tapCount * first.tapCount, indices: composedIndices, weights: composedWeights)
    }

    /// Applies the taps to the middle axis of `values` viewed as `[outer, length, inner]`,
    /// giving `[outer, outputLength, inner]`.
    func apply(to values: [Float], outer: Int, inner: Int) -> [Float] {
        let length = outer == 0 || inner == 0 ? 0 : values.count / (outer * inner)
        precondition(outer * length * inner == values.count, "ResamplingTaps: \(values.count) values are not [\(outer), n, \(inner)]")
        var output = [Float](repeating: 0, count: outer * outputLength * inner)
        for block in 0..<outer {
            let inputBase = block &* length &* inner
            for position in 0..<outputLength {
                let outputStart = (block &* outputLength &+ position) &* inner
                for tap in 0..<tapCount {
                    let weight = Float(weights[position &* tapCount &+ tap])
                    let inputStart = inputBase &+ indices[position &* tapCount &+ tap] &* inner
                    for element in 0..<inner {
                        output[outputStart &+ element] += weight * values[inputStart &+ element]
                    }
                }
            }
        }
        return output
    }
}

/// Index `index` of a line of `length` samples extended by mirroring about the end samples
/// (scipy.ndimage 'mirror': … 2 1 | 0 1 2 … n−1 | n−2 …), repeated as far as needed.
private func mirroredIndex(_ index: Int, length: Int) -> Int {
    guard length > 1 else { return 0 }
    let period = 2 * (length - 1)
    var wrapped = index % period
    if wrapped < 0 { wrapped += period }
    return wrapped < length ? wrapped : period - wrapped
}

/// A real coordinate mirrored into [0, length − 1] the same way.
private func mirroredCoordinate(_ coordinate: Double, length: Int) -> Double {
    guard length > 1 else { return 0 }
    let period = Double(2 * (length - 1))
    let wrapped = abs(coordinate).truncatingRemainder(dividingBy: period)
    return wrapped <= Double(length - 1) ? wrapped : period - wrapped
}
