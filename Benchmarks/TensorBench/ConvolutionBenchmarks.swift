// im2col/col2im throughput, and the direct depthwise kernels against the im2col + GEMM path
// (groups == channels) on EfficientNet-Lite0-like layers.

import Foundation
import NMTensor

/// Times `im2col` and `col2im` on one geometry (batch 1) and prints medians and bandwidth.
func runIm2colBenchmark(label: String, geometry: ConvGeometry, repetitions: Int) {
    var generator = SeededGenerator(seed: 2)
    let input = Tensor.uniform([1, geometry.channels, geometry.inputHeight, geometry.inputWidth], low: -1, high: 1, generator: &generator)
    var columns = Tensor.zeros([1, geometry.columnRows, geometry.columnCount])
    var image = Tensor.zeros(input.shape)
    let columnBytes = Double(columns.count * MemoryLayout<Float>.size)
    let forward = repeatedly(repetitions: repetitions) {
        im2col(input, geometry: geometry, into: &columns)
        blackHole(columns.scalars[0])
    }
    let adjoint = repeatedly(repetitions: repetitions) {
        col2im(columns, geometry: geometry, into: &image)
        blackHole(image.scalars[0])
    }
    print("\(label): columns [1, \(geometry.columnRows), \(geometry.columnCount)] = \(String(format: "%.1f", columnBytes / 1e6)) MB, \(repetitions) runs")
    print("  im2col  median \(String(format: "%8.3f", median(forward) * 1e3)) ms  (\(String(format: "%.1f", columnBytes / median(forward) / 1e9)) GB/s of columns written)")
    print("  col2im  median \(String(format: "%8.3f", median(adjoint) * 1e3)) ms  (\(String(format: "%.1f", columnBytes / median(adjoint) / 1e9)) GB/s of columns read)")
}

/// One depthwise layer: channels, square input, square kernel, stride, TensorFlow SAME padding.
struct DepthwiseLayer {
    var label: String
    var channels: Int
    var size: Int
    var kernel: Int
    var stride: Int

    var geometry: ConvGeometry {
        let (before, after) = Padding2D.tensorFlowSame(input: size, kernel: kernel, stride: stride)
        return ConvGeometry(
            channels: channels, inputHeight: size, inputWidth: size, kernelHeight: kernel, kernelWidth: kernel,
            strideHeight: stride, strideWidth: stride, padding: Padding2D(top: before, bottom: after, left: before, right: after))
    }
}

/// Every depthwise layer of EfficientNet-Lite0 at 224² (`nmtensor-bench --depthwise`).
let liteDepthwiseLayers = [
    (32, 112, 3, 1), (96, 112, 3, 2), (144, 56, 3, 1), (144, 56, 5, 2), (240, 28, 5, 1), (240, 28, 3, 2),
    (480, 14, 3, 1), (480, 14, 5, 1), (672, 14, 5, 1), (672, 14, 5, 2), (1152, 7, 5, 1), (1152, 7, 3, 1),
].map { channels, size, kernel, stride in
    DepthwiseLayer(
        label: "Lite0 \(channels)ch \(size)x\(size) \(kernel)x\(kernel) s\(stride)", channels: channels, size: size, kernel: kernel,
        stride: stride)
}

/// Relative L2 difference ‖a − b‖ / ‖b‖ in Double.
func relativeDifference(_ a: Tensor, _ b: Tensor) -> Double {
    var difference = 0.0
    var norm = 0.0
    for (x, y) in zip(a.scalars, b.scalars) {
        difference += Double(x - y) * Double(x - y)
        norm += Double(y) * Double(y)
    }
    return (difference / max(norm, .leastNonzeroMagnitude)).squareRoot()
}

