import Foundation
import NMTensor
import NMTestSupport
import Testing

private func image(_ name: String) -> URL { ioFixture("image/\(name)") }

@Suite struct ImageFileTests {
    // MARK: Decoding fixtures with known pixels (PNG bytes written by make_fixtures.py)

    @Test(arguments: [
        ("rgb8.png", "rgb8_expected.npy"),
        ("rgb8_interlaced.png", "rgb8_expected.npy"),
        ("rgba8.png", "rgb8_expected.npy"),  // alpha dropped, colour kept
        ("rgb8_trns.png", "rgb8_expected.npy"),  // tRNS ignored
        ("gray2_trns.png", "gray2_expected.npy"),
        ("gray8.png", "gray8_expected.npy"),
        ("gray2.png", "gray2_expected.npy"),  // 2-bit gray scaled to 8 bits
        ("palette.png", "palette_expected.npy"),  // palette expanded, tRNS ignored
    ])
    func eightBitPNGsDecodeExactly(file: String, expectedFile: String) throws {
        let decoded = try ImageFile.read(from: image(file))
        let expected = try ioScaledFixture("image/\(expectedFile)", scale: 255)
        #expect(decoded.shape == [5, 7, 3])
        #expect(decoded == expected)
    }

    @Test(arguments: [("rgb16.png", "rgb16_expected.npy"), ("gray_alpha16.png", "gray_alpha16_expected.npy")])
    func sixteenBitPNGsKeepTheirPrecision(file: String, expectedFile: String) throws {
        let decoded = try ImageFile.read(from: image(file))
        let expected = try ioScaledFixture("image/\(expectedFile)", scale: 65_535)
        #expect(decoded == expected)
    }

    @Test(arguments: [("photo.jpg", "photo_expected.npy", [12, 16, 3]), ("gray.jpg", "gray_jpg_expected.npy", [12, 16, 3])])
    func jpegsMatchPIL(file: String, expectedFile: String, shape: [Int]) throws {
        let decoded = try ImageFile.read(from: image(file))
        let expected = try ioScaledFixture("image/\(expectedFile)", scale: 255)
        #expect(decoded.shape == shape)
        // Both use libjpeg(-turbo) with default settings; allow one level for other builds.
        assertClose(decoded, expected, rtol: 0, atol: 1.01 / 255)
    }

    // MARK: Writing

    @Test func pngRoundTripIsExactAtEightBits() throws {
        var generator = SeededGenerator(seed: 11)
        let levels = (0..<(9 * 13 * 3)).map { _ in Float(Int(generator.nextUnitFloat() * 256) % 256) / 255 }
        let original = Tensor(shape: [9, 13, 3], scalars: levels)
        let url = ioTemporaryURL("round.png")
        defer { try? FileManager.default.removeItem(at: url) }
        try ImageFile.writePNG(original, to: url)
        #expect(try ImageFile.read(from: url) == original)
        // Decoding the fixture and encoding it again gives the same pixels.
        let fixture = try ImageFile.read(from: image("rgb8.png"))
        #expect(try ImageFile.decode(ImageFile.pngData(fixture)) == fixture)
    }

    @Test func writingClampsAndRounds() throws {
        let values: [Float] = [-0.5, 1.7, .nan, 0.2, 0.5 / 255, 0.49 / 255, .infinity, -.infinity, 1]
        let written = try ImageFile.decode(ImageFile.pngData(Tensor(shape: [1, 3, 3], scalars: values)))
        let expected: [Float] = [0, 255, 0, 51, 1, 0, 255, 0, 255].map { Float($0) / 255 }
        #expect(written.scalars == expected)
        #expect(throws: TensorIOError.zeroSizeImage) { try ImageFile.pngData(Tensor.zeros([0, 4, 3])) }
    }

    // MARK: Bad input

    @Test func missingEmptyAndUnknownFilesThrow() throws {
        let missing = ioTemporaryURL("missing.png")
        #expect(throws: TensorIOError.fileNotFound(path: missing.path)) { try ImageFile.read(from: missing) }
        let empty = ioTemporaryURL("empty.png")
        try Data().write(to: empty)
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: TensorIOError.inFile(path: empty.path, .emptyData)) { try ImageFile.read(from: empty) }
        #expect(thrownIOProblem { _ = try ImageFile.read(from: FileManager.default.temporaryDirectory) }.map {
            if case .unreadableFile = $0 { return true }
            return false
        } == true)
        #expect(thrownIOProblem { _ = try ImageFile.decode(Data("GIF89a not supported".utf8)) } == .unknownImageFormat)
        #expect(thrownIOProblem { _ = try ImageFile.decode(Data([0x89, 0x50])) } == .unknownImageFormat)
    }

    @Test func damagedPNGsThrow() throws {
        let png = try Data(contentsOf: image("rgb8.png"))
        for length in [8, 20, 40, png.count - 13, png.count - 1] {
            let problem = thrownIOProblem { _ = try ImageFile.decode(png.prefix(length)) }
            #expect(problem.map { if case .corruptImage = $0 { true } else { false } } == true, "prefix of \(length) bytes: \(String(describing: problem))")
        }
        var flipped = png
        flipped[png.count - 20] ^= 0xFF  // inside IDAT: the CRC no longer matches
        let crcProblem = thrownIOProblem { _ = try ImageFile.decode(flipped) }
        #expect(crcProblem.map { if case .corruptImage = $0 { true } else { false } } == true, "\(String(describing: crcProblem))")

        var zeroWidth = png
        zeroWidth.replaceSubrange(16..<20, with: [0, 0, 0, 0])  // IHDR width
        #expect(thrownIOProblem { _ = try ImageFile.decode(zeroWidth) } == .zeroSizeImage)
        var zeroHeight = png
        zeroHeight.replaceSubrange(20..<24, with: [0, 0, 0, 0])
        #expect(thrownIOProblem { _ = try ImageFile.decode(zeroHeight) } == .zeroSizeImage)
    }

    @Test func damagedJPEGsThrow() throws {
        let jpeg = try Data(contentsOf: image("photo.jpg"))
        // Like PIL, a file that stops before its end-of-image marker is truncated, even when only
        // the marker is missing.
        for length in [3, 30, jpeg.count / 2, jpeg.count - 40, jpeg.count - 2] {
            let problem = thrownIOProblem { _ = try ImageFile.decode(jpeg.prefix(length)) }
            #expect(problem.map { if case .corruptImage = $0 { true } else { false } } == true, "prefix of \(length) bytes: \(String(describing: problem))")
        }
        let garbage = Data([0xFF, 0xD8, 0xFF] + [UInt8](repeating: 0x42, count: 64))
        let problem = thrownIOProblem { _ = try ImageFile.decode(garbage) }
        #expect(problem.map { if case .corruptImage = $0 { true } else { false } } == true, "\(String(describing: problem))")
    }

    @Test func errorMessagesNameTheFile() throws {
        let url = ioTemporaryURL("notes.png")
        try Data("not an image".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try ImageFile.read(from: url)
            Issue.record("expected an error")
        } catch let error as TensorIOError {
            #expect(error == .inFile(path: url.path, .unknownImageFormat))
            #expect(error.description.contains(url.lastPathComponent) && error.description.contains("PNG or JPEG"))
        }
    }
}
