/// A constant left operand of matrix products (a layer's weights), copied once into the order
/// in which the GEMM micro-kernel reads it, so that products with it skip the copy OpenBLAS
/// makes of both operands on every call.
///
/// Layout: the depth (K) is cut into blocks of `depthBlock`; within a block, rows come in panels
/// of 6 (the last one zero-padded), each panel `blockDepth × 6` floats with the 6 rows of one k
/// adjacent. Memory: `⌈M / 6⌉ · 6 · K + 2` floats.
public struct PackedMatrix: Sendable {
    /// Whether this build's product kernel uses fused multiply-adds (its Swift code is compiled
    /// for AVX2 + FMA, e.g. with `-Xswiftc -target-cpu -Xswiftc native`): only then is it faster
    /// than OpenBLAS. Without, results are the same up to rounding at about a third of the speed.
    public static var hasFusedMultiplyAdd: Bool { microKernelUsesFMA }

    /// Rows (M) and columns (K) of the matrix.
    public let rows: Int, columns: Int
    let panels: Int
    let scalars: [Float]

    /// K-block length: a 16-column strip of B (`depthBlock × 16` floats, 16 KB) stays in L1 while
    /// a block of A panels (`rowBlock × depthBlock`) stays in L2.
    static let depthBlock = 256
    /// Rows per L2 block of A (a multiple of 6).
    static let rowBlock = 96
    /// Columns of B packed at a time (a multiple of 16).
    static let columnBlock = 2048
    /// K blocks up to this deep are swept panel by panel along the strips (see `multiplyBlock`).
    static let panelOrderDepth = 32
    /// Strips of C gated at a time: 128 columns, so that the gate is read in runs of 512 bytes.
    static let stripsPerGate = 8

    /// Packs `op(A)`, where `A` is row-major with leading dimension `rowStride` and `op(A)` is
    /// `A` (`[rows, columns]`) or, with `transposed`, `Aᵀ` (A stored as `[columns, rows]`).
    public init(_ a: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int, transposed: Bool = false) {
        precondition(rows >= 0 && columns >= 0 && rowStride >= (transposed ? rows : columns), "PackedMatrix: bad shape")
        self.rows = rows
        self.columns = columns
        let (panelRows, depthBlock) = (MicroTile.rows, Self.depthBlock)
        let panels = (rows + panelRows - 1) / panelRows
        self.panels = panels
        let paddedRows = panels * panelRows
        // Two floats of padding: the narrow edge kernel reads 8 floats at a panel's last k.
        var packed = [Float](repeating: 0, count: paddedRows * columns + 2)
        packed.withUnsafeMutableBufferPointer { buffer in
            let target = buffer.baseAddress!
            for blockStart in stride(from: 0, to: columns, by: depthBlock) {
                let blockDepth = min(depthBlock, columns - blockStart)
                for panel in 0..<panels {
                    let panelBase = target + blockStart * paddedRows + panel * blockDepth * panelRows
                    for row in panel * panelRows..<min(rows, (panel + 1) * panelRows) {
                        let lane = row - panel * panelRows
                        for k in 0..<blockDepth {
                            let column = blockStart + k
                            panelBase[k * panelRows + lane] = transposed ? a[column * rowStride + row] : a[row * rowStride + column]
                        }
                    }
                }
            }
        }
        scalars = packed
    }

    /// Packs a `[rows, columns]` tensor (any shape with that many elements, row-major), or its
    /// transpose `[columns, rows]` read as `[rows, columns]` when `transposed`.
    public init(_ tensor: Tensor, rows: Int, columns: Int, transposed: Bool = false) {
        precondition(tensor.count == rows * columns, "PackedMatrix: \(tensor.shape) does not hold \(rows)×\(columns) elements")
        self = tensor.scalars.withUnsafeBufferPointer { buffer in
            PackedMatrix(buffer.baseAddress!, rows: rows, columns: columns, rowStride: transposed ? rows : columns, transposed: transposed)
        }
    }

