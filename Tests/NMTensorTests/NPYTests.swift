import Foundation
import NMTensor
import NMTestSupport
import Testing

private func fixture(_ name: String) -> URL { ioFixture("npy/\(name)") }

/// Replaces the first occurrence of `old` by `new` (same length) in `data`.
private func patched(_ data: Data, _ old: String, _ new: String) -> Data {
    precondition(old.utf8.count == new.utf8.count)
    var bytes = [UInt8](data)
    let pattern = Array(old.utf8)
    let start = (0...(bytes.count - pattern.count)).first { Array(bytes[$0..<($0 + pattern.count)]) == pattern }!
    bytes.replaceSubrange(start..<(start + pattern.count), with: Array(new.utf8))
    return Data(bytes)
}

@Suite struct NPYTests {
    // MARK: Files written by NumPy (make_fixtures.py)

    @Test func readsFloat32Exactly() throws {
        let matrix = try Tensor(npyFile: fixture("f4_2x3.npy"))
        #expect(matrix.shape == [2, 3])
        #expect(matrix.scalars == [1.5, -2.25, 0, Float(3.0e-8), Float(1.0e30), .infinity])

        let cube = try Tensor(npyFile: fixture("f4_2x3x4.npy"))
        #expect(cube.shape == [2, 3, 4])
        #expect(cube.scalars == (0..<24).map { Float($0) / 8 - 1 })
    }

    @Test func readsZeroDimensionalAndZeroSizeArrays() throws {
        let scalar = try Tensor(npyFile: fixture("f4_scalar.npy"))
        #expect(scalar.shape == [])
        #expect(scalar.scalars == [3.5])
        let empty = try Tensor(npyFile: fixture("f4_empty_0x3.npy"))
        #expect(empty.shape == [0, 3])
        #expect(empty.scalars.isEmpty)
    }

    @Test func convertsOtherElementTypesToFloat() throws {
        let doubles = try Tensor(npyFile: fixture("f8_4.npy"))
        #expect(doubles.scalars == [Float(1.0 / 3.0), -2.5, Float(1.0e-40), .infinity])  // 1e300 overflows to +∞
        let longs = try Tensor(npyFile: fixture("i8_5.npy"))
        #expect(longs.scalars == [0, -1, Float(Int64(1) << 40 + 1), -0x1p53, 123_456_792])  // 123 456 789 rounds to the nearest Float
        #expect(longs.scalars[2] == 0x1p40)  // 2⁴⁰ + 1 rounds to 2⁴⁰
        let ints = try Tensor(npyFile: fixture("i4_3.npy"))
        #expect(ints.scalars == [-0x1p31, 7, 16_777_216])  // 2²⁴ + 1 rounds to 2²⁴
        let bytes = try Tensor(npyFile: fixture("u1_2x2.npy"))
        #expect(bytes.shape == [2, 2])
        #expect(bytes.scalars == [0, 255, 128, 7])
        let halves = try Tensor(npyFile: fixture("f2_3.npy"))
        #expect(halves.scalars == [0.5, -65_504, 0x1p-24])  // the last is a half subnormal
        let booleans = try Tensor(npyFile: fixture("b1_3.npy"))
        #expect(booleans.scalars == [1, 0, 1])
        let bigEndian = try Tensor(npyFile: fixture("be_f4_2.npy"))
        #expect(bigEndian.scalars == [1.5, -2])
    }

    @Test(arguments: ["f4_v2.npy", "f4_v3.npy"])
    func readsFormatVersions2And3(name: String) throws {
        let tensor = try Tensor(npyFile: fixture(name))
        #expect(tensor.shape == [2])
        #expect(tensor.scalars == [0.25, -4])
    }

    @Test(arguments: ["f4_2x3.npy", "f4_2x3x4.npy", "f4_scalar.npy", "f4_empty_0x3.npy"])
    func writesTheSameBytesAsNumPy(name: String) throws {
        let original = try Data(contentsOf: fixture(name))
        let tensor = try Tensor(npyData: original)
        #expect(tensor.npyData() == original)
    }

    // MARK: Round trips

    @Test func fileRoundTripIsExact() throws {
        for (seed, shape) in [[], [0], [7], [2, 3, 4], [1, 1, 5], [3, 0, 2]].enumerated() {
            var tensor = randomTensor(shape, seed: UInt64(seed))
            if tensor.count > 0 { tensor.scalars[0] = -.infinity }
            let url = ioTemporaryURL("round.npy")
            defer { try? FileManager.default.removeItem(at: url) }
            try tensor.writeNPY(to: url)
            let back = try Tensor(npyFile: url)
            #expect(back == tensor, "shape \(shape)")
            // Every header is padded so the data start at a multiple of 64 bytes.
            let data = try Data(contentsOf: url)
            #expect((data.count - tensor.count * 4) % 64 == 0)
        }
    }

