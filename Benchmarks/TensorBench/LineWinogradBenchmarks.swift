// Winograd F(4, r) along one axis against im2col + GEMM on Inception-v3's 7×1, 1×7, 3×1 and 1×3
// layers (batch 1, "same" padding along the axis), forward and backward to the input, both with
// packed weights as Conv2d multiplies them in an AVX2 + FMA build, alternating in one run.

import Foundation
import NMTensor

/// One r×1 or 1×r layer: square input, padding (r − 1) / 2 along the kernel's axis.
struct LineWinogradLayer {
    var label: String
    var channels: Int
    var outputChannels: Int
    var size: Int
    var axis: KernelAxis
    var length: Int

    var geometry: ConvGeometry {
        let pad = (length - 1) / 2
        let isVertical = axis == .height
        return ConvGeometry(
            channels: channels, inputHeight: size, inputWidth: size,
            kernelHeight: isVertical ? length : 1, kernelWidth: isVertical ? 1 : length,
            padding: isVertical ? Padding2D(top: pad, bottom: pad, left: 0, right: 0) : Padding2D(top: 0, bottom: 0, left: pad, right: pad))
    }

    var weightShape: [Int] { axis == .height ? [outputChannels, channels, length, 1] : [outputChannels, channels, 1, length] }
}

/// Inception-v3's one-dimensional layers (Mixed_6b–6e at 17², Mixed_7b–7c at 8²).
let inceptionLineLayers = [
    LineWinogradLayer(label: "Mixed_6e 7x1 192->192 @17", channels: 192, outputChannels: 192, size: 17, axis: .height, length: 7),
    LineWinogradLayer(label: "Mixed_6e 1x7 192->192 @17", channels: 192, outputChannels: 192, size: 17, axis: .width, length: 7),
    LineWinogradLayer(label: "Mixed_6b 1x7 128->128 @17", channels: 128, outputChannels: 128, size: 17, axis: .width, length: 7),
    LineWinogradLayer(label: "Mixed_7b 1x3 384->384 @8", channels: 384, outputChannels: 384, size: 8, axis: .width, length: 3),
    LineWinogradLayer(label: "Mixed_7b 3x1 384->384 @8", channels: 384, outputChannels: 384, size: 8, axis: .height, length: 3),
]

/// Times forward and backward-input of each layer, line Winograd vs im2col + GEMM (weights and
/// filter transforms prepared beforehand, as Conv2d caches them), after checking that both
/// agree. Returns false if they disagree by more than 1e-4 (relative L2).
func runLineWinogradBenchmarks(_ layers: [LineWinogradLayer], repetitions: Int) -> Bool {
    MemoryTuning.keepFreedMemoryForReuse()
    print("r x 1 and 1 x r stride-1 convolution (batch 1, same padding): Winograd F(4, r) vs im2col + GEMM, packed weights, alternating; median ms")
    print(left("layer", 28) + left("pass", 10) + right("winograd", 10) + right("im2col", 10) + right("speedup", 9) + right("rel.L2", 10))
    var totals = (winograd: 0.0, im2col: 0.0)
    for layer in layers {
        let g = layer.geometry
        var generator = SeededGenerator(seed: 7)
        let input = Tensor.uniform([1, layer.channels, g.inputHeight, g.inputWidth], low: 0, high: 1, generator: &generator)
        let scale = Float((6.0 / Double(layer.length * layer.channels)).squareRoot())
        let weight = Tensor.uniform(layer.weightShape, low: -scale, high: scale, generator: &generator)
        let gradOutput = Tensor.uniform([1, layer.outputChannels, g.outputHeight, g.outputWidth], low: -1, high: 1, generator: &generator)
        let forwardFilter = LineWinogradFilter(weight: weight, packed: true)
        let backwardFilter = LineWinogradFilter(inputGradientOf: weight, packed: true)
        let packedWeight = PackedMatrix(weight, rows: layer.outputChannels, columns: g.columnRows)
        let packedTransposed = PackedMatrix(weight, rows: g.columnRows, columns: layer.outputChannels, transposed: true)

        var outputs = (winograd: Tensor.zeros([0]), gemm: Tensor.zeros([0]))
        var gradInputs = (winograd: Tensor.zeros([0]), gemm: Tensor.zeros(input.shape))
        let forwardWinograd = {
            outputs.winograd = lineWinogradConvolution(input, filter: forwardFilter, padding: g.padding)
            blackHole(outputs.winograd.scalars[0])
        }
        let forwardGEMM = {
            outputs.gemm = matmul(packedWeight, im2col(input, geometry: g))
            blackHole(outputs.gemm.scalars[0])
        }
        let inputWinograd = {
            gradInputs.winograd = lineWinogradConvolutionBackwardInput(gradOutput, filter: backwardFilter, padding: g.padding)
            blackHole(gradInputs.winograd.scalars[0])
        }
        let inputGEMM = {
            let gradColumns = matmul(packedTransposed, gradOutput.reshaped([1, layer.outputChannels, g.columnCount]))
            col2im(gradColumns, geometry: g, into: &gradInputs.gemm)
            blackHole(gradInputs.gemm.scalars[0])
        }
        forwardWinograd()
        forwardGEMM()
        inputWinograd()
        inputGEMM()
        let differences = [
            relativeDifference(outputs.winograd, outputs.gemm.reshaped(outputs.winograd.shape)),
            relativeDifference(gradInputs.winograd, gradInputs.gemm),
        ]
        guard differences.allSatisfy({ $0 <= 1e-4 }) else {
            print("\(layer.label): line Winograd and im2col paths disagree, relative L2 differences \(differences)")
            return false
        }
        timeWinogradPasses(
            label: layer.label, labelWidth: 28, passes: [("forward", forwardWinograd, forwardGEMM), ("bwd input", inputWinograd, inputGEMM)],
            differences: differences, repetitions: repetitions, totals: &totals)
    }
    print(left("sum of medians", 38) + right(String(format: "%.2f", totals.winograd * 1e3), 10)
        + right(String(format: "%.2f", totals.im2col * 1e3), 10) + right(String(format: "%.2fx", totals.im2col / totals.winograd), 9))
    return true
}
