// Winograd F(4×4, 3×3) against im2col + GEMM on the 3×3 stride-1 layers of ResNet-50 and VGG-16
// (batch 1, padding 1, C = K), forward and backward to the input, alternating in one run.

import Foundation
import NMTensor

/// One 3×3 stride-1 layer: channels in = out, square input, padding 1.
struct Winograd3x3Layer {
    var label: String
    var channels: Int
    var size: Int

    var geometry: ConvGeometry {
        ConvGeometry(channels: channels, inputHeight: size, inputWidth: size, kernelHeight: 3, kernelWidth: 3, padding: Padding2D(1))
    }
}

/// Times forward and backward-input of each layer, Winograd (filters transformed beforehand, as
/// Conv2d caches them) vs im2col + GEMM, after checking that both agree; also times the filter
/// transforms alone. Returns false if the paths disagree by more than 1e-4 (relative L2).
func runWinogradBenchmarks(_ layers: [Winograd3x3Layer], repetitions: Int) -> Bool {
    // As neuromask and neuromask-bench do: glibc keeps freed blocks, so per-call buffers are not
    // page-faulted in again on every call.
    MemoryTuning.keepFreedMemoryForReuse()
    print("3x3 stride-1 convolution (batch 1, pad 1, C = K): Winograd F(4x4,3x3) vs im2col + GEMM, alternating; median ms")
    print("(MemoryTuning.keepFreedMemoryForReuse() on; filter transforms done beforehand, as Conv2d caches them)")
    print(left("layer", 26) + left("pass", 10) + right("winograd", 10) + right("im2col", 10) + right("speedup", 9)
        + right("rel.L2", 10) + right("filter tf", 11))
    var totals = (winograd: 0.0, im2col: 0.0)
    for layer in layers {
        let g = layer.geometry
        let channels = g.channels
        var generator = SeededGenerator(seed: 5)
        // ReLU-like non-negative input, He-scaled weights (the magnitudes of a real network).
        let input = Tensor.uniform([1, channels, g.inputHeight, g.inputWidth], low: 0, high: 1, generator: &generator)
        let scale = Float((6.0 / Double(9 * channels)).squareRoot())
        let weight = Tensor.uniform([channels, channels, 3, 3], low: -scale, high: scale, generator: &generator)
        let bias = Tensor.uniform([channels], low: -0.1, high: 0.1, generator: &generator)
        let gradOutput = Tensor.uniform([1, channels, g.outputHeight, g.outputWidth], low: -1, high: 1, generator: &generator)
        let forwardFilter = WinogradFilter(weight: weight)
        let backwardFilter = WinogradFilter(inputGradientOf: weight)
        let matrix = weight.reshaped([1, channels, g.columnRows])

        var winogradOutput = Tensor.zeros([0])
        var gemmOutput = Tensor.zeros([0])
        var columns = Tensor.zeros([1, g.columnRows, g.columnCount])
        var winogradGradInput = Tensor.zeros([0])
        var gemmGradInput = Tensor.zeros(input.shape)

        let forwardWinograd = {
            winogradOutput = winogradConvolution(input, filter: forwardFilter, bias: bias, padding: g.padding)
            blackHole(winogradOutput.scalars[0])
        }
        let forwardGEMM = {
            im2col(input, geometry: g, into: &columns)
            gemmOutput = matmul(matrix, columns.reshaped([1, 1, g.columnRows, g.columnCount]), rowBias: bias)
            blackHole(gemmOutput.scalars[0])
        }
        let inputWinograd = {
            winogradGradInput = winogradConvolutionBackwardInput(gradOutput, filter: backwardFilter, padding: g.padding)
            blackHole(winogradGradInput.scalars[0])
        }
        let inputGEMM = {
            let gradColumns = matmul(matrix, gradOutput.reshaped([1, channels, g.columnCount]), transposeA: true)
            col2im(gradColumns.reshaped([1, g.columnRows, g.columnCount]), geometry: g, into: &gemmGradInput)
            blackHole(gemmGradInput.scalars[0])
        }
        forwardWinograd()
        forwardGEMM()
        inputWinograd()
        inputGEMM()
        let differences = [
            relativeDifference(winogradOutput, gemmOutput.reshaped(winogradOutput.shape)),
            relativeDifference(winogradGradInput, gemmGradInput),
        ]
        guard differences.allSatisfy({ $0 <= 1e-4 }) else {
            print("\(layer.label): Winograd and im2col paths disagree, relative L2 differences \(differences)")
            return false
        }
        let filterTimes = repeatedly(repetitions: max(3, repetitions / 3)) {
            blackHole(WinogradFilter(weight: weight).outputChannels)
        }
        timeWinogradPasses(
            label: layer.label, labelWidth: 26, passes: [("forward", forwardWinograd, forwardGEMM), ("bwd input", inputWinograd, inputGEMM)],
            differences: differences, repetitions: repetitions, totals: &totals
        ) { $0 == 0 ? right(String(format: "%.3f", median(filterTimes) * 1e3), 11) : "" }
    }
    print(left("sum of medians", 36) + right(String(format: "%.2f", totals.winograd * 1e3), 10)
        + right(String(format: "%.2f", totals.im2col * 1e3), 10) + right(String(format: "%.2fx", totals.im2col / totals.winograd), 9))
    return true
}

/// Times each pass of one layer, a Winograd path against im2col + GEMM alternating, prints one row
/// per pass (the layer's label on the first, then median ms, speedup, the paths' relative
/// difference and `extra(pass index)`), and adds the medians to `totals`.
func timeWinogradPasses(
    label: String, labelWidth: Int, passes: [(name: String, winograd: () -> Void, viaGEMM: () -> Void)], differences: [Double],
    repetitions: Int, totals: inout (winograd: Double, im2col: Double), extra: (Int) -> String = { _ in "" }
) {
    for (index, pass) in passes.enumerated() {
        let times = alternate(repetitions: repetitions, pass.winograd, pass.viaGEMM)
        let (winogradMedian, gemmMedian) = (median(times.first), median(times.second))
        totals.winograd += winogradMedian
        totals.im2col += gemmMedian
        print(left(index == 0 ? label : "", labelWidth) + left(pass.name, 10) + right(String(format: "%.3f", winogradMedian * 1e3), 10)
            + right(String(format: "%.3f", gemmMedian * 1e3), 10) + right(String(format: "%.2fx", gemmMedian / winogradMedian), 9)
            + right(String(format: "%.1e", differences[index]), 10) + extra(index))
    }
}
