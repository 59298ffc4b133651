import Foundation
import NMExplain
import NMNets
import NMTensor
import NMTestSupport
import Testing

/// A linear 3-class classifier on 3×4×4 pixels: logits = W · flatten((x − mean) / std) + b, so
/// ∂y_c/∂x[k, i, j] = W[c, 16k + 4i + j] / std_k exactly.
private func linearClassifier() -> (classifier: ImageClassifier, weight: Tensor, standardDeviation: [Float]) {
    let weight = randomTensor([3, 48], seed: 21)  // [classes, 3·4·4]
    let standardDeviation: [Float] = [0.5, 0.25, 2]
    let network = Sequential([.init("flatten", Flatten()), .init("fc", Linear(weight: weight, bias: Tensor(shape: [3], scalars: [0.1, -0.2, 0.3])))])
    let classifier = ImageClassifier(
        name: "linear", normalization: Normalization(mean: [0.5, 0.4, 0.3], standardDeviation: standardDeviation), network: network,
        classNames: ["a", "b", "c"], inputSize: 4, minimumInputSize: 4, acceptsAnySize: false)
    return (classifier, weight, standardDeviation)
}

/// captum's one-convolution Grad-CAM model (tests/attr/layer/test_grad_cam.py), on 3 channels of
/// which only the first is seen: conv 3×3 of ones (biases −50, −75) → ReLU → flatten → linear
/// (+1 on the first 5 features, −1 on the last 3) → ReLU. Pixels k/15 are normalised to k.
private func captumConvolutionClassifier() -> ImageClassifier {
    var convolutionWeight = Tensor.zeros([2, 3, 3, 3])
    for output in 0..<2 {
        for row in 0..<3 {
            for column in 0..<3 { convolutionWeight[output, 0, row, column] = 1 }
        }
    }
    var linearWeight = Tensor.zeros([4, 8])
    for output in 0..<4 {
        for feature in 0..<8 { linearWeight[output, feature] = feature < 5 ? 1 : -1 }
    }
    let network = Sequential([
        .init("conv", Conv2d(weight: convolutionWeight, bias: Tensor(shape: [2], scalars: [-50, -75]))),
        .init("relu1", Activation.relu),
        .init("flatten", Flatten()),
        .init("fc", Linear(weight: linearWeight, bias: .zeros([4]))),
        .init("relu2", Activation.relu),
    ])
    return ImageClassifier(
        name: "captum-one-conv", normalization: Normalization(mean: [0, 0, 0], standardDeviation: [1 / 15, 1 / 15, 1 / 15]),
        network: network, classNames: ["a", "b", "c", "d"], inputSize: 4, minimumInputSize: 4, acceptsAnySize: false,
        featureLayer: "conv")
}

/// A network with known weights: conv 3→4 (3×3, stride 2, padding 1) → ReLU → global average
/// pool → linear 4 → 3 (mixed-sign weights), on 6×6 pixels normalised to [−1, 1]; the
/// feature map is 3×3.
private struct KnownConvolutionNetwork {
    let convolutionWeight = randomTensor([4, 3, 3, 3], seed: 31)  // [K, C, 3, 3]
    let convolutionBias = randomTensor([4], seed: 32) * 0.5
    let linearWeight = Tensor(shape: [3, 4], scalars: [1, -1, 0.5, -0.5, -0.8, 1.2, -1, 0.6, 0.3, 0.9, -1.1, -0.4])  // [classes, K]
    let linearBias = randomTensor([3], seed: 34)

    var classifier: ImageClassifier {
        let network = Sequential([
            .init("conv", Conv2d(weight: convolutionWeight, bias: convolutionBias, stride: 2, padding: .symmetric(1))),
            .init("relu", Activation.relu),
            .init("pool", GlobalAveragePool()),
            .init("fc", Linear(weight: linearWeight, bias: linearBias)),
        ])
        return ImageClassifier(
            name: "known-conv", normalization: Normalization(mean: [0.5, 0.5, 0.5], standardDeviation: [0.5, 0.5, 0.5]), network: network,
            classNames: ["a", "b", "c"], inputSize: 6, minimumInputSize: 6, acceptsAnySize: false, featureLayer: "relu")
    }

