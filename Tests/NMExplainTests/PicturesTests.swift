import Foundation
import NMExplain
import NMTensor
import NMTestSupport
import Testing

/// The colour of pixel (y, x) of an `[H, W, 3]` picture.
private func pixel(_ picture: Tensor, _ y: Int, _ x: Int) -> [Float] {
    (0..<3).map { picture[y, x, $0] }
}

private func rgb(_ colour: (red: Float, green: Float, blue: Float)) -> [Float] {
    [colour.red, colour.green, colour.blue]
}

private func expectClose(_ actual: [Float], _ expected: [Float], tolerance: Float, _ comment: Comment? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    let difference = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
    #expect(actual.count == expected.count && difference <= tolerance, "\(actual) vs \(expected). \(comment?.description ?? "")",
            sourceLocation: sourceLocation)
}

private func allInUnitInterval(_ picture: Tensor) -> Bool {
    picture.scalars.allSatisfy { $0 >= 0 && $0 <= 1 }
}

/// A seeded `[H, W, 3]` image with values in [0, 1).
private func randomImage(height: Int, width: Int, seed: UInt64) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.uniform([height, width, 3], low: 0, high: 1, generator: &generator)
}

@Suite struct ColormapTests {
    // Reference colours printed by matplotlib 3.11.2 (pip install matplotlib) with
    //   python3 -c "from matplotlib import colormaps as c; print(c['jet'](i / 255)[:3])"
    // At x = i / 255 matplotlib's 256-entry table holds exactly its piecewise-linear value, so a
    // continuous implementation must agree there. (matplotlib's jet(0.5) is table entry 128, i.e.
    // x = 128/255, hence the 0.490 and 0.478 rather than the continuous 0.484.)
    static let jetReference: [(index: Int, colour: [Float])] = [
        (0, [0, 0, 0.5]),
        (32, [0, 0.001961, 1]),
        (64, [0, 0.503922, 1]),
        (89, [0, 0.896078, 0.970904]),
        (128, [0.490196, 1, 0.477546]),
        (168, [0.996205, 0.930283, 0]),
        (200, [1, 0.465505, 0]),
        (227, [0.999109, 0.073348, 0]),
        (255, [0.5, 0, 0]),
    ]

    // Same source, colormaps['viridis'](i / 255). 0, 64, 128, 200 and 255 are entries of the
    // compact table; 100 lies between entries 96 and 104 and tests the interpolation (matplotlib's
    // table, which ours linearly interpolates, deviates from a straight line by ≤ 0.0066 there).
    static let viridisReference: [(index: Int, colour: [Float], tolerance: Float)] = [
        (0, [0.267004, 0.004874, 0.329415], 1e-5),
        (64, [0.229739, 0.322361, 0.545706], 1e-5),
        (100, [0.166617, 0.463708, 0.558119], 0.0066),
        (128, [0.127568, 0.566949, 0.550556], 1e-5),
        (200, [0.440137, 0.811138, 0.340967], 1e-5),
        (255, [0.993248, 0.906157, 0.143936], 1e-5),
    ]

    @Test func jetMatchesMatplotlib() {
        for (index, colour) in Self.jetReference {
            expectClose(rgb(Colormap.jet.color(Float(index) / 255)), colour, tolerance: 2e-6, "jet(\(index)/255)")
        }
        // The segment-data anchors themselves (_jet_data in matplotlib/_cm.py).
        expectClose(rgb(Colormap.jet.color(0.35)), [0, 0.9, 1 - 0.01 / 0.31], tolerance: 1e-6)
        expectClose(rgb(Colormap.jet.color(0.375)), [0.025 / 0.31, 1, 1 - 0.035 / 0.31], tolerance: 1e-6)
    }

    @Test func viridisMatchesMatplotlib() {
        for (index, colour, tolerance) in Self.viridisReference {
            expectClose(rgb(Colormap.viridis.color(Float(index) / 255)), colour, tolerance: tolerance, "viridis(\(index)/255)")
        }
    }

    @Test func grayscaleIsTheValue() {
        for value: Float in [0, 0.25, 0.7, 1] {
            expectClose(rgb(Colormap.grayscale.color(value)), [value, value, value], tolerance: 0)
        }
    }

