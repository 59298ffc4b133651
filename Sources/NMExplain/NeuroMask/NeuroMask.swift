import NMNets
import NMTensor

/// One iteration's numbers, reported to the progress callback and kept in the trace.
public struct NeuroMaskStep: Sendable, Equatable {
    public var iteration: Int
    public var totalLoss: Float
    /// Unweighted cross-entropy to the target.
    public var predictionLoss: Float
    /// Unweighted mean|w + L|.
    public var sparsityLoss: Float
    /// Unweighted mean squared Laplacian of w.
    public var smoothnessLoss: Float
    /// softmax(f(x̃))[target] with the mask of this iteration.
    public var targetProbability: Float
}

/// The full outcome of a NeuroMask run.
public struct NeuroMaskResult: Sendable {
    /// The final mask `[H, W]` in [0, 1] (1 keeps a pixel), as a `Saliency`.
    public var saliency: Saliency
    /// One entry per iteration run.
    public var trace: [NeuroMaskStep]
    /// The masks of every iteration when `keepsHistory` is set, else empty.
    public var history: [Tensor]
    /// w after the last update applied (`[h, w]`), e.g. to continue an optimisation.
    public var finalParameters: Tensor
    /// softmax(f(x))[target] on the unmasked image.
    public var probabilityOnImage: Float
    /// softmax(f(x̃))[target] with the final mask.
    public var probabilityOnMaskedImage: Float
    public var iterationsRun: Int { trace.count }
    public var mask: Tensor { saliency.values }
}

/// NeuroMask (Alzantot, Widdicombe, Julier & Srivastava, SMARTCOMP 2019, arXiv:1908.04389):
/// learn w `[h, w]` so that the mask `m = σ(U(w) / T)` keeps the classifier's prediction on
/// `x̃ = s + (x − s) ⊙ m` while hiding as much of the image as possible:
///
///     L(w) = a · CE(f(x̃), c) + b · mean|w + L| + g · mean((K ∗ w)²)
///
/// U is the identity for a per-pixel mask or bilinear upsampling for a grid; s is the
/// substrate (black in the paper); K the 3×3 or 5×5 Laplacian. The `paper` preset reproduces
/// the authors' TensorFlow code exactly, including TF1 RMSProp and returning the mask used by
/// the last iteration (before its update). The map is the mask: in [0, 1], high = needed.
public struct NeuroMask: Explainer {
    public let classifier: ImageClassifier
    public let configuration: NeuroMaskConfiguration

    public init(classifier: ImageClassifier, configuration: NeuroMaskConfiguration) {
        self.classifier = classifier
        self.configuration = configuration
    }

    public var methodName: String { "neuromask" }

    public func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        try run(image, target: target).saliency
    }

    /// The loss of this configuration for one image and target, as a function of w.
    /// - Throws: `ExplainError` for a bad image, target or setting.
    public func objective(for image: Tensor, target: Int?) throws -> NeuroMaskObjective {
        try configuration.validate()
        let (target, logits) = try classifier.validatedTarget(for: image, target: target)
        return NeuroMaskObjective(classifier: classifier, configuration: configuration, image: image, target: target, cleanLogits: logits)
    }

    /// Optimises the mask and returns it with the loss trace.
    /// - Parameters:
    ///   - image: `[1, 3, H, W]` pixels in [0, 1].
    ///   - target: the class to explain; `nil` for the class predicted on `image`.
    ///   - progress: called after every iteration with its numbers.
    /// - Throws: `ExplainError` for a bad image, target or setting.
    /// - Complexity: one forward and one backward pass of the classifier per iteration.
    public func run(_ image: Tensor, target: Int?, progress: ((NeuroMaskStep) -> Void)? = nil) throws -> NeuroMaskResult {
        let objective = try objective(for: image, target: target)
        var generator = SeededGenerator(seed: configuration.seed)
        var parameters = try objective.problem.initialParameters(generator: &generator)  // w, flattened [h·w]
        var optimizer = MaskOptimizerState(configuration.optimizer, learningRate: configuration.learningRate, count: parameters.count)
        var trace: [NeuroMaskStep] = []
        var history: [Tensor] = []
        var mask = Tensor.zeros([image.shape[2], image.shape[3]])
        var settledReference: Tensor?

        for iteration in 0..<configuration.iterations {
            let w = Tensor(shape: objective.parameterShape, scalars: parameters)
            mask = objective.problem.mask(w)  // [H, W], the mask this iteration uses
            var (step, gradient) = objective.evaluate(w, mask: mask)
            step.iteration = iteration
            trace.append(step)
            if configuration.keepsHistory { history.append(mask) }
            progress?(step)
            if let rule = configuration.stopping, iteration % rule.window == 0 {
                if let reference = settledReference, meanAbsoluteDifference(mask, reference) < rule.tolerance,
                    step.targetProbability >= rule.minimumProbability
                {
                    break
                }
                settledReference = mask
            }
            optimizer.update(&parameters, gradient: gradient.scalars)
        }

        let target = objective.target
        let probabilityOnImage = softmax(objective.cleanLogits).scalars[target]
        let probabilityOnMasked = softmax(classifier.logits(objective.problem.composite(mask))).scalars[target]
        let last = trace.last!
        let saliency = Saliency(
            values: mask, method: methodName, target: target, forwardPasses: trace.count + 2, backwardPasses: trace.count,
            diagnostics: [
                "probability_on_image": Double(probabilityOnImage), "probability_on_masked_image": Double(probabilityOnMasked),
                "final_total_loss": Double(last.totalLoss), "final_prediction_loss": Double(last.predictionLoss),
                "final_sparsity_loss": Double(last.sparsityLoss), "final_smoothness_loss": Double(last.smoothnessLoss),
                "iterations_run": Double(trace.count),
            ])
        return NeuroMaskResult(
            saliency: saliency, trace: trace, history: history,
            finalParameters: Tensor(shape: objective.parameterShape, scalars: parameters), probabilityOnImage: probabilityOnImage,
            probabilityOnMaskedImage: probabilityOnMasked)
    }
}

private func meanAbsoluteDifference(_ a: Tensor, _ b: Tensor) -> Float {
    var sum = 0.0
    for (x, y) in zip(a.scalars, b.scalars) { sum += Double(abs(x - y)) }
    return Float(sum / Double(max(a.count, 1)))
}
