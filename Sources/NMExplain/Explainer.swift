import NMNets
import NMTensor

/// The shape every explanation method shares (captum's split): the model and the method's
/// configuration go in at construction, the image and the target at the call.
public protocol Explainer: Sendable {
    /// The method's command-line name ("neuromask", "gradient", …).
    var methodName: String { get }

    /// Explains the classifier's score for `target` on `image`.
    /// - Parameters:
    ///   - image: `[1, 3, H, W]` pixels in [0, 1] as the model sees them.
    ///   - target: a class index, or `nil` for the class predicted on `image`.
    /// - Returns: a `[H, W]` map; each method documents its sign and range.
    /// - Throws: `ExplainError` for bad input (shape, NaN, size, target).
    func explain(_ image: Tensor, target: Int?) throws -> Saliency

    /// The method's settings in one line, for reports.
    var settingsDescription: String { get }
}

extension Explainer {
    /// By default the description of the explainer's stored `configuration`.
    public var settingsDescription: String {
        let configuration = Mirror(reflecting: self).children.first { $0.label == "configuration" }?.value
        return configuration.map { String(describing: $0) } ?? "default"
    }
}

/// An attribution map with its provenance and cost.
public struct Saliency: Sendable {
    /// `[H, W]` on the model's input grid.
    public var values: Tensor
    /// The method's command-line name.
    public var method: String
    /// The explained class.
    public var target: Int
    /// Model evaluations used (one per image; a batch of B images counts B).
    public var forwardPasses: Int
    /// Backward passes to the input used.
    public var backwardPasses: Int
    /// Method-specific numbers (NeuroMask: final losses and probabilities; IG: completeness delta).
    public var diagnostics: [String: Double]

    public init(values: Tensor, method: String, target: Int, forwardPasses: Int, backwardPasses: Int, diagnostics: [String: Double] = [:]) {
        self.values = values
        self.method = method
        self.target = target
        self.forwardPasses = forwardPasses
        self.backwardPasses = backwardPasses
        self.diagnostics = diagnostics
    }
}

/// Bad input to an explainer, with the offending value.
public enum ExplainError: Error, Equatable, CustomStringConvertible {
    case imageShape([Int])
    case imageTooSmall(height: Int, width: Int, minimum: Int)
    case imageSizeNotAccepted(height: Int, width: Int, required: Int)
    case nonFiniteImage(count: Int)
    case targetOutOfRange(target: Int, classCount: Int)
    /// The model's logits for the image are NaN or infinite (for example weights holding NaNs).
    case nonFiniteModelOutput(count: Int)
    /// A map given to a metric ("saliency", "ground truth") has the wrong shape or is empty.
    case mapShape(name: String, shape: [Int], reason: String)
    /// A map given to a metric holds NaN or infinite values.
    case nonFiniteMap(name: String, count: Int)
    case invalidSetting(name: String, value: String, reason: String)

    public var description: String {
        switch self {
        case .imageShape(let shape):
            return "image must be [1, 3, H, W] pixels in [0, 1], got \(shape)"
        case .imageTooSmall(let height, let width, let minimum):
            return "image of \(width)x\(height) is smaller than the model's minimum input \(minimum)x\(minimum)"
        case .imageSizeNotAccepted(let height, let width, let required):
            return "the model accepts only \(required)x\(required) input, got \(width)x\(height)"
        case .nonFiniteImage(let count):
            return "image holds \(count) NaN or infinite value(s)"
        case .targetOutOfRange(let target, let classCount):
            return "target class \(target) is outside 0..<\(classCount)"
        case .nonFiniteModelOutput(let count):
            return "the model's output holds \(count) NaN or infinite logit(s); check its weights"
        case .mapShape(let name, let shape, let reason):
            return "invalid \(name) of shape \(shape): \(reason)"
        case .nonFiniteMap(let name, let count):
            return "\(name) holds \(count) NaN or infinite value(s)"
        case .invalidSetting(let name, let value, let reason):
            return "invalid \(name) \(value): \(reason)"
        }
    }
}

extension ImageClassifier {
    /// Checks an explainer's input and resolves the target (the predicted class when `nil`).
    /// - Returns: the target and the logits of the unmodified image `[1, classCount]`.
    func validatedTarget(for image: Tensor, target: Int?) throws -> (target: Int, logits: Tensor) {
        guard image.rank == 4, image.shape[0] == 1, image.shape[1] == 3 else { throw ExplainError.imageShape(image.shape) }
        let (height, width) = (image.shape[2], image.shape[3])
        if acceptsAnySize {
            guard height >= minimumInputSize && width >= minimumInputSize else {
                throw ExplainError.imageTooSmall(height: height, width: width, minimum: minimumInputSize)
            }
        } else if height != inputSize || width != inputSize {
            throw ExplainError.imageSizeNotAccepted(height: height, width: width, required: inputSize)
        }
        let nonFinite = image.scalars.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        guard nonFinite == 0 else { throw ExplainError.nonFiniteImage(count: nonFinite) }
        let logits = self.logits(image)
        let nonFiniteLogits = logits.scalars.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        guard nonFiniteLogits == 0 else { throw ExplainError.nonFiniteModelOutput(count: nonFiniteLogits) }
        let resolved = target ?? logits.argmax()
        guard (0..<classCount).contains(resolved) else {
            throw ExplainError.targetOutOfRange(target: resolved, classCount: classCount)
        }
        return (resolved, logits)
    }
}
