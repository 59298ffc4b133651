import NMTensor

/// A grid of titled pictures for side-by-side comparisons: typically a row per image and a
/// column per explanation method.
///
/// Layout (all sizes in pixels; `margin` = 8): every panel is scaled to the common width
/// `cellWidth` = `columnWidth` ?? max(224, widest panel), keeping its aspect ratio (nearest
/// neighbour when enlarging, anti-aliased bilinear when shrinking); the cell height is the
/// tallest scaled panel, and shorter panels are centred in it. Each panel's title is centred
/// in a block of `titleLines` · `BitmapFont.lineHeight(scale: textScale)` above it, where
/// `titleLines` is the most lines of any title (0 when every title is empty) and `textScale` is
/// the largest integer ≤ max(1, cellWidth / 112) at which every title line fits the cell width
/// (1 if none does; longer lines are clipped to the cell). Row labels, if given, sit left of the
/// rows in a column as wide as the widest label, followed by a margin. The whole grid is
/// `margin + [labelWidth + margin] + columns · cellWidth + (columns − 1) · margin + margin` wide
/// and `margin + rows · (titleBlock + cellHeight) + (rows − 1) · margin + margin` tall, on white.
public struct PictureGrid: Sendable {
    /// Space around and between the cells, in pixels.
    public static let margin = 8
    /// Column width used when `columnWidth` is nil and every panel is narrower, in pixels.
    public static let defaultColumnWidth = 224
    /// Weight of the colormap's colour in `overlay`: pixel = (1 − 0.6) · image + 0.6 · colour.
    public static let overlayOpacity: Float = 0.6

    /// One picture of the grid and the text above it.
    public struct Panel: Sendable {
        /// `[H, W, 3]` (or `[1, 3, H, W]`) with values in [0, 1]; values outside are clamped.
        public var image: Tensor
        /// One or more short lines separated by "\n", e.g. "gradcam\ndel 0.12 ins 0.71".
        public var title: String

        /// - Precondition: `image` is `[H, W, 3]` or `[1, 3, H, W]` with H, W > 0.
        public init(image: Tensor, title: String) {
            let hwc = displayImage(image, caller: "PictureGrid.Panel")
            precondition(hwc.shape[0] > 0 && hwc.shape[1] > 0, "PictureGrid.Panel: empty image \(image.shape)")
            self.image = hwc
            self.title = title
        }
    }