    /// `C = A·B (+ rowBias)`: `b` is row-major `[columns, n]` (leading dimension `ldb`), `c`
    /// row-major `[rows, n]` (leading dimension `ldc`, overwritten), `rowBias` `rows` floats or
    /// nil. With `clampUpper`, C is then clamped to [0, clampUpper] as it is stored (a fused relu
    /// or relu6; NaN stays NaN). With `gate` (`[rows, n]`, leading dimension `ldc`), each entry of C
    /// is kept where `0 < gate < upper` and zeroed elsewhere, tile by tile while it is in cache
    /// (a `ClampGate`). With `isSplit`, split over the compute threads by column strips (when
    /// n ≥ rows) or row panels; otherwise on the calling thread.
    public func multiply(
        _ b: UnsafePointer<Float>, ldb: Int, n: Int, into c: UnsafeMutablePointer<Float>, ldc: Int, rowBias: UnsafePointer<Float>?,
        clampUpper: Float? = nil, gate: (values: UnsafePointer<Float>, upper: Float)? = nil, isSplit: Bool = true
    ) {
        guard rows > 0 && n > 0 else { return }
        if columns == 0 {
            for row in 0..<rows {
                (c + row * ldc).update(repeating: rowBias?[row] ?? 0, count: n)
                if let clampUpper { clampRange(c + row * ldc, c + row * ldc, 0..<n, upper: clampUpper) }
                if let gate { applyGate(gate.values + row * ldc, upper: gate.upper, to: c + row * ldc, count: n) }
            }
            return
        }
        let strips = (n + MicroTile.columns - 1) / MicroTile.columns
        let splitsColumns = n >= rows
        let units = splitsColumns ? strips : panels
        let parts = !isSplit || rows * n * columns < 1 << 18 ? 1 : min(ComputeThreads.count, units)
        scalars.withUnsafeBufferPointer { packedA in
            let a = packedA.baseAddress!
            parallelFor(parts) { range in
                for part in range {
                    let share = chunkBounds(units, chunk: part, of: parts)
                    guard !share.isEmpty else { continue }
                    multiplyBlock(
                        a: a, bias: rowBias, b: b, ldb: ldb, n: n, c: c, ldc: ldc, clampUpper: clampUpper, gate: gate,
                        panels: splitsColumns ? 0..<panels : share, strips: splitsColumns ? share : 0..<strips)
                }
            }
        }
    }

