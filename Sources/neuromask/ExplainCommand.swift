import ArgumentParser
import Foundation
import NMExplain
import NMNets
import NMTensor

/// `neuromask explain [IMAGE]`: learn a mask (or run another method) and write the map, a
/// picture and a JSON report.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain a classifier's prediction on an image.",
        discussion: """
            Writes DIR/<stem>.<method>.npy (Float32 [H, W] map on the model's input grid), \
            DIR/<stem>.<method>.png (the map over the image) and DIR/<stem>.<method>.json (settings, \
            target, probabilities, mask statistics, timing), all or nothing.

            NeuroMask presets:
            \(NeuroMaskPreset.allCases.map { "  \($0.rawValue): \($0.summary)" }.joined(separator: "\n"))
            """)

    @Argument(help: "A PNG or JPEG file, or a bundled sample name (chelsea, coffee).")
    var image = "chelsea"

    @Option(help: "Explanation method: neuromask.")
    var method = "neuromask"

    @Option(help: "NeuroMask preset: \(NeuroMaskPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset = NeuroMaskPreset.paper.rawValue

    @Option(help: "Class index to explain; default: the class predicted on the image.")
    var target: Int?

    @Option(help: "Iterations (overrides the preset).")
    var iterations: Int?

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Output directory.")
    var out = "out"

    @Flag(help: "Also print the JSON report on stdout.")
    var json = false

    @Flag(help: "No progress bar or summary.")
    var quiet = false

    func validate() throws {
        guard method == "neuromask" else { throw ValidationError("unknown --method '\(method)'; available: neuromask") }
        guard NeuroMaskPreset(rawValue: preset) != nil else {
            throw ValidationError("unknown --preset '\(preset)'; available: \(NeuroMaskPreset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be ≥ 1, got \(iterations)") }
    }

    func run() throws {
        try reportingErrors {
            let imageURL = try imageURL(image)
            let classifier = try modelOptions.loadClassifier()
            let pixels = try classifier.loadImage(at: imageURL, size: modelOptions.inputSize())  // [1, 3, H, W]
            let presetValue = NeuroMaskPreset(rawValue: preset)!
            var configuration = presetValue.configuration(imageSize: max(pixels.shape[2], pixels.shape[3]))
            configuration.seed = seed
            if let iterations { configuration.iterations = iterations }
            if let target, !(0..<classifier.classCount).contains(target) {
                throw ExplainError.targetOutOfRange(target: target, classCount: classifier.classCount)
            }

            let started = Date()
            var progressBar = ProgressBar(total: configuration.iterations, quiet: quiet || json)
            let result = try NeuroMask(classifier: classifier, configuration: configuration).run(pixels, target: target) { step in
                progressBar.update(
                    done: step.iteration + 1,
                    status: String(format: "loss %.3f  p %.3f", step.totalLoss, step.targetProbability))
            }
            progressBar.finish()
            let seconds = Date().timeIntervalSince(started)

            let mask = result.mask  // [H, W]
            let label = classifier.classNames[result.saliency.target]
            let report: [String: Any] = [
                "method": method, "preset": preset, "settings": configuration.settings,
                "model": classifier.name, "image": image, "image_path": imageURL.path, "input_size": [pixels.shape[2], pixels.shape[3]],
                "target": ["index": result.saliency.target, "label": label],
                "probability_on_image": Double(result.probabilityOnImage),
                "probability_on_masked_image": Double(result.probabilityOnMaskedImage),
                "mask_mean": Double(mask.mean().scalar),
                "mask_share_above_half": Double(mask.scalars.filter { $0 > 0.5 }.count) / Double(max(mask.count, 1)),
                "iterations_run": result.iterationsRun, "seconds": seconds,
                "threads": ComputeThreads.count,
            ]
            let stem = imageURL.deletingPathExtension().lastPathComponent
            let title = "\(method) (\(preset)) on \(stem): \(result.saliency.target) \(label), p \(String(format: "%.3f", result.probabilityOnMaskedImage)) masked"
            let picture = SaliencyPicture.render(image: pixels, map: mask, valueRange: 0...1, title: title)
            let reportText = try jsonString(report)
            try writeAtomically(
                [
                    ("\(stem).\(method).npy", mask.npyData()),
                    ("\(stem).\(method).png", try ImageFile.pngData(picture)),
                    ("\(stem).\(method).json", Data((reportText + "\n").utf8)),
                ], into: URL(fileURLWithPath: out))
            if json {
                print(reportText)
            } else if !quiet {
                print(String(
                    format: "%@: class %d (%@) p %.4f on the image, %.4f on the masked image; mask mean %.3f; %d iterations in %.1f s",
                    method, result.saliency.target, label, result.probabilityOnImage, result.probabilityOnMaskedImage,
                    mask.mean().scalar, result.iterationsRun, seconds))
                print("wrote \(out)/\(stem).\(method).{npy,png,json}")
            }
        }
    }
}
