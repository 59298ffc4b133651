// nmtensor-bench: NMTensor's kernels against direct BLAS calls and against each other.
//
//     swift run -c release -Xswiftc -target-cpu -Xswiftc native nmtensor-bench [--quick] [--winograd [--layer TEXT]] [--line-winograd] [--packed] [--depthwise [--layer TEXT]] [--repetitions N]
//
// Prints, for square and ResNet-50 convolution GEMM shapes, the median GFLOP/s of NMTensor's
// `gemm(_:_:into:)` and of a direct cblas_sgemm on the same buffers (alternating), their ratio
// (the issue requires ≤ 1.05), then im2col/col2im throughput and the direct depthwise kernels
// against im2col + GEMM on EfficientNet-Lite0-like layers, and Winograd F(4x4,3x3) against
// im2col + GEMM on ResNet-50's and VGG-16's 3x3 layers. `--quick` runs in seconds; `--winograd`
// runs only the Winograd section (`--layer 224` only the layers whose label contains "224");
// `--line-winograd` only one-dimensional Winograd F(4, r) against im2col + GEMM on Inception-v3's
// 7×1, 1×7, 3×1 and 1×3 layers; `--depthwise` only the direct depthwise kernels on all twelve of
// EfficientNet-Lite0's depthwise layers (`--layer s2` only the strided ones); on a loaded machine, `--repetitions 61` steadies the medians.

import Foundation
import NMTensor

let usage = "Usage: nmtensor-bench [--quick] [--winograd [--layer TEXT]] [--line-winograd] [--packed] [--depthwise [--layer TEXT]] [--repetitions N]  (N ≥ 3 timed runs per case; default 15, 5 with --quick)"
var isQuick = false
var isWinogradOnly = false
var isPackedOnly = false
var isLineWinogradOnly = false
var isDepthwiseOnly = false
var winogradLayerFilter: String?
var requestedRepetitions: Int?
var remaining = Array(CommandLine.arguments.dropFirst())
while !remaining.isEmpty {
    let argument = remaining.removeFirst()
    switch argument {
    case "--quick":
        isQuick = true
    case "--winograd":
        isWinogradOnly = true
    case "--packed":
        isPackedOnly = true
    case "--line-winograd":
        isLineWinogradOnly = true
    case "--depthwise":
        isDepthwiseOnly = true
    case "--layer":
        guard let text = remaining.first else {
            print("nmtensor-bench: --layer needs a text (layers whose label contains it). \(usage)")
            exit(2)
        }
        remaining.removeFirst()
        winogradLayerFilter = text
    case "--repetitions":
        guard let text = remaining.first, let value = Int(text), value >= 3 else {
            print("nmtensor-bench: --repetitions needs an integer ≥ 3. \(usage)")
            exit(2)
        }
        remaining.removeFirst()
        requestedRepetitions = value
    default:
        print("nmtensor-bench: unknown argument '\(argument)'. \(usage)")
        exit(2)
    }
}

#if DEBUG
let buildMode = "debug (numbers are not meaningful; build with -c release)"
#else
let buildMode = "release"
#endif
print("nmtensor-bench \(isQuick ? "--quick" : "(full)")")
print("build: \(buildMode)")
print("threads: ComputeThreads.count = \(ComputeThreads.count); \(ComputeThreads.blasDescription)")
print("")

let repetitions = requestedRepetitions ?? (isQuick ? 5 : 15)

let winogradLayers: [Winograd3x3Layer] = isQuick
    ? [Winograd3x3Layer(label: "ResNet-50 layer3 256@14²", channels: 256, size: 14)]
    : [
        Winograd3x3Layer(label: "ResNet-50 layer1 64@56²", channels: 64, size: 56),
        Winograd3x3Layer(label: "ResNet-50 layer2 128@28²", channels: 128, size: 28),
        Winograd3x3Layer(label: "ResNet-50 layer3 256@14²", channels: 256, size: 14),
        Winograd3x3Layer(label: "ResNet-50 layer4 512@7²", channels: 512, size: 7),
        Winograd3x3Layer(label: "VGG-16 64@224²", channels: 64, size: 224),
        Winograd3x3Layer(label: "VGG-16 128@112²", channels: 128, size: 112),
        Winograd3x3Layer(label: "VGG-16 256@56²", channels: 256, size: 56),
        Winograd3x3Layer(label: "VGG-16 512@28²", channels: 512, size: 28),
        Winograd3x3Layer(label: "VGG-16 512@14²", channels: 512, size: 14),
        Winograd3x3Layer(label: "Inception-v3 stem 32@147²", channels: 32, size: 147),
    ].filter { winogradLayerFilter == nil || $0.label.contains(winogradLayerFilter!) }
