import ArgumentParser
import Foundation
import NMExplain
import NMNets
import NMTensor

/// `neuromask evaluate IMAGE --saliency FILE.npy`: deletion and insertion AUC of a map.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a saliency map: deletion and insertion AUC (RISE protocol) and sparseness (Gini).",
        discussion: """
            The map must be a Float32 [H, W] .npy on the model's input grid (what `explain` writes). \
            Lower deletion AUC and higher insertion AUC are better.
            """)

    enum Metric: String, ExpressibleByArgument, CaseIterable {
        case deletion, insertion, all
    }

    @Argument(help: "The image the map explains (a PNG or JPEG file, or a bundled sample name).")
    var image: String

    @Option(help: "The saliency map (.npy, Float32 [H, W]).")
    var saliency: String

    @Option(help: "Class index; default: the class predicted on the image.")
    var target: Int?

    @Option(help: "Which curves: deletion, insertion or all.")
    var metric: Metric = .all

    @Option(help: "Pixels changed per step; default H·W/224.")
    var step: Int?

    @Option(help: "Images per forward pass.")
    var batchSize = 16

    @OptionGroup var modelOptions: ModelOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        try reportingErrors {
            let classifier = try modelOptions.loadClassifier()
            let pixels = try classifier.loadImage(at: imageURL(image), size: modelOptions.inputSize())
            let map = try Tensor(npyFile: URL(fileURLWithPath: saliency))
            var configuration = DeletionInsertion.Configuration()
            configuration.step = step
            configuration.batchSize = batchSize
            let metrics = DeletionInsertion(classifier: classifier, configuration: configuration)
            var report: [String: Any] = ["image": image, "saliency": saliency, "model": classifier.name]
            let resolvedTarget: Int
            switch metric {
            case .all:
                let result = try metrics.evaluate(image: pixels, saliency: map, target: target)
                resolvedTarget = result.target
                report["step"] = result.step
                report["deletion_auc"] = Double(result.deletion.auc)
                report["insertion_auc"] = Double(result.insertion.auc)
                report["deletion_curve"] = result.deletion.probabilities.map(Double.init)
                report["insertion_curve"] = result.insertion.probabilities.map(Double.init)
            case .deletion:
                let curve = try metrics.deletion(image: pixels, saliency: map, target: target)
                resolvedTarget = target ?? classifier.logits(pixels).argmax()
                report["deletion_auc"] = Double(curve.auc)
                report["deletion_curve"] = curve.probabilities.map(Double.init)
            case .insertion:
                let curve = try metrics.insertion(image: pixels, saliency: map, target: target)
                resolvedTarget = target ?? classifier.logits(pixels).argmax()
                report["insertion_auc"] = Double(curve.auc)
                report["insertion_curve"] = curve.probabilities.map(Double.init)
            }
            report["target"] = ["index": resolvedTarget, "label": classifier.classNames[resolvedTarget]]
            report["sparseness_gini"] = Double(try Sparseness.giniIndex(map))
            if json {
                print(try jsonString(report))
            } else {
                print("\(classifier.name), class \(resolvedTarget) (\(classifier.classNames[resolvedTarget])):")
                for key in ["deletion_auc", "insertion_auc", "sparseness_gini"] {
                    if let value = report[key] as? Double { print("  \(key): \(String(format: "%.4f", value))") }
                }
            }
        }
    }
}
