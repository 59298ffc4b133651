import Foundation
import NMTensor
import Testing

/// Runs the built `neuromask` binary (a dependency of this test target, so `swift test`
/// builds it next to the test bundle) and returns its exit code, stdout and stderr.
func runCLI(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    let products = Bundle.module.bundleURL.deletingLastPathComponent()  // the build products folder
    let candidates = [products, Bundle.main.bundleURL].map { $0.appendingPathComponent("neuromask") }
    guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates[0].path])
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("neuromask-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The command-line tool end to end with the pretrained default model (fetched on first use).
@Suite(.serialized) struct CommandLineTests {
    @Test func classifyPrintsPyTorchsTopClassesAsJSON() throws {
        let (status, output, _) = try runCLI(["classify", "chelsea", "--json", "--top", "3"])
        #expect(status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as! [String: Any]
        let top = object["top"] as! [[String: Any]]
        #expect(object["model"] as? String == "efficientnet-lite0" && top.count == 3)
        #expect(top.map { $0["index"] as! Int } == [285, 282, 281])  // Egyptian cat, tiger cat, tabby
        #expect(abs((top[0]["probability"] as! Double) - 0.790) < 0.005)
    }

    @Test func explainWritesTheMapThePictureAndTheReport() throws {
        let out = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let (status, _, error) = try runCLI(["explain", "coffee", "--method", "gradcam", "--out", out.path, "--quiet"])
        #expect(status == 0, "\(error)")
        let map = try Tensor(npyFile: out.appendingPathComponent("coffee.gradcam.npy"))
        #expect(map.shape == [224, 224] && map.isFinite)
        let picture = try ImageFile.read(from: out.appendingPathComponent("coffee.gradcam.png"))
        #expect(picture.shape[2] == 3 && picture.shape[1] > 3 * 224)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("coffee.gradcam.json"))) as! [String: Any]
        #expect((report["target"] as! [String: Any])["index"] as? Int == 967)
        #expect(report["method"] as? String == "gradcam" && report["seconds"] is Double && report["settings"] != nil)
    }

    @Test func neuroMaskReportHasEverySetting() throws {
        let out = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let (status, output, error) = try runCLI(["explain", "chelsea", "--preset", "paper", "--iterations", "3", "--out", out.path, "--json"])
        #expect(status == 0, "\(error)")
        let report = try JSONSerialization.jsonObject(with: Data(output.utf8)) as! [String: Any]
        let settings = report["settings"] as! [String: Any]
        #expect(settings["temperature"] as? Double == Double(Float(0.3)) && settings["laplacian_size"] as? Int == 5)
        #expect(report["iterations_run"] as? Int == 3 && report["preset"] as? String == "paper")
        for key in ["probability_on_image", "probability_on_masked_image", "mask_mean", "mask_share_above_half", "seconds"] {
            #expect(report[key] is Double, "\(key)")
        }
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("chelsea.neuromask.png").path))
    }

    @Test(arguments: [
        (["classify", "/nonexistent/cat.png"], "no such file"),
        (["classify", "chelsea", "--model", "resnet9"], "unknown model 'resnet9'"),
        (["classify", "chelsea", "--model", "resnet50"], "no pretrained weights ship for 'resnet50'"),
        (["explain", "chelsea", "--target", "1000", "--out", "/tmp/neuromask-cli-unused"], "target class 1000 is outside 0..<1000"),
        (["explain", "chelsea", "--size", "16", "--out", "/tmp/neuromask-cli-unused"], "smaller than the model's minimum input 32x32"),
    ])
    func badInputFailsWithOneClearLine(arguments: [String], message: String) throws {
        let (status, _, error) = try runCLI(arguments)
        #expect(status == 1)
        #expect(error.contains(message), "stderr: \(error)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/neuromask-cli-unused"))
    }

    @Test func unwritableOutputDirectoryLeavesNothingBehind() throws {
        let parent = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: parent) }
        let blocker = parent.appendingPathComponent("file")
        try Data("not a directory".utf8).write(to: blocker)
        let (status, _, error) = try runCLI(["explain", "coffee", "--method", "gradient", "--out", blocker.appendingPathComponent("out").path])
        #expect(status == 1)
        #expect(error.contains("cannot write to"), "stderr: \(error)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["file"])
    }

    @Test func corruptImageAndSaliencyAreReportedByName() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let image = directory.appendingPathComponent("broken.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0]).write(to: image)
        let (status, _, error) = try runCLI(["classify", image.path])
        #expect(status == 1 && error.contains("broken.png"), "stderr: \(error)")

        let saliency = directory.appendingPathComponent("map.npy")
        try Tensor.zeros([10, 10]).writeNPY(to: saliency)
        let evaluation = try runCLI(["evaluate", "coffee", "--saliency", saliency.path])
        #expect(evaluation.status == 1 && evaluation.error.contains("saliency"), "stderr: \(evaluation.error)")
    }

    @Test func convertWritesSafetensorsThatReadBack() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = Bundle.module.url(forResource: "Fixtures/small_zip", withExtension: "pth")!
        let output = directory.appendingPathComponent("small.safetensors")
        let (status, _, error) = try runCLI(["convert", checkpoint.path, output.path])
        #expect(status == 0, "\(error)")
        let tensors = try Safetensors.read(from: output)
        #expect(!tensors.isEmpty)
    }
}