    /// The convolution's output `[K][3][3]` by nested loops, in Double.
    func convolution(_ image: Tensor) -> [[[Double]]] {
        var output = [[[Double]]](repeating: [[Double]](repeating: [Double](repeating: 0, count: 3), count: 3), count: 4)
        for channel in 0..<4 {
            for row in 0..<3 {
                for column in 0..<3 {
                    var sum = Double(convolutionBias[channel])
                    for input in 0..<3 {
                        for kernelRow in 0..<3 {
                            for kernelColumn in 0..<3 {
                                let (sourceRow, sourceColumn) = (2 * row - 1 + kernelRow, 2 * column - 1 + kernelColumn)
                                guard (0..<6).contains(sourceRow) && (0..<6).contains(sourceColumn) else { continue }
                                let normalized = (Double(image[0, input, sourceRow, sourceColumn]) - 0.5) / 0.5
                                sum += Double(convolutionWeight[channel, input, kernelRow, kernelColumn]) * normalized
                            }
                        }
                    }
                    output[channel][row][column] = sum
                }
            }
        }
        return output
    }
}

/// Grad-CAM (or Grad-CAM++) from activations A and gradients G `[K][h][w]`, by the papers'
/// formulas, with the ReLU on the coarse map.
private func referenceCAM(activations: [[[Double]]], gradients: [[[Double]]], plusPlus: Bool) -> [[Double]] {
    let (height, width) = (activations[0].count, activations[0][0].count)
    var map = [[Double]](repeating: [Double](repeating: 0, count: width), count: height)
    for channel in activations.indices {
        var weight = 0.0
        let activationSum = activations[channel].joined().reduce(0, +)
        for row in 0..<height {
            for column in 0..<width {
                let g = gradients[channel][row][column]
                if plusPlus {
                    if g != 0 { weight += g * g / (2 * g * g + activationSum * g * g * g + 1e-6) * max(g, 0) }
                } else {
                    weight += g / Double(height * width)
                }
            }
        }
        for row in 0..<height {
            for column in 0..<width { map[row][column] += weight * activations[channel][row][column] }
        }
    }
    return map.map { $0.map { max($0, 0) } }
}

/// PyTorch's bilinear resize (align_corners=False) of a `[h][w]` grid to `size × size`, by loops.
private func referenceUpsample(_ grid: [[Double]], to size: Int) -> Tensor {
    func taps(_ index: Int, _ source: Int) -> (Int, Int, Double) {
        let position = max((Double(index) + 0.5) * Double(source) / Double(size) - 0.5, 0)
        let lower = Int(position)
        return (lower, min(lower + 1, source - 1), position - Double(lower))
    }
    var result = Tensor.zeros([size, size])
    for row in 0..<size {
        let (top, bottom, rowFraction) = taps(row, grid.count)
        for column in 0..<size {
            let (left, right, columnFraction) = taps(column, grid[0].count)
            let upper = grid[top][left] * (1 - columnFraction) + grid[top][right] * columnFraction
            let lower = grid[bottom][left] * (1 - columnFraction) + grid[bottom][right] * columnFraction
            result[row, column] = Float(upper * (1 - rowFraction) + lower * rowFraction)
        }
    }
    return result
}

/// The share of a non-negative map's mass inside a box.
private func shareInside(_ map: Tensor, _ box: PatternBox) -> Float {
    (map * box.mask(height: map.shape[0], width: map.shape[1])).sum().scalar / max(map.sum().scalar, .leastNonzeroMagnitude)
}

@Suite struct GradientMethodsTests {
    static let linearImage = (randomTensor([1, 3, 4, 4], seed: 22) + 1) * 0.5  // pixels in [0, 1)
    static let tinyImage = (randomTensor([1, 3, 8, 8], seed: 5) + 1) * 0.5

    // MARK: - Gradient, Gradient × Input, SmoothGrad

