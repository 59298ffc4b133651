import NMNets
import NMTensor
import NMTestSupport
import Testing

/// Checks ∂/∂input and ∂/∂(every parameter) of `Σ r ⊙ layer(x)` against central differences.
private func checkGradients<L: Layer>(
    _ layer: L, inputShape: [Int], seed: UInt64, rtol: Float = 2e-2, atol: Float = 2e-3,
    _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation
) {
    let input = randomTensor(inputShape, seed: seed)
    let (output, cache) = layer.forward(input)
    let probe = randomTensor(output.shape, seed: seed + 1)
    let (gradInput, gradLayer) = layer.backward(probe, cache: cache, parameterGradients: true)
    let numericInput = numericalGradient(of: { weightedSum(layer($0), probe) }, at: input)
    assertClose(gradInput, numericInput, rtol: rtol, atol: atol, "input gradient. \(comment?.description ?? "")", sourceLocation: sourceLocation)
    guard let gradLayer else { return }
    let analytic = Dictionary(uniqueKeysWithValues: gradLayer.namedTensors(role: .parameter).map { ($0.name, $0.tensor) })
    for (name, parameter) in layer.namedTensors(role: .parameter) {
        let numeric = numericalGradient(of: { value in
            var perturbed = layer
            perturbed.updateTensors(prefix: "") { key, _, tensor in if key == name { tensor = value } }
            return weightedSum(perturbed(input), probe)
        }, at: parameter)
        assertClose(analytic[name]!, numeric, rtol: rtol, atol: atol, "gradient of \(name). \(comment?.description ?? "")", sourceLocation: sourceLocation)
    }
}

private func randomized<L: Layer>(_ layer: L, seed: UInt64) -> L {
    var copy = layer
    var generator = SeededGenerator(seed: seed)
    copy.updateTensors(prefix: "") { name, _, tensor in
        tensor = Tensor.uniform(tensor.shape, low: name.hasSuffix("running_var") ? 0.5 : -1, high: 1, generator: &generator)
    }
    return copy
}

@Suite struct LayerGradientTests {
    @Test(arguments: [
        (stride: 1, padding: ConvolutionPadding.symmetric(1), dilation: 1, groups: 1),
        (stride: 2, padding: .symmetric(0), dilation: 1, groups: 1),
        (stride: 2, padding: .tensorFlowSame, dilation: 1, groups: 1),
        (stride: 1, padding: .explicit(Padding2D(top: 0, bottom: 1, left: 2, right: 1)), dilation: 2, groups: 2),
        (stride: 1, padding: .tensorFlowSame, dilation: 1, groups: 4),  // depthwise
        (stride: 2, padding: .tensorFlowSame, dilation: 1, groups: 4),  // depthwise, stride 2
    ])
    func conv2d(stride: Int, padding: ConvolutionPadding, dilation: Int, groups: Int) {
        let conv = randomized(Conv2d(inputChannels: 4, outputChannels: 4, kernelSize: 3, stride: stride, padding: padding, dilation: dilation, groups: groups), seed: 11)
        checkGradients(conv, inputShape: [2, 4, 7, 6], seed: 12, "stride \(stride) dilation \(dilation) groups \(groups)")
    }

    @Test func pointwiseConv2dUsesGEMMPathAndMatches() {
        let conv = randomized(Conv2d(inputChannels: 6, outputChannels: 3, kernelSize: 1, groups: 3), seed: 13)
        checkGradients(conv, inputShape: [2, 6, 3, 5], seed: 14)
        let dense = randomized(Conv2d(inputChannels: 5, outputChannels: 4, kernelSize: 1, hasBias: false), seed: 15)
        checkGradients(dense, inputShape: [1, 5, 4, 4], seed: 16)
    }

    @Test func batchNormLinearAndPooling() {
        checkGradients(randomized(BatchNorm2d(channels: 3, epsilon: 1e-3), seed: 17), inputShape: [2, 3, 4, 5], seed: 18)
        checkGradients(randomized(Linear(inputFeatures: 7, outputFeatures: 5), seed: 19), inputShape: [3, 7], seed: 20)
        checkGradients(GlobalAveragePool(), inputShape: [2, 3, 4, 5], seed: 21)
        checkGradients(Flatten(), inputShape: [2, 3, 2, 2], seed: 22)
    }

