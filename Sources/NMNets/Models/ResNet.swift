import NMTensor

/// ResNet-18 and ResNet-50 (He et al. 2016) wired and named exactly as torchvision's
/// `resnet18`/`resnet50` (v1.5: the stride of a bottleneck sits on its 3×3 convolution).
/// `baseWidth` scales every width (64 in torchvision); tests use narrow copies.
public enum ResNet {
    public enum Depth: Sendable {
        /// BasicBlock × [2, 2, 2, 2]
        case resnet18
        /// Bottleneck × [3, 4, 6, 3]
        case resnet50

        var blockCounts: [Int] { self == .resnet18 ? [2, 2, 2, 2] : [3, 4, 6, 3] }
        var expansion: Int { self == .resnet18 ? 1 : 4 }
    }

    /// The network on normalised input `[N, 3, H, W]` → logits `[N, classCount]`, zero weights.
    public static func network(depth: Depth, baseWidth: Int = 64, classCount: Int = 1000) -> Sequential {
        var inputChannels = baseWidth
        var stages: [Sequential.Entry] = []
        for (stageIndex, blockCount) in depth.blockCounts.enumerated() {
            let width = baseWidth << stageIndex
            var blocks: [Sequential.Entry] = []
            for blockIndex in 0..<blockCount {
                let stride = stageIndex > 0 && blockIndex == 0 ? 2 : 1
                let block = depth == .resnet18
                    ? basicBlock(inputChannels: inputChannels, width: width, stride: stride)
                    : bottleneck(inputChannels: inputChannels, width: width, stride: stride)
                blocks.append(.init(String(blockIndex), block))
                inputChannels = width * depth.expansion
            }
            stages.append(.init("layer\(stageIndex + 1)", Sequential(blocks)))
        }
        return Sequential(
            [
                .init("conv1", Conv2d(inputChannels: 3, outputChannels: baseWidth, kernelSize: 7, stride: 2, padding: .symmetric(3), hasBias: false)),
                .init("bn1", BatchNorm2d(channels: baseWidth)),
                .init("relu", Activation.relu),
                .init("maxpool", MaxPool2d(kernelSize: 3, stride: 2, padding: 1)),
            ] + stages + [
                .init("avgpool", GlobalAveragePool()),
                .init("fc", Linear(inputFeatures: inputChannels, outputFeatures: classCount)),
            ])
    }

    private static func convolution(_ input: Int, _ output: Int, kernel: Int, stride: Int = 1) -> Conv2d {
        Conv2d(inputChannels: input, outputChannels: output, kernelSize: kernel, stride: stride, padding: .symmetric(kernel / 2), hasBias: false)
    }

    /// torchvision's `downsample`: 1×1 convolution with stride + BatchNorm, or nil (identity).
    private static func downsample(_ input: Int, _ output: Int, stride: Int) -> Sequential? {
        guard stride != 1 || input != output else { return nil }
        return Sequential([
            .init("downsample.0", convolution(input, output, kernel: 1, stride: stride)),
            .init("downsample.1", BatchNorm2d(channels: output)),
        ])
    }

    /// conv3×3 → BN → ReLU → conv3×3 → BN, + shortcut, → ReLU.
    static func basicBlock(inputChannels: Int, width: Int, stride: Int) -> Sequential {
        let body = Sequential([
            .init("conv1", convolution(inputChannels, width, kernel: 3, stride: stride)),
            .init("bn1", BatchNorm2d(channels: width)),
            .init("relu1", Activation.relu),
            .init("conv2", convolution(width, width, kernel: 3)),
            .init("bn2", BatchNorm2d(channels: width)),
        ])
        return Sequential([
            .init("", Residual(body: body, shortcut: downsample(inputChannels, width, stride: stride))),
            .init("relu", Activation.relu),
        ])
    }

    /// conv1×1 → BN → ReLU → conv3×3 (stride) → BN → ReLU → conv1×1 (×4) → BN, + shortcut, → ReLU.
    static func bottleneck(inputChannels: Int, width: Int, stride: Int) -> Sequential {
        let output = width * 4
        let body = Sequential([
            .init("conv1", convolution(inputChannels, width, kernel: 1)),
            .init("bn1", BatchNorm2d(channels: width)),
            .init("relu1", Activation.relu),
            .init("conv2", convolution(width, width, kernel: 3, stride: stride)),
            .init("bn2", BatchNorm2d(channels: width)),
            .init("relu2", Activation.relu),
            .init("conv3", convolution(width, output, kernel: 1)),
            .init("bn3", BatchNorm2d(channels: output)),
        ])
        return Sequential([
            .init("", Residual(body: body, shortcut: downsample(inputChannels, output, stride: stride))),
            .init("relu", Activation.relu),
        ])
    }
}
