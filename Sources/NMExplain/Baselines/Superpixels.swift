import Foundation
import NMTensor

/// A partition of an `[H, W]` image into `count` labelled regions (superpixels), each label in
/// `0..<count` and every label used.
public struct Superpixels: Sendable, Equatable {
    public let height: Int
    public let width: Int
    /// The region of each pixel, `H · W` entries in row-major order.
    public let labels: [Int]
    /// The number of regions.
    public let count: Int

    /// - Precondition: `labels.count == height · width` and the labels are exactly `0..<count`
    ///   for some count (every value used).
    public init(labels: [Int], height: Int, width: Int) {
        precondition(height >= 1 && width >= 1 && labels.count == height * width, "Superpixels: \(labels.count) labels for \(height)x\(width)")
        let count = (labels.max() ?? -1) + 1
        var used = [Bool](repeating: false, count: count)
        for label in labels {
            precondition(label >= 0, "Superpixels: negative label \(label)")
            used[label] = true
        }
        precondition(used.allSatisfy { $0 }, "Superpixels: labels must be exactly 0..<\(count)")
        self.height = height
        self.width = width
        self.labels = labels
        self.count = count
    }

    /// The number of pixels in each region.
    public var sizes: [Int] {
        var sizes = [Int](repeating: 0, count: count)
        for label in labels { sizes[label] += 1 }
        return sizes
    }

    /// The mean colour of each region of `image` `[1, 3, H, W]`: `[count, 3]`.
    public func meanColors(of image: Tensor) -> Tensor {
        precondition(image.shape == [1, 3, height, width], "Superpixels.meanColors: image \(image.shape) for \(height)x\(width)")
        let plane = height * width
        var sums = [Double](repeating: 0, count: count * 3)
        for pixel in 0..<plane {
            for channel in 0..<3 { sums[labels[pixel] * 3 + channel] += Double(image.scalars[channel * plane + pixel]) }
        }
        let sizes = self.sizes
        return Tensor(shape: [count, 3], scalars: sums.indices.map { Float(sums[$0] / Double(sizes[$0 / 3])) })
    }

    /// Square cells of `cellSize` pixels (the last row and column of cells may be smaller),
    /// numbered row by row.
    /// - Precondition: `cellSize ≥ 1`.
    public static func grid(height: Int, width: Int, cellSize: Int) -> Superpixels {
        precondition(cellSize >= 1, "Superpixels.grid: cell size \(cellSize)")
        let columns = (width + cellSize - 1) / cellSize
        var labels = [Int](repeating: 0, count: height * width)
        for row in 0..<height {
            for column in 0..<width { labels[row * width + column] = (row / cellSize) * columns + column / cellSize }
        }
        return Superpixels(labels: labels, height: height, width: width)
    }

