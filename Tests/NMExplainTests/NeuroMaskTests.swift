import NMExplain
import NMNets
import NMTensor
import NMTestSupport
import Testing

/// A smooth 3-class classifier on 8×8 images (tanh, no kinks) for finite-difference checks.
func smoothTinyClassifier(seed: UInt64 = 3) -> ImageClassifier {
    let network = Sequential([
        .init("conv", Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, padding: .symmetric(1))),
        .init("tanh", Activation(.tanh)),
        .init("pool", GlobalAveragePool()),
        .init("fc", Linear(inputFeatures: 4, outputFeatures: 3)),
    ]).randomlyInitialized(seed: seed)
    return ImageClassifier(
        name: "tiny", normalization: Normalization(mean: [0.5, 0.5, 0.5], standardDeviation: [0.25, 0.25, 0.25]), network: network,
        classNames: ["a", "b", "c"], inputSize: 8, minimumInputSize: 8, acceptsAnySize: true)
}

/// A tensor of ±1 entries from a seed.
func randomSigns(_ shape: [Int], seed: UInt64) -> Tensor {
    randomTensor(shape, seed: seed).map { $0 >= 0 ? 1 : -1 }
}

@Suite struct NeuroMaskTests {
    static let image = (randomTensor([1, 3, 8, 8], seed: 5) + 1) * 0.5  // pixels in [0, 1)

    /// The gradient of the total loss with respect to w against central differences, for each
    /// loss term alone and for each mask parameterisation, substrate and Laplacian border.
    @Test(arguments: [
        (1 as Float, 0 as Float, 0 as Float, MaskResolution.perPixel, MaskSubstrate.black, LaplacianPenalty.Border.valid),
        (0, 1, 0, .perPixel, .black, .valid),
        (0, 0, 1, .perPixel, .black, .valid),
        (0, 0, 1, .perPixel, .black, .replicate),
        (1, 0.35, 0.1, .grid(cellSize: 3), .blur(sigma: 1), .replicate),
        (1, 0.35, 0.1, .perPixel, .meanColor, .valid),
    ])
    func gradientMatchesFiniteDifferences(
        prediction: Float, sparsity: Float, smoothness: Float, resolution: MaskResolution, substrate: MaskSubstrate,
        border: LaplacianPenalty.Border
    ) throws {
        let configuration = NeuroMaskConfiguration(
            predictionWeight: prediction * 50, sparsityWeight: sparsity, smoothnessWeight: smoothness, temperature: 1.5,
            substrate: substrate, resolution: resolution, laplacianSize: 3, laplacianBorder: border)
        let objective = try NeuroMask(classifier: smoothTinyClassifier(), configuration: configuration).objective(for: Self.image, target: 1)
        let w = randomTensor(objective.parameterShape, seed: 9) * 3  // away from the |w + 10| kink
        let gradient = objective.evaluate(w).gradient
        // Directional derivatives along the gradient itself and two random ±1 directions: a
        // Float32 loss is too coarse for per-element differences of the small prediction term.
        let norm = Float(weightedSum(gradient, gradient).squareRoot())
        let directions = [gradient * (Float(w.count).squareRoot() / norm), randomSigns(w.shape, seed: 10), randomSigns(w.shape, seed: 11)]
        for (index, direction) in directions.enumerated() {
            let epsilon: Float = 2e-2
            let plus = Double(objective.evaluate(w + direction * epsilon).step.totalLoss)
            let minus = Double(objective.evaluate(w - direction * epsilon).step.totalLoss)
            let numeric = (plus - minus) / (2 * Double(epsilon))
            let analytic = weightedSum(gradient, direction)
            let scale = Double(norm) * Double(w.count).squareRoot()
            #expect(abs(analytic - numeric) <= 2e-2 * abs(numeric) + 1e-3 * scale, "direction \(index): \(analytic) vs \(numeric); \(resolution) \(substrate.name) \(border)")
        }
    }

    @Test func tensorFlowRMSPropStepEqualsHandComputation() {
        // ms = 1 + (g² − 1)(1 − 0.9); w ← w − 0.03 · g / √(ms + 1e-10)
        var state = MaskOptimizerState(.tensorFlowRMSProp(), learningRate: 0.03, count: 3)
        var parameters: [Float] = [0, 1, -2]
        state.update(&parameters, gradient: [2, -0.5, 0])
        #expect(abs(parameters[0] - (0 - 0.03 * 2 / Float(1.3).squareRoot())) < 1e-7)  // ms = 1.3
        #expect(abs(parameters[1] - (1 + 0.03 * 0.5 / Float(0.925).squareRoot())) < 1e-7)  // ms = 0.925
        #expect(parameters[2] == -2)
        #expect(state.secondMoments.map { ($0 * 1000).rounded() / 1000 } == [1.3, 0.925, 0.9])
        // The second step compounds: ms = 1.3 + (4 − 1.3) · 0.1 = 1.57.
        state.update(&parameters, gradient: [2, 0, 0])
        #expect(abs(parameters[0] - (-0.03 * 2 / Float(1.3).squareRoot() - 0.03 * 2 / Float(1.57).squareRoot())) < 1e-6)
    }