    @Test(arguments: Colormap.allCases) func clampsAndMapsNaNToGray(colormap: Colormap) {
        #expect(rgb(colormap.color(-3)) == rgb(colormap.color(0)))
        #expect(rgb(colormap.color(7)) == rgb(colormap.color(1)))
        #expect(rgb(colormap.color(-.infinity)) == rgb(colormap.color(0)))
        #expect(rgb(colormap.color(.nan)) == [0.5, 0.5, 0.5])
        let sweep = (0...1000).flatMap { rgb(colormap.color(Float($0) / 1000)) }
        #expect(sweep.allSatisfy { $0 >= 0 && $0 <= 1 })
    }
}

@Suite struct BitmapFontTests {
    /// A picture as text: '#' for glyph-coloured pixels (black), '.' for background (white).
    static func art(_ picture: Tensor) -> [String] {
        (0..<picture.shape[0]).map { y in
            String((0..<picture.shape[1]).map { x in pixel(picture, y, x) == [0, 0, 0] ? "#" : "." })
        }
    }

    @Test func capitalIHasTheExpectedPixels() {
        let picture = BitmapFont.render("I")
        #expect(picture.shape == [9, 6, 3])
        #expect(Self.art(picture) == [
            "......",
            ".###..",
            "..#...",
            "..#...",
            "..#...",
            "..#...",
            "..#...",
            ".###..",
            "......",
        ])
        #expect(picture.scalars.allSatisfy { $0 == 0 || $0 == 1 })
    }

    @Test func digitOneHasTheExpectedPixels() {
        #expect(Self.art(BitmapFont.render("1")) == [
            "......",
            "..#...",
            ".##...",
            "..#...",
            "..#...",
            "..#...",
            "..#...",
            ".###..",
            "......",
        ])
    }

    @Test func lowercasePHasADescender() {
        #expect(Self.art(BitmapFont.render("p")) == [
            "......",
            "......",
            "......",
            "####..",
            "#...#.",
            "#...#.",
            "####..",
            "#.....",
            "#.....",
        ])
    }

    @Test func scaleRepeatsEachFontPixel() {
        let small = BitmapFont.render("A1", scale: 1)
        let large = BitmapFont.render("A1", scale: 3)
        #expect(large.shape == [27, 36, 3])
        var expected = [Float]()
        for y in 0..<27 { for x in 0..<36 { expected += pixel(small, y / 3, x / 3) } }
        #expect(large.scalars == expected)
    }

    @Test(arguments: [1, 2, 3]) func widthIsCharactersTimesAdvanceTimesScale(scale: Int) {
        let text = "del 0.12 ins 0.71"
        #expect(BitmapFont.textWidth(text, scale: scale) == 17 * 6 * scale)
        #expect(BitmapFont.render(text, scale: scale).shape == [9 * scale, 17 * 6 * scale, 3])
        #expect(BitmapFont.lineHeight(scale: scale) == 9 * scale)
        // Lines: the widest line sets the width, each line adds a line height.
        #expect(BitmapFont.textWidth("ab\nxyz", scale: scale) == 3 * 6 * scale)
        #expect(BitmapFont.render("ab\nxyz", scale: scale).shape == [18 * scale, 18 * scale, 3])
        #expect(BitmapFont.render("", scale: scale).shape == [9 * scale, 0, 3])
    }

    @Test func unknownCharactersDrawAsQuestionMark() {
        let question = BitmapFont.render("?")
        #expect(BitmapFont.render("é") == question)
        #expect(BitmapFont.render("\t") == question)
        #expect(BitmapFont.render("→") == question)
        #expect(BitmapFont.render("é").shape == [9, 6, 3])
    }

    @Test func everyPrintableGlyphIsDistinctAndSpaceIsBlank() {
        let glyphs = (32...126).map { BitmapFont.render(String(UnicodeScalar(UInt8($0)))) }
        #expect(Set(glyphs.map { $0.scalars }).count == 95)
        #expect(glyphs[0].scalars.allSatisfy { $0 == 1 })
        // Every glyph leaves the spacing column and the top row empty; only g, j, p, q and y
        // reach into the descender row.
        for (offset, glyph) in glyphs.enumerated() {
            #expect((0..<9).allSatisfy { pixel(glyph, $0, 5) == [1, 1, 1] })
            #expect((0..<6).allSatisfy { pixel(glyph, 0, $0) == [1, 1, 1] })
            let descends = (0..<6).contains { pixel(glyph, 8, $0) != [1, 1, 1] }
            #expect(descends == "gjpqy".contains(Character(UnicodeScalar(UInt8(offset + 32)))))
        }
    }

    @Test func colorsAreThoseRequested() {
        let picture = BitmapFont.render("I", scale: 2, color: (1, 0, 0), background: (0, 0, 0.25))
        #expect(pixel(picture, 2, 4) == [1, 0, 0])  // font pixel (row 1, column 2) of the I's stem
        #expect(pixel(picture, 0, 0) == [0, 0, 0.25])
    }
}

