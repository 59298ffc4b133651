import CBLASShim
import CVectorAccess

// The register kernel of `PackedMatrix`'s product: a 6×16 tile of C from a 6-row panel of A and
// a 16-column strip of B, both packed so that step k reads 6 (A) and 16 (B) consecutive floats.
// Twelve 8-lane accumulators, one broadcast and two B vectors: 15 of the 16 AVX registers.

/// Rows and columns of the register tile.
enum MicroTile {
    static let rows = 6
    static let columns = 16
}

/// Whether this build's micro-kernel uses fused multiply-adds (the Swift code is compiled for
/// AVX2 + FMA, see `NM_SWIFT_TARGET_HAS_AVX2_FMA`). Without them it multiplies and adds
/// separately: same results up to rounding, about a third of the speed.
let microKernelUsesFMA = NM_SWIFT_TARGET_HAS_AVX2_FMA != 0

/// One tile: `C[r, j] = (overwrite ? bias[r] (0 without) : C[r, j]) + Σ_k a[6k + r] · b[16k + j]`, then
/// clamped to [0, `upper`] when `clamps` (a fused relu or relu6, see `clamped`), for
/// r < `rows`, j < 16 (j < 8 when `isHalfWidth`), with the sum over k formed first. Inlined
/// with constant `rows` and `isHalfWidth`, the rows and columns left out cost nothing.
/// - Parameters:
///   - depth: number of k steps.
///   - a: `depth × 6` floats (a packed panel). `b`: `depth × 16` floats (a packed strip).
///   - c: the tile's first element; rows `ldc` floats apart, 16 writable floats each.
///   - bias: `rows` floats, or nil for zeros.
///   - rows: 1...6.
@inline(__always)
func microKernel(
    depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    overwrite: Bool, bias: UnsafePointer<Float>?, clamps: Bool, upper: Float, rows: Int, isHalfWidth: Bool
) {
    typealias V = SIMD8<Float>
    var (c00, c01, c10, c11, c20, c21) = (V(), V(), V(), V(), V(), V())
    var (c30, c31, c40, c41, c50, c51) = (V(), V(), V(), V(), V(), V())
    @inline(__always) func madd(_ sum: inout V, _ x: V, _ y: V) {
        if microKernelUsesFMA { sum.addProduct(x, y) } else { sum += x * y }
    }
    var (pa, pb) = (a, b)
    for _ in 0..<depth {
        let b0 = nm_load8(pb)
        let b1 = isHalfWidth ? V() : nm_load8(pb + 8)
        let wide = !isHalfWidth
        var x = V(repeating: pa[0])
        madd(&c00, x, b0); if wide { madd(&c01, x, b1) }
        if rows > 1 { x = V(repeating: pa[1]); madd(&c10, x, b0); if wide { madd(&c11, x, b1) } }
        if rows > 2 { x = V(repeating: pa[2]); madd(&c20, x, b0); if wide { madd(&c21, x, b1) } }
        if rows > 3 { x = V(repeating: pa[3]); madd(&c30, x, b0); if wide { madd(&c31, x, b1) } }
        if rows > 4 { x = V(repeating: pa[4]); madd(&c40, x, b0); if wide { madd(&c41, x, b1) } }
        if rows > 5 { x = V(repeating: pa[5]); madd(&c50, x, b0); if wide { madd(&c51, x, b1) } }
        pa += 6
        pb += 16
    }
    storeTileRow(c + 0 &* ldc, c00, c01, overwrite: overwrite, bias: bias?[0] ?? 0, clamps: clamps, upper: upper, isHalfWidth: isHalfWidth)
    if rows > 1 { storeTileRow(c + 1 &* ldc, c10, c11, overwrite: overwrite, bias: bias?[1] ?? 0, clamps: clamps, upper: upper, isHalfWidth: isHalfWidth) }
    if rows > 2 { storeTileRow(c + 2 &* ldc, c20, c21, overwrite: overwrite, bias: bias?[2] ?? 0, clamps: clamps, upper: upper, isHalfWidth: isHalfWidth) }
    if rows > 3 { storeTileRow(c + 3 &* ldc, c30, c31, overwrite: overwrite, bias: bias?[3] ?? 0, clamps: clamps, upper: upper, isHalfWidth: isHalfWidth) }
    if rows > 4 { storeTileRow(c + 4 &* ldc, c40, c41, overwrite: overwrite, bias: bias?[4] ?? 0, clamps: clamps, upper: upper, isHalfWidth: isHalfWidth) }
    if rows > 5 { storeTileRow(c + 5 &* ldc, c50, c51, overwrite: overwrite, bias: bias?[5] ?? 0, clamps: clamps, upper: upper, isHalfWidth: isHalfWidth) }
}

