import NMNets
import NMTensor
import NMTestSupport
import Testing

// Sequential runs a Conv2d or a Residual followed by relu or relu6 as one fused pass (the clamp
// applied as the convolution stores its output, or with the residual sum), and folds the backward
// pass of a relu or relu6 into that of the convolution or nested network after it (the gate
// applied as the input gradient is stored). These tests hold the fused passes to running the
// entries one by one: the same outputs and input gradients bit for bit, on every convolution
// path, both residual forms and a nested network.

@Suite struct FusedActivationTests {
    /// Depthwise (stride 1 and 2), 1×1, im2col (stride 2) and Winograd-sized 3×3 convolutions,
    /// each followed by relu6 or relu; weights scaled so that both clamps are active.
    static func network() -> Sequential {
        func conv(_ outputs: Int, _ inputs: Int, _ kernel: Int, stride: Int = 1, groups: Int = 1, seed: UInt64) -> Conv2d {
            Conv2d(
                weight: randomTensor([outputs, inputs / groups, kernel, kernel], seed: seed) * 3,
                bias: randomTensor([outputs], seed: seed + 100), stride: stride, padding: .symmetric(kernel / 2), groups: groups)
        }
        return Sequential([
            .init("depthwise", conv(16, 16, 3, groups: 16, seed: 1)), .init("act1", Activation.relu6),
            .init("pointwise", conv(24, 16, 1, seed: 2)), .init("act2", Activation.relu),
            .init("strided", conv(24, 24, 3, stride: 2, seed: 3)), .init("act3", Activation.relu6),
            .init("winograd", conv(16, 24, 3, seed: 4)), .init("act4", Activation.relu6),
            .init("depthwiseStrided", conv(16, 16, 5, stride: 2, groups: 16, seed: 5)), .init("act5", Activation.relu),
            .init("identityResidual", Residual(body: Sequential([.init("conv", conv(16, 16, 3, seed: 6))]))), .init("act6", Activation.relu6),
            .init("projectedResidual", Residual(
                body: Sequential([.init("conv", conv(8, 16, 1, seed: 7))]), shortcut: Sequential([.init("conv", conv(8, 16, 1, seed: 8))]))),
            .init("act7", Activation.relu),
            .init("depthwiseAfterActivation", conv(8, 8, 3, groups: 8, seed: 13)), .init("act8", Activation.relu6),
            .init("nested", Sequential([.init("pointwise", conv(8, 8, 1, seed: 14)), .init("act", Activation.relu)])),
        ])
    }

    /// Forward entry by entry, then backward entry by entry: the unfused reference, with the
    /// gradient flowing into every entry's output.
    static func unfused(
        _ network: Sequential, _ input: Tensor, gradient: (Tensor) -> Tensor
    ) -> (output: Tensor, gradInput: Tensor, gradOutputs: [String: Tensor]) {
        var current = input
        var backwards: [(Tensor) -> Tensor] = []
        for entry in network.entries {
            let (output, backward) = forwardOne(entry.layer, current)
            current = output
            backwards.append(backward)
        }
        var grad = gradient(current)
        var gradOutputs: [String: Tensor] = [:]
        for (entry, backward) in zip(network.entries, backwards).reversed() {
            gradOutputs[entry.name] = grad
            grad = backward(grad)
        }
        return (current, grad, gradOutputs)
    }

    static func forwardOne<L: Layer>(_ layer: L, _ input: Tensor) -> (Tensor, (Tensor) -> Tensor) {
        let (output, cache) = layer.forward(input)
        return (output, { layer.backward($0, cache: cache, parameterGradients: false).gradInput })
    }

    @Test func fusedPassEqualsEntryByEntry() {
        let network = Self.network()
        let input = randomTensor([2, 16, 28, 28], seed: 9)
        let gradOutput = randomTensor([2, 8, 7, 7], seed: 10)
        let (output, cache) = network.forward(input)
        let gradInput = network.backward(gradOutput, cache: cache, parameterGradients: false).gradInput
        let reference = Self.unfused(network, input) { _ in gradOutput }
        #expect(output.scalars == reference.output.scalars)
        #expect(gradInput.scalars == reference.gradInput.scalars)
        // Both clamps bite: some outputs sit at 0 and some pre-activations exceed 6.
        #expect(output.scalars.contains(0))
        let (_, _, captured) = network.forward(input, capturing: ["strided", "act3", "identityResidual"])
        #expect(captured["strided"]!.scalars.contains { $0 > 6 })
        #expect(captured["identityResidual"]!.scalars.contains { $0 > 6 } && captured["identityResidual"]!.scalars.contains { $0 < 0 })
    }

    /// An activation whose gradient is asked for is not folded into the layer after it: the
    /// captured gradients and the input gradient equal the entry-by-entry ones.
    @Test func capturedActivationGradientsEqualEntryByEntry() {
        let network = Self.network()
        let input = randomTensor([1, 16, 28, 28], seed: 15)
        let gradOutput = randomTensor([1, 8, 7, 7], seed: 16)
        let (_, cache) = network.forward(input)
        let names: Set<String> = ["act1", "act4", "act8", "nested"]
        let (gradInput, _, captured) = network.backward(gradOutput, cache: cache, parameterGradients: false, capturing: names)
        let reference = Self.unfused(network, input) { _ in gradOutput }
        #expect(gradInput.scalars == reference.gradInput.scalars)
        for name in names { #expect(captured[name]?.scalars == reference.gradOutputs[name]!.scalars, "\(name)") }
        #expect(reference.gradOutputs["act4"]!.scalars.contains { $0 != 0 })
    }

    /// A captured convolution output is its pre-activation (that pair is not fused); the
    /// activation after it is captured as usual.
    @Test func capturedConvolutionKeepsItsPreActivation() {
        let network = Self.network()
        let input = randomTensor([1, 16, 28, 28], seed: 11)
        let (output, _, captured) = network.forward(input, capturing: ["pointwise", "act2", "act4"])
        let reference = Self.unfused(Sequential(Array(network.entries.prefix(3))), input) { $0 }
        #expect(captured["pointwise"]!.scalars == reference.output.scalars)
        #expect(captured["pointwise"]!.scalars.contains { $0 < 0 })
        #expect(captured["act2"]!.scalars == reference.output.scalars.map { max($0, 0) })
        #expect(output.scalars == network.forward(input).output.scalars)
        #expect(captured["act4"] != nil)
    }

    /// NaN passes through a fused clamp as through relu6 itself.
    @Test func nanPropagatesThroughTheFusedClamp() {
        let network = Sequential([.init("conv", Conv2d(weight: Tensor.ones([4, 4, 1, 1]))), .init("act", Activation.relu6)])
        var input = randomTensor([1, 4, 5, 5], seed: 12)
        input.scalars[7] = .nan
        let fused = network.forward(input).output
        let reference = Self.unfused(network, input) { $0 }.output
        #expect(fused.scalars.map(\.isNaN) == reference.scalars.map(\.isNaN))
        #expect(fused.scalars.contains { $0.isNaN })
        #expect(zip(fused.scalars, reference.scalars).allSatisfy { $0.isNaN || $0 == $1 })
    }
}
