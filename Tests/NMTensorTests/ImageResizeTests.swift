import NMTensor
import NMTestSupport
import Testing

/// The 37×29×3 uint8 test image of make_fixtures.py as floats in [0, 1] (skimage's img_as_float).
private func inputImage() throws -> Tensor { try ioScaledFixture("resize/input_37x29x3.npy", scale: 255) }

/// The first `height` rows, `width` columns and `channels` channels of an [H, W, C] image.
private func topLeft(_ image: Tensor, height: Int, width: Int, channels: Int) -> Tensor {
    var values: [Float] = []
    for y in 0..<height { for x in 0..<width { for c in 0..<channels { values.append(image[y, x, c]) } } }
    return Tensor(shape: [height, width, channels], scalars: values)
}

@Suite struct ImageResizeTests {
    /// References from skimage.transform.resize (scikit-image 0.26, default arguments).
    @Test(arguments: [
        ("down_16x16", 16, 16, true),
        ("mixed_12x40", 12, 40, true),
        ("tiny_2x1", 2, 1, true),
        ("noaa_8x8", 8, 8, false),
    ])
    func matchesScikitImage(name: String, height: Int, width: Int, antialias: Bool) throws {
        let expected = try Tensor(npyFile: ioFixture("resize/\(name).npy"))
        let resized = try inputImage().resized(height: height, width: width, antialias: antialias)
        assertClose(resized, expected, rtol: 0, atol: 2e-6, "\(name)")
    }

    @Test func upsamplingOneChannelMatchesScikitImage() throws {
        let channel = topLeft(try inputImage(), height: 37, width: 29, channels: 1)
        let expected = try Tensor(npyFile: ioFixture("resize/up_50x60_c1.npy"))
        assertClose(channel.resized(height: 50, width: 60), expected, rtol: 0, atol: 2e-6)
    }

    @Test func onePixelHighInputMatchesScikitImage() throws {
        let row = topLeft(try inputImage(), height: 1, width: 5, channels: 2)
        let expected = try Tensor(npyFile: ioFixture("resize/row_3x2.npy"))
        assertClose(row.resized(height: 3, width: 2), expected, rtol: 0, atol: 2e-6)
    }

    @Test func sameSizeIsTheIdentityAndConstantsStayConstant() throws {
        let image = try inputImage()
        #expect(image.resized(height: 37, width: 29) == image)
        let constant = Tensor(repeating: 0.25, shape: [10, 7, 2])
        for (height, width) in [(3, 3), (20, 5), (1, 1), (10, 7)] {
            assertClose(constant.resized(height: height, width: width), Tensor(repeating: 0.25, shape: [height, width, 2]), rtol: 0, atol: 1e-7)
        }
    }

    @Test func doublingAlignsPixelCentres() {
        // 1-D check by hand: input [0, 1] upsampled ×2 samples coordinates -0.25, 0.25, 0.75, 1.25;
        // -0.25 mirrors to 0.25 and 1.25 to 0.75.
        let line = Tensor(shape: [1, 2, 1], scalars: [0, 1])
        #expect(line.resized(height: 1, width: 4).scalars == [0.25, 0.25, 0.75, 0.75])
    }

    @Test func centreCropTakesTheMiddle() {
        let image = Tensor(shape: [5, 6, 2], scalars: (0..<60).map(Float.init))
        let cropped = image.centreCropped(height: 2, width: 3)  // rows 1...2, columns 1...3
        var expected: [Float] = []
        for y in 1...2 { for x in 1...3 { for c in 0..<2 { expected.append(Float((y * 6 + x) * 2 + c)) } } }
        #expect(cropped == Tensor(shape: [2, 3, 2], scalars: expected))
        #expect(image.centreCropped(height: 5, width: 6) == image)
    }

    @Test func layoutConversionsMoveChannelsAndInvertEachOther() {
        let image = randomTensor([4, 5, 3], seed: 21)
        let batch = image.hwcToNCHW()
        #expect(batch.shape == [1, 3, 4, 5])
        for y in 0..<4 { for x in 0..<5 { for c in 0..<3 { #expect(batch[0, c, y, x] == image[y, x, c]) } } }
        #expect(batch.nchwToHWC() == image)
    }
}