/// Stores one row of a tile: `(overwrite ? bias : row) + (low, high)`, clamped when `clamps`.
/// Transparent (always inlined): with six call sites per kernel, `@inline(__always)` still let
/// the compiler outline it, a call per row per tile.
@_transparent
func storeTileRow(
    _ row: UnsafeMutablePointer<Float>, _ low: SIMD8<Float>, _ high: SIMD8<Float>, overwrite: Bool, bias: Float, clamps: Bool,
    upper: Float, isHalfWidth: Bool
) {
    let start = overwrite ? SIMD8<Float>(repeating: bias) : nm_load8(row)
    let top = SIMD8<Float>(repeating: upper)
    nm_store8(row, clamps ? clamped(start + low, upper: top) : start + low)
    if !isHalfWidth {
        let startHigh = overwrite ? SIMD8<Float>(repeating: bias) : nm_load8(row + 8)
        nm_store8(row + 8, clamps ? clamped(startHigh + high, upper: top) : startHigh + high)
    }
}

/// `microKernel` for a full 6 × 16 tile.
func fullTileMicroKernel(
    depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    overwrite: Bool, bias: UnsafePointer<Float>?, clamps: Bool, upper: Float
) {
    shapedKernel(FullTile.self, depth, a, b, c, ldc, overwrite, bias, clamps, upper)
}

/// `microKernel` for the last panel when it has fewer than 6 rows, full width.
func shortPanelMicroKernel(
    depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    overwrite: Bool, bias: UnsafePointer<Float>?, clamps: Bool, upper: Float, rows: Int
) {
    switch rows {
    case 1: shapedKernel(PanelRows1.self, depth, a, b, c, ldc, overwrite, bias, clamps, upper)
    case 2: shapedKernel(PanelRows2.self, depth, a, b, c, ldc, overwrite, bias, clamps, upper)
    case 3: shapedKernel(PanelRows3.self, depth, a, b, c, ldc, overwrite, bias, clamps, upper)
    case 4: shapedKernel(PanelRows4.self, depth, a, b, c, ldc, overwrite, bias, clamps, upper)
    default: shapedKernel(PanelRows5.self, depth, a, b, c, ldc, overwrite, bias, clamps, upper)
    }
}

/// A tile shape as a type, so that each shape gets its own specialisation of `shapedKernel`.
private protocol TileShape {
    static var rows: Int { get }
    static var isHalfWidth: Bool { get }
}
extension TileShape {
    static var rows: Int { MicroTile.rows }
    static var isHalfWidth: Bool { false }
}
private enum FullTile: TileShape {}
private enum HalfWidthTile: TileShape { static var isHalfWidth: Bool { true } }
private enum PanelRows1: TileShape { static var rows: Int { 1 } }
private enum PanelRows2: TileShape { static var rows: Int { 2 } }
private enum PanelRows3: TileShape { static var rows: Int { 3 } }
private enum PanelRows4: TileShape { static var rows: Int { 4 } }
private enum PanelRows5: TileShape { static var rows: Int { 5 } }

/// `microKernel` with the constant shape `Shape`. Each specialisation has this single call site
/// of the kernel, which the compiler then inlines with its shape; with several call sites in one
/// function it outlines the kernel instead, with the shape checks inside its loop (half speed).
@inline(never)
private func shapedKernel<Shape: TileShape>(
    _: Shape.Type, _ depth: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
    _ overwrite: Bool, _ bias: UnsafePointer<Float>?, _ clamps: Bool, _ upper: Float
) {
    microKernel(
        depth: depth, a: a, b: b, c: c, ldc: ldc, overwrite: overwrite, bias: bias, clamps: clamps, upper: upper,
        rows: Shape.rows, isHalfWidth: Shape.isHalfWidth)
}