    /// ∂y_c/∂x[k, i, j] = W[c, 16k + 4i + j] / std_k for the linear model.
    private func expectedLinearGradient(target: Int) -> Tensor {
        let (_, weight, standardDeviation) = linearClassifier()
        var gradient = Tensor.zeros([1, 3, 4, 4])
        for channel in 0..<3 {
            for row in 0..<4 {
                for column in 0..<4 {
                    gradient[0, channel, row, column] = weight[target, 16 * channel + 4 * row + column] / standardDeviation[channel]
                }
            }
        }
        return gradient
    }

    @Test(arguments: [0, 1, 2])
    func gradientOfALinearModelIsItsWeights(target: Int) throws {
        let classifier = linearClassifier().classifier
        let expected = expectedLinearGradient(target: target)
        var maximumAbsolute = Tensor.zeros([4, 4])
        var sumAbsolute = Tensor.zeros([4, 4])
        var productSum = Tensor.zeros([4, 4])
        for row in 0..<4 {
            for column in 0..<4 {
                let values = (0..<3).map { expected[0, $0, row, column] }
                maximumAbsolute[row, column] = values.map(abs).max()!
                sumAbsolute[row, column] = values.map(abs).reduce(0, +)
                productSum[row, column] = (0..<3).map { values[$0] * Self.linearImage[0, $0, row, column] }.reduce(0, +)
            }
        }
        let gradient = try Gradient(classifier: classifier).explain(Self.linearImage, target: target)
        assertClose(gradient.values, maximumAbsolute, rtol: 1e-5)
        #expect(gradient.method == "gradient" && gradient.target == target)
        #expect(gradient.forwardPasses == 2 && gradient.backwardPasses == 1)
        let summed = try Gradient(classifier: classifier, configuration: .init(channelReduction: .sumAbsolute))
            .explain(Self.linearImage, target: target)
        assertClose(summed.values, sumAbsolute, rtol: 1e-5)
        let timesInput = try GradientTimesInput(classifier: classifier).explain(Self.linearImage, target: target)
        assertClose(timesInput.values, productSum, rtol: 1e-4, atol: 1e-5)
        #expect(timesInput.method == "gradient-x-input" && timesInput.forwardPasses == 2 && timesInput.backwardPasses == 1)
    }

    @Test func predictedClassIsExplainedWhenNoTargetIsGiven() throws {
        let linear = linearClassifier().classifier
        #expect(try Gradient(classifier: linear).explain(Self.linearImage, target: nil).target == linear.logits(Self.linearImage).argmax())
        let convolutional = KnownConvolutionNetwork().classifier
        let image = (randomTensor([1, 3, 6, 6], seed: 35) + 1) * 0.5
        #expect(try GradCAM(classifier: convolutional).explain(image, target: nil).target == convolutional.logits(image).argmax())
    }

    @Test func smoothGradWithoutNoiseIsTheGradient() throws {
        let classifier = smoothTinyClassifier()
        for reduction in ChannelReduction.allCases {
            let gradient = try Gradient(classifier: classifier, configuration: .init(channelReduction: reduction)).explain(Self.tinyImage, target: 1)
            let noiseless = SmoothGrad.Configuration(sampleCount: 6, noiseLevel: 0, batchSize: 4, channelReduction: reduction)
            let smooth = try SmoothGrad(classifier: classifier, configuration: noiseless).explain(Self.tinyImage, target: 1)
            assertClose(smooth.values, gradient.values, rtol: 1e-4, atol: 1e-6, "\(reduction)")
            #expect(smooth.forwardPasses == 7 && smooth.backwardPasses == 6)
            // σ → 0: a tiny noise level moves the map by about as little.
            let tiny = SmoothGrad.Configuration(sampleCount: 6, noiseLevel: 1e-5, channelReduction: reduction)
            let nearlyNoiseless = try SmoothGrad(classifier: classifier, configuration: tiny).explain(Self.tinyImage, target: 1)
            assertClose(nearlyNoiseless.values, gradient.values, rtol: 1e-3, atol: 1e-5)
        }
    }

