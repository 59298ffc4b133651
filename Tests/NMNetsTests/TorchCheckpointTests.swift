import Foundation
import NMNets
import NMTensor
import Testing

/// Fixtures are written by Fixtures/make_checkpoint_fixtures.py; expected values come from
/// `torch.load` in that script.
enum CheckpointFixtures {
    static func url(_ name: String) throws -> URL {
        let directory = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures")
        return directory.appendingPathComponent(name)
    }

    struct ExpectedEntry {
        var name: String
        var dtype: String
        var shape: [Int]
        var values: [Float]
    }

    /// Reads `{"entries": [{"name", "dtype", "shape", "values"}]}` ("inf", "-inf", "nan" as strings).
    static func expectedEntries(_ name: String) throws -> [ExpectedEntry] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url(name)))
        let entries = try #require((object as? [String: Any])?["entries"] as? [[String: Any]])
        return try entries.map { entry in
            let values = try #require(entry["values"] as? [Any]).map { value -> Float in
                switch value {
                case let string as String: return string == "inf" ? .infinity : string == "-inf" ? -.infinity : .nan
                case let number as NSNumber: return Float(number.doubleValue)
                default: return .nan
                }
            }
            return ExpectedEntry(
                name: try #require(entry["name"] as? String), dtype: try #require(entry["dtype"] as? String),
                shape: try #require(entry["shape"] as? [Int]), values: values)
        }
    }
}

/// Exact equality that treats NaN as equal to NaN.
private func sameValues(_ actual: [Float], _ expected: [Float]) -> Bool {
    actual.count == expected.count && zip(actual, expected).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
}

@Suite struct TorchCheckpointTests {
    // MARK: Values

    @Test(arguments: ["small_legacy.pth", "small_zip.pth", "small_zip_proto4.pth"])
    func smallStateDictMatchesTorchLoad(file: String) throws {
        let expected = try CheckpointFixtures.expectedEntries("small_expected.json")
        let entries = try TorchCheckpoint.entries(from: CheckpointFixtures.url(file))
        #expect(entries.map(\.name) == expected.map(\.name))  // file order kept
        for (entry, reference) in zip(entries, expected) {
            #expect(entry.dtype.rawValue == reference.dtype, "\(entry.name)")
            #expect(entry.tensor.shape == reference.shape, "\(entry.name)")
            #expect(sameValues(entry.tensor.scalars, reference.values), "\(entry.name): \(entry.tensor.scalars) vs \(reference.values)")
        }
        let tensors = try TorchCheckpoint.load(from: CheckpointFixtures.url(file))
        #expect(tensors.count == expected.count)
        #expect(tensors["1.num_batches_tracked"] == Tensor(7))
    }

    @Test func stridesOffsetsAndSpecialValuesByHand() throws {
        // base = arange(12) · 0.5 − 1 = [-1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5]
        let tensors = try TorchCheckpoint.load(from: CheckpointFixtures.url("small_legacy.pth"))
        #expect(tensors["view.offset"] == Tensor(shape: [2, 3], scalars: [1, 1.5, 2, 2.5, 3, 3.5]))  // base[4:10]
        #expect(tensors["view.transposed"] == Tensor(shape: [3, 2], scalars: [-1, 0.5, -0.5, 1, 0, 1.5]))  // stride (1, 3)
        #expect(tensors["view.strided"] == Tensor(shape: [3], scalars: [-0.5, 1.5, 3.5]))  // base[1::4]
        #expect(tensors["tied.a"] == tensors["0.weight"] && tensors["tied.b"] == tensors["0.weight"])
        #expect(tensors["scalar"] == Tensor(2.5))
        #expect(tensors["empty"]?.shape == [0, 3])
        #expect(tensors["long"] == Tensor(shape: [3], scalars: [-5, 0, 123456]))
        #expect(tensors["int32"] == Tensor(shape: [1, 2], scalars: [-2_147_483_648, 7]))
        #expect(tensors["uint8"] == Tensor(shape: [3], scalars: [0, 200, 255]))
        #expect(tensors["bool"] == Tensor(shape: [3], scalars: [1, 0, 1]))
        let half = try #require(tensors["half"]).scalars
        #expect(half[2] == 65504 && half[3] == 0x1p-24)  // largest half, smallest subnormal
        #expect(half[4] == 0 && half[4].sign == .minus)
        #expect(half[6] == .infinity && half[7] == -.infinity)
        #expect(try #require(tensors["bfloat16"]).scalars[3] == 0x1p-130)  // subnormal in float32 too
    }

    @Test func legacyStorageViewIsResolved() throws {
        let expected = try CheckpointFixtures.expectedEntries("storage_view_expected.json")
        let entries = try TorchCheckpoint.entries(from: CheckpointFixtures.url("storage_view_legacy.pth"))
        #expect(entries.map(\.name) == ["viewed", "root"])
        for (entry, reference) in zip(entries, expected) {
            #expect(entry.tensor == Tensor(shape: reference.shape, scalars: reference.values), "\(entry.name)")
        }
        #expect(entries[0].tensor.scalars == [13, 14])  // view [2, 5) of the root, then offset 1
    }

    // MARK: Refused input

