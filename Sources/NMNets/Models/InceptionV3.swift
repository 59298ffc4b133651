import NMTensor

/// Inception-v3 (Szegedy et al. 2016) wired and named exactly as torchvision's `inception_v3`
/// in eval mode without the auxiliary classifier (`aux_logits=False`, `transform_input=False`):
/// `Conv2d_1a_3x3` … `Mixed_7c`, `fc`. Every `BasicConv2d` is conv (no bias) + BatchNorm
/// (ε = 0.001) + ReLU. `widthDivisor` divides every channel count (tests use narrow copies).
/// Input 299×299 (the smallest accepted size is 75×75).
public enum InceptionV3 {
    /// The network on normalised input `[N, 3, H, W]` → logits `[N, classCount]`, zero weights.
    public static func network(widthDivisor: Int = 1, classCount: Int = 1000) -> Sequential {
        let w = { (channels: Int) in channels / widthDivisor }
        return Sequential([
            .init("Conv2d_1a_3x3", basicConv(3, w(32), kernel: (3, 3), stride: 2)),
            .init("Conv2d_2a_3x3", basicConv(w(32), w(32), kernel: (3, 3))),
            .init("Conv2d_2b_3x3", basicConv(w(32), w(64), kernel: (3, 3), padding: (1, 1))),
            .init("maxpool1", MaxPool2d(kernelSize: 3, stride: 2)),
            .init("Conv2d_3b_1x1", basicConv(w(64), w(80), kernel: (1, 1))),
            .init("Conv2d_4a_3x3", basicConv(w(80), w(192), kernel: (3, 3))),
            .init("maxpool2", MaxPool2d(kernelSize: 3, stride: 2)),
            .init("Mixed_5b", inceptionA(w(192), poolFeatures: w(32), w)),
            .init("Mixed_5c", inceptionA(w(256), poolFeatures: w(64), w)),
            .init("Mixed_5d", inceptionA(w(288), poolFeatures: w(64), w)),
            .init("Mixed_6a", inceptionB(w(288), w)),
            .init("Mixed_6b", inceptionC(w(768), channels7x7: w(128), w)),
            .init("Mixed_6c", inceptionC(w(768), channels7x7: w(160), w)),
            .init("Mixed_6d", inceptionC(w(768), channels7x7: w(160), w)),
            .init("Mixed_6e", inceptionC(w(768), channels7x7: w(192), w)),
            .init("Mixed_7a", inceptionD(w(768), w)),
            .init("Mixed_7b", inceptionE(w(1280), w)),
            .init("Mixed_7c", inceptionE(w(2048), w)),
            .init("avgpool", GlobalAveragePool()),
            .init("dropout", Dropout(probability: 0.5)),
            .init("fc", Linear(inputFeatures: w(2048), outputFeatures: classCount)),
        ])
    }

    /// torchvision's `BasicConv2d`: `<name>.conv` + `<name>.bn` + ReLU.
    static func basicConv(_ input: Int, _ output: Int, kernel: (Int, Int), stride: Int = 1, padding: (Int, Int) = (0, 0)) -> Sequential {
        Sequential([
            .init("conv", Conv2d(
                inputChannels: input, outputChannels: output, kernelHeight: kernel.0, kernelWidth: kernel.1, stride: stride,
                padding: .explicit(Padding2D(top: padding.0, bottom: padding.0, left: padding.1, right: padding.1)), hasBias: false)),
            .init("bn", BatchNorm2d(channels: output, epsilon: 1e-3)),
            .init("relu", Activation.relu),
        ])
    }

    /// A branch: named `BasicConv2d`s (or pooling layers) applied in order.
    private static func branch(_ entries: [(String, any Layer)]) -> Sequential {
        Sequential(entries.map { Sequential.Entry($0.0, $0.1) })
    }

    private static let poolSame = AvgPool2d(kernelSize: 3, stride: 1, padding: 1)

    static func inceptionA(_ input: Int, poolFeatures: Int, _ w: (Int) -> Int) -> ChannelConcat {
        ChannelConcat([
            branch([("branch1x1", basicConv(input, w(64), kernel: (1, 1)))]),
            branch([
                ("branch5x5_1", basicConv(input, w(48), kernel: (1, 1))),
                ("branch5x5_2", basicConv(w(48), w(64), kernel: (5, 5), padding: (2, 2))),
            ]),
            branch([
                ("branch3x3dbl_1", basicConv(input, w(64), kernel: (1, 1))),
                ("branch3x3dbl_2", basicConv(w(64), w(96), kernel: (3, 3), padding: (1, 1))),
                ("branch3x3dbl_3", basicConv(w(96), w(96), kernel: (3, 3), padding: (1, 1))),
            ]),
            branch([("avg_pool", poolSame), ("branch_pool", basicConv(input, poolFeatures, kernel: (1, 1)))]),
        ])
    }

