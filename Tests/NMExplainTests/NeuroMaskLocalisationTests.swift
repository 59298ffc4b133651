import NMExplain
import NMNets
import NMTensor
import NMTestSupport
import Testing

/// The share of a non-negative map's mass that lies inside a box.
func massInside(_ map: Tensor, _ box: PatternBox) -> Float {
    let inside = (map * box.mask(height: map.shape[0], width: map.shape[1])).sum().scalar
    return inside / max(map.sum().scalar, .leastNonzeroMagnitude)
}

/// On a CNN trained here on images whose class is decided only by an 8×8 pattern at a random
/// place (6.25% of a 32×32 image; a black image means "no pattern"), NeuroMask's mask must put
/// at least 35% of its mass — over 5× chance — on that place, averaged over one image per
/// class, for each preset and seed.
@Suite(.serialized) struct NeuroMaskLocalisationTests {
    static let task = SyntheticPatternTask.trainedClassifier()

    /// One test image of each class.
    static let examples: [Int] = (0..<4).map { label in task.testLabels.firstIndex(of: label)! }

    @Test(arguments: NeuroMaskPreset.allCases, [0, 1] as [UInt64])
    func maskConcentratesOnThePattern(preset: NeuroMaskPreset, seed: UInt64) throws {
        var configuration = preset.configuration(imageSize: 32)
        configuration.seed = seed
        let neuroMask = NeuroMask(classifier: Self.task.classifier, configuration: configuration)
        var shares: [Float] = []
        for index in Self.examples {
            let image = Self.task.testImages.sliced(alongAxis: 0, index..<(index + 1))
            let result = try neuroMask.run(image, target: Self.task.testLabels[index])
            shares.append(massInside(result.mask, Self.task.testBoxes[index]))
        }
        let mean = shares.reduce(0, +) / Float(shares.count)
        print("NeuroMask \(preset.rawValue) seed \(seed): mass inside the pattern box \(shares), mean \(mean)")
        #expect(mean >= 0.35, "mean mass inside the 6.25% box \(mean) (shares \(shares))")
    }
}