    @Test func adamFirstStepMovesByTheLearningRate() {
        var state = MaskOptimizerState(.adam(), learningRate: 0.1, count: 2)
        var parameters: [Float] = [1, 1]
        state.update(&parameters, gradient: [4, -0.01])
        #expect(abs(parameters[0] - 0.9) < 1e-6 && abs(parameters[1] - 1.1) < 1e-5)
    }

    @Test func sameSeedGivesTheSameMaskAndOtherSeedsDiffer() throws {
        var configuration = NeuroMaskConfiguration.paper(imageSize: 8)
        configuration.iterations = 5
        let classifier = smoothTinyClassifier()
        let first = try NeuroMask(classifier: classifier, configuration: configuration).run(Self.image, target: nil)
        let second = try NeuroMask(classifier: classifier, configuration: configuration).run(Self.image, target: nil)
        #expect(first.mask == second.mask)
        configuration.seed = 1
        configuration.iterations = 1
        let other = try NeuroMask(classifier: classifier, configuration: configuration).run(Self.image, target: nil)
        #expect(other.mask != first.mask)
        // The first iteration's mask is the sigmoid of the seeded uniform initialisation.
        var generator = SeededGenerator(seed: 1)
        let w0 = Tensor.uniform([8, 8], low: -10, high: 10, generator: &generator)
        assertClose(other.mask, (w0 / configuration.temperature).sigmoid())
    }

    @Test func historyIsKeptOnlyOnRequest() throws {
        var configuration = NeuroMaskConfiguration.paper(imageSize: 8)
        configuration.iterations = 3
        let classifier = smoothTinyClassifier()
        #expect(try NeuroMask(classifier: classifier, configuration: configuration).run(Self.image, target: 0).history.isEmpty)
        configuration.keepsHistory = true
        let result = try NeuroMask(classifier: classifier, configuration: configuration).run(Self.image, target: 0)
        #expect(result.history.count == 3 && result.history.last! == result.mask)
    }

    @Test func badInputThrowsTheNamedError() throws {
        let classifier = smoothTinyClassifier()
        let neuroMask = NeuroMask(classifier: classifier, configuration: .paper(imageSize: 8))
        #expect(throws: ExplainError.targetOutOfRange(target: 3, classCount: 3)) { try neuroMask.run(Self.image, target: 3) }
        #expect(throws: ExplainError.targetOutOfRange(target: -1, classCount: 3)) { try neuroMask.run(Self.image, target: -1) }
        #expect(throws: ExplainError.imageTooSmall(height: 4, width: 4, minimum: 8)) {
            try neuroMask.run(Tensor.zeros([1, 3, 4, 4]), target: nil)
        }
        #expect(throws: ExplainError.imageShape([3, 8, 8])) { try neuroMask.run(Tensor.zeros([3, 8, 8]), target: nil) }
        var withNaN = Self.image
        withNaN.scalars[10] = .nan
        #expect(throws: ExplainError.nonFiniteImage(count: 1)) { try neuroMask.run(withNaN, target: nil) }
        var configuration = NeuroMaskConfiguration.paper(imageSize: 8)
        configuration.iterations = 0
        #expect(throws: ExplainError.invalidSetting(name: "iterations", value: "0", reason: "must be ≥ 1")) {
            try NeuroMask(classifier: classifier, configuration: configuration).run(Self.image, target: nil)
        }
    }

    @Test func stoppingRuleEndsASettledRunEarly() throws {
        var configuration = NeuroMaskConfiguration.improved(imageSize: 8)
        configuration.iterations = 400
        configuration.stopping = StoppingRule(tolerance: 1e-2, window: 10, minimumProbability: 0)
        let result = try NeuroMask(classifier: smoothTinyClassifier(), configuration: configuration).run(Self.image, target: nil)
        #expect(result.iterationsRun < 400)
        #expect(result.iterationsRun % 10 == 1)  // checked every 10 iterations, after the first comparison
    }
}