/// `microKernel` for a tile cut by the right edge (more than `narrowEdgeColumns` columns left;
/// fewer go to `narrowEdgeKernel`): only `rows × columns` of C are touched. The packed operands
/// are zero beyond the edge, so the kernel runs on the full tile `scratch`, 6 × 16 floats, or on
/// its left half when at most 8 columns remain.
@inline(never)
func edgeMicroKernel(
    depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    overwrite: Bool, bias: UnsafePointer<Float>?, clamps: Bool, upper: Float, rows: Int, columns: Int,
    scratch: UnsafeMutablePointer<Float>
) {
    // The scratch starts as the tile's start values (bias or C, zero outside), so the kernel
    // adds onto it: the same sums as storing onto the bias, and no bias row beyond `rows` is read.
    let width = MicroTile.columns
    for row in 0..<MicroTile.rows {
        let start = row < rows && overwrite ? bias?[row] ?? 0 : 0
        for column in 0..<width {
            scratch[row &* width &+ column] = row < rows && column < columns && !overwrite ? c[row &* ldc &+ column] : start
        }
    }
    if columns <= width / 2 {
        shapedKernel(HalfWidthTile.self, depth, a, b, scratch, width, false, nil, clamps, upper)
    } else {
        fullTileMicroKernel(depth: depth, a: a, b: b, c: scratch, ldc: width, overwrite: false, bias: nil, clamps: clamps, upper: upper)
    }
    for row in 0..<rows {
        (c + row &* ldc).update(from: scratch + row &* width, count: columns)
    }
}

/// The most columns `narrowEdgeKernel` takes.
let narrowEdgeColumns = 4
/// The most panels `narrowEdgeKernel` takes at once.
let narrowEdgePanels = 4

/// The tiles of up to `narrowEdgeColumns` columns left at the right edge (the 1 of 7×7 = 49 or
/// 17×17 = 289 outputs, the 4 of 14×14 = 196) for `panels` consecutive panels (1...4) at once:
/// each panel's 6 rows sit in the lanes of one vector per column, so a k step costs one
/// multiply-add per panel and column (1 column: up to 4 independent sums; 2–4 columns: 4 per
/// panel) instead of a half tile's 6 per panel. The same sums in the same order as
/// `microKernel`, so the results equal what the full tile would store.
/// - Parameters:
///   - a: the first panel; the next ones `panelStride` floats apart. Each is read 8 floats at a
///     time (the 2 past a k's 6 belong to the next k or panel, or to `PackedMatrix`'s padding).
///   - rows: rows of C in the group (≤ 6·`panels`; only the last panel may be short).
///   - columns: 1...`narrowEdgeColumns`.
func narrowEdgeKernel(
    depth: Int, a: UnsafePointer<Float>, panelStride: Int, panels: Int, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
    overwrite: Bool, bias: UnsafePointer<Float>?, clamps: Bool, upper: Float, rows: Int, columns: Int
) {
    if columns == 1 {
        narrowKernel(OneColumnPanels.self, depth, a, panelStride, panels, b, c, ldc, overwrite, bias, clamps, upper, rows, columns)
    } else {
        for panel in 0..<panels {
            narrowKernel(
                FourColumns.self, depth, a + panel &* panelStride, panelStride, 1, b, c + panel &* MicroTile.rows &* ldc, ldc, overwrite,
                bias.map { $0 + panel &* MicroTile.rows }, clamps, upper, min(MicroTile.rows, rows &- panel &* MicroTile.rows), columns)
        }
    }
}

/// A narrow kernel's shape as a type, so that each gets its own specialisation.
private protocol NarrowShape {
    /// Columns computed per panel (the packed strip is zero past the valid ones).
    static var columns: Int { get }
}
/// One column of up to 4 panels: 4 independent sums.
private enum OneColumnPanels: NarrowShape { static var columns: Int { 1 } }
/// Four columns of one panel.
private enum FourColumns: NarrowShape { static var columns: Int { 4 } }