    /// SLIC superpixels (Achanta et al., TPAMI 2012), as scikit-image's `slic` computes them:
    /// k-means in (L, a, b, y, x) with the spatial distance scaled by `compactness / S`
    /// (S = √(H·W / segmentCount), the grid step), each centre searching a 2S × 2S window, then
    /// connectivity enforced: each cluster keeps its largest 4-connected piece and the other
    /// pieces are absorbed by the regions around them. (scikit-image instead merges every piece
    /// below S²/2 pixels into a neighbour, which on a noisy image can cascade into a single
    /// region; keeping one piece per cluster keeps the count near `segmentCount`.)
    /// Deterministic: the centres start on a regular grid.
    /// - Parameters:
    ///   - image: `[1, 3, H, W]` sRGB pixels in [0, 1] (converted to CIE Lab, D65).
    ///   - segmentCount: the approximate number of regions wanted (≥ 1).
    ///   - compactness: m, the weight of the spatial distance (scikit-image default 10).
    ///   - iterations: k-means iterations (scikit-image default 10).
    /// - Returns: regions numbered in raster order of their kept pieces; one per non-empty
    ///   cluster, so at most the number of grid centres (≈ `segmentCount`).
    /// - Complexity: O(iterations · H · W) (each pixel is compared with about 4 centres).
    public static func slic(_ image: Tensor, segmentCount: Int, compactness: Float = 10, iterations: Int = 10) -> Superpixels {
        precondition(image.rank == 4 && image.shape[0] == 1 && image.shape[1] == 3, "Superpixels.slic: image \(image.shape) is not [1, 3, H, W]")
        precondition(segmentCount >= 1 && compactness > 0 && iterations >= 0, "Superpixels.slic: bad settings")
        let (height, width) = (image.shape[2], image.shape[3])
        let plane = height * width
        let lab = labColors(image)  // [H·W · 3]

        // Initial centres on a regular grid of about segmentCount cells.
        let step = (Double(plane) / Double(segmentCount)).squareRoot()
        let gridRows = max(1, min(height, Int((Double(height) / step).rounded())))
        let gridColumns = max(1, min(width, Int((Double(width) / step).rounded())))
        var centres: [[Double]] = []  // [L, a, b, y, x]
        for gridRow in 0..<gridRows {
            for gridColumn in 0..<gridColumns {
                let y = min(height - 1, Int((Double(gridRow) + 0.5) * Double(height) / Double(gridRows)))
                let x = min(width - 1, Int((Double(gridColumn) + 0.5) * Double(width) / Double(gridColumns)))
                let pixel = y * width + x
                centres.append([lab[pixel * 3], lab[pixel * 3 + 1], lab[pixel * 3 + 2], Double(y), Double(x)])
            }
        }
        let spatialWeight = Double(compactness) / step  // multiplies the pixel distance
        let radius = Int(step.rounded(.up))

        var labels = [Int](repeating: 0, count: plane)
        var distances = [Double](repeating: .infinity, count: plane)
        for _ in 0..<max(iterations, 1) {
            for index in 0..<plane { distances[index] = .infinity }
            for (label, centre) in centres.enumerated() {
                let (centreY, centreX) = (Int(centre[3].rounded()), Int(centre[4].rounded()))
                for y in max(0, centreY - radius)...min(height - 1, centreY + radius) {
                    for x in max(0, centreX - radius)...min(width - 1, centreX + radius) {
                        let pixel = y * width + x
                        let dL = lab[pixel * 3] - centre[0], da = lab[pixel * 3 + 1] - centre[1], db = lab[pixel * 3 + 2] - centre[2]
                        let dy = Double(y) - centre[3], dx = Double(x) - centre[4]
                        let distance = dL * dL + da * da + db * db + (dy * dy + dx * dx) * spatialWeight * spatialWeight
                        if distance < distances[pixel] {
                            distances[pixel] = distance
                            labels[pixel] = label
                        }
                    }
                }
            }
            // Pixels no window reached keep the nearest centre in space.
            for pixel in 0..<plane where distances[pixel] == .infinity {
                let (y, x) = (Double(pixel / width), Double(pixel % width))
                labels[pixel] = centres.indices.min { a, b in
                    let da = (centres[a][3] - y) * (centres[a][3] - y) + (centres[a][4] - x) * (centres[a][4] - x)
                    let db = (centres[b][3] - y) * (centres[b][3] - y) + (centres[b][4] - x) * (centres[b][4] - x)
                    return da < db
                }!
            }
            // Move each centre to the mean of its pixels (an empty cluster keeps its centre).
            var sums = [[Double]](repeating: [0, 0, 0, 0, 0], count: centres.count)
            var counts = [Int](repeating: 0, count: centres.count)
            for pixel in 0..<plane {
                let label = labels[pixel]
                sums[label][0] += lab[pixel * 3]
                sums[label][1] += lab[pixel * 3 + 1]
                sums[label][2] += lab[pixel * 3 + 2]
                sums[label][3] += Double(pixel / width)
                sums[label][4] += Double(pixel % width)
                counts[label] += 1
            }
            for label in centres.indices where counts[label] > 0 {
                centres[label] = sums[label].map { $0 / Double(counts[label]) }
            }
        }
        return enforcingConnectivity(labels, height: height, width: width)
    }

