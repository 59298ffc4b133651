import Foundation
import NMTensor
import NMTestSupport
import Testing

/// A safetensors file from a header written by hand and `dataSize` zero bytes of data.
private func handMade(header: String, dataSize: Int) -> Data {
    let headerBytes = Array(header.utf8)
    var data = Data((0..<8).map { UInt8((UInt64(headerBytes.count) >> (8 * UInt64($0))) & 0xFF) })
    data.append(contentsOf: headerBytes)
    data.append(Data(count: dataSize))
    return data
}

private func entry(_ name: String, _ dtype: String = "F32", shape: [Int], offsets: (Int, Int)) -> String {
    "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offsets.0),\(offsets.1)]}"
}

@Suite struct SafetensorsTests {
    @Test func readsAFileWrittenByThePythonPackage() throws {
        let (tensors, metadata) = try Safetensors.readWithMetadata(from: ioFixture("safetensors/mixed.safetensors"))
        #expect(metadata == ["format": "pt \"é\""])
        #expect(Set(tensors.keys) == ["weight", "bias", "half", "brain", "double", "count", "index", "scalar", "empty"])
        #expect(tensors["weight"] == Tensor(shape: [2, 3], scalars: [1, -2, 0.5, 3.25, 0, -7.5]))
        #expect(tensors["bias"] == Tensor(shape: [3], scalars: [0.125, -0.25, 1.0e-3]))
        // F16: the values below are exactly the half-precision numbers torch stored.
        #expect(tensors["half"] == Tensor(shape: [4], scalars: [0.5, -65_504, 0x1p-24, 0.333_251_953_125]))
        // BF16: -3e38 is stored as the nearest bfloat16, -3.00405527047391e38.
        #expect(tensors["brain"] == Tensor(shape: [3], scalars: [1, -3.004_055_270_473_91e38, 0x1p-126]))
        #expect(tensors["double"] == Tensor(shape: [2], scalars: [Float(1.0 / 3.0), -.infinity]))
        #expect(tensors["count"] == Tensor(shape: [2], scalars: [-0x1p40, 5]))
        #expect(tensors["index"] == Tensor(shape: [2], scalars: [-3, 16_777_216]))  // 2²⁴ + 1 rounds
        #expect(tensors["scalar"] == Tensor(2.5))
        #expect(tensors["empty"] == Tensor.zeros([0, 2]))
    }