    @Test(arguments: [ActivationFunction.relu, .relu6, .leakyReLU(slope: 0.1), .sigmoid, .silu, .tanh])
    func activations(function: ActivationFunction) {
        // Scaled input keeps relu6's kinks at 0 and 6 in range but away from ±ε.
        let layer = Sequential([.init("scale", Normalization(mean: [0], standardDeviation: [0.2])), .init("f", Activation(function))])
        checkGradients(layer, inputShape: [1, 1, 6, 7], seed: 23, "\(function)")
    }

    @Test func softmaxAndLogSoftmax() {
        checkGradients(Softmax(), inputShape: [3, 5], seed: 24)
        checkGradients(LogSoftmax(), inputShape: [3, 5], seed: 25)
    }

    @Test func crossEntropyGradientMatchesFiniteDifferences() {
        let logits = randomTensor([3, 4], seed: 26)
        let targets = [2, 0, 3]
        let (_, analytic) = crossEntropy(logits: logits, targets: targets)
        let numeric = numericalGradient(of: { Double(crossEntropy(logits: $0, targets: targets).loss) }, at: logits, epsilon: 1e-2)
        assertClose(analytic, numeric, rtol: 1e-2, atol: 1e-3)
        // Hand value: uniform logits over K classes give loss log K.
        #expect(abs(crossEntropy(logits: .zeros([1, 4]), targets: [1]).loss - Float(1.3862944)) < 1e-6)
    }

    @Test func compositesPropagateThroughBranchesAndSkips() {
        let branch1 = Sequential([.init("branch1x1", randomized(Conv2d(inputChannels: 3, outputChannels: 2, kernelSize: 1), seed: 27))])
        let branch2 = Sequential([
            .init("branch3x3", randomized(Conv2d(inputChannels: 3, outputChannels: 3, kernelSize: 3, padding: .symmetric(1)), seed: 28)),
            .init("bn", randomized(BatchNorm2d(channels: 3), seed: 29)),
            .init("act", Activation(.tanh)),
        ])
        let residual = Residual(body: Sequential([.init("c", randomized(Conv2d(inputChannels: 5, outputChannels: 5, kernelSize: 3, padding: .symmetric(1)), seed: 30))]))
        let downsample = Residual(
            body: Sequential([.init("c", randomized(Conv2d(inputChannels: 5, outputChannels: 4, kernelSize: 3, stride: 2, padding: .symmetric(1)), seed: 31))]),
            shortcut: Sequential([.init("downsample.0", randomized(Conv2d(inputChannels: 5, outputChannels: 4, kernelSize: 1, stride: 2), seed: 32))]))
        let network = Sequential([
            .init("mixed", ChannelConcat([branch1, branch2])),
            .init("block", residual),
            .init("down", downsample),
            .init("pool", GlobalAveragePool()),
            .init("fc", randomized(Linear(inputFeatures: 4, outputFeatures: 3), seed: 33)),
        ])
        checkGradients(network, inputShape: [2, 3, 6, 6], seed: 34)
        #expect(network.namedTensors().map(\.name).contains("down.downsample.0.weight"))
    }

    @Test func capturedActivationGradientsMatchSplitNetwork() {
        let first = Sequential([.init("conv", randomized(Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, padding: .symmetric(1)), seed: 35)), .init("relu", Activation.relu)])
        let second = Sequential([.init("pool", GlobalAveragePool()), .init("fc", randomized(Linear(inputFeatures: 4, outputFeatures: 2), seed: 36))])
        let network = Sequential([.init("features", first), .init("head", second)])
        let input = randomTensor([1, 3, 5, 5], seed: 37)
        let probe = randomTensor([1, 2], seed: 38)
        let (_, cache, activations) = network.forward(input, capturing: ["features.conv", "features"])
        let (_, _, gradients) = network.backward(probe, cache: cache, parameterGradients: false, capturing: ["features.conv", "features"])
        let features = first(input)
        assertClose(activations["features"]!, features)
        let headGradient = second.backward(probe, cache: second.forward(features).cache, parameterGradients: false).gradInput
        assertClose(gradients["features"]!, headGradient)
        #expect(gradients["features.conv"] != nil && activations["features.conv"]!.shape == [1, 4, 5, 5])
    }

    @Test func foldingBatchNormIntoConvolutionIsExact() {
        let conv = randomized(Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, padding: .tensorFlowSame, hasBias: false), seed: 39)
        let batchNorm = randomized(BatchNorm2d(channels: 4, epsilon: 1e-3), seed: 40)
        let input = randomTensor([2, 3, 5, 5], seed: 41)
        assertClose(conv.folding(batchNorm)(input), batchNorm(conv(input)), rtol: 1e-5, atol: 1e-5)
    }
}
