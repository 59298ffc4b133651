import Foundation

/// A normalised 1-D Gaussian kernel of odd length (default: 2·⌈3σ⌉ + 1 taps).
public func gaussianKernel(sigma: Float, size: Int? = nil) -> [Float] {
    precondition(sigma > 0, "gaussianKernel: sigma must be positive")
    let length = size ?? 2 * Int((3 * sigma).rounded(.up)) + 1
    precondition(length >= 1 && length % 2 == 1, "gaussianKernel: size must be odd and ≥ 1, got \(length)")
    let center = length / 2
    var weights = (0..<length).map { index -> Float in
        let offset = Float(index - center)
        return expf(-offset * offset / (2 * sigma * sigma))
    }
    let total = weights.reduce(0, +)
    for index in weights.indices { weights[index] /= total }
    return weights
}

/// Separable Gaussian blur of every `[H, W]` plane of `[N, C, H, W]` (or `[H, W]`), with
/// mirrored borders (`reflect`: … 2 1 | 0 1 2 … , as SciPy's and OpenCV's default). The blurred
/// copy is the "blur" substrate of NeuroMask's improved preset and of the insertion metric.
/// - Parameters:
///   - sigma: standard deviation in pixels (> 0).
///   - kernelSize: odd number of taps; default 2·⌈3σ⌉ + 1.
public func gaussianBlur(_ image: Tensor, sigma: Float, kernelSize: Int? = nil) -> Tensor {
    precondition(image.rank == 4 || image.rank == 2, "gaussianBlur: image \(image.shape) is not [N, C, H, W] or [H, W]")
    let kernel = gaussianKernel(sigma: sigma, size: kernelSize)
    let (height, width) = (image.shape[image.rank - 2], image.shape[image.rank - 1])
    guard height > 0 && width > 0 else { return image }
    let planes = image.count / (height * width)
    let radius = kernel.count / 2
    let rowIndex = (0..<height).map { y in (-radius...radius).map { mirror(y + $0, height) } }
    let columnIndex = (0..<width).map { x in (-radius...radius).map { mirror(x + $0, width) } }
    var output = image
    var temporary = [Float](repeating: 0, count: height * width)
    for plane in 0..<planes {
        let offset = plane * height * width
        for y in 0..<height {
            for x in 0..<width {
                var sum: Float = 0
                for (tap, source) in columnIndex[x].enumerated() { sum += kernel[tap] * image.scalars[offset + y * width + source] }
                temporary[y * width + x] = sum
            }
        }
        for y in 0..<height {
            for x in 0..<width {
                var sum: Float = 0
                for (tap, source) in rowIndex[y].enumerated() { sum += kernel[tap] * temporary[source * width + x] }
                output.scalars[offset + y * width + x] = sum
            }
        }
    }
    return output
}

/// Reflects an index into `0..<count` without repeating the edge (… 2 1 | 0 1 2 …).
private func mirror(_ index: Int, _ count: Int) -> Int {
    guard count > 1 else { return 0 }
    let period = 2 * (count - 1)
    var folded = index % period
    if folded < 0 { folded += period }
    return folded < count ? folded : period - folded
}
