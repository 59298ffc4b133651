import NMTensor

/// The CIFAR-10 network of the NeuroMask authors' CIFAR demo (Carlini & Wagner's Keras model):
/// conv3×3 64, conv3×3 64, max pool 2, conv3×3 128, conv3×3 128, max pool 2, dense 256,
/// dense 256, dense 10, ReLU between. Keras "valid" convolutions: 32 → 30 → 28 → 14 → 12 → 10 → 5.
/// Named like a PyTorch `nn.Sequential` port (`features.0/2/5/7`, `classifier.0/2/4`); the flatten
/// is PyTorch's (C, H, W) order. Widths are parameters so tests can use narrow copies.
public enum CIFARNet {
    /// The network on its input `[N, 3, 32, 32]` → logits `[N, classCount]`, zero weights.
    public static func network(convolutionWidths: (Int, Int) = (64, 128), hiddenFeatures: Int = 256, classCount: Int = 10) -> Sequential {
        let (first, second) = convolutionWidths
        let features = Sequential([
            .init("0", Conv2d(inputChannels: 3, outputChannels: first, kernelSize: 3)),
            .init("1", Activation.relu),
            .init("2", Conv2d(inputChannels: first, outputChannels: first, kernelSize: 3)),
            .init("3", Activation.relu),
            .init("4", MaxPool2d(kernelSize: 2)),
            .init("5", Conv2d(inputChannels: first, outputChannels: second, kernelSize: 3)),
            .init("6", Activation.relu),
            .init("7", Conv2d(inputChannels: second, outputChannels: second, kernelSize: 3)),
            .init("8", Activation.relu),
            .init("9", MaxPool2d(kernelSize: 2)),
        ])
        let classifier = Sequential([
            .init("0", Linear(inputFeatures: second * 5 * 5, outputFeatures: hiddenFeatures)),
            .init("1", Activation.relu),
            .init("2", Linear(inputFeatures: hiddenFeatures, outputFeatures: hiddenFeatures)),
            .init("3", Activation.relu),
            .init("4", Linear(inputFeatures: hiddenFeatures, outputFeatures: classCount)),
        ])
        return Sequential([.init("features", features), .init("flatten", Flatten()), .init("classifier", classifier)])
    }

    /// The authors feed `pixels − 0.5` (pixels in [0, 1]).
    public static let normalization = Normalization(mean: [0.5, 0.5, 0.5], standardDeviation: [1, 1, 1])
}
