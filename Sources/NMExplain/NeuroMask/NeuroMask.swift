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

    /// Optimises the mask and returns it with the loss trace.
    /// - Parameters:
    ///   - image: `[1, 3, H, W]` pixels in [0, 1].
    ///   - target: the class to explain; `nil` for the class predicted on `image`.
    ///   - progress: called after every iteration with its numbers.
    /// - Throws: `ExplainError` for a bad image, target or setting.
    /// - Complexity: one forward and one backward pass of the classifier per iteration.
    public func run(_ image: Tensor, target: Int?, progress: ((NeuroMaskStep) -> Void)? = nil) throws -> NeuroMaskResult {
        try configuration.validate()
        let (target, logits) = try classifier.validatedTarget(for: image, target: target)
        let (height, width) = (image.shape[2], image.shape[3])
        let problem = MaskProblem(image: image, configuration: configuration)
        let laplacian = LaplacianPenalty(
            kernelSize: configuration.laplacianSize ?? (max(height, width) <= 64 ? 3 : 5), border: configuration.laplacianBorder)

        var generator = SeededGenerator(seed: configuration.seed)
        var parameters = problem.initialParameters(generator: &generator)  // w, flattened [h·w]
        var optimizer = MaskOptimizerState(configuration.optimizer, learningRate: configuration.learningRate, count: parameters.count)
        var trace: [NeuroMaskStep] = []
        var history: [Tensor] = []
        var mask = Tensor.zeros([height, width])
        var settledReference: Tensor?
        var forwardPasses = 1

        for iteration in 0..<configuration.iterations {
            let w = Tensor(shape: problem.parameterShape, scalars: parameters)
            mask = problem.mask(w)  // [H, W]
            let (step, gradient) = lossAndGradient(w: w, mask: mask, problem: problem, laplacian: laplacian, target: target, iteration: iteration)
            forwardPasses += 1
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

        let probabilities = softmax(classifier.logits(problem.composite(mask)))
        forwardPasses += 1
        let probabilityOnImage = softmax(logits).scalars[target]
        let probabilityOnMasked = probabilities.scalars[target]
        let last = trace.last!
        let saliency = Saliency(
            values: mask, method: methodName, target: target, forwardPasses: forwardPasses, backwardPasses: trace.count,
            diagnostics: [
                "probability_on_image": Double(probabilityOnImage), "probability_on_masked_image": Double(probabilityOnMasked),
                "final_total_loss": Double(last.totalLoss), "final_prediction_loss": Double(last.predictionLoss),
                "final_sparsity_loss": Double(last.sparsityLoss), "final_smoothness_loss": Double(last.smoothnessLoss),
                "iterations_run": Double(trace.count),
            ])
        return NeuroMaskResult(
            saliency: saliency, trace: trace, history: history, probabilityOnImage: probabilityOnImage,
            probabilityOnMaskedImage: probabilityOnMasked)
    }

    /// The loss terms at `w` and ∂L/∂w (one forward and one backward pass).
    func lossAndGradient(
        w: Tensor, mask: Tensor, problem: MaskProblem, laplacian: LaplacianPenalty, target: Int, iteration: Int
    ) -> (step: NeuroMaskStep, gradient: Tensor) {
        let configuration = self.configuration
        var predictionLoss: Float = 0
        var targetProbability: Float = 0
        let (_, gradComposite) = classifier.inputGradient(problem.composite(mask)) { logits in
            let (loss, gradLogits) = crossEntropy(logits: logits, targets: [target])
            predictionLoss = loss
            targetProbability = softmax(logits).scalars[target]
            return gradLogits * configuration.predictionWeight
        }
        // ∂L/∂w = Uᵀ(Σ_c ∂L/∂x̃ ⊙ (x − s) ⊙ m(1 − m) / T) + sparsity and smoothness terms.
        var gradient = problem.backpropagateToParameters(gradComposite: gradComposite, mask: mask)

        let offset = configuration.sparsityOffset
        let count = Float(w.count)
        var sparsityLoss = 0.0
        for index in 0..<w.count {
            let shifted = w.scalars[index] + offset
            sparsityLoss += Double(abs(shifted))
            let sign: Float = shifted > 0 ? 1 : (shifted < 0 ? -1 : 0)
            gradient.scalars[index] += configuration.sparsityWeight * sign / count
        }
        let (smoothnessLoss, smoothnessGradient) = laplacian.valueAndGradient(w)
        gradient += smoothnessGradient * configuration.smoothnessWeight

        let sparsity = Float(sparsityLoss / Double(w.count))
        let total = configuration.predictionWeight * predictionLoss + configuration.sparsityWeight * sparsity
            + configuration.smoothnessWeight * smoothnessLoss
        let step = NeuroMaskStep(
            iteration: iteration, totalLoss: total, predictionLoss: predictionLoss, sparsityLoss: sparsity,
            smoothnessLoss: smoothnessLoss, targetProbability: targetProbability)
        return (step, gradient)
    }
}

private func meanAbsoluteDifference(_ a: Tensor, _ b: Tensor) -> Float {
    var sum = 0.0
    for (x, y) in zip(a.scalars, b.scalars) { sum += Double(abs(x - y)) }
    return Float(sum / Double(max(a.count, 1)))
}