    @Test func roundTripThroughAFileIsExact() throws {
        let tensors = [
            "conv.weight": randomTensor([4, 3, 3, 3], seed: 1),
            "conv.bias": randomTensor([4], seed: 2),
            "scalar": Tensor(-1.5),
            "nothing": Tensor.zeros([0, 5]),
            "name with \"quotes\" and \\ and é": randomTensor([2], seed: 3),
        ]
        let metadata = ["format": "pt", "multi\nline": "tab\there"]
        let url = ioTemporaryURL("round.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try Safetensors.write(tensors, metadata: metadata, to: url)
        let (back, backMetadata) = try Safetensors.readWithMetadata(from: url)
        #expect(back == tensors)
        #expect(backMetadata == metadata)
        #expect(try Safetensors.read(from: url) == tensors)
    }

    @Test func writtenBytesAreDeterministicAndLaidOutInKeyOrder() throws {
        var first: [String: Tensor] = [:]
        var second: [String: Tensor] = [:]
        let names = ["b", "a", "c"]
        for (index, name) in names.enumerated() { first[name] = Tensor(shape: [index + 1], scalars: [Float](repeating: Float(index), count: index + 1)) }
        for name in names.reversed() { second[name] = first[name] }
        let data = Safetensors.data(first)
        #expect(data == Safetensors.data(second))

        let bytes = [UInt8](data)
        let headerLength = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        #expect(headerLength % 8 == 0)
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any])
        #expect(header["__metadata__"] == nil)
        let offsets = ["a", "b", "c"].map { ((header[$0] as? [String: Any])?["data_offsets"] as? [Int]) ?? [] }
        #expect(offsets == [[0, 8], [8, 12], [12, 24]])  // a = [2] (value 1), b = [1], c = [3]
        #expect(bytes.count == 8 + headerLength + 24)
        #expect(Array(bytes[(8 + headerLength)..<(8 + headerLength + 4)]) == [0, 0, 0x80, 0x3F])  // a[0] = 1.0 LE
    }

    @Test func reservedNameIsRefusedOnWrite() {
        let url = ioTemporaryURL("reserved.safetensors")
        #expect(throws: TensorIOError.invalidEntry(key: "__metadata__", reason: "the name is reserved for metadata")) {
            try Safetensors.write(["__metadata__": Tensor(1)], to: url)
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test func damagedHeadersThrowTheNamedProblem() throws {
        let good = "{" + entry("a", shape: [2], offsets: (0, 8)) + "," + entry("b", shape: [1], offsets: (8, 12)) + "}"
        #expect(try Safetensors.read(data: handMade(header: good, dataSize: 12)).count == 2)

        #expect(thrownIOProblem { _ = try Safetensors.read(data: Data()) } == .emptyData)
        #expect(thrownIOProblem { _ = try Safetensors.read(data: Data([1, 2, 3])) } == .truncated(expected: 8, actual: 3))
        var huge = handMade(header: good, dataSize: 12)
        huge[7] = 0x01  // header length ≈ 2⁵⁶
        #expect(thrownIOProblem { _ = try Safetensors.read(data: huge) } == .headerLengthOutOfRange(length: (1 << 56) | UInt64(good.utf8.count), available: good.utf8.count + 12))
        var beyondFile = handMade(header: good, dataSize: 0)
        beyondFile[0] = beyondFile[0] &+ 1
        #expect(thrownIOProblem { _ = try Safetensors.read(data: beyondFile) } == .headerLengthOutOfRange(length: UInt64(good.utf8.count + 1), available: good.utf8.count))

        #expect(thrownIOProblem { _ = try Safetensors.read(data: handMade(header: "{\"a\": [1,", dataSize: 0)) }
            == .malformedHeader("the safetensors header is not valid JSON"))
        #expect(thrownIOProblem { _ = try Safetensors.read(data: handMade(header: "[1, 2]", dataSize: 0)) }
            == .malformedHeader("the safetensors header is not a JSON object"))
        #expect(thrownIOProblem { _ = try Safetensors.read(data: handMade(header: "{\"w\": 3}", dataSize: 0)) }
            == .invalidEntry(key: "w", reason: "is not an object"))
        #expect(thrownIOProblem { _ = try Safetensors.read(data: handMade(header: "{" + entry("w", "F8_E4M3", shape: [2], offsets: (0, 2)) + "}", dataSize: 2)) }
            == .invalidEntry(key: "w", reason: "unsupported dtype 'F8_E4M3'"))
        #expect(thrownIOProblem { _ = try Safetensors.read(data: handMade(header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", dataSize: 8)) }
            == .invalidEntry(key: "w", reason: "'shape' is not an array of non-negative integers"))
        #expect(thrownIOProblem { _ = try Safetensors.read(data: handMade(header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", dataSize: 8)) }
            == .invalidEntry(key: "w", reason: "'data_offsets' is not [begin, end] with 0 ≤ begin ≤ end"))
        #expect(thrownIOProblem { _ = try Safetensors.read(data: handMade(header: "{" + entry("w", shape: [2, 2], offsets: (0, 8)) + "}", dataSize: 8)) }
            == .invalidEntry(key: "w", reason: "data_offsets [0, 8] span 8 bytes but shape [2, 2] of F32 needs 16"))
        #expect(thrownIOProblem { _ = try Safetensors.read(data: handMade(header: "{" + entry("w", shape: [4], offsets: (0, 16)) + "}", dataSize: 8)) }
            == .invalidEntry(key: "w", reason: "data_offsets [0, 16] end beyond the 8-byte data region"))
        let overlapping = "{" + entry("a", shape: [2], offsets: (0, 8)) + "," + entry("b", shape: [2], offsets: (4, 12)) + "}"
        #expect(thrownIOProblem { _ = try Safetensors.read(data: handMade(header: overlapping, dataSize: 12)) }
            == .invalidEntry(key: "b", reason: "data_offsets [4, 12] overlaps the previous tensor, which ends at 8"))
        let gap = "{" + entry("a", shape: [1], offsets: (0, 4)) + "," + entry("b", shape: [1], offsets: (8, 12)) + "}"
        #expect(thrownIOProblem { _ = try Safetensors.read(data: handMade(header: gap, dataSize: 12)) }
            == .invalidEntry(key: "b", reason: "data_offsets [8, 12] leaves a gap after the previous tensor, which ends at 4"))
        #expect(thrownIOProblem { _ = try Safetensors.read(data: handMade(header: good, dataSize: 20)) } == .incompleteDataRegion(covered: 12, size: 20))
        #expect(thrownIOProblem { _ = try Safetensors.read(data: handMade(header: "{\"__metadata__\":{\"n\":1}}", dataSize: 0)) }
            == .invalidEntry(key: "__metadata__", reason: "value of 'n' is not a string"))
    }

    @Test func fileErrorsNameThePath() throws {
        let url = ioTemporaryURL("bad.safetensors")
        try Data([1, 2, 3]).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: TensorIOError.inFile(path: url.path, .truncated(expected: 8, actual: 3))) { try Safetensors.read(from: url) }
        let missing = ioTemporaryURL("missing.safetensors")
        #expect(throws: TensorIOError.fileNotFound(path: missing.path)) { try Safetensors.read(from: missing) }
        #expect(TensorIOError.inFile(path: url.path, .invalidEntry(key: "conv.weight", reason: "x")).description.contains("conv.weight"))
    }
}
