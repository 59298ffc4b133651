import NMTensor

/// A mutable RGB image `[height, width, 3]` with values in [0, 1] that pictures are composed
/// on. Drawing outside the canvas is clipped.
struct Canvas {
    let height: Int
    let width: Int
    private(set) var pixels: [Float]  // [height, width, 3]

    init(height: Int, width: Int, background: (Float, Float, Float) = (1, 1, 1)) {
        precondition(height >= 0 && width >= 0, "Canvas: negative size \(height)×\(width)")
        self.height = height
        self.width = width
        pixels = [Float](repeating: 0, count: height * width * 3)
        fill(top: 0, left: 0, height: height, width: width, color: background)
    }

    var tensor: Tensor { Tensor(shape: [height, width, 3], scalars: pixels) }

    /// Fills a rectangle, clipped to the canvas.
    mutating func fill(top: Int, left: Int, height rectHeight: Int, width rectWidth: Int, color: (Float, Float, Float)) {
        let rows = clipped(start: top, length: rectHeight, limit: height)
        let columns = clipped(start: left, length: rectWidth, limit: width)
        for y in rows {
            for x in columns {
                let index = (y &* width &+ x) &* 3
                pixels[index] = color.0
                pixels[index &+ 1] = color.1
                pixels[index &+ 2] = color.2
            }
        }
    }

    /// Copies an `[h, w, 3]` image with its top-left corner at (`top`, `left`), clipped.
    mutating func paste(_ image: Tensor, top: Int, left: Int) {
        precondition(image.rank == 3 && image.shape[2] == 3, "Canvas.paste: expected [H, W, 3], got \(image.shape)")
        let (imageHeight, imageWidth) = (image.shape[0], image.shape[1])
        let source = image.scalars
        let columns = clipped(start: left, length: imageWidth, limit: width)
        for y in clipped(start: top, length: imageHeight, limit: height) {
            for x in columns {
                let from = ((y &- top) &* imageWidth &+ (x &- left)) &* 3
                let to = (y &* width &+ x) &* 3
                for channel in 0..<3 { pixels[to &+ channel] = source[from &+ channel] }
            }
        }
    }

    /// Draws `text` (lines separated by "\n") with the top-left of its first cell at
    /// (`top`, `left`); only lit pixels are painted.
    mutating func drawText(_ text: String, top: Int, left: Int, scale: Int, color: (Float, Float, Float)) {
        let lineHeight = BitmapFont.lineHeight(scale: scale)
        for (lineIndex, line) in BitmapFont.lines(text).enumerated() {
            let lineTop = top + lineIndex * lineHeight + scale  // one blank font row above the glyphs
            for (position, glyph) in line.enumerated() {
                let cellLeft = left + position * BitmapFont.advance * scale
                for row in 0..<BitmapFont.glyphHeight {
                    for column in 0..<BitmapFont.glyphWidth where BitmapFont.isLit(glyph: glyph, row: row, column: column) {
                        fill(top: lineTop + row * scale, left: cellLeft + column * scale, height: scale, width: scale, color: color)
                    }
                }
            }
        }
    }
}

/// The part of `start ..< start + length` inside `0 ..< limit` (possibly empty).
private func clipped(start: Int, length: Int, limit: Int) -> Range<Int> {
    let lower = min(max(0, start), limit)
    return lower..<max(lower, min(limit, start + length))
}

/// An `[H, W, 3]` image from `[1, 3, H, W]` or `[H, W, 3]`, with values clamped to [0, 1]
/// (NaN → 0) so pictures never hold out-of-range pixels.
func displayImage(_ image: Tensor, caller: String) -> Tensor {
    let hwc: Tensor
    if image.rank == 4 && image.shape[0] == 1 && image.shape[1] == 3 {
        hwc = image.nchwToHWC()
    } else {
        precondition(image.rank == 3 && image.shape[2] == 3, "\(caller): image must be [1, 3, H, W] or [H, W, 3], got \(image.shape)")
        hwc = image
    }
    return Tensor(shape: hwc.shape, scalars: hwc.scalars.map { $0.isNaN ? 0 : min(max($0, 0), 1) })
}

/// An `[H, W, C]` image enlarged `factor` times in each direction by repeating pixels
/// (nearest neighbour), `[H·factor, W·factor, C]`.
func enlarged(_ image: Tensor, by factor: Int) -> Tensor {
    precondition(image.rank == 3 && factor >= 1, "enlarged: expected [H, W, C] and factor ≥ 1, got \(image.shape), \(factor)")
    guard factor > 1 else { return image }
    let (height, width, channels) = (image.shape[0], image.shape[1], image.shape[2])
    let source = image.scalars
    var result = [Float](repeating: 0, count: image.count * factor * factor)
    let outputWidth = width * factor
    for y in 0..<(height * factor) {
        let sourceRow = (y / factor) &* width
        for x in 0..<outputWidth {
            let from = (sourceRow &+ x / factor) &* channels
            let to = (y &* outputWidth &+ x) &* channels
            for channel in 0..<channels { result[to &+ channel] = source[from &+ channel] }
        }
    }
    return Tensor(shape: [height * factor, width * factor, channels], scalars: result)
}

/// An `[H, W, C]` image scaled to `[height, width, C]`: nearest neighbour when enlarging (pixels
/// stay crisp), scikit-image-style anti-aliased bilinear (`Tensor.resized`) when shrinking.
func scaled(_ image: Tensor, height: Int, width: Int) -> Tensor {
    let (inputHeight, inputWidth, channels) = (image.shape[0], image.shape[1], image.shape[2])
    if inputHeight == height && inputWidth == width { return image }
    if height < inputHeight || width < inputWidth {
        return image.resized(height: height, width: width, antialias: true)
    }
    let source = image.scalars
    var result = [Float](repeating: 0, count: height * width * channels)
    for y in 0..<height {
        let sourceRow = (y * inputHeight / height) &* inputWidth
        for x in 0..<width {
            let from = (sourceRow &+ x * inputWidth / width) &* channels
            let to = (y &* width &+ x) &* channels
            for channel in 0..<channels { result[to &+ channel] = source[from &+ channel] }
        }
    }
    return Tensor(shape: [height, width, channels], scalars: result)
}
