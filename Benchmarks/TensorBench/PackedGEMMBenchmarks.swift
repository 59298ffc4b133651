// A convolution's GEMM with the weight packed once (`PackedMatrix`) against NMTensor's OpenBLAS
// path (`matmul`, which packs both operands on every call), same operands, alternating.

import Foundation
import NMTensor

/// One weight-times-activations product: `[M, K] · [K, N]`.
struct PackedGEMMShape {
    var label: String
    var m: Int
    var k: Int
    var n: Int

    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
}

/// Times every shape, printing one line each; false if the two paths disagree.
func runPackedGEMMBenchmarks(_ shapes: [PackedGEMMShape], repetitions: Int) -> Bool {
    print("conv GEMM: packed weight (PackedMatrix, FMA kernel: \(PackedMatrix.hasFusedMultiplyAdd)) vs OpenBLAS matmul; median of \(repetitions)")
    print(left("shape", 40) + right("M", 6) + right("K", 6) + right("N", 7) + right("packed", 10) + right("OpenBLAS", 10) + right("ratio", 8))
    for shape in shapes {
        var generator = SeededGenerator(seed: 1)
        let weight = Tensor.uniform([shape.m, shape.k], low: -1, high: 1, generator: &generator)
        let input = Tensor.uniform([1, shape.k, shape.n], low: -1, high: 1, generator: &generator)
        let packed = PackedMatrix(weight, rows: shape.m, columns: shape.k)
        let reference = matmul(weight, input)
        let packedResult = matmul(packed, input)
        let scale = max(1, reference.scalars.map(abs).max() ?? 1)
        let difference = zip(reference.scalars, packedResult.scalars).map { abs($0 - $1) }.max() ?? 0
        guard difference <= 1e-5 * scale * Float(shape.k).squareRoot() else {
            print("\(shape.label): packed and OpenBLAS products disagree: max |Δ| = \(difference)")
            return false
        }
        // Each side in its own workspace, as in a network's pass: the output buffer is reused, not
        // faulted in anew (4.8 MB for Lite0's 112² expand, more than its multiply-adds cost).
        let (packedWorkspace, blasWorkspace) = (TensorWorkspace(), TensorWorkspace())
        let times = alternate(
            repetitions: repetitions,
            { packedWorkspace.run { blackHole(matmul(packed, input).scalars[0]) } },
            { blasWorkspace.run { blackHole(matmul(weight, input).scalars[0]) } })
        let (packedTime, blasTime) = (median(times.first), median(times.second))
        print(left(shape.label, 40) + right("\(shape.m)", 6) + right("\(shape.k)", 6) + right("\(shape.n)", 7)
            + right(String(format: "%.1f", shape.flops / packedTime / 1e9), 10)
            + right(String(format: "%.1f", shape.flops / blasTime / 1e9), 10) + right(String(format: "%.3f", packedTime / blasTime), 8))
    }
    print("(GFLOP/s; ratio = packed time / OpenBLAS time)")
    return true
}

/// EfficientNet-Lite0, ResNet-50 and Inception-v3 convolution GEMMs, forward (weight · columns) and input
/// gradient (weightᵀ · gradient).
let packedGEMMShapes: [PackedGEMMShape] = [
    PackedGEMMShape(label: "Lite0 stem 3x3 s2 (32x27·12544)", m: 32, k: 27, n: 12544),
    PackedGEMMShape(label: "Lite0 1x1 project (16x32·12544)", m: 16, k: 32, n: 12544),
    PackedGEMMShape(label: "Lite0 1x1 expand (96x16·12544)", m: 96, k: 16, n: 12544),
    PackedGEMMShape(label: "Lite0 1x1 expand (144x24·3136)", m: 144, k: 24, n: 3136),
    PackedGEMMShape(label: "Lite0 1x1 project (24x144·3136)", m: 24, k: 144, n: 3136),
    PackedGEMMShape(label: "Lite0 1x1 expand (480x80·196)", m: 480, k: 80, n: 196),
    PackedGEMMShape(label: "Lite0 1x1 head (1280x320·49)", m: 1280, k: 320, n: 49),
    PackedGEMMShape(label: "Lite0 1x1 expand 7² (1152x192·49)", m: 1152, k: 192, n: 49),
    PackedGEMMShape(label: "Lite0 1x1 expand 7² grad (192x1152·49)", m: 192, k: 1152, n: 49),
    PackedGEMMShape(label: "Lite0 1x1 expand 14² (672x112·196)", m: 672, k: 112, n: 196),
    PackedGEMMShape(label: "Lite0 1x1 expand 14² grad (112x672·196)", m: 112, k: 672, n: 196),
    PackedGEMMShape(label: "Lite0 1x1 expand grad (16x96·12544)", m: 16, k: 96, n: 12544),
    PackedGEMMShape(label: "Lite0 1x1 expand 56² grad (24x144·3136)", m: 24, k: 144, n: 3136),
    PackedGEMMShape(label: "ResNet-50 1x1 (256x64·3136)", m: 256, k: 64, n: 3136),
    PackedGEMMShape(label: "ResNet-50 1x1 (64x256·3136)", m: 64, k: 256, n: 3136),
    PackedGEMMShape(label: "ResNet-50 1x1 (1024x256·196)", m: 1024, k: 256, n: 196),
    PackedGEMMShape(label: "ResNet-50 1x1 (2048x512·49)", m: 2048, k: 512, n: 49),
    PackedGEMMShape(label: "ResNet-50 3x3 7² (512x4608·49)", m: 512, k: 4608, n: 49),
    PackedGEMMShape(label: "ResNet-50 3x3 7² grad (4608x512·49)", m: 4608, k: 512, n: 49),
    PackedGEMMShape(label: "ResNet-50 stem (64x147·12544)", m: 64, k: 147, n: 12544),
    PackedGEMMShape(label: "Inception 1x1 35² (64x288·1225)", m: 64, k: 288, n: 1225),
    PackedGEMMShape(label: "Inception 5x5 35² (64x1200·1225)", m: 64, k: 1200, n: 1225),
    PackedGEMMShape(label: "Inception 1x7 17² (192x1344·289)", m: 192, k: 1344, n: 289),
    PackedGEMMShape(label: "Inception 1x7 17² grad (1344x192·289)", m: 1344, k: 192, n: 289),
    PackedGEMMShape(label: "Inception 1x1 17² (192x768·289)", m: 192, k: 768, n: 289),
    PackedGEMMShape(label: "Inception 3x3 s2 (384x2592·289)", m: 384, k: 2592, n: 289),
    PackedGEMMShape(label: "Inception 1x3 8² (384x1152·64)", m: 384, k: 1152, n: 64),
    PackedGEMMShape(label: "Inception 1x1 8² (320x2048·64)", m: 320, k: 2048, n: 64),
    PackedGEMMShape(label: "Inception Winograd 147² (64x32·1369)", m: 64, k: 32, n: 1369),
    PackedGEMMShape(label: "Inception Winograd 35² (96x96·81)", m: 96, k: 96, n: 81),
]