    @Test func smoothGradDependsOnTheSeedOnly() throws {
        let classifier = smoothTinyClassifier()
        let configuration = SmoothGrad.Configuration(sampleCount: 12, batchSize: 5)
        let first = try SmoothGrad(classifier: classifier, configuration: configuration).explain(Self.tinyImage, target: 2)
        let again = try SmoothGrad(classifier: classifier, configuration: configuration).explain(Self.tinyImage, target: 2)
        #expect(first.values == again.values)
        var otherBatching = configuration
        otherBatching.batchSize = 12
        let rebatched = try SmoothGrad(classifier: classifier, configuration: otherBatching).explain(Self.tinyImage, target: 2)
        assertClose(rebatched.values, first.values, rtol: 1e-4, atol: 1e-6)
        var otherSeed = configuration
        otherSeed.seed = 1
        let other = try SmoothGrad(classifier: classifier, configuration: otherSeed).explain(Self.tinyImage, target: 2)
        #expect(relativeL2Error(other.values, first.values) > 1e-3)
        // σ is 15% of the image's range.
        #expect(abs(first.diagnostics["noise_sigma"]! - 0.15 * Double(Self.tinyImage.max() - Self.tinyImage.min())) < 1e-7)
    }

    @Test func smoothGradAveragesTheNoisyGradients() throws {
        // The same noise drawn here in the same order, one image at a time; the squared
        // gradients averaged and summed over channels by hand.
        let classifier = smoothTinyClassifier()
        let configuration = SmoothGrad.Configuration(
            sampleCount: 4, noiseLevel: 0.1, seed: 9, batchSize: 3, aggregation: .squared, channelReduction: .sum)
        let smooth = try SmoothGrad(classifier: classifier, configuration: configuration).explain(Self.tinyImage, target: 0)
        var generator = SeededGenerator(seed: 9)
        let sigma = 0.1 * (Self.tinyImage.max() - Self.tinyImage.min())
        var expected = Tensor.zeros([8, 8])
        for _ in 0..<4 {
            let noisy = Self.tinyImage + Tensor.normal([1, 3, 8, 8], standardDeviation: sigma, generator: &generator)
            let gradient = classifier.inputGradient(noisy) { logits in
                Tensor(shape: logits.shape, scalars: [1, 0, 0])
            }.gradPixels
            expected += (gradient * gradient).sum(alongAxes: [0, 1]) / 4
        }
        assertClose(smooth.values, expected, rtol: 1e-4, atol: 1e-7)
    }

    // MARK: - Integrated Gradients

    @Test(arguments: [IntegratedGradients.QuadratureRule.riemannRight, .riemannTrapezoid, .gaussLegendre, .riemannMiddle])
    func integratedGradientsAreComplete(rule: IntegratedGradients.QuadratureRule) throws {
        let classifier = smoothTinyClassifier()
        let configuration = IntegratedGradients.Configuration(stepCount: 256, rule: rule, batchSize: 64)
        let saliency = try IntegratedGradients(classifier: classifier, configuration: configuration).explain(Self.tinyImage, target: 1)
        let change = Double(classifier.logits(Self.tinyImage)[0, 1]) - Double(classifier.logits(.zeros([1, 3, 8, 8]))[0, 1])
        let total = saliency.values.scalars.reduce(0.0) { $0 + Double($1) }
        print("IG \(rule.rawValue) 256 steps: Σ attributions \(total), f(x) − f(0) \(change)")
        #expect(abs(change) > 0.05, "the test needs a logit that changes along the path")
        #expect(abs(total - change) <= 0.01 * abs(change), "Σ attributions \(total) vs f(x) − f(0) = \(change)")
        #expect(abs(saliency.diagnostics["completeness_delta"]! - (total - change)) < 1e-4)
        #expect(abs(saliency.diagnostics["completeness_delta_relative"]! - abs(total - change) / abs(change)) < 1e-3)
        #expect(saliency.forwardPasses == 258 && saliency.backwardPasses == 256)
        #expect(saliency.method == "integrated-gradients")
    }