@Suite struct SaliencyPictureTests {
    /// A 32×32 map with a unique maximum 2 at (5, 9), a unique minimum −1 at (20, 3) and values
    /// in between elsewhere.
    static func map() -> Tensor {
        var values = (0..<(32 * 32)).map { Float($0 % 7) / 7 }
        values[5 * 32 + 9] = 2
        values[20 * 32 + 3] = -1
        return Tensor(shape: [32, 32], scalars: values)
    }

    @Test func cifarSizedPictureHasTheDocumentedSize() {
        let image = randomImage(height: 32, width: 32, seed: 1)
        let picture = SaliencyPicture.render(image: image, map: Self.map())
        // S = ⌈224 / 32⌉ = 7 → 224×224 panels; textScale 2; labels "2" (12 px) and "-1" (24 px);
        // width 8 + 3·(224 + 8) + bar 16 + 4 + 24 + 8, height 8 + 224 + 8.
        #expect(picture.shape == [240, 756, 3])
        #expect(allInUnitInterval(picture))

        let titled = SaliencyPicture.render(image: image, map: Self.map(), title: "cat\nscore 0.9")
        // Two title lines of 18 px plus margin / 2.
        #expect(titled.shape == [280, 756, 3])
        // The title is drawn in black above the panels; the panels shift down by 40.
        #expect(titled.scalars.prefix(48 * 756 * 3).contains(0))
        #expect(pixel(titled, 40 + 8 + 10, 8 + 10) == pixel(picture, 8 + 10, 8 + 10))
    }

    @Test func largeImagesAreNotEnlarged() {
        let image = randomImage(height: 224, width: 300, seed: 2)
        let map = Tensor(shape: [224, 300], scalars: (0..<(224 * 300)).map { Float($0 % 300) / 299 })
        let picture = SaliencyPicture.render(image: image, map: map, valueRange: 0...1)
        // S = 1; textScale = 224 / 112 = 2; labels "1" and "0" (12 px):
        // width 8 + 3·(300 + 8) + 16 + 4 + 12 + 8, height 8 + 224 + 8.
        #expect(picture.shape == [240, 972, 3])
        // The image panel is the image itself.
        #expect(pixel(picture, 8 + 100, 8 + 200) == pixel(image, 100, 200))
    }

    @Test func overlayAndMapPanelsCarryTheColormapAtTheExtremes() {
        let image = randomImage(height: 32, width: 32, seed: 3)
        let picture = SaliencyPicture.render(image: image, map: Self.map(), colormap: .jet)
        let top = rgb(Colormap.jet.color(1))  // (0.5, 0, 0)
        let bottom = rgb(Colormap.jet.color(0))  // (0, 0, 0.5)
        // Map maximum at (5, 9): the centre of its 7×7 block in each panel.
        let (y, x) = (8 + 5 * 7 + 3, 9 * 7 + 3)
        expectClose(pixel(picture, y, 8 + x), pixel(image, 5, 9), tolerance: 0)
        let blended = zip(pixel(image, 5, 9), top).map { 0.4 * $0 + 0.6 * $1 }
        expectClose(pixel(picture, y, 8 + 232 + x), blended, tolerance: 1e-6)
        expectClose(pixel(picture, y, 8 + 2 * 232 + x), top, tolerance: 0)
        // Map minimum at (20, 3).
        let (yMin, xMin) = (8 + 20 * 7 + 3, 3 * 7 + 3)
        let blendedMin = zip(pixel(image, 20, 3), bottom).map { 0.4 * $0 + 0.6 * $1 }
        expectClose(pixel(picture, yMin, 8 + 232 + xMin), blendedMin, tolerance: 1e-6)
        expectClose(pixel(picture, yMin, 8 + 2 * 232 + xMin), bottom, tolerance: 0)
        // The colour bar (left edge 8 + 3·232 = 704) runs from the top colour to the bottom one.
        expectClose(pixel(picture, 8, 704), top, tolerance: 0)
        expectClose(pixel(picture, 8 + 223, 704 + 15), bottom, tolerance: 0)
        #expect(pixel(picture, 8, 704 + 16) == [1, 1, 1])
    }