/// Times forward, backward-input and backward-weight of each layer (batch 1), direct kernel vs
/// im2col + GEMM, after checking that both paths agree. Returns false if they disagree.
func runDepthwiseBenchmarks(_ layers: [DepthwiseLayer], repetitions: Int) -> Bool {
    print("depthwise (batch 1): direct kernel vs im2col + grouped GEMM (groups = C), alternating; median ms")
    print(left("layer", 40) + left("pass", 15) + right("direct", 10) + right("im2col+gemm", 13) + right("speedup", 9))
    for layer in layers {
        let g = layer.geometry
        let (channels, taps, length) = (g.channels, g.kernelHeight * g.kernelWidth, g.columnCount)
        var generator = SeededGenerator(seed: 3)
        let input = Tensor.uniform([1, channels, g.inputHeight, g.inputWidth], low: -1, high: 1, generator: &generator)
        let weight = Tensor.uniform([channels, 1, g.kernelHeight, g.kernelWidth], low: -1, high: 1, generator: &generator)
        let gradOutput = Tensor.uniform([1, channels, g.outputHeight, g.outputWidth], low: -1, high: 1, generator: &generator)
        let groupedWeight = weight.reshaped([channels, 1, taps])
        let groupedGradOutput = gradOutput.reshaped([1, channels, 1, length])

        // Buffers, allocated once.
        var output = Tensor.zeros(gradOutput.shape)
        var gemmOutput = Tensor.zeros([1, channels, 1, length])
        var columns = Tensor.zeros([1, g.columnRows, length])
        var gradColumns = Tensor.zeros([1, channels, taps, length])
        var gradInput = Tensor.zeros(input.shape)
        var gemmGradInput = Tensor.zeros(input.shape)
        var gradWeight = Tensor.zeros(weight.shape)
        var gemmGradWeight = Tensor.zeros([channels, 1, taps])

        let forwardDirect = {
            depthwiseConvolution(input, weight: weight, geometry: g, into: &output)
            blackHole(output.scalars[0])
        }
        let forwardGEMM = {
            im2col(input, geometry: g, into: &columns)
            gemm(groupedWeight, columns.reshaped([1, channels, taps, length]), into: &gemmOutput)
            blackHole(gemmOutput.scalars[0])
        }
        let inputDirect = {
            depthwiseConvolutionBackwardInput(gradOutput, weight: weight, geometry: g, into: &gradInput)
            blackHole(gradInput.scalars[0])
        }
        let inputGEMM = {
            gemm(groupedWeight, groupedGradOutput, into: &gradColumns, transposeA: true)
            col2im(gradColumns.reshaped([1, g.columnRows, length]), geometry: g, into: &gemmGradInput)
            blackHole(gemmGradInput.scalars[0])
        }
        let weightDirect = {
            gradWeight = depthwiseConvolutionBackwardWeight(gradOutput, input: input, geometry: g)
            blackHole(gradWeight.scalars[0])
        }
        let weightGEMM = {
            im2col(input, geometry: g, into: &columns)
            gemm(groupedGradOutput, columns.reshaped([1, channels, taps, length]), into: &gemmGradWeight, transposeB: true)
            blackHole(gemmGradWeight.scalars[0])
        }

        let passes: [(String, () -> Void, () -> Void)] = [
            ("forward", forwardDirect, forwardGEMM),
            ("backward input", inputDirect, inputGEMM),
            ("backward weight", weightDirect, weightGEMM),
        ]
        // Agreement first.
        for (_, direct, viaGEMM) in passes {
            direct()
            viaGEMM()
        }
        let differences = [
            relativeDifference(output, gemmOutput.reshaped(output.shape)),
            relativeDifference(gradInput, gemmGradInput),
            relativeDifference(gradWeight, gemmGradWeight.reshaped(gradWeight.shape)),
        ]
        guard differences.allSatisfy({ $0 <= 1e-5 }) else {
            print("\(layer.label): direct and im2col paths disagree, relative L2 differences \(differences)")
            return false
        }
        for (index, (pass, direct, viaGEMM)) in passes.enumerated() {
            let times = alternate(repetitions: repetitions, direct, viaGEMM)
            let (directMedian, gemmMedian) = (median(times.first), median(times.second))
            print(left(index == 0 ? layer.label : "", 40) + left(pass, 15) + right(String(format: "%.3f", directMedian * 1e3), 10)
                + right(String(format: "%.3f", gemmMedian * 1e3), 13) + right(String(format: "%.2fx", gemmMedian / directMedian), 9))
        }
    }
    return true
}
