import ArgumentParser
import Foundation
import NMNets
import NMTensor

/// `neuromask classify IMAGE`: the model's top-K classes.
struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "classify", abstract: "Classify an image and print the top classes.")

    @Argument(help: "A PNG or JPEG file, or a bundled sample name (chelsea, coffee).")
    var image: String

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "How many classes to print.")
    var top = 5

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be ≥ 1, got \(top)") }
    }

    func run() throws {
        try reportingErrors {
            let classifier = try modelOptions.loadClassifier()
            let pixels = try classifier.loadImage(at: imageURL(image), size: modelOptions.inputSize())
            let logits = classifier.logits(pixels)
            let probabilities = softmax(logits)
            let ranked = (0..<classifier.classCount).sorted { probabilities.scalars[$0] > probabilities.scalars[$1] }.prefix(top)
            if json {
                let entries: [[String: Any]] = ranked.map {
                    ["index": $0, "label": classifier.classNames[$0], "probability": Double(probabilities.scalars[$0]), "logit": Double(logits.scalars[$0])]
                }
                let object: [String: Any] = ["model": classifier.name, "image": image, "top": entries]
                print(try jsonString(object))
            } else {
                print("\(classifier.name) on \(image) (\(pixels.shape[3])x\(pixels.shape[2])):")
                for index in ranked {
                    let probability = String(format: "%.4f", probabilities.scalars[index])
                    print("  \(String(index).padding(toLength: 4, withPad: " ", startingAt: 0)) \(probability)  \(classifier.classNames[index])")
                }
            }
        }
    }
}

/// A JSON text with sorted keys.
func jsonString(_ object: Any) throws -> String {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self)
}