    @Test func integratedGradientsOfALinearModelAreGradientTimesInput() throws {
        let classifier = linearClassifier().classifier
        for rule in IntegratedGradients.QuadratureRule.allCases {
            let configuration = IntegratedGradients.Configuration(stepCount: 3, rule: rule, batchSize: 2)
            let saliency = try IntegratedGradients(classifier: classifier, configuration: configuration).explain(Self.linearImage, target: 2)
            let timesInput = try GradientTimesInput(classifier: classifier).explain(Self.linearImage, target: 2)
            assertClose(saliency.values, timesInput.values, rtol: 1e-4, atol: 1e-5, "\(rule)")
            #expect(abs(saliency.diagnostics["completeness_delta"]!) < 1e-4)
        }
        // Against a mean-colour baseline (normalised input 0): (x − mean) · W / std.
        let expected = expectedLinearGradient(target: 2) * (Self.linearImage - Tensor(shape: [1, 3, 1, 1], scalars: [0.5, 0.4, 0.3]))
        let meanColor = try IntegratedGradients(classifier: classifier, configuration: .init(baseline: .meanColor, stepCount: 2))
            .explain(Self.linearImage, target: 2)
        assertClose(meanColor.values, expected.sum(alongAxes: [0, 1]), rtol: 1e-4, atol: 1e-5)
        // The image as its own baseline attributes nothing.
        let itself = try IntegratedGradients(classifier: classifier, configuration: .init(baseline: .explicit(Self.linearImage)))
            .explain(Self.linearImage, target: 2)
        #expect(itself.values == Tensor.zeros([4, 4]))
    }

    /// Σᵢ wᵢ f(αᵢ) for a rule's n points.
    private func integrate(_ rule: IntegratedGradients.QuadratureRule, count: Int, _ function: (Double) -> Double) -> Double {
        let (alphas, weights) = rule.points(count: count)
        var total = 0.0
        for (alpha, weight) in zip(alphas, weights) { total += weight * function(alpha) }
        return total
    }

    @Test func quadratureRulesIntegratePolynomials() {
        // Gauss–Legendre with n points is exact for degree 2n − 1: ∫₀¹ α⁹ dα = 1/10 with n = 5.
        let ninth: Double = integrate(.gaussLegendre, count: 5) { pow($0, 9) }
        #expect(abs(ninth - 0.1) < 1e-13)
        let (alphas, weights) = IntegratedGradients.QuadratureRule.gaussLegendre.points(count: 5)
        let weightSum: Double = weights.reduce(0, +)
        #expect(abs(weightSum - 1) < 1e-14)
        #expect(alphas == alphas.sorted() && alphas.allSatisfy { $0 > 0 && $0 < 1 })
        // The 2-point rule's nodes are ½ ± 1/(2√3), each of weight ½.
        let two = IntegratedGradients.QuadratureRule.gaussLegendre.points(count: 2)
        let firstNode: Double = 0.5 - 0.5 / 3.0.squareRoot()
        #expect(abs(two.alphas[0] - firstNode) < 1e-15)
        #expect(abs(two.weights[1] - 0.5) < 1e-15)
        let one = IntegratedGradients.QuadratureRule.gaussLegendre.points(count: 1)
        #expect(one.alphas == [0.5] && one.weights == [1])
        // Trapezoid with 5 points (h = ¼) overestimates ∫₀¹ α² by h²/6: 1/3 + 1/96.
        let trapezoid = IntegratedGradients.QuadratureRule.riemannTrapezoid.points(count: 5)
        #expect(trapezoid.alphas == [0, 0.25, 0.5, 0.75, 1])
        #expect(trapezoid.weights == [0.125, 0.25, 0.25, 0.25, 0.125])
        let square: Double = integrate(.riemannTrapezoid, count: 5) { $0 * $0 }
        let trapezoidSquare: Double = 1.0 / 3 + 1.0 / 96
        #expect(abs(square - trapezoidSquare) < 1e-15)
        #expect(IntegratedGradients.QuadratureRule.riemannRight.points(count: 4).alphas == [0.25, 0.5, 0.75, 1])
        #expect(IntegratedGradients.QuadratureRule.riemannLeft.points(count: 4).alphas == [0, 0.25, 0.5, 0.75])
        let middle = IntegratedGradients.QuadratureRule.riemannMiddle.points(count: 2)
        #expect(middle.alphas == [0.25, 0.75] && middle.weights == [0.5, 0.5])
    }