    /// Lays out `rows` as a grid (see the type's documentation for the exact geometry).
    /// - Parameters:
    ///   - rows: the panels of each row, left to right; rows may differ in length (missing
    ///     cells stay white).
    ///   - rowLabels: text left of each row; missing entries are blank, extra ones ignored.
    ///   - columnWidth: the common panel width in pixels (> 0); nil for max(224, widest panel).
    /// - Returns: `[height, width, 3]` with values in [0, 1].
    /// - Precondition: at least one panel; `columnWidth` > 0 when given.
    public static func render(rows: [[Panel]], rowLabels: [String]? = nil, columnWidth: Int? = nil) -> Tensor {
        let panels = rows.flatMap { $0 }
        precondition(!panels.isEmpty, "PictureGrid.render: no panels")
        let cellWidth = columnWidth ?? max(defaultColumnWidth, panels.map { $0.image.shape[1] }.max() ?? 0)
        precondition(cellWidth > 0, "PictureGrid.render: columnWidth \(cellWidth) must be positive")
        func scaledHeight(_ panel: Panel) -> Int {
            max(1, Int((Double(panel.image.shape[0]) * Double(cellWidth) / Double(panel.image.shape[1])).rounded()))
        }
        let cellHeight = panels.map(scaledHeight).max() ?? 1
        let columnCount = rows.map { $0.count }.max() ?? 0
        let titleLines = panels.map { $0.title.isEmpty ? 0 : BitmapFont.lines($0.title).count }.max() ?? 0
        let titleLineTexts = panels.flatMap { $0.title.split(separator: "\n").map(String.init) }
        let textScale = stride(from: max(1, cellWidth / 112), through: 1, by: -1).first { scale in
            titleLineTexts.allSatisfy { BitmapFont.textWidth($0, scale: scale) <= cellWidth }
        } ?? 1
        let titleBlock = titleLines * BitmapFont.lineHeight(scale: textScale)
        let labels = rowLabels.map { labels in rows.indices.map { $0 < labels.count ? labels[$0] : "" } }
        let labelColumn = labels.map { labels in
            (labels.map { BitmapFont.textWidth($0, scale: textScale) }.max() ?? 0) + margin
        } ?? 0

        let width = margin + labelColumn + columnCount * cellWidth + max(0, columnCount - 1) * margin + margin
        let height = margin + rows.count * (titleBlock + cellHeight) + max(0, rows.count - 1) * margin + margin
        var canvas = Canvas(height: height, width: width)
        for (rowIndex, row) in rows.enumerated() {
            let rowTop = margin + rowIndex * (titleBlock + cellHeight + margin)
            if let label = labels?[rowIndex] {
                let labelHeight = BitmapFont.lines(label).count * BitmapFont.lineHeight(scale: textScale)
                canvas.drawText(
                    label, top: rowTop + titleBlock + (cellHeight - labelHeight) / 2, left: margin,
                    scale: textScale, color: (0, 0, 0))
            }
            for (columnIndex, panel) in row.enumerated() {
                let cellLeft = margin + labelColumn + columnIndex * (cellWidth + margin)
                if titleBlock > 0 {
                    var block = Canvas(height: titleBlock, width: cellWidth)
                    for (lineIndex, line) in panel.title.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                        let lineWidth = BitmapFont.textWidth(String(line), scale: textScale)
                        block.drawText(
                            String(line), top: lineIndex * BitmapFont.lineHeight(scale: textScale),
                            left: max(0, (cellWidth - lineWidth) / 2), scale: textScale, color: (0, 0, 0))
                    }
                    canvas.paste(block.tensor, top: rowTop, left: cellLeft)
                }
                let panelHeight = scaledHeight(panel)
                let picture = scaled(panel.image, height: panelHeight, width: cellWidth)
                canvas.paste(picture, top: rowTop + titleBlock + (cellHeight - panelHeight) / 2, left: cellLeft)
            }
        }
        return canvas.tensor
    }

    /// A saliency map blended over its image: each pixel is
    /// (1 − 0.6) · image + 0.6 · `colormap.color`((value − lower) / (upper − lower)).
    /// - Parameters:
    ///   - image: `[1, 3, H, W]` or `[H, W, 3]` with values in [0, 1] (clamped).
    ///   - map: `[H, W]` (any shape of H·W elements ending in H, W, e.g. `[1, 1, H, W]`); a map
    ///     of another size is first resized to H×W (bilinear). NaN values are drawn mid gray.
    ///   - valueRange: the values drawn as the colormap's ends; nil for the map's finite
    ///     min…max, or 0…1 if the map is constant or has no finite value.
    ///   - colormap: the colours.
    /// - Returns: `[H, W, 3]` with values in [0, 1].
    public static func overlay(
        image: Tensor, map: Tensor, valueRange: ClosedRange<Float>? = nil, colormap: Colormap = .jet
    ) -> Tensor {
        let picture = displayImage(image, caller: "PictureGrid.overlay")
        let colours = colorized(map, height: picture.shape[0], width: picture.shape[1], valueRange: valueRange, colormap: colormap)
        let opacity = overlayOpacity
        let blended = zip(picture.scalars, colours.image.scalars).map { pixel, colour in
            min(max((1 - opacity) * pixel + opacity * colour, 0), 1)
        }
        return Tensor(shape: picture.shape, scalars: blended)
    }

    /// `map` in colours, `[height, width, 3]`, and the value range used.
    static func colorized(
        _ map: Tensor, height: Int, width: Int, valueRange: ClosedRange<Float>?, colormap: Colormap
    ) -> (image: Tensor, range: ClosedRange<Float>) {
        precondition(map.rank >= 2 && map.shape[map.rank - 2] * map.shape[map.rank - 1] == map.count && map.count > 0,
                     "saliency map must be [H, W], got \(map.shape)")
        var values = map.reshaped([map.shape[map.rank - 2], map.shape[map.rank - 1], 1])
        if values.shape[0] != height || values.shape[1] != width {
            values = values.resized(height: height, width: width, antialias: true)
        }
        let range = valueRange ?? defaultRange(values.scalars)
        let span = range.upperBound - range.lowerBound
        var pixels: [Float] = []
        pixels.reserveCapacity(height * width * 3)
        for value in values.scalars {
            let position = span > 0 ? (value - range.lowerBound) / span : (value >= range.upperBound ? 1 : 0)
            let colour = colormap.color(value.isNaN ? .nan : position)
            pixels += [colour.red, colour.green, colour.blue]
        }
        return (Tensor(shape: [height, width, 3], scalars: pixels), range)
    }

    /// The finite min…max of `values`, or 0…1 when they are constant or none is finite.
    static func defaultRange(_ values: [Float]) -> ClosedRange<Float> {
        let finite = values.filter { $0.isFinite }
        guard let low = finite.min(), let high = finite.max(), high > low else { return 0...1 }
        return low...high
    }
}