    /// The product for row panels `panelRange` and column strips `stripRange` (one thread's share):
    /// per block of 128 strips (2048 columns) and K block, B is packed once (L3) and swept by
    /// L2-sized blocks of A panels, strip by strip (L1), or for K blocks up to `panelOrderDepth`
    /// deep panel by panel; after the last K block the gate is applied to C every
    /// `stripsPerGate` strips, while those blocks are in cache.
    private func multiplyBlock(
        a: UnsafePointer<Float>, bias: UnsafePointer<Float>?, b: UnsafePointer<Float>, ldb: Int, n: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, clampUpper: Float?, gate: (values: UnsafePointer<Float>, upper: Float)?,
        panels panelRange: Range<Int>, strips stripRange: Range<Int>
    ) {
        let upper = clampUpper ?? .infinity
        let (tileRows, tileColumns) = (MicroTile.rows, MicroTile.columns)
        let paddedRows = panels * tileRows
        let panelsPerBlock = Self.rowBlock / tileRows
        let stripsPerBlock = Self.columnBlock / tileColumns
        let packedB = UnsafeMutablePointer<Float>.allocate(
            capacity: min(Self.depthBlock, columns) * min(stripsPerBlock, stripRange.count) * tileColumns)
        defer { packedB.deallocate() }
        let edgeTile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * tileColumns)
        defer { edgeTile.deallocate() }
        for stripBlockStart in stride(from: stripRange.lowerBound, to: stripRange.upperBound, by: stripsPerBlock) {
            let stripBlock = stripBlockStart..<min(stripRange.upperBound, stripBlockStart + stripsPerBlock)
            for blockStart in stride(from: 0, to: columns, by: Self.depthBlock) {
                let blockDepth = min(Self.depthBlock, columns - blockStart)
                let overwrite = blockStart == 0
                let isLastBlock = blockStart + blockDepth == columns
                let clamps = clampUpper != nil && isLastBlock
                packStrips(
                    b, ldb: ldb, depthRange: blockStart..<(blockStart + blockDepth),
                    columnRange: (stripBlock.lowerBound * tileColumns)..<min(n, stripBlock.upperBound * tileColumns), into: packedB)
                let blockA = a + blockStart * paddedRows
                for panelStart in stride(from: panelRange.lowerBound, to: panelRange.upperBound, by: panelsPerBlock) {
                    let panelEnd = min(panelRange.upperBound, panelStart + panelsPerBlock)
                    let isPanelOrder = blockDepth <= Self.panelOrderDepth
                    if isPanelOrder {
                        // Short K: panel by panel along the strips, so that C is written as six
                        // sequential row streams (strip by strip, every row of the block is a
                        // stream of its own, ldc floats from the next: too many to prefetch).
                        let lastIsNarrow = n - (stripBlock.upperBound - 1) * tileColumns <= narrowEdgeColumns
                        let wideStrips = stripBlock.lowerBound..<(stripBlock.upperBound - (lastIsNarrow ? 1 : 0))
                        for panel in panelStart..<panelEnd {
                            for strip in wideStrips {
                                let column = strip * tileColumns
                                let width = min(tileColumns, n - column)
                                multiplyStrip(
                                    a: blockA, depth: blockDepth, b: packedB + (strip - stripBlock.lowerBound) * blockDepth * tileColumns,
                                    c: c, ldc: ldc, column: column, width: width, panels: panel..<(panel + 1),
                                    overwrite: overwrite, bias: bias, clamps: clamps, upper: upper, edgeTile: edgeTile)
                                let gatedStrips = strip - wideStrips.lowerBound + 1
                                if let gate, isLastBlock, gatedStrips % Self.stripsPerGate == 0 || strip == wideStrips.upperBound - 1 {
                                    let first = (strip - (gatedStrips - 1) % Self.stripsPerGate) * tileColumns
                                    let panelRows = (panel * tileRows)..<min(rows, (panel + 1) * tileRows)
                                    gateBlock(gate, to: c, ldc: ldc, rows: panelRows, columns: first..<(column + width))
                                }
                            }
                        }
                    }
                    for strip in stripBlock {
                        let stripB = packedB + (strip - stripBlock.lowerBound) * blockDepth * tileColumns
                        let column = strip * tileColumns
                        let width = min(tileColumns, n - column)
                        let isNarrow = width <= narrowEdgeColumns
                        if isNarrow {
                            for groupStart in stride(from: panelStart, to: panelEnd, by: narrowEdgePanels) {
                                let (row, groupPanels) = (groupStart * tileRows, min(narrowEdgePanels, panelEnd - groupStart))
                                narrowEdgeKernel(
                                    depth: blockDepth, a: blockA + groupStart * blockDepth * tileRows, panelStride: blockDepth * tileRows,
                                    panels: groupPanels, b: stripB, c: c + row * ldc + column, ldc: ldc,
                                    overwrite: overwrite, bias: bias.map { $0 + row }, clamps: clamps, upper: upper,
                                    rows: min(groupPanels * tileRows, rows - row), columns: width)
                            }
                        } else if !isPanelOrder {
                            multiplyStrip(
                                a: blockA, depth: blockDepth, b: stripB, c: c, ldc: ldc, column: column, width: width, panels: panelStart..<panelEnd,
                                overwrite: overwrite, bias: bias, clamps: clamps, upper: upper, edgeTile: edgeTile)
                        }
                        guard let gate, isLastBlock, !isPanelOrder || isNarrow else { continue }
                        // The last few strips' blocks of C are complete and in L1/L2 (in panel
                        // order only the narrow last strip is left to gate).
                        let gatedStrips = strip - stripBlock.lowerBound + 1
                        if isPanelOrder || gatedStrips % Self.stripsPerGate == 0 || strip == stripBlock.upperBound - 1 {
                            let first = isPanelOrder ? column : (strip - (gatedStrips - 1) % Self.stripsPerGate) * tileColumns
                            gateBlock(gate, to: c, ldc: ldc, rows: (panelStart * tileRows)..<min(rows, panelEnd * tileRows), columns: first..<(column + width))
                        }
                    }
                }
            }
        }
    }

    /// One strip of 16 columns of C for the row panels `panels` and one K block: full tiles,
    /// short last panels and narrow last strips.
    @inline(__always)
    private func multiplyStrip(
        a blockA: UnsafePointer<Float>, depth blockDepth: Int, b stripB: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        column: Int, width: Int, panels: Range<Int>, overwrite: Bool, bias: UnsafePointer<Float>?, clamps: Bool, upper: Float,
        edgeTile: UnsafeMutablePointer<Float>
    ) {
        let (tileRows, tileColumns) = (MicroTile.rows, MicroTile.columns)
        for panel in panels {
            let row = panel * tileRows
            let height = min(tileRows, rows - row)
            let panelA = blockA + panel * blockDepth * tileRows
            if height == tileRows && width == tileColumns {
                fullTileMicroKernel(
                    depth: blockDepth, a: panelA, b: stripB, c: c + row * ldc + column, ldc: ldc,
                    overwrite: overwrite, bias: bias.map { $0 + row }, clamps: clamps, upper: upper)
            } else if width == tileColumns {
                shortPanelMicroKernel(
                    depth: blockDepth, a: panelA, b: stripB, c: c + row * ldc + column, ldc: ldc,
                    overwrite: overwrite, bias: bias.map { $0 + row }, clamps: clamps, upper: upper, rows: height)
            } else {
                edgeMicroKernel(
                    depth: blockDepth, a: panelA, b: stripB, c: c + row * ldc + column, ldc: ldc,
                    overwrite: overwrite, bias: bias.map { $0 + row }, clamps: clamps, upper: upper, rows: height, columns: width,
                    scratch: edgeTile)
            }
        }
    }

    /// `applyGate` over the block `rows` × `columns` of C (leading dimension `ldc`).
    @inline(never)
    private func gateBlock(
        _ gate: (values: UnsafePointer<Float>, upper: Float), to c: UnsafeMutablePointer<Float>, ldc: Int, rows: Range<Int>, columns: Range<Int>
    ) {
        for row in rows {
            applyGate(gate.values + (row * ldc + columns.lowerBound), upper: gate.upper, to: c + (row * ldc + columns.lowerBound), count: columns.count)
        }
    }
}