    @Test func writesFormat2WhenTheHeaderExceeds64KB() throws {
        let tensor = Tensor(shape: [Int](repeating: 1, count: 22_000), scalars: [7])  // "(1, 1, …)" ≈ 66 KB
        let data = tensor.npyData()
        #expect(Array(data[6..<8]) == [2, 0])
        let headerLength = (0..<4).reduce(0) { $0 | Int(data[8 + $1]) << (8 * $1) }
        #expect(headerLength > 65_535 && (12 + headerLength) % 64 == 0)
        #expect(try Tensor(npyData: data) == tensor)
    }

    // MARK: Damaged files

    @Test func truncatedOrOverlongDataThrows() throws {
        let data = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]).npyData()
        #expect(data.count == 128 + 24)
        #expect(thrownIOProblem { _ = try Tensor(npyData: data.prefix(140)) } == .truncated(expected: 152, actual: 140))
        #expect(thrownIOProblem { _ = try Tensor(npyData: data + Data([0, 0])) } == .trailingBytes(expected: 152, actual: 154))
        #expect(thrownIOProblem { _ = try Tensor(npyData: data.prefix(60)) } == .truncated(expected: 128, actual: 60))  // inside the header
        #expect(thrownIOProblem { _ = try Tensor(npyData: data.prefix(9)) } == .truncated(expected: 10, actual: 9))
        #expect(thrownIOProblem { _ = try Tensor(npyData: data.prefix(3)) } == .truncated(expected: 10, actual: 3))
        #expect(thrownIOProblem { _ = try Tensor(npyData: Data()) } == .emptyData)
    }

    @Test func corruptHeadersThrowTheNamedProblem() throws {
        let data = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]).npyData()
        var badMagic = data
        badMagic[1] = UInt8(ascii: "X")
        #expect(thrownIOProblem { _ = try Tensor(npyData: badMagic) } == .badMagic)
        #expect(thrownIOProblem { _ = try Tensor(npyData: Data("hello, world".utf8)) } == .badMagic)
        var version = data
        version[6] = 4
        #expect(thrownIOProblem { _ = try Tensor(npyData: version) } == .unsupportedVersion(major: 4, minor: 0))
        #expect(thrownIOProblem { _ = try Tensor(npyData: patched(data, "<f4", "<c8")) } == .unsupportedDType("<c8"))
        #expect(thrownIOProblem { _ = try Tensor(npyData: patched(data, "False", "True ")) } == .fortranOrder)
        #expect(thrownIOProblem { _ = try Tensor(npyData: patched(data, "'shape'", "'shapf'")) } == .malformedHeader("unexpected key 'shapf'"))
        #expect(thrownIOProblem { _ = try Tensor(npyData: patched(data, "(2, 3)", "(2,-3)")) }
            == .malformedHeader("'shape' holds -3, not a non-negative integer"))
        #expect(thrownIOProblem { _ = try Tensor(npyData: patched(data, "{'descr'", "['descr'")) }
            == .malformedHeader("the header does not start with '{'"))
        #expect(thrownIOProblem { _ = try Tensor(npyData: patched(data, "False", "Fals?")) }?.description.hasPrefix("malformed header") == true)
        // The shape in the header promises more data than the file holds.
        #expect(thrownIOProblem { _ = try Tensor(npyData: patched(data, "(2, 3)", "(2, 4)")) } == .truncated(expected: 160, actual: 152))
    }

    @Test func fortranOrderFileWrittenByNumPyIsRefusedAndNamesTheFile() {
        let url = fixture("fortran_2x3.npy")
        #expect(throws: TensorIOError.inFile(path: url.path, .fortranOrder)) { try Tensor(npyFile: url) }
        let message = TensorIOError.inFile(path: url.path, .fortranOrder).description
        #expect(message.contains("fortran_2x3.npy") && message.contains("Fortran"))
    }

    @Test func missingEmptyAndUnwritableFilesThrow() throws {
        let missing = ioTemporaryURL("missing.npy")
        #expect(throws: TensorIOError.fileNotFound(path: missing.path)) { try Tensor(npyFile: missing) }
        let empty = ioTemporaryURL("empty.npy")
        try Data().write(to: empty)
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: TensorIOError.inFile(path: empty.path, .emptyData)) { try Tensor(npyFile: empty) }
        let inMissingDirectory = ioTemporaryURL("no-such-directory").appendingPathComponent("x.npy")
        #expect(thrownIOProblem { try Tensor(0).writeNPY(to: inMissingDirectory) }.map {
            if case .unwritableFile(let path, _) = $0 { return path == inMissingDirectory.path }
            return false
        } == true)
    }
}