if isPackedOnly {
    guard runPackedGEMMBenchmarks(packedGEMMShapes, repetitions: repetitions) else { exit(1) }
    exit(0)
}
if isDepthwiseOnly {
    let layers = liteDepthwiseLayers.filter { winogradLayerFilter == nil || $0.label.contains(winogradLayerFilter!) }
    guard runDepthwiseBenchmarks(layers, repetitions: repetitions) else { exit(1) }
    exit(0)
}
if isLineWinogradOnly {
    guard runLineWinogradBenchmarks(inceptionLineLayers, repetitions: repetitions) else { exit(1) }
    exit(0)
}
if isWinogradOnly {
    guard runWinogradBenchmarks(winogradLayers, repetitions: repetitions) else { exit(1) }
    exit(0)
}
var shapes: [GEMMShape] = [
    GEMMShape(label: "square 1024", m: 1024, k: 1024, n: 1024, repetitions: repetitions),
]
if !isQuick {
    shapes.append(GEMMShape(label: "square 2048", m: 2048, k: 2048, n: 2048, repetitions: max(9, repetitions * 3 / 5)))
}
shapes += [
    GEMMShape(label: "ResNet-50 layer1 3x3 (64x576·3136)", m: 64, k: 576, n: 3136, repetitions: repetitions * 2),
    GEMMShape(label: "ResNet-50 layer4 3x3 (256x2304·196)", m: 256, k: 2304, n: 196, repetitions: repetitions * 2),
    GEMMShape(label: "ResNet-50 stem 7x7 (64x147·12544)", m: 64, k: 147, n: 12544, repetitions: repetitions * 2),
    GEMMShape(label: "ResNet-50 layer1 Wᵀ·g (576x64·3136)", m: 576, k: 64, n: 3136, transposeA: true, repetitions: repetitions * 2),
]
guard let gemmResults = runGEMMBenchmarks(shapes) else { exit(1) }
let worst = gemmResults.map(\.ratio).max() ?? 1
let worstPaired = gemmResults.map(\.pairedRatio).max() ?? 1
print("worst NMTensor/direct time ratio: \(String(format: "%.3f", worst)) (ratio of medians), "
    + "\(String(format: "%.3f", worstPaired)) (median of paired ratios) — \(max(worst, worstPaired) <= 1.05 ? "within" : "NOT within") 5 %")
print("")

runIm2colBenchmark(
    label: "im2col ResNet-50 layer1 3x3, 64ch 56x56 pad 1",
    geometry: ConvGeometry(channels: 64, inputHeight: 56, inputWidth: 56, kernelHeight: 3, kernelWidth: 3, padding: Padding2D(1)),
    repetitions: repetitions * 2)
print("")

// Four of Lite0's depthwise layers (`--depthwise` runs all twelve): both strides at 112², 56² and 14².
let representativeDepthwise = ["96ch 112x112 3x3 s2", "144ch 56x56 3x3 s1", "672ch 14x14 5x5 s1", "672ch 14x14 5x5 s2"]
let layers = liteDepthwiseLayers.filter { layer in representativeDepthwise.contains { layer.label.hasSuffix($0) } }
guard runDepthwiseBenchmarks(layers, repetitions: repetitions) else { exit(1) }
print("")

guard runWinogradBenchmarks(winogradLayers, repetitions: repetitions) else { exit(1) }
print("")

guard runLineWinogradBenchmarks(isQuick ? [inceptionLineLayers[0]] : inceptionLineLayers, repetitions: repetitions) else { exit(1) }