    // MARK: - Grad-CAM and Grad-CAM++

    @Test func gradCAMMatchesCaptumsOneConvolutionExample() throws {
        // Conv outputs: channel 0 = [[−5, 4], [31, 40]], channel 1 = [[−30, −21], [6, 15]];
        // ∂y₀/∂conv = [[0, 1], [1, 1]] and [[0, 0], [−1, −1]] (ReLU-gated ±1 of the linear
        // layer), so α = (¾, −½) and the map is ¾·A⁰ − ½·A¹ = [[11.25, 13.5], [20.25, 22.5]]
        // (captum's expected value), all positive so the ReLU keeps it.
        let classifier = captumConvolutionClassifier()
        let image = Tensor.concatenated([Tensor.arange(0, 16).reshaped([1, 1, 4, 4]) / 15, Tensor.zeros([1, 2, 4, 4])], alongAxis: 1)
        let saliency = try GradCAM(classifier: classifier).explain(image, target: 0)
        // Upsampled 2 → 4 (align_corners=False): rows and columns mix as 1, ¾ ¼, ¼ ¾, 1.
        let expected = Tensor(shape: [4, 4], scalars: [
            11.25, 11.8125, 12.9375, 13.5,
            13.5, 14.0625, 15.1875, 15.75,
            18, 18.5625, 19.6875, 20.25,
            20.25, 20.8125, 21.9375, 22.5,
        ])
        assertClose(saliency.values, expected, rtol: 1e-4)
        #expect(saliency.method == "gradcam" && saliency.forwardPasses == 2 && saliency.backwardPasses == 1)
        #expect(saliency.diagnostics == ["feature_channels": 2, "feature_height": 2, "feature_width": 2])
        let scaled = try GradCAM(classifier: classifier, configuration: .init(scalesToUnitMaximum: true)).explain(image, target: 0)
        assertClose(scaled.values, expected / 22.5, rtol: 1e-4)
        // Grad-CAM++: channel 0 has g = 1 at its three live cells and Σ A⁰ = 70, so
        // α = 1/(2 + 70) there and w₀ = 3/72; channel 1 has no positive gradient, w₁ = 0. The
        // map is ReLU(A⁰/24) = [[0, 1/6], [31/24, 40/24]].
        let plusPlus = try GradCAMPlusPlus(classifier: classifier).explain(image, target: 0)
        assertClose(plusPlus.values, referenceUpsample([[0, 4.0 / 24], [31.0 / 24, 40.0 / 24]], to: 4), rtol: 1e-4, atol: 1e-6)
        #expect(plusPlus.method == "gradcam-plus-plus" && plusPlus.forwardPasses == 2 && plusPlus.backwardPasses == 1)
    }

    @Test(arguments: [false, true], ["relu", "conv"])
    func classActivationMapsMatchTheFormulas(plusPlus: Bool, layer: String) throws {
        let known = KnownConvolutionNetwork()
        let classifier = known.classifier
        for (seed, target) in [(41 as UInt64, 0), (42, 1), (43, 2)] {
            let image = (randomTensor([1, 3, 6, 6], seed: seed) + 1) * 0.5
            // A = ReLU(conv) at "relu" or conv at "conv"; ∂y_c/∂A = W[c, k]/9, gated by conv > 0 at "conv".
            let convolution = known.convolution(image)
            let activations = layer == "relu" ? convolution.map { $0.map { $0.map { max($0, 0) } } } : convolution
            let gradients = convolution.indices.map { channel in
                convolution[channel].map { $0.map { value in
                    layer == "relu" || value > 0 ? Double(known.linearWeight[target, channel]) / 9 : 0
                } }
            }
            let coarse = referenceCAM(activations: activations, gradients: gradients, plusPlus: plusPlus)
            #expect(coarse.joined().max()! > 0.01 && coarse.joined().min()! == 0, "the case should have both positive and cut-off cells")
            let expected = referenceUpsample(coarse, to: 6)
            let configuration = GradCAM.Configuration(layer: layer)
            let saliency = plusPlus
                ? try GradCAMPlusPlus(classifier: classifier, configuration: configuration).explain(image, target: target)
                : try GradCAM(classifier: classifier, configuration: configuration).explain(image, target: target)
            assertClose(saliency.values, expected, rtol: 1e-4, atol: 1e-6, "plusPlus \(plusPlus) layer \(layer) target \(target)")
            #expect(saliency.values.min() >= 0)
            #expect(saliency.method == (plusPlus ? "gradcam-plus-plus" : "gradcam"))
        }
    }

