import Foundation
import NMTensor

/// One explanation as a picture: the image, the map blended over it, the map alone, and a
/// colour bar labelled with the map's value range, optionally under a title.
///
/// Layout (sizes in pixels, `margin` = 8, on white): each panel is the image's H×W enlarged by
/// the integer factor S = max(1, ⌈minimumPanelSize / max(H, W)⌉) with nearest neighbour, so
/// h = H·S and w = W·S (a 32×32 CIFAR image becomes 224×224). Text uses
/// `textScale` = max(1, min(h, w) / 112). From the left: margin, image, margin, overlay,
/// margin, map, margin, colour bar (8 · textScale wide, top colour at the top), margin / 2,
/// the labels (the range's upper bound at the top, lower bound at the bottom, "%.3g"), margin.
/// The bar is `max(h, 2 · lineHeight)` tall and the panels are top-aligned beside it; the title,
/// if any, sits above them (left-aligned, followed by margin / 2 of space). So the picture is
/// `5.5 · margin + 3w + barWidth + labelWidth` wide (or the title's width + 2 · margin if
/// larger) and `2 · margin + [titleHeight + margin / 2] + max(h, 2 · lineHeight)` tall.
public struct SaliencyPicture: Sendable {
    /// Space around and between the parts, in pixels.
    public static let margin = 8

    /// Draws the picture.
    /// - Parameters:
    ///   - image: `[1, 3, H, W]` or `[H, W, 3]` with values in [0, 1] (clamped).
    ///   - map: `[H, W]` saliency values (another size is resized to H×W, see
    ///     `PictureGrid.overlay`); NaN is drawn mid gray.
    ///   - valueRange: the values at the colormap's ends; nil for the map's finite min…max, or
    ///     0…1 if the map is constant.
    ///   - colormap: the colours of the map, the overlay and the bar.
    ///   - title: text above the panels (lines separated by "\n"), or nil.
    ///   - minimumPanelSize: panels whose larger side is below this are enlarged (see above).
    /// - Returns: `[height, width, 3]` with values in [0, 1].
    /// - Precondition: image shape as above with H, W > 0; `minimumPanelSize` ≥ 0.
    public static func render(
        image: Tensor, map: Tensor, valueRange: ClosedRange<Float>? = nil, colormap: Colormap = .jet,
        title: String? = nil, minimumPanelSize: Int = 224
    ) -> Tensor {
        let picture = displayImage(image, caller: "SaliencyPicture.render")  // [H, W, 3]
        let (height, width) = (picture.shape[0], picture.shape[1])
        precondition(height > 0 && width > 0, "SaliencyPicture.render: empty image \(image.shape)")
        precondition(minimumPanelSize >= 0, "SaliencyPicture.render: minimumPanelSize \(minimumPanelSize) < 0")

        let colours = PictureGrid.colorized(map, height: height, width: width, valueRange: valueRange, colormap: colormap)
        let overlay = PictureGrid.overlay(image: picture, map: map, valueRange: colours.range, colormap: colormap)
        let factor = max(1, (minimumPanelSize + max(height, width) - 1) / max(height, width))
        let panels = [picture, overlay, colours.image].map { enlarged($0, by: factor) }
        let (panelHeight, panelWidth) = (height * factor, width * factor)

        let textScale = max(1, min(panelHeight, panelWidth) / 112)
        let lineHeight = BitmapFont.lineHeight(scale: textScale)
        let upperLabel = label(colours.range.upperBound)
        let lowerLabel = label(colours.range.lowerBound)
        let labelWidth = max(BitmapFont.textWidth(upperLabel, scale: textScale), BitmapFont.textWidth(lowerLabel, scale: textScale))
        let barWidth = 8 * textScale
        let contentHeight = max(panelHeight, 2 * lineHeight)
        let titleBlock = title.map { BitmapFont.lines($0).count * lineHeight + margin / 2 } ?? 0
        let titleWidth = title.map { BitmapFont.textWidth($0, scale: textScale) } ?? 0

        let barLeft = margin + 3 * (panelWidth + margin)
        let labelLeft = barLeft + barWidth + margin / 2
        let canvasWidth = max(labelLeft + labelWidth + margin, 2 * margin + titleWidth)
        let canvasHeight = 2 * margin + titleBlock + contentHeight
        var canvas = Canvas(height: canvasHeight, width: canvasWidth)
        if let title {
            canvas.drawText(title, top: margin, left: margin, scale: textScale, color: (0, 0, 0))
        }
        let contentTop = margin + titleBlock
        for (index, panel) in panels.enumerated() {
            canvas.paste(panel, top: contentTop, left: margin + index * (panelWidth + margin))
        }
        for row in 0..<contentHeight {
            let position = contentHeight > 1 ? 1 - Float(row) / Float(contentHeight - 1) : 1
            let colour = colormap.color(position)
            canvas.fill(top: contentTop + row, left: barLeft, height: 1, width: barWidth, color: (colour.red, colour.green, colour.blue))
        }
        canvas.drawText(upperLabel, top: contentTop, left: labelLeft, scale: textScale, color: (0, 0, 0))
        canvas.drawText(lowerLabel, top: contentTop + contentHeight - lineHeight, left: labelLeft, scale: textScale, color: (0, 0, 0))
        return canvas.tensor
    }

    /// A bar label: three significant digits ("0.5", "-0.0123", "1.5e+04").
    static func label(_ value: Float) -> String {
        String(format: "%.3g", Double(value))
    }
}
