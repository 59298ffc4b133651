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

    @Option(help: "Explanation method: \(ExplanationMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var method = ExplanationMethod.neuromask.rawValue

    @Option(help: "NeuroMask preset: \(NeuroMaskPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset = NeuroMaskPreset.improved.rawValue

    @Option(help: "Class index to explain; default: the class predicted on the image.")
    var target: Int?

    @Option(help: "Iterations of the optimising methods (overrides the preset or default).")
    var iterations: Int?

    @Option(help: "Images per forward pass of the sampling methods.")
    var batchSize: Int?

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
        guard ExplanationMethod(rawValue: method) != nil else {
            throw ValidationError("unknown --method '\(method)'; available: \(ExplanationMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be ≥ 1, got \(batchSize)") }
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
            if let target, !(0..<classifier.classCount).contains(target) {
                throw ExplainError.targetOutOfRange(target: target, classCount: classifier.classCount)
            }
            let methodValue = try ExplanationMethod(named: method)
            var overrides = ExplanationMethod.Overrides()
            overrides.seed = seed
            overrides.iterations = iterations
            overrides.batchSize = batchSize
            overrides.neuroMaskPreset = NeuroMaskPreset(rawValue: preset)!
            let explainer = methodValue.makeExplainer(classifier: classifier, imageSize: max(pixels.shape[2], pixels.shape[3]), overrides: overrides)

            let started = Date()
            var report: [String: Any]
            let map: Tensor  // [H, W]
            let valueRange: ClosedRange<Float>?
            let summary: String
            if let neuroMask = explainer as? NeuroMask {
                var progressBar = ProgressBar(total: neuroMask.configuration.iterations, quiet: quiet || json)
                let result = try neuroMask.run(pixels, target: target) { step in
                    progressBar.update(
                        done: step.iteration + 1, status: String(format: "loss %.3f  p %.3f", step.totalLoss, step.targetProbability))
                }
                progressBar.finish()
                map = result.mask
                valueRange = 0...1
                report = [
                    "target": result.saliency.target, "preset": preset, "settings": neuroMask.configuration.settings,
                    "probability_on_image": Double(result.probabilityOnImage),
                    "probability_on_masked_image": Double(result.probabilityOnMaskedImage),
                    "mask_mean": Double(map.mean().scalar),
                    "mask_share_above_half": Double(map.scalars.filter { $0 > 0.5 }.count) / Double(max(map.count, 1)),
                    "iterations_run": result.iterationsRun,
                ]
                summary = String(
                    format: "p %.4f on the image, %.4f on the masked image; mask mean %.3f; %d iterations",
                    result.probabilityOnImage, result.probabilityOnMaskedImage, map.mean().scalar, result.iterationsRun)
            } else {
                let saliency = try explainer.explain(pixels, target: target)
                map = saliency.values
                valueRange = nil
                let probability = softmax(classifier.logits(pixels)).scalars[saliency.target]
                report = [
                    "target": saliency.target, "settings": explainer.settingsDescription,
                    "probability_on_image": Double(probability),
                    "map_minimum": Double(map.min()), "map_maximum": Double(map.max()), "map_mean": Double(map.mean().scalar),
                    "forward_passes": saliency.forwardPasses, "backward_passes": saliency.backwardPasses,
                    "diagnostics": saliency.diagnostics,
                ]
                summary = String(format: "p %.4f on the image; map in [%.3g, %.3g]", probability, map.min(), map.max())
            }
            let seconds = Date().timeIntervalSince(started)
            let targetIndex = report["target"] as! Int
            let label = classifier.classNames[targetIndex]
            report["target"] = ["index": targetIndex, "label": label]
            report["method"] = method
            report["model"] = classifier.name
            report["image"] = image
            report["image_path"] = imageURL.path
            report["input_size"] = [pixels.shape[2], pixels.shape[3]]
            report["seconds"] = seconds
            report["threads"] = ComputeThreads.count

            let stem = imageURL.deletingPathExtension().lastPathComponent
            let title = "\(method)\(method == "neuromask" ? " (\(preset))" : "") on \(stem): \(targetIndex) \(label)"
            let picture = SaliencyPicture.render(image: pixels, map: map, valueRange: valueRange, title: title)
            let reportText = try jsonString(report)
            try writeAtomically(
                [
                    ("\(stem).\(method).npy", map.npyData()),
                    ("\(stem).\(method).png", try ImageFile.pngData(picture)),
                    ("\(stem).\(method).json", Data((reportText + "\n").utf8)),
                ], into: URL(fileURLWithPath: out))
            if json {
                print(reportText)
            } else if !quiet {
                print("\(method): class \(targetIndex) (\(label)) \(summary); \(String(format: "%.1f", seconds)) s")
                print("wrote \(out)/\(stem).\(method).{npy,png,json}")
            }
        }
    }
}
