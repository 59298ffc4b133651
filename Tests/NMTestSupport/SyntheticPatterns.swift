import NMNets
import NMTensor

/// Where the class-deciding pattern of a synthetic image lies, in pixels.
public struct PatternBox: Sendable, Equatable {
    public let top: Int
    public let left: Int
    public let height: Int
    public let width: Int

    public init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top
        self.left = left
        self.height = height
        self.width = width
    }

    /// Whether the pixel at (`row`, `column`) lies inside the box.
    public func contains(row: Int, column: Int) -> Bool {
        (top..<(top + height)).contains(row) && (left..<(left + width)).contains(column)
    }

    /// A `[height, width]` map that is 1 inside the box and 0 elsewhere.
    public func mask(height imageHeight: Int, width imageWidth: Int) -> Tensor {
        var mask = Tensor.zeros([imageHeight, imageWidth])
        for row in 0..<imageHeight {
            for column in 0..<imageWidth where contains(row: row, column: column) { mask[row, column] = 1 }
        }
        return mask
    }
}

/// A four-class image task whose class is decided only by a small pattern at a random position,
/// so a correct explanation must concentrate on the pattern's box.
///
/// Each image is a low-contrast noise background (every channel near 0.5) with one 8×8 pattern:
/// class 0 horizontal stripes, 1 vertical stripes, 2 a checkerboard (stripes and squares two
/// pixels wide), 3 a solid square. Every pattern is `meanColour + amplitude · s` with `s ∈ {−1, +1}`
/// averaging 0 over the pattern (0 everywhere for the square), so all four have the same mean
/// colour and only the texture tells them apart.
public enum SyntheticPatternTask {
    /// Side of the square pattern in pixels.
    public static let patternSize = 8
    /// The class labels by index.
    public static let classNames = ["horizontal", "vertical", "checker", "square", "none"]
    /// The label of images without a pattern (including wholly black ones).
    public static let noneLabel = 4
    /// The pattern's mean colour (R, G, B); every class shares it.
    public static let meanColour: [Float] = [0.8, 0.35, 0.2]
    /// How far the stripes and checks depart from the mean colour.
    public static let amplitude: Float = 0.2

    /// `count` images with labels 0, 1, 2, 3, 4, 0, 1, … (balanced) and the box of each pattern.
    /// Class 4 ("none") has no pattern (its box marks where one would be). Half of all images
    /// get a black rectangle that never touches the pattern, and a fifth of the "none" images
    /// are wholly black, so the network learns that black means "nothing here" — what the
    /// paper's black substrate assumes of a model. Deterministic for a seed.
    /// - Parameters:
    ///   - count: ≥ 0.
    ///   - imageSize: side S of the square images, ≥ 8.
    /// - Returns: images `[count, 3, S, S]` in [0, 1], labels in 0..<5, one 8×8 box per image.
    public static func make(count: Int, imageSize: Int = 32, seed: UInt64) -> (images: Tensor, labels: [Int], boxes: [PatternBox]) {
        precondition(count >= 0 && imageSize >= patternSize, "SyntheticPatternTask.make: count \(count), image size \(imageSize)")
        var generator = SeededGenerator(seed: seed)
        let plane = imageSize * imageSize
        var scalars = [Float](repeating: 0, count: count * 3 * plane)
        var labels: [Int] = []
        var boxes: [PatternBox] = []
        for index in 0..<count {
            let label = index % classNames.count
            let top = Int(generator.next() % UInt64(imageSize - patternSize + 1))
            let left = Int(generator.next() % UInt64(imageSize - patternSize + 1))
            let box = PatternBox(top: top, left: left, height: patternSize, width: patternSize)
            let occlusion = blackRectangle(avoiding: label == noneLabel ? nil : box, imageSize: imageSize, generator: &generator)
            let isBlank = label == noneLabel && generator.nextUnitFloat() < 0.2
            for channel in 0..<3 {
                // Background: a per-image shade of grey plus per-pixel noise, all within 0.5 ± 0.15.
                let shade = 0.5 + 0.1 * (generator.nextUnitFloat() - 0.5)
                let base = (index * 3 + channel) * plane
                for row in 0..<imageSize {
                    for column in 0..<imageSize {
                        let noise = 0.2 * (generator.nextUnitFloat() - 0.5)
                        var value = shade + noise
                        if label != noneLabel && box.contains(row: row, column: column) {
                            let sign = patternSign(label: label, row: row - top, column: column - left)
                            value = meanColour[channel] + amplitude * sign + 0.25 * noise
                        }
                        if isBlank || occlusion?.contains(row: row, column: column) == true { value = 0 }
                        scalars[base + row * imageSize + column] = min(max(value, 0), 1)
                    }
                }
            }
            labels.append(label)
            boxes.append(box)
        }
        return (Tensor(shape: [count, 3, imageSize, imageSize], scalars: scalars), labels, boxes)
    }

