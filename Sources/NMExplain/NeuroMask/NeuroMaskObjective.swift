import NMNets
import NMTensor

/// NeuroMask's loss for one image and target as a function of the mask parameters w, with its
/// gradient: `L(w) = a · CE(f(x̃), c) + b · mean|w + L| + g · mean((K ∗ w)²)`.
public struct NeuroMaskObjective: Sendable {
    public let classifier: ImageClassifier
    public let configuration: NeuroMaskConfiguration
    /// The explained class.
    public let target: Int
    /// Logits of the unmasked image `[1, classCount]`.
    public let cleanLogits: Tensor
    let problem: MaskProblem
    let laplacian: LaplacianPenalty

    init(classifier: ImageClassifier, configuration: NeuroMaskConfiguration, image: Tensor, target: Int, cleanLogits: Tensor) {
        self.classifier = classifier
        self.configuration = configuration
        self.target = target
        self.cleanLogits = cleanLogits
        problem = MaskProblem(image: image, configuration: configuration)
        let size = max(image.shape[2], image.shape[3])
        laplacian = LaplacianPenalty(kernelSize: configuration.laplacianSize ?? (size <= 64 ? 3 : 5), border: configuration.laplacianBorder)
    }

    /// The shape of w: `[H, W]` for a per-pixel mask, the grid's otherwise.
    public var parameterShape: [Int] { problem.parameterShape }

    /// The mask `[H, W]` in [0, 1] that w gives.
    public func mask(_ w: Tensor) -> Tensor { problem.mask(w) }

    /// The image the classifier sees under a mask: `s + (x − s) ⊙ m`, `[1, 3, H, W]`.
    public func maskedImage(_ mask: Tensor) -> Tensor { problem.composite(mask) }

    /// The loss terms at w and ∂L/∂w (one forward and one backward pass of the classifier).
    public func evaluate(_ w: Tensor) -> (step: NeuroMaskStep, gradient: Tensor) {
        precondition(w.shape == parameterShape, "NeuroMaskObjective: w \(w.shape) is not \(parameterShape)")
        return evaluate(w, mask: problem.mask(w))
    }

    func evaluate(_ w: Tensor, mask: Tensor) -> (step: NeuroMaskStep, gradient: Tensor) {
        let configuration = self.configuration
        let target = self.target
        var predictionLoss: Float = 0
        var targetProbability: Float = 0
        let (_, gradComposite) = classifier.inputGradient(problem.composite(mask)) { logits in
            let (loss, gradLogits) = crossEntropy(logits: logits, targets: [target])
            predictionLoss = loss
            targetProbability = softmax(logits).scalars[target]
            return gradLogits * configuration.predictionWeight
        }
        // ∂(a·CE)/∂w = Uᵀ(Σ_c ∂(a·CE)/∂x̃ ⊙ (x − s) ⊙ m(1 − m) / T)
        var gradient = problem.backpropagateToParameters(gradComposite: gradComposite, mask: mask)

        let (smoothnessLoss, smoothnessGradient) = laplacian.valueAndGradient(w)
        let sparsitySum = addPenaltyGradients(to: &gradient, w: w, smoothnessGradient: smoothnessGradient)

        let sparsityLoss = Float(sparsitySum / Double(w.count))
        let total = configuration.predictionWeight * predictionLoss + configuration.sparsityWeight * sparsityLoss
            + configuration.smoothnessWeight * smoothnessLoss
        let step = NeuroMaskStep(
            iteration: 0, totalLoss: total, predictionLoss: predictionLoss, sparsityLoss: sparsityLoss,
            smoothnessLoss: smoothnessLoss, targetProbability: targetProbability)
        return (step, gradient)
    }

    /// Adds ∂(b·mean|w + L|)/∂w = b · sign(w + L) / count and g · ∂(smoothness)/∂w to
    /// `gradient`, in one pass; returns Σ|w + L| (in Double).
    private func addPenaltyGradients(to gradient: inout Tensor, w: Tensor, smoothnessGradient: Tensor) -> Double {
        let (offset, sparsityWeight, smoothnessWeight) =
            (configuration.sparsityOffset, configuration.sparsityWeight, configuration.smoothnessWeight)
        let count = Float(w.count)
        let (parameters, smoothness) = (w.scalars, smoothnessGradient.scalars)
        var sparsitySum = 0.0
        for index in 0..<parameters.count {
            let shifted = parameters[index] + offset
            sparsitySum += Double(abs(shifted))
            let sign: Float = shifted > 0 ? 1 : (shifted < 0 ? -1 : 0)
            gradient.scalars[index] += sparsityWeight * sign / count
            gradient.scalars[index] += smoothness[index] * smoothnessWeight
        }
        return sparsitySum
    }
}