    @Test func explicitRangeClampsTheMap() {
        let image = randomImage(height: 32, width: 32, seed: 4)
        // Range 0…4: the maximum 2 sits at the middle of the colormap.
        let picture = SaliencyPicture.render(image: image, map: Self.map(), valueRange: 0...4, colormap: .viridis)
        expectClose(pixel(picture, 8 + 5 * 7, 8 + 2 * 232 + 9 * 7), rgb(Colormap.viridis.color(0.5)), tolerance: 1e-6)
        // −1 is below the range and takes the bottom colour.
        expectClose(pixel(picture, 8 + 20 * 7, 8 + 2 * 232 + 3 * 7), rgb(Colormap.viridis.color(0)), tolerance: 1e-6)
    }

    @Test func batchLayoutMatchesHWCAndOutOfRangeInputStaysInUnitInterval() {
        var image = randomImage(height: 32, width: 32, seed: 5)
        image.scalars[0] = 1.7
        image.scalars[1] = -0.3
        var map = Self.map()
        map.scalars[7] = .nan
        let fromHWC = SaliencyPicture.render(image: image, map: map)
        let fromNCHW = SaliencyPicture.render(image: image.hwcToNCHW(), map: map)
        #expect(fromHWC == fromNCHW)
        #expect(allInUnitInterval(fromHWC))
        // The NaN map value (row 0, column 7) is drawn mid gray in the map panel.
        expectClose(pixel(fromHWC, 8 + 3, 8 + 2 * 232 + 7 * 7 + 3), [0.5, 0.5, 0.5], tolerance: 0)
    }

    @Test func constantMapUsesTheUnitRange() {
        let image = randomImage(height: 8, width: 8, seed: 6)
        let map = Tensor(repeating: 0.25, shape: [8, 8])
        let picture = SaliencyPicture.render(image: image, map: map, colormap: .grayscale, minimumPanelSize: 0)
        // S = 1, textScale 1; labels "1" and "0" (6 px); content max(8, 2·9) = 18 tall:
        // width 8 + 3·(8 + 8) + 8 + 4 + 6 + 8, height 8 + 18 + 8.
        #expect(picture.shape == [34, 82, 3])
        expectClose(pixel(picture, 8, 8 + 32), [0.25, 0.25, 0.25], tolerance: 1e-6)
    }
}

@Suite struct PictureGridTests {
    static let title = "gradcam\ndel 0.12 ins 0.71"

    static func panels(rows: Int, columns: Int, height: Int = 32, width: Int = 32) -> [[PictureGrid.Panel]] {
        (0..<rows).map { row in
            (0..<columns).map { column in
                PictureGrid.Panel(image: randomImage(height: height, width: width, seed: UInt64(10 * row + column)), title: Self.title)
            }
        }
    }

    @Test func twoByThreeGridHasTheDocumentedSize() {
        let rows = Self.panels(rows: 2, columns: 3)
        let grid = PictureGrid.render(rows: rows)
        // Cells 224 wide (default), 224 tall; textScale 2 (17 · 12 = 204 ≤ 224), two title lines
        // of 18 px → 36. Width 8 + 3·224 + 2·8 + 8, height 8 + 2·(36 + 224) + 8 + 8.
        #expect(grid.shape == [544, 704, 3])
        #expect(allInUnitInterval(grid))
        // Panel (1, 2) is enlarged 7× by nearest neighbour: its pixel (4, 30).
        let top = 8 + (36 + 224 + 8) + 36
        let left = 8 + 2 * (224 + 8)
        #expect(pixel(grid, top + 4 * 7 + 6, left + 30 * 7) == pixel(rows[1][2].image, 4, 30))

        let labelled = PictureGrid.render(rows: rows, rowLabels: ["cat", "ship"])
        // Label column: "ship" at scale 2 is 48 px, plus a margin.
        #expect(labelled.shape == [544, 704 + 48 + 8, 3])
        #expect(pixel(labelled, top, left + 56) == pixel(grid, top, left))
    }

