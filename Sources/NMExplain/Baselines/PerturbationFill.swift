import NMNets
import NMTensor

/// What a perturbation method puts in place of the pixels it hides: the perturbed image is
/// `fill + (x − fill) ⊙ keep` for a keep-map in [0, 1].
public enum PerturbationFill: Sendable, Equatable {
    /// One grey level in every channel, in [0, 1] pixel units (0 = black: captum's default
    /// baseline for occlusion when given pixel inputs).
    case constant(Float)
    /// The colour the model's normalisation maps to 0 (`ImageClassifier.meanColor`): what
    /// multiplying a *normalised* input by a mask gives, as in the RISE authors' code.
    case modelMeanColor
    /// The image's own mean colour (per channel).
    case imageMeanColor
    /// A Gaussian-blurred copy of the image (reflected borders), σ in pixels.
    case blur(sigma: Float)

    /// The CLI spelling: "black", "gray(0.5)", "model-mean", "image-mean", "blur(sigma=10)".
    public var name: String {
        switch self {
        case .constant(let value): return value == 0 ? "black" : "gray(\(value))"
        case .modelMeanColor: return "model-mean"
        case .imageMeanColor: return "image-mean"
        case .blur(let sigma): return "blur(sigma=\(sigma))"
        }
    }

    /// Throws `ExplainError.invalidSetting` naming `settingName` for a non-finite grey level or
    /// a blur σ that is not positive.
    func validate(settingName: String) throws {
        switch self {
        case .constant(let value) where !value.isFinite:
            throw ExplainError.invalidSetting(name: settingName, value: name, reason: "the grey level must be finite")
        case .blur(let sigma) where !(sigma > 0 && sigma.isFinite):
            throw ExplainError.invalidSetting(name: settingName, value: name, reason: "the blur sigma must be positive")
        default:
            return
        }
    }

    /// The fill image `[1, 3, H, W]` for `image` `[1, 3, H, W]`.
    func image(for image: Tensor, classifier: ImageClassifier) -> Tensor {
        switch self {
        case .constant(let value):
            return Tensor(repeating: value, shape: image.shape)
        case .modelMeanColor:
            let color = classifier.meanColor.count == 3 ? classifier.meanColor : [Float](repeating: 0, count: 3)
            return Tensor(shape: [1, 3, 1, 1], scalars: color).broadcasted(to: image.shape)
        case .imageMeanColor:
            return image.mean(alongAxes: [2, 3], keepingDimensions: true).broadcasted(to: image.shape)
        case .blur(let sigma):
            return gaussianBlur(image, sigma: sigma)
        }
    }
}

/// Which output of the classifier a perturbation method measures for the target class.
public enum TargetScore: String, Sendable, Equatable, CaseIterable {
    /// softmax(f(x))[target], in [0, 1].
    case probability
    /// f(x)[target], the raw logit (unbounded).
    case logit
}

extension ImageClassifier {
    /// The target's score (probability or logit) on `count` images made on demand, evaluated
    /// `batchSize` at a time so memory stays bounded.
    /// - Complexity: ⌈count / batchSize⌉ forward passes of up to `batchSize` images.
    func targetScores(
        count: Int, target: Int, batchSize: Int, score: TargetScore, makeImage: (Int) -> Tensor
    ) -> [Float] {
        switch score {
        case .probability:
            return targetProbabilities(count: count, target: target, batchSize: batchSize, makeImage: makeImage)
        case .logit:
            return targetLogits(count: count, target: target, batchSize: batchSize, makeImage: makeImage)
        }
    }

    /// The target's score from the logits `[1, classCount]` of one image.
    func targetScore(fromLogits logits: Tensor, target: Int, score: TargetScore) -> Float {
        switch score {
        case .probability: return softmax(logits).scalars[target]
        case .logit: return logits.scalars[target]
        }
    }
}

/// `ExplainError.invalidSetting` for a setting of a perturbation method.
func invalidSetting(_ name: String, _ value: Any, _ reason: String) -> ExplainError {
    .invalidSetting(name: name, value: "\(value)", reason: reason)
}

/// Scales a pixel length given for 224-pixel inputs to an image of side `imageSize`.
func scaledLength(_ length: Float, toImageSize imageSize: Int) -> Float {
    length * Float(imageSize) / 224
}
