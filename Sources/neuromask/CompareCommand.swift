import ArgumentParser
import Foundation
import NMExplain
import NMNets
import NMTensor

/// `neuromask compare IMAGE...`: every method on every image, side by side, with metrics.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Run several explanation methods on several images; write a picture grid and tables of metrics and seconds.",
        discussion: """
            Writes DIR/compare.png (a row per image, a column per method, each panel titled with \
            the method and its deletion/insertion AUC), DIR/compare.md and DIR/compare.json.
            """)

    @Argument(help: "PNG or JPEG files, or bundled sample names (default: chelsea coffee).")
    var images: [String] = ["chelsea", "coffee"]

    @Option(help: "Comma-separated methods (default: all).")
    var methods = ExplanationMethod.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "Random seed of the stochastic methods.")
    var seed: UInt64 = 0

    @Option(help: "Iterations of the optimising methods (default: each method's own).")
    var iterations: Int?

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Output directory.")
    var out = "out"

    @Flag(help: "No per-run progress lines.")
    var quiet = false

    func run() throws {
        try reportingErrors {
            let methodList = try methods.split(separator: ",").map { try ExplanationMethod(named: String($0)) }
            let classifier = try modelOptions.loadClassifier()
            let metrics = DeletionInsertion(classifier: classifier)
            var rows: [[PictureGrid.Panel]] = []
            var records: [[String: Any]] = []
            for name in images {
                let url = try imageURL(name)
                let pixels = try classifier.loadImage(at: url, size: modelOptions.inputSize())
                var overrides = ExplanationMethod.Overrides()
                overrides.seed = seed
                overrides.iterations = iterations
                var row = [PictureGrid.Panel(image: pixels.nchwToHWC(), title: "\(url.deletingPathExtension().lastPathComponent)\n\(classifier.name)")]
                for method in methodList {
                    let explainer = method.makeExplainer(classifier: classifier, imageSize: max(pixels.shape[2], pixels.shape[3]), overrides: overrides)
                    let started = Date()
                    let saliency = try explainer.explain(pixels, target: nil)
                    let seconds = Date().timeIntervalSince(started)
                    let scores = try metrics.evaluate(image: pixels, saliency: saliency.values, target: saliency.target)
                    let gini = try Sparseness.giniIndex(saliency.values)
                    records.append([
                        "image": name, "method": method.rawValue, "target": saliency.target, "label": classifier.classNames[saliency.target],
                        "deletion_auc": Double(scores.deletion.auc), "insertion_auc": Double(scores.insertion.auc),
                        "sparseness_gini": Double(gini), "seconds": seconds,
                        "forward_passes": saliency.forwardPasses, "backward_passes": saliency.backwardPasses,
                    ])
                    row.append(PictureGrid.Panel(
                        image: PictureGrid.overlay(image: pixels, map: saliency.values),
                        title: String(format: "%@\ndel %.3f ins %.3f", method.rawValue, scores.deletion.auc, scores.insertion.auc)))
                    if !quiet {
                        print(String(
                            format: "%@ %@: deletion %.3f insertion %.3f gini %.3f (%.1f s)", name, method.rawValue,
                            scores.deletion.auc, scores.insertion.auc, gini, seconds))
                    }
                }
                rows.append(row)
            }
            let picture = PictureGrid.render(rows: rows)
            try writeAtomically(
                [
                    ("compare.png", try ImageFile.pngData(picture)),
                    ("compare.md", Data(markdownTable(records).utf8)),
                    ("compare.json", Data((try jsonString(["model": classifier.name, "seed": seed, "results": records]) + "\n").utf8)),
                ], into: URL(fileURLWithPath: out))
            if !quiet { print("wrote \(out)/compare.{png,md,json}") }
        }
    }

    /// One row per (image, method): the metrics and the cost.
    private func markdownTable(_ records: [[String: Any]]) -> String {
        var lines = [
            "| image | method | class | deletion AUC ↓ | insertion AUC ↑ | Gini | seconds | forward / backward passes |",
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for record in records {
            lines.append(String(
                format: "| %@ | %@ | %d %@ | %.3f | %.3f | %.3f | %.1f | %d / %d |",
                record["image"] as! String, record["method"] as! String, record["target"] as! Int, record["label"] as! String,
                record["deletion_auc"] as! Double, record["insertion_auc"] as! Double, record["sparseness_gini"] as! Double,
                record["seconds"] as! Double, record["forward_passes"] as! Int, record["backward_passes"] as! Int))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