    @Test func columnWidthSetsThePanelSizeAndShrinksTitles() {
        let grid = PictureGrid.render(rows: Self.panels(rows: 2, columns: 3), columnWidth: 64)
        // Cells 64×64; the second title line (102 px at scale 1) does not fit even at scale 1,
        // so textScale is 1 and the title block 2 · 9 = 18.
        #expect(grid.shape == [8 + 2 * (18 + 64) + 8 + 8, 8 + 3 * 64 + 2 * 8 + 8, 3])
        // Shrinking uses the anti-aliased resize.
        let shrunk = PictureGrid.render(rows: [[PictureGrid.Panel(image: randomImage(height: 64, width: 64, seed: 9), title: "")]], columnWidth: 32)
        #expect(shrunk.shape == [8 + 32 + 8, 8 + 32 + 8, 3])
        let reference = randomImage(height: 64, width: 64, seed: 9).resized(height: 32, width: 32)
        #expect(pixel(shrunk, 8 + 10, 8 + 20) == pixel(reference, 10, 20))
    }

    @Test func panelsOfOtherAspectRatiosAreCentredInTheirCell() {
        let wide = PictureGrid.Panel(image: randomImage(height: 32, width: 64, seed: 1), title: "wide")
        let square = PictureGrid.Panel(image: randomImage(height: 64, width: 64, seed: 2), title: "square")
        let grid = PictureGrid.render(rows: [[wide, square], [square]], columnWidth: 128)
        // Cell 128×128 (the square panel); one title line at scale 1 (128 / 112 = 1) → 9.
        #expect(grid.shape == [8 + 2 * (9 + 128) + 8 + 8, 8 + 2 * 128 + 8 + 8, 3])
        // The wide panel is 64 tall, centred: rows 32..<96 of its cell; above it stays white.
        #expect(pixel(grid, 8 + 9 + 31, 8 + 50) == [1, 1, 1])
        #expect(pixel(grid, 8 + 9 + 32, 8 + 50) == pixel(wide.image, 0, 25))
        // The missing cell (row 1, column 1) is white.
        #expect(pixel(grid, 8 + 137 + 8 + 9 + 60, 8 + 128 + 8 + 60) == [1, 1, 1])
    }

    @Test func overlayBlendsSixtyPercentOfTheColour() {
        let image = randomImage(height: 4, width: 5, seed: 7)
        let map = Tensor(shape: [4, 5], scalars: (0..<20).map { Float($0) * 0.5 - 2 })  // −2 … 7.5
        for (range, colormap) in [(nil, Colormap.jet), (0...5, .viridis), (-2...2, .grayscale)] as [(ClosedRange<Float>?, Colormap)] {
            let overlay = PictureGrid.overlay(image: image.hwcToNCHW(), map: map, valueRange: range, colormap: colormap)
            #expect(overlay.shape == [4, 5, 3])
            let (low, high) = (range?.lowerBound ?? -2, range?.upperBound ?? 7.5)
            var expected = [Float]()
            for index in 0..<20 {
                let colour = rgb(colormap.color((map.scalars[index] - low) / (high - low)))
                for channel in 0..<3 { expected.append(0.4 * image.scalars[index * 3 + channel] + 0.6 * colour[channel]) }
            }
            assertClose(overlay, Tensor(shape: [4, 5, 3], scalars: expected), rtol: 0, atol: 1e-6)
        }
    }

    @Test func overlayOfAConstantMapUsesTheUnitRange() {
        let image = randomImage(height: 3, width: 3, seed: 8)
        let overlay = PictureGrid.overlay(image: image, map: Tensor(repeating: 0.5, shape: [3, 3]))
        let colour = rgb(Colormap.jet.color(0.5))
        expectClose(pixel(overlay, 1, 1), zip(pixel(image, 1, 1), colour).map { 0.4 * $0 + 0.6 * $1 }, tolerance: 1e-6)
    }
}
