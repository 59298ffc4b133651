import NMTensor

/// VGG-16 (Simonyan & Zisserman 2015, configuration D, no BatchNorm) wired and named exactly as
/// torchvision's `vgg16`: `features.0` … `features.28`, adaptive average pooling to 7×7,
/// `classifier.0/3/6`. `widthDivisor` and `hiddenFeatures` shrink it for tests.
public enum VGG16 {
    /// Channel counts of the 13 convolutions; `nil` marks a 2×2 max pool.
    static let configuration: [Int?] = [64, 64, nil, 128, 128, nil, 256, 256, 256, nil, 512, 512, 512, nil, 512, 512, 512, nil]

    /// The network on normalised input `[N, 3, H, W]` → logits `[N, classCount]`, zero weights.
    public static func network(widthDivisor: Int = 1, hiddenFeatures: Int = 4096, classCount: Int = 1000) -> Sequential {
        var features: [Sequential.Entry] = []
        var channels = 3
        for item in configuration {
            if let width = item {
                let output = width / widthDivisor
                features.append(.init(String(features.count), Conv2d(inputChannels: channels, outputChannels: output, kernelSize: 3, padding: .symmetric(1))))
                features.append(.init(String(features.count), Activation.relu))
                channels = output
            } else {
                features.append(.init(String(features.count), MaxPool2d(kernelSize: 2, stride: 2)))
            }
        }
        let classifier = Sequential([
            .init("0", Linear(inputFeatures: channels * 7 * 7, outputFeatures: hiddenFeatures)),
            .init("1", Activation.relu),
            .init("2", Dropout(probability: 0.5)),
            .init("3", Linear(inputFeatures: hiddenFeatures, outputFeatures: hiddenFeatures)),
            .init("4", Activation.relu),
            .init("5", Dropout(probability: 0.5)),
            .init("6", Linear(inputFeatures: hiddenFeatures, outputFeatures: classCount)),
        ])
        return Sequential([
            .init("features", Sequential(features)),
            .init("avgpool", AdaptiveAvgPool2d(outputHeight: 7, outputWidth: 7)),
            .init("flatten", Flatten()),
            .init("classifier", classifier),
        ])
    }
}