    static func inceptionB(_ input: Int, _ w: (Int) -> Int) -> ChannelConcat {
        ChannelConcat([
            branch([("branch3x3", basicConv(input, w(384), kernel: (3, 3), stride: 2))]),
            branch([
                ("branch3x3dbl_1", basicConv(input, w(64), kernel: (1, 1))),
                ("branch3x3dbl_2", basicConv(w(64), w(96), kernel: (3, 3), padding: (1, 1))),
                ("branch3x3dbl_3", basicConv(w(96), w(96), kernel: (3, 3), stride: 2)),
            ]),
            branch([("max_pool", MaxPool2d(kernelSize: 3, stride: 2))]),
        ])
    }

    static func inceptionC(_ input: Int, channels7x7 c7: Int, _ w: (Int) -> Int) -> ChannelConcat {
        ChannelConcat([
            branch([("branch1x1", basicConv(input, w(192), kernel: (1, 1)))]),
            branch([
                ("branch7x7_1", basicConv(input, c7, kernel: (1, 1))),
                ("branch7x7_2", basicConv(c7, c7, kernel: (1, 7), padding: (0, 3))),
                ("branch7x7_3", basicConv(c7, w(192), kernel: (7, 1), padding: (3, 0))),
            ]),
            branch([
                ("branch7x7dbl_1", basicConv(input, c7, kernel: (1, 1))),
                ("branch7x7dbl_2", basicConv(c7, c7, kernel: (7, 1), padding: (3, 0))),
                ("branch7x7dbl_3", basicConv(c7, c7, kernel: (1, 7), padding: (0, 3))),
                ("branch7x7dbl_4", basicConv(c7, c7, kernel: (7, 1), padding: (3, 0))),
                ("branch7x7dbl_5", basicConv(c7, w(192), kernel: (1, 7), padding: (0, 3))),
            ]),
            branch([("avg_pool", poolSame), ("branch_pool", basicConv(input, w(192), kernel: (1, 1)))]),
        ])
    }

    static func inceptionD(_ input: Int, _ w: (Int) -> Int) -> ChannelConcat {
        ChannelConcat([
            branch([
                ("branch3x3_1", basicConv(input, w(192), kernel: (1, 1))),
                ("branch3x3_2", basicConv(w(192), w(320), kernel: (3, 3), stride: 2)),
            ]),
            branch([
                ("branch7x7x3_1", basicConv(input, w(192), kernel: (1, 1))),
                ("branch7x7x3_2", basicConv(w(192), w(192), kernel: (1, 7), padding: (0, 3))),
                ("branch7x7x3_3", basicConv(w(192), w(192), kernel: (7, 1), padding: (3, 0))),
                ("branch7x7x3_4", basicConv(w(192), w(192), kernel: (3, 3), stride: 2)),
            ]),
            branch([("max_pool", MaxPool2d(kernelSize: 3, stride: 2))]),
        ])
    }

    static func inceptionE(_ input: Int, _ w: (Int) -> Int) -> ChannelConcat {
        let split3x3 = ChannelConcat([
            branch([("branch3x3_2a", basicConv(w(384), w(384), kernel: (1, 3), padding: (0, 1)))]),
            branch([("branch3x3_2b", basicConv(w(384), w(384), kernel: (3, 1), padding: (1, 0)))]),
        ])
        let split3x3double = ChannelConcat([
            branch([("branch3x3dbl_3a", basicConv(w(384), w(384), kernel: (1, 3), padding: (0, 1)))]),
            branch([("branch3x3dbl_3b", basicConv(w(384), w(384), kernel: (3, 1), padding: (1, 0)))]),
        ])
        return ChannelConcat([
            branch([("branch1x1", basicConv(input, w(320), kernel: (1, 1)))]),
            branch([("branch3x3_1", basicConv(input, w(384), kernel: (1, 1))), ("", split3x3)]),
            branch([
                ("branch3x3dbl_1", basicConv(input, w(448), kernel: (1, 1))),
                ("branch3x3dbl_2", basicConv(w(448), w(384), kernel: (3, 3), padding: (1, 1))),
                ("", split3x3double),
            ]),
            branch([("avg_pool", poolSame), ("branch_pool", basicConv(input, w(192), kernel: (1, 1)))]),
        ])
    }
}