    @Test func gradCAMWithoutReLUKeepsNegativeEvidence() throws {
        let known = KnownConvolutionNetwork()
        let image = (randomTensor([1, 3, 6, 6], seed: 44) + 1) * 0.5
        let convolution = known.convolution(image).map { $0.map { $0.map { max($0, 0) } } }
        // Σ_k (W[c, k]/9) A^k without the ReLU, by hand.
        var coarse = [[Double]](repeating: [Double](repeating: 0, count: 3), count: 3)
        for channel in 0..<4 {
            for row in 0..<3 {
                for column in 0..<3 { coarse[row][column] += Double(known.linearWeight[1, channel]) / 9 * convolution[channel][row][column] }
            }
        }
        let signed = try GradCAM(classifier: known.classifier, configuration: .init(appliesReLU: false)).explain(image, target: 1)
        assertClose(signed.values, referenceUpsample(coarse, to: 6), rtol: 1e-4, atol: 1e-6)
    }

    // MARK: - Localisation on the synthetic pattern task

    /// Every method must put well above the box's 6.25% area share of its map's mass (|map| for
    /// the signed ones) inside the pattern box, averaged over one test image per pattern class.
    /// Measured means (shares per class in the test's output): Gradient 0.20, Gradient × Input
    /// 0.22, SmoothGrad 0.26, Integrated Gradients 0.44, Grad-CAM 0.32, Grad-CAM++ 0.29; each
    /// threshold is about 0.63 × the measured mean, and at least 2 × chance.
    @Test func mapsConcentrateOnThePattern() throws {
        let task = SyntheticPatternTask.trainedClassifier()
        let examples = (0..<4).map { label in task.testLabels.firstIndex(of: label)! }
        let explainers: [(any Explainer, Float)] = [
            (Gradient(classifier: task.classifier), 0.13),
            (GradientTimesInput(classifier: task.classifier), 0.14),
            (SmoothGrad(classifier: task.classifier), 0.16),
            (IntegratedGradients(classifier: task.classifier), 0.28),
            (GradCAM(classifier: task.classifier), 0.20),
            (GradCAMPlusPlus(classifier: task.classifier), 0.18),
        ]
        for (explainer, threshold) in explainers {
            var shares: [Float] = []
            for index in examples {
                let image = task.testImages.sliced(alongAxis: 0, index..<(index + 1))
                let saliency = try explainer.explain(image, target: task.testLabels[index])
                shares.append(shareInside(saliency.values.abs(), task.testBoxes[index]))
                if let delta = saliency.diagnostics["completeness_delta_relative"] {
                    // Measured 0.08–0.85% with the default 50-step trapezoid on this ReLU network.
                    #expect(delta < 0.03, "IG completeness gap \(delta) of |f(x) − f(x′)|")
                }
            }
            let mean = shares.reduce(0, +) / Float(shares.count)
            print("\(explainer.methodName): mass inside the pattern box \(shares), mean \(mean)")
            #expect(mean >= threshold, "\(explainer.methodName): mean mass inside the 6.25% box \(mean) (shares \(shares))")
        }
    }

    // MARK: - Bad input