    /// Makes every region 4-connected: each cluster of `labels` keeps its largest 4-connected
    /// piece as a region (numbered in raster order of first pixels); every other piece is
    /// absorbed by the regions around it, grown breadth-first from the kept pieces, so each
    /// region stays connected and every pixel is labelled.
    static func enforcingConnectivity(_ labels: [Int], height: Int, width: Int) -> Superpixels {
        let plane = height * width
        func neighbours(_ pixel: Int) -> [Int] {
            let (row, column) = (pixel / width, pixel % width)
            var result: [Int] = []
            if column > 0 { result.append(pixel - 1) }
            if column < width - 1 { result.append(pixel + 1) }
            if row > 0 { result.append(pixel - width) }
            if row < height - 1 { result.append(pixel + width) }
            return result
        }
        // Connected pieces of equal label, in raster order of first pixels.
        var piece = [Int](repeating: -1, count: plane)
        var pieceSizes: [Int] = []
        var pieceLabels: [Int] = []
        var stack: [Int] = []
        for start in 0..<plane where piece[start] < 0 {
            let id = pieceSizes.count
            piece[start] = id
            stack.append(start)
            var size = 0
            while let pixel = stack.popLast() {
                size += 1
                for neighbour in neighbours(pixel) where piece[neighbour] < 0 && labels[neighbour] == labels[start] {
                    piece[neighbour] = id
                    stack.append(neighbour)
                }
            }
            pieceSizes.append(size)
            pieceLabels.append(labels[start])
        }
        // The largest piece of each cluster (the first one on ties) becomes a region.
        var largest: [Int: Int] = [:]  // cluster label → piece
        for id in pieceSizes.indices {
            if let best = largest[pieceLabels[id]], pieceSizes[best] >= pieceSizes[id] { continue }
            largest[pieceLabels[id]] = id
        }
        var region = [Int](repeating: -1, count: pieceSizes.count)
        var regionCount = 0
        for id in pieceSizes.indices where largest[pieceLabels[id]] == id {
            region[id] = regionCount
            regionCount += 1
        }
        // Grow the kept pieces breadth-first over the others.
        var result = [Int](repeating: -1, count: plane)
        var queue: [Int] = []
        for pixel in 0..<plane where region[piece[pixel]] >= 0 {
            result[pixel] = region[piece[pixel]]
            queue.append(pixel)
        }
        var head = 0
        while head < queue.count {
            let pixel = queue[head]
            head += 1
            for neighbour in neighbours(pixel) where result[neighbour] < 0 {
                result[neighbour] = result[pixel]
                queue.append(neighbour)
            }
        }
        return Superpixels(labels: result, height: height, width: width)
    }

    /// CIE Lab (D65) of every pixel of `[1, 3, H, W]` sRGB in [0, 1], as scikit-image's
    /// `rgb2lab`: `H·W·3` values (L in [0, 100]).
    static func labColors(_ image: Tensor) -> [Double] {
        let plane = image.shape[2] * image.shape[3]
        func linear(_ value: Float) -> Double {
            let c = Double(min(max(value, 0), 1))
            return c > 0.04045 ? pow((c + 0.055) / 1.055, 2.4) : c / 12.92
        }
        func f(_ t: Double) -> Double { t > 0.008856 ? cbrt(t) : 7.787 * t + 16.0 / 116.0 }
        var lab = [Double](repeating: 0, count: plane * 3)
        for pixel in 0..<plane {
            let r = linear(image.scalars[pixel]), g = linear(image.scalars[plane + pixel]), b = linear(image.scalars[2 * plane + pixel])
            let x = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.95047
            let y = 0.212671 * r + 0.715160 * g + 0.072169 * b
            let z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.08883
            let (fx, fy, fz) = (f(x), f(y), f(z))
            lab[pixel * 3] = 116 * fy - 16
            lab[pixel * 3 + 1] = 500 * (fx - fy)
            lab[pixel * 3 + 2] = 200 * (fy - fz)
        }
        return lab
    }
}
