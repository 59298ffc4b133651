/// Per-channel kernels over `[N, C, spatial...]` tensors (channel axis 1): the affine map of an
/// inference BatchNorm or a convolution bias, and the per-channel sums their backward passes need.

/// `output[n, c, i] = input[n, c, i] · scale[c] + shift[c]`.
/// - Parameters:
///   - input: `[N, C, ...]` (rank ≥ 2).
///   - scale: `[C]`, or `nil` for 1.
///   - shift: `[C]`, or `nil` for 0.
public func channelAffine(_ input: Tensor, scale: Tensor?, shift: Tensor?) -> Tensor {
    precondition(input.rank >= 2, "channelAffine: input \(input.shape) needs rank ≥ 2")
    let batch = input.shape[0], channels = input.shape[1]
    let plane = channels == 0 || batch == 0 ? 0 : input.count / (batch * channels)
    precondition(scale.map { $0.count == channels } ?? true, "channelAffine: scale \(scale!.shape) for \(channels) channels")
    precondition(shift.map { $0.count == channels } ?? true, "channelAffine: shift \(shift!.shape) for \(channels) channels")
    let scaleValues = scale?.scalars ?? [Float](repeating: 1, count: channels)
    let shiftValues = shift?.scalars ?? [Float](repeating: 0, count: channels)
    return reusableTensor(input.shape) { output in
        guard output.count > 0 else { return }
        input.scalars.withUnsafeBufferPointer { source in
            output.scalars.withUnsafeMutableBufferPointer { out in
                let (from, to) = (source.baseAddress!, out.baseAddress!)
                parallelFor(batch * channels, minimumChunk: max(1, 16384 / max(plane, 1))) { planes in
                    for planeIndex in planes {
                        let c = planeIndex % channels
                        let a = scaleValues[c], b = shiftValues[c]
                        let offset = planeIndex &* plane
                        for i in offset..<(offset &+ plane) { to[i] = from[i] * a + b }
                    }
                }
            }
        }
    }
}

/// Σ over batch and spatial positions, per channel: `[N, C, ...] → [C]` (accumulated in Double).
public func channelSum(_ input: Tensor) -> Tensor {
    channelReduce(input, nil)
}

/// Σ over batch and spatial positions of `a · b`, per channel: `[N, C, ...] × [N, C, ...] → [C]`.
public func channelDotSum(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "channelDotSum: shapes \(a.shape) and \(b.shape) differ")
    return channelReduce(a, b)
}

private func channelReduce(_ a: Tensor, _ b: Tensor?) -> Tensor {
    precondition(a.rank >= 2, "channel reduction: input \(a.shape) needs rank ≥ 2")
    let batch = a.shape[0], channels = a.shape[1]
    let plane = channels == 0 || batch == 0 ? 0 : a.count / (batch * channels)
    var sums = [Double](repeating: 0, count: channels)
    a.scalars.withUnsafeBufferPointer { left in
        let factors = b?.scalars ?? []
        factors.withUnsafeBufferPointer { right in
            for n in 0..<batch {
                for c in 0..<channels {
                    let offset = (n &* channels &+ c) &* plane
                    var sum: Float = 0
                    if b == nil {
                        for i in 0..<plane { sum += left[offset &+ i] }
                    } else {
                        for i in 0..<plane { sum += left[offset &+ i] * right[offset &+ i] }
                    }
                    sums[c] += Double(sum)
                }
            }
        }
    }
    return Tensor(shape: [channels], scalars: sums.map { Float($0) })
}