@inline(never)
private func narrowKernel<Shape: NarrowShape>(
    _: Shape.Type, _ depth: Int, _ a: UnsafePointer<Float>, _ panelStride: Int, _ panels: Int, _ b: UnsafePointer<Float>,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ overwrite: Bool, _ bias: UnsafePointer<Float>?, _ clamps: Bool, _ upper: Float,
    _ rows: Int, _ columns: Int
) {
    typealias V = SIMD8<Float>
    // OneColumnPanels: s0…s3 are panels 0…3 of column 0; FourColumns: columns 0…3 of panel 0.
    var (s0, s1, s2, s3) = (V(), V(), V(), V())
    @inline(__always) func madd(_ sum: inout V, _ x: V, _ y: Float) {
        if microKernelUsesFMA { sum.addProduct(x, V(repeating: y)) } else { sum += x * V(repeating: y) }
    }
    @inline(__always) func load(_ pointer: UnsafePointer<Float>) -> V { nm_load8(pointer) }
    var (pa, pb) = (a, b)
    if Shape.columns == 1 {
        for _ in 0..<depth {
            let y = pb[0]
            madd(&s0, load(pa), y)
            if panels > 1 { madd(&s1, load(pa + panelStride), y) }
            if panels > 2 { madd(&s2, load(pa + 2 &* panelStride), y) }
            if panels > 3 { madd(&s3, load(pa + 3 &* panelStride), y) }
            pa += MicroTile.rows
            pb += MicroTile.columns
        }
    } else {
        for _ in 0..<depth {
            let x = load(pa)
            madd(&s0, x, pb[0])
            madd(&s1, x, pb[1])
            madd(&s2, x, pb[2])
            madd(&s3, x, pb[3])
            pa += MicroTile.rows
            pb += MicroTile.columns
        }
    }
    @inline(__always) func sum(_ row: Int, _ column: Int) -> Float {
        // The accumulator holding (row, column): by panel for one column, by column otherwise.
        let (index, lane) = Shape.columns == 1 ? (row / MicroTile.rows, row % MicroTile.rows) : (column, row)
        switch index {
        case 0: return s0[lane]
        case 1: return s1[lane]
        case 2: return s2[lane]
        default: return s3[lane]
        }
    }
    for row in 0..<rows {
        let start = overwrite ? bias?[row] ?? 0 : 0
        for column in 0..<columns {
            let target = c + (row &* ldc &+ column)
            let value = (overwrite ? start : target.pointee) + sum(row, column)
            target.pointee = clamps ? (value < 0 ? 0 : value > upper ? upper : value) : value
        }
    }
}

/// Packs rows `depthRange` and columns `columnRange` of the row-major matrix `b` (leading
/// dimension `ldb`) into 16-column strips: strip s holds, for each k, columns
/// `columnRange.lowerBound + 16s ..< +16` of row k, zero beyond `columnRange`.
/// - Parameter packed: room for `depthRange.count × 16 × ⌈columnRange.count / 16⌉` floats.
@inline(__always)
func packStrips(
    _ b: UnsafePointer<Float>, ldb: Int, depthRange: Range<Int>, columnRange: Range<Int>, into packed: UnsafeMutablePointer<Float>
) {
    let width = MicroTile.columns
    let depth = depthRange.count
    let strips = (columnRange.count + width - 1) / width
    let source = b + (depthRange.lowerBound &* ldb &+ columnRange.lowerBound)
    // Strip by strip, so the writes are sequential; each source row is read in 64-byte pieces.
    for strip in 0..<strips {
        let start = strip &* width
        let valid = min(width, columnRange.count &- start)
        let target = packed + strip &* depth &* width
        if valid == width {
            for k in 0..<depth {
                let (row, packedRow) = (source + (k &* ldb &+ start), target + k &* width)
                nm_store8(packedRow, nm_load8(row))
                nm_store8(packedRow + 8, nm_load8(row + 8))
            }
        } else {
            for k in 0..<depth {
                (target + k &* width).update(from: source + (k &* ldb &+ start), count: valid)
                (target + (k &* width &+ valid)).update(repeating: 0, count: width &- valid)
            }
        }
    }
}