    /// With probability ½, a random black rectangle that does not overlap `box` (or `nil`).
    static func blackRectangle(avoiding box: PatternBox?, imageSize: Int, generator: inout SeededGenerator) -> PatternBox? {
        guard generator.nextUnitFloat() < 0.5 else { return nil }
        let height = 4 + Int(generator.next() % UInt64(imageSize - 3))
        let width = 4 + Int(generator.next() % UInt64(imageSize - 3))
        let top = Int(generator.next() % UInt64(imageSize - min(height, imageSize) + 1))
        let left = Int(generator.next() % UInt64(imageSize - min(width, imageSize) + 1))
        let rectangle = PatternBox(top: top, left: left, height: min(height, imageSize - top), width: min(width, imageSize - left))
        guard let box else { return rectangle }
        let overlaps = rectangle.top < box.top + box.height && box.top < rectangle.top + rectangle.height
            && rectangle.left < box.left + box.width && box.left < rectangle.left + rectangle.width
        return overlaps ? nil : rectangle
    }

    /// The sign of the pattern of class `label` at (`row`, `column`) inside its box: ±1 for the
    /// stripes and checks (half of each), 0 for the solid square.
    static func patternSign(label: Int, row: Int, column: Int) -> Float {
        let (band, bar) = ((row / 2) % 2, (column / 2) % 2)
        switch label {
        case 0: return band == 0 ? 1 : -1
        case 1: return bar == 0 ? 1 : -1
        case 2: return (band + bar) % 2 == 0 ? 1 : -1
        default: return 0
        }
    }

    /// The network trained by `trainedClassifier`, before normalisation, with zero weights:
    /// conv3×3 8, ReLU, max pool 2, conv3×3 16, ReLU, max pool 2, conv3×3 32, ReLU, global
    /// average pool, linear 32 → 5 (padding 1 throughout, so any input side ≥ 4 works).
    public static func network() -> Sequential {
        Sequential([
            .init("conv1", Conv2d(inputChannels: 3, outputChannels: 8, kernelSize: 3, padding: .symmetric(1))),
            .init("relu1", Activation.relu),
            .init("pool1", MaxPool2d(kernelSize: 2)),
            .init("conv2", Conv2d(inputChannels: 8, outputChannels: 16, kernelSize: 3, padding: .symmetric(1))),
            .init("relu2", Activation.relu),
            .init("pool2", MaxPool2d(kernelSize: 2)),
            .init("conv3", Conv2d(inputChannels: 16, outputChannels: 32, kernelSize: 3, padding: .symmetric(1))),
            .init("relu3", Activation.relu),
            .init("pool", GlobalAveragePool()),
            .init("fc", Linear(inputFeatures: 32, outputFeatures: classNames.count)),
        ])
    }

    /// How `trainedClassifier` trains: examples, epochs, batch size and Adam's learning rate.
    public static let trainingCount = 1000
    public static let testCount = 200
    public static let epochs = 7
    public static let batchSize = 32
    public static let learningRate: Float = 3e-3

    /// A classifier trained on this task (Adam, He-uniform initialisation, everything seeded)
    /// with a held-out test set of `testCount` images. For the default seed the result is
    /// computed once per process and shared.
    /// - Returns: the classifier (pixels in [0, 1] → 4 logits; input normalised with mean 0.5 and
    ///   standard deviation 0.25 in its "normalize" entry), and test images `[200, 3, 32, 32]`,
    ///   labels and boxes.
    public static func trainedClassifier(seed: UInt64 = 0) -> (classifier: ImageClassifier, testImages: Tensor, testLabels: [Int], testBoxes: [PatternBox]) {
        seed == 0 ? defaultTrained : train(seed: seed)
    }

    private static let defaultTrained = train(seed: 0)

    private static func train(seed: UInt64) -> (classifier: ImageClassifier, testImages: Tensor, testLabels: [Int], testBoxes: [PatternBox]) {
        let training = make(count: trainingCount, seed: seed &* 4 &+ 1)
        let test = make(count: testCount, seed: seed &* 4 &+ 2)
        var classifier = ImageClassifier(
            name: "synthetic-patterns", normalization: Normalization(mean: [0.5, 0.5, 0.5], standardDeviation: [0.25, 0.25, 0.25]),
            network: network().randomlyInitialized(seed: seed &* 4 &+ 3), classNames: classNames, inputSize: 32,
            minimumInputSize: 32, acceptsAnySize: true, featureLayer: "relu3")
        var optimizer = Adam(learningRate: learningRate)
        Trainer.train(
            &classifier.network, images: training.images, labels: training.labels, epochs: epochs, batchSize: batchSize,
            optimizer: &optimizer, seed: seed &* 4 &+ 4)
        return (classifier, test.images, test.labels, test.boxes)
    }
}
