extension Tensor {
    /// An `[H, W, C]` image (as `ImageFile` returns) as a batch of one, `[1, C, H, W]` (NCHW).
    /// - Precondition: rank 3.
    public func hwcToNCHW() -> Tensor {
        precondition(rank == 3, "hwcToNCHW: expected [H, W, C], got \(shape)")
        let (height, width, channels) = (shape[0], shape[1], shape[2])
        var result = [Float](repeating: 0, count: count)
        for y in 0..<height {
            for x in 0..<width {
                let source = (y * width + x) * channels
                for channel in 0..<channels {
                    result[(channel * height + y) * width + x] = scalars[source + channel]
                }
            }
        }
        return Tensor(shape: [1, channels, height, width], scalars: result)
    }

    /// A batch of one `[1, C, H, W]` (NCHW) as an `[H, W, C]` image, the inverse of `hwcToNCHW()`.
    /// - Precondition: shape `[1, C, H, W]`.
    public func nchwToHWC() -> Tensor {
        precondition(rank == 4 && shape[0] == 1, "nchwToHWC: expected [1, C, H, W], got \(shape)")
        let (channels, height, width) = (shape[1], shape[2], shape[3])
        var result = [Float](repeating: 0, count: count)
        for channel in 0..<channels {
            for y in 0..<height {
                for x in 0..<width {
                    result[(y * width + x) * channels + channel] = scalars[(channel * height + y) * width + x]
                }
            }
        }
        return Tensor(shape: [height, width, channels], scalars: result)
    }
}