    @Test(arguments: ["malicious.pkl", "malicious_proto4.pkl", "malicious_legacy.pth", "malicious_zip.pth"])
    func maliciousGlobalIsRefusedWithoutRunning(file: String) throws {
        let url = try CheckpointFixtures.url(file)
        // __reduce__ returned (os.system, ('echo pwned',)); pickle records os.system as posix.system.
        #expect(throws: WeightLoadingError.forbiddenGlobal(file: url.path, module: "posix", name: "system")) {
            try TorchCheckpoint.load(from: url)
        }
    }

    @Test func nonTensorEntriesAreRefused() throws {
        let strings = try CheckpointFixtures.url("not_a_state_dict.pth")
        #expect(throws: WeightLoadingError.nonTensorEntry(file: strings.path, key: "name", found: "str")) {
            try TorchCheckpoint.load(from: strings)
        }
        let list = try CheckpointFixtures.url("list_checkpoint.pth")
        #expect(throws: WeightLoadingError.notATensorStateDict(file: list.path, found: "a list")) {
            try TorchCheckpoint.load(from: list)
        }
    }

    @Test func truncatedFilesAreReported() throws {
        let legacy = try CheckpointFixtures.url("truncated_legacy.pth")
        // The last storage is view.base's 12 floats; torch's legacy storage keys are arbitrary ids.
        #expect {
            try TorchCheckpoint.load(from: legacy)
        } throws: { error in
            guard case let WeightLoadingError.truncated(file, reading) = error else { return false }
            return file == legacy.path && reading.hasPrefix("storage '") && reading.hasSuffix("' (12 × float32)")
        }
        let zip = try CheckpointFixtures.url("truncated_zip.pth")
        let reason = "no end-of-central-directory record (not a zip file, or truncated)"
        #expect(throws: WeightLoadingError.malformedZip(file: zip.path, reason: reason)) {
            try TorchCheckpoint.load(from: zip)
        }
    }

    @Test func unsupportedOpcodeIsNamed() throws {
        let url = try CheckpointFixtures.url("set_proto4.pkl")
        #expect(throws: WeightLoadingError.unsupportedOpcode(file: url.path, opcode: 0x8F)) {
            try TorchCheckpoint.load(from: url)
        }
        let message = WeightLoadingError.unsupportedOpcode(file: url.path, opcode: 0x8F).description
        #expect(message.contains("0x8f (EMPTY_SET)"))
    }

    @Test func zipProblemsAreReported() throws {
        let deflated = try CheckpointFixtures.url("deflated_zip.pth")
        #expect(throws: WeightLoadingError.unsupportedZipCompression(file: deflated.path, member: "small_zip/data.pkl", method: 8)) {
            try TorchCheckpoint.load(from: deflated)
        }
        let corrupted = try CheckpointFixtures.url("corrupted_zip.pth")
        #expect(throws: WeightLoadingError.zipChecksumMismatch(file: corrupted.path, member: "small_zip/data/0")) {
            try TorchCheckpoint.load(from: corrupted)
        }
    }

    @Test func inconsistentLegacyFilesAreReported() throws {
        let outOfBounds = try CheckpointFixtures.url("out_of_bounds_legacy.pth")
        let reason = "offset 0, size [2, 3] and stride [3, 1] reach element 5 of a storage of 5 elements"
        #expect(throws: WeightLoadingError.invalidTensor(file: outOfBounds.path, key: "weight", reason: reason)) {
            try TorchCheckpoint.load(from: outOfBounds)
        }
        let sizeMismatch = try CheckpointFixtures.url("size_mismatch_legacy.pth")
        #expect(throws: WeightLoadingError.storageSizeMismatch(file: sizeMismatch.path, storage: "root", expected: 6, found: 5)) {
            try TorchCheckpoint.load(from: sizeMismatch)
        }
        let badMagic = try CheckpointFixtures.url("bad_magic.pth")
        #expect(throws: WeightLoadingError.badMagicNumber(file: badMagic.path)) {
            try TorchCheckpoint.load(from: badMagic)
        }
    }

    @Test func unreadableAndUnrecognizedFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nm-checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let missing = directory.appendingPathComponent("missing.pth")
        #expect {
            try TorchCheckpoint.load(from: missing)
        } throws: { error in
            guard case WeightLoadingError.unreadableFile(let file, _) = error else { return false }
            return file == missing.path
        }
        let text = directory.appendingPathComponent("text.pth")
        try Data("hello".utf8).write(to: text)
        #expect(throws: WeightLoadingError.unrecognizedFormat(file: text.path)) {
            try TorchCheckpoint.load(from: text)
        }
        let empty = directory.appendingPathComponent("empty.pth")
        try Data().write(to: empty)
        #expect(throws: WeightLoadingError.unrecognizedFormat(file: empty.path)) {
            try TorchCheckpoint.load(from: empty)
        }
    }

    @Test func everyPrefixOfACheckpointThrowsInsteadOfCrashing() throws {
        // Cutting the file anywhere must give a typed error, never a trap.
        for name in ["small_legacy.pth", "small_zip.pth"] {
            let bytes = try Data(contentsOf: CheckpointFixtures.url(name))
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nm-prefix-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let url = directory.appendingPathComponent(name)
            for length in stride(from: 0, to: bytes.count, by: 7) {
                try bytes.prefix(length).write(to: url)
                #expect(throws: WeightLoadingError.self, "\(name) cut at \(length)") { try TorchCheckpoint.load(from: url) }
            }
        }
    }
}