    @Test func badInputThrowsTheNamedError() throws {
        let classifier = smoothTinyClassifier()
        let explainers: [any Explainer] = [
            Gradient(classifier: classifier), GradientTimesInput(classifier: classifier), SmoothGrad(classifier: classifier),
            IntegratedGradients(classifier: classifier), GradCAM(classifier: classifier, configuration: .init(layer: "tanh")),
            GradCAMPlusPlus(classifier: classifier, configuration: .init(layer: "conv")),
        ]
        var withNaN = Self.tinyImage
        withNaN[0, 2, 3, 4] = .nan
        for explainer in explainers {
            #expect(throws: ExplainError.imageShape([3, 8, 8])) { try explainer.explain(Tensor.zeros([3, 8, 8]), target: 0) }
            #expect(throws: ExplainError.imageShape([1, 1, 8, 8])) { try explainer.explain(Tensor.zeros([1, 1, 8, 8]), target: 0) }
            #expect(throws: ExplainError.imageTooSmall(height: 4, width: 8, minimum: 8)) {
                try explainer.explain(Tensor.zeros([1, 3, 4, 8]), target: 0)
            }
            #expect(throws: ExplainError.nonFiniteImage(count: 1)) { try explainer.explain(withNaN, target: 0) }
            #expect(throws: ExplainError.targetOutOfRange(target: 3, classCount: 3)) { try explainer.explain(Self.tinyImage, target: 3) }
            #expect(throws: ExplainError.targetOutOfRange(target: -1, classCount: 3)) { try explainer.explain(Self.tinyImage, target: -1) }
        }
        let fixedSize = linearClassifier().classifier
        #expect(throws: ExplainError.imageSizeNotAccepted(height: 5, width: 5, required: 4)) {
            try Gradient(classifier: fixedSize).explain(Tensor.zeros([1, 3, 5, 5]), target: 0)
        }
    }

    @Test func badSettingsThrowTheNamedError() throws {
        let classifier = smoothTinyClassifier()
        func setting(_ body: () throws -> Saliency) -> (name: String, value: String)? {
            do {
                _ = try body()
            } catch ExplainError.invalidSetting(let name, let value, _) {
                return (name, value)
            } catch {
                Issue.record("unexpected error \(error)")
            }
            return nil
        }
        for plusPlus in [false, true] {
            func camExplain(_ configuration: GradCAM.Configuration, _ classifier: ImageClassifier) throws -> Saliency {
                plusPlus
                    ? try GradCAMPlusPlus(classifier: classifier, configuration: configuration).explain(Self.tinyImage, target: 0)
                    : try GradCAM(classifier: classifier, configuration: configuration).explain(Self.tinyImage, target: 0)
            }
            #expect(setting { try camExplain(.init(layer: "nope"), classifier) }! == ("layer", "nope"))
            // No layer given and the classifier names none.
            #expect(setting { try camExplain(.init(), classifier) }! == ("layer", "default"))
            // A layer whose output is not a feature map.
            #expect(setting { try camExplain(.init(layer: "fc"), classifier) }! == ("layer", "fc"))
        }
        let message = ExplainError.invalidSetting(name: "layer", value: "nope", reason: "tiny has no such layer").description
        #expect(message == "invalid layer nope: tiny has no such layer")
        func smoothGrad(_ configuration: SmoothGrad.Configuration) -> (name: String, value: String)? {
            setting { try SmoothGrad(classifier: classifier, configuration: configuration).explain(Self.tinyImage, target: 0) }
        }
        func integratedGradients(_ configuration: IntegratedGradients.Configuration) -> (name: String, value: String)? {
            setting { try IntegratedGradients(classifier: classifier, configuration: configuration).explain(Self.tinyImage, target: 0) }
        }
        #expect(smoothGrad(.init(sampleCount: 0))! == ("sample count", "0"))
        #expect(smoothGrad(.init(noiseLevel: -1))! == ("noise level", "-1.0"))
        #expect(smoothGrad(.init(batchSize: 0))! == ("batch size", "0"))
        #expect(integratedGradients(.init(stepCount: 1, rule: .riemannTrapezoid))! == ("step count", "1"))
        #expect(integratedGradients(.init(stepCount: 0, rule: .riemannRight))! == ("step count", "0"))
        #expect(integratedGradients(.init(batchSize: 0))! == ("batch size", "0"))
        #expect(integratedGradients(.init(baseline: .explicit(.zeros([1, 3, 4, 4]))))! == ("baseline", "[1, 3, 4, 4]"))
        #expect(integratedGradients(.init(baseline: .blur(sigma: 0)))! == ("blur sigma", "0.0"))
    }
}