/// `A·B[i] (+ rowBias)` for every matrix of a batch.
/// - Parameters:
///   - a: the packed `[M, K]` matrix.
///   - b: `[N, K, L]`.
///   - rowBias: `[M]` or nil.
///   - clampUpper: clamp the result to [0, clampUpper] (a fused relu or relu6), or nil.
///   - gate: a `ClampGate` whose output holds `[N, M, L]` elements, applied to the result as it is
///     stored, or nil.
/// - Returns: `[N, M, L]`.
public func matmul(_ a: PackedMatrix, _ b: Tensor, rowBias: Tensor? = nil, clampUpper: Float? = nil, gate: ClampGate? = nil) -> Tensor {
    precondition(b.rank == 3 && b.shape[1] == a.columns, "matmul(packed): \(b.shape) is not [N, \(a.columns), L]")
    precondition(gate.map { $0.output.count == b.shape[0] * a.rows * b.shape[2] } ?? true, "matmul(packed): gate \(gate!.output.shape) for [\(b.shape[0]), \(a.rows), \(b.shape[2])]")
    precondition(rowBias.map { $0.count == a.rows } ?? true, "matmul(packed): bias \(rowBias!.shape) for \(a.rows) rows")
    let (batch, depth, length) = (b.shape[0], b.shape[1], b.shape[2])
    return reusableTensor([batch, a.rows, length]) { c in
        guard c.count > 0 else { return }
        b.scalars.withUnsafeBufferPointer { bBuffer in
            c.scalars.withUnsafeMutableBufferPointer { cBuffer in
                (rowBias?.scalars).withUnsafeBufferPointerIfPresent { biasPointer in
                    (gate?.output.scalars).withUnsafeBufferPointerIfPresent { gatePointer in
                        for entry in 0..<batch {
                            a.multiply(
                                bBuffer.baseAddress! + entry * depth * length, ldb: max(1, length), n: length,
                                into: cBuffer.baseAddress! + entry * a.rows * length, ldc: max(1, length), rowBias: biasPointer,
                                clampUpper: clampUpper, gate: gatePointer.map { ($0 + entry * a.rows * length, gate!.upper) })
                        }
                    }
                }
            }
        }
    }
}

extension Optional where Wrapped == [Float] {
    /// `body` with the array's base address, or with nil.
    fileprivate func withUnsafeBufferPointerIfPresent<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let array): return array.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: return body(nil)
        }
    }
}
