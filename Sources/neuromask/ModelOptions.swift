import ArgumentParser
import Foundation
import NMExplain
import NMNets
import NMTensor

/// The options that choose a model and how an image is fed to it.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model: \(ModelArchitecture.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model = ModelArchitecture.efficientNetLite0.rawValue

    @Option(help: "Weights file (.safetensors or a PyTorch .pth state_dict); default: the model's pretrained weights.")
    var weights: String?

    @Option(help: "Input size: N (stretch to NxN) or 'native'; default: the model's own size.")
    var size: String?

    func inputSize() throws -> InputSize? {
        guard let size else { return nil }
        guard let parsed = InputSize(argument: size) else {
            throw ValidationError("--size must be a positive integer or 'native', got '\(size)'")
        }
        return parsed
    }

    /// The model with its weights, BatchNorms folded into the convolutions for speed.
    func loadClassifier() throws -> ImageClassifier {
        let architecture = try ModelArchitecture(named: model)
        let weightsURL = weights.map { URL(fileURLWithPath: $0) }
        return try ModelZoo.pretrained(architecture, weightsURL: weightsURL).foldingBatchNorms()
    }
}

/// Resolves an image argument: a path, or the name of a bundled sample ("chelsea", "coffee").
func imageURL(_ argument: String) throws -> URL {
    if !FileManager.default.fileExists(atPath: argument), let sample = SampleImages.url(named: argument) {
        return sample
    }
    return URL(fileURLWithPath: argument)
}
