import NMNets
import NMTensor
import NMTestSupport
import Testing

/// `ImageClassifier` passes reuse their buffers: after the first pass at an input size, repeated
/// forward/backward passes allocate no tensor storage, and give bit-identical results to the
/// same network run without a workspace.
@Suite struct WorkspaceReuseTests {
    static func classifier(_ model: String, network: Sequential) throws -> (ImageClassifier, Tensor) {
        var network = network
        try network.load(stateDict: ReferenceFiles.weights(model))
        let input = try ReferenceFiles.array(model + "_input")
        let classifier = ImageClassifier(
            name: model, normalization: .imageNet, network: network.foldingBatchNorms(), classNames: (0..<10).map { "class \($0)" },
            inputSize: input.shape[2], minimumInputSize: input.shape[2], acceptsAnySize: false)
        return (classifier, input)
    }

    /// ∂(Σ_n logit[n, 0]) / ∂logits.
    static func firstLogitGradient(_ logits: Tensor) -> Tensor {
        var gradient = Tensor.zeros(logits.shape)
        for row in 0..<logits.shape[0] { gradient.scalars[row * logits.shape[1]] = 1 }
        return gradient
    }

    static let networks: [String: @Sendable () -> Sequential] = [
        "resnet50_small": { ResNet.network(depth: .resnet50, baseWidth: 8, classCount: 10) },
        "inception_v3_small": { InceptionV3.network(widthDivisor: 8, classCount: 10) },
        "vgg16_small": { VGG16.network(widthDivisor: 16, hiddenFeatures: 64, classCount: 10) },
    ]

    @Test(arguments: ["resnet50_small", "inception_v3_small", "vgg16_small"])
    func repeatedInputGradientsAllocateNothing(model: String) throws {
        let (classifier, input) = try Self.classifier(model, network: Self.networks[model]!())
        let (expectedLogits, cache) = classifier.network.forward(input)
        let expectedGradient = classifier.network.backward(
            Self.firstLogitGradient(expectedLogits), cache: cache, parameterGradients: false).gradInput

        for pass in 1...3 {
            let (logits, gradient) = classifier.inputGradient(input, lossGradient: Self.firstLogitGradient)
            #expect(logits == expectedLogits && gradient == expectedGradient, "pass \(pass)")
            let statistics = classifier.workspace.lastPass
            #expect(statistics.buffers > 50 && statistics.bytes > 10 * input.count * 4, "pass \(pass): \(statistics)")
            if pass == 1 {
                // Buffers of tensors that died during the pass served later outputs: the pool
                // holds less than everything the pass requested (59–78 % in these models).
                #expect(statistics.allocations > 0 && statistics.allocations < statistics.buffers)
                #expect(classifier.workspace.retainedBytes < statistics.bytes * 9 / 10)
            } else {
                #expect(statistics.allocations == 0, "pass \(pass): \(statistics)")
            }
        }

        // Forward-only passes find everything they need in the same pool.
        #expect(classifier.logits(input) == expectedLogits)
        #expect(classifier.workspace.lastPass.allocations == 0)
    }

    @Test func winogradConvolutionsDrawTheirScratchFromThePool() {
        // A 16→16 3×3 convolution on 28×28 (49 tiles) takes the Winograd path, whose transformed
        // input and products are scratch buffers of the pool.
        let winogradLayer = Conv2d(weight: randomTensor([16, 16, 3, 3], seed: 83) * 0.1, bias: nil, padding: .symmetric(1))
        #expect(winogradLayer.forward(randomTensor([1, 16, 28, 28], seed: 80)).cache.isWinograd == Conv2d.isWinogradEnabled)
        let network = Sequential([
            .init("conv1", Conv2d(weight: randomTensor([16, 3, 3, 3], seed: 81) * 0.3, bias: randomTensor([16], seed: 82), padding: .symmetric(1))),
            .init("relu1", Activation(.relu)),
            .init("conv2", winogradLayer),
            .init("pool", GlobalAveragePool()),
            .init("flatten", Flatten()),
            .init("fc", Linear(weight: randomTensor([10, 16], seed: 84), bias: nil)),
        ])
        let input = randomTensor([1, 3, 28, 28], seed: 85)
        let classifier = ImageClassifier(
            name: "winograd", normalization: .imageNet, network: network, classNames: (0..<10).map { "class \($0)" },
            inputSize: 28, minimumInputSize: 28, acceptsAnySize: false)
        let (logits, cache) = classifier.network.forward(input)
        let expected = classifier.network.backward(Self.firstLogitGradient(logits), cache: cache, parameterGradients: false).gradInput
        for pass in 1...3 {
            let gradient = classifier.inputGradient(input, lossGradient: Self.firstLogitGradient).gradPixels
            #expect(gradient == expected)
            if pass > 1 { #expect(classifier.workspace.lastPass.allocations == 0, "pass \(pass)") }
        }
    }

    @Test func resultsKeptAcrossPassesStayIntact() throws {
        let (classifier, input) = try Self.classifier(
            "resnet18_small", network: ResNet.network(depth: .resnet18, baseWidth: 8, classCount: 10))
        let first = classifier.inputGradient(input, lossGradient: Self.firstLogitGradient)
        let firstCopy = (Tensor(shape: first.logits.shape, scalars: Array(first.logits.scalars)),
                         Tensor(shape: first.gradPixels.shape, scalars: Array(first.gradPixels.scalars)))
        let shifted = input + 0.25
        let second = classifier.inputGradient(shifted, lossGradient: Self.firstLogitGradient)
        #expect(first.logits == firstCopy.0 && first.gradPixels == firstCopy.1)
        #expect(second.logits != first.logits)
        // The kept results' buffers were skipped, not overwritten: at most one new buffer each.
        #expect(classifier.workspace.lastPass.allocations <= 2)
    }
}
