import NMTensor

/// The grid pointing game (Böhle, Fritz & Schiele, "B-cos Networks: Alignment is All We Need
/// for Interpretability", CVPR 2022, arXiv:2205.10268, §5.1; first used by Böhle et al. 2021 for
/// CoDA-Nets). Images of different classes, each classified confidently on its own, are tiled
/// into a grid; each cell's class is explained on the whole grid, and the score is the share of
/// the positive attribution that falls inside the correct cell. It needs no annotation: an
/// attribution that ignores the class scores about 1 / (rows · columns).
public enum GridPointingGame {
    /// Tiles equally sized images row by row: image k goes to grid row k / columns, column
    /// k % columns.
    /// - Parameters:
    ///   - images: each `[1, 3, h, w]`, all the same shape; a multiple of `columns` of them
    ///     (B-cos uses 3 × 3 = 9 images; 2 × 2 is common too).
    ///   - columns: ≥ 1.
    /// - Returns: `[1, 3, rows · h, columns · w]` with rows = images.count / columns.
    /// - Throws: `ExplainError.imageShape` for an image of another shape;
    ///   `ExplainError.invalidSetting` when the images do not fill whole rows.
    public static func mosaic(_ images: [Tensor], columns: Int) throws -> Tensor {
        guard columns >= 1, !images.isEmpty, images.count % columns == 0 else {
            throw ExplainError.invalidSetting(
                name: "grid", value: "\(images.count) images in \(columns) columns", reason: "the images must fill whole rows")
        }
        let first = images[0]
        for image in images where image.rank != 4 || image.shape[0] != 1 || image.shape[1] != 3 || image.shape != first.shape {
            throw ExplainError.imageShape(image.shape)
        }
        let (height, width) = (first.shape[2], first.shape[3])
        let rows = images.count / columns
        let (mosaicHeight, mosaicWidth) = (rows * height, columns * width)
        var scalars = [Float](repeating: 0, count: 3 * mosaicHeight * mosaicWidth)
        for (k, image) in images.enumerated() {
            let (top, left) = ((k / columns) * height, (k % columns) * width)
            for channel in 0..<3 {
                for y in 0..<height {
                    let source = (channel * height + y) * width
                    let destination = (channel * mosaicHeight + top + y) * mosaicWidth + left
                    scalars.replaceSubrange(destination..<(destination + width), with: image.scalars[source..<(source + width)])
                }
            }
        }
        return Tensor(shape: [1, 3, mosaicHeight, mosaicWidth], scalars: scalars)
    }

    /// The pixel rows and columns of `cell` in an `[H, W]` grid of `rows × columns` cells
    /// (cell k at grid row k / columns, column k % columns; borders at ⌊i · H / rows⌋).
    public static func cellBounds(cell: Int, rows: Int, columns: Int, height: Int, width: Int) -> (rows: Range<Int>, columns: Range<Int>) {
        precondition(rows >= 1 && columns >= 1 && (0..<(rows * columns)).contains(cell), "cellBounds: cell \(cell) of \(rows)×\(columns)")
        let (row, column) = (cell / columns, cell % columns)
        return ((row * height / rows)..<((row + 1) * height / rows), (column * width / columns)..<((column + 1) * width / columns))
    }

    /// The share of positive attribution inside `cell`: Σ_cell max(s, 0) / Σ max(s, 0), in
    /// [0, 1]; 0 when the map has no positive value. Negative values are ignored, as in B-cos.
    /// - Parameters:
    ///   - saliency: `[H, W]` over the whole grid, finite.
    ///   - cell: the correct cell, in 0 ..< rows · columns (row-major).
    /// - Throws: `ExplainError.invalidSetting` for a map that is not `[H, W]`, has NaN/∞, or
    ///   is smaller than the grid, or a cell outside the grid.
    public static func score(_ saliency: Tensor, cell: Int, rows: Int, columns: Int) throws -> Float {
        try validateMap(saliency)
        let (height, width) = (saliency.shape[0], saliency.shape[1])
        guard rows >= 1, columns >= 1, height >= rows, width >= columns else {
            throw ExplainError.invalidSetting(name: "grid", value: "\(rows)×\(columns)", reason: "does not fit a \(height)×\(width) map")
        }
        guard (0..<(rows * columns)).contains(cell) else {
            throw ExplainError.invalidSetting(name: "cell", value: "\(cell)", reason: "outside the \(rows)×\(columns) grid")
        }
        let bounds = cellBounds(cell: cell, rows: rows, columns: columns, height: height, width: width)
        var total = 0.0, inside = 0.0
        for y in 0..<height {
            for x in 0..<width {
                let value = Double(max(saliency.scalars[y * width + x], 0))
                total += value
                if bounds.rows.contains(y) && bounds.columns.contains(x) { inside += value }
            }
        }
        return total > 0 ? Float(inside / total) : 0
    }

    /// Runs the whole protocol: tiles `images`, explains each cell's class on the grid and scores
    /// each map.
    /// - Parameters:
    ///   - explainer: its classifier must accept the grid's size.
    ///   - images: as for `mosaic`; the caller picks images of different, confidently
    ///     classified classes.
    ///   - classes: the class to explain for each image (same count).
    ///   - columns: grid columns.
    /// - Returns: one score per cell, in order, and the grid image.
    /// - Throws: errors of `mosaic`, the explainer's errors, or `ExplainError.invalidSetting`
    ///   when `classes` does not match `images`.
    public static func evaluate(
        explainer: any Explainer, images: [Tensor], classes: [Int], columns: Int
    ) throws -> (scores: [Float], grid: Tensor) {
        guard classes.count == images.count else {
            throw ExplainError.invalidSetting(name: "classes", value: "\(classes.count)", reason: "need one class per image (\(images.count))")
        }
        let grid = try mosaic(images, columns: columns)  // [1, 3, rows·h, columns·w]
        let rows = images.count / columns
        var scores: [Float] = []
        for (cell, classIndex) in classes.enumerated() {
            let saliency = try explainer.explain(grid, target: classIndex)
            scores.append(try score(saliency.values, cell: cell, rows: rows, columns: columns))
        }
        return (scores, grid)
    }
}
