import Foundation
import NMNets
import NMTensor
import NMTestSupport
import Testing

@Suite struct TrainingTests {
    @Test func syntheticTaskIsDeterministicBalancedAndDecidedByThePattern() {
        let (images, labels, boxes) = SyntheticPatternTask.make(count: 40, seed: 5)
        let again = SyntheticPatternTask.make(count: 40, seed: 5)
        #expect(images == again.images && labels == again.labels && boxes == again.boxes)
        #expect(SyntheticPatternTask.make(count: 40, seed: 6).images != images)
        #expect(images.shape == [40, 3, 32, 32])
        #expect(images.scalars.allSatisfy { (0...1).contains($0) })
        #expect((0..<5).allSatisfy { label in labels.filter { $0 == label }.count == 8 })
        #expect(Set(boxes.map { $0.top }).count > 5 && Set(boxes.map { $0.left }).count > 5)

        // Inside the box each pattern class has the same mean colour; outside it every channel is
        // grey (0.5 ± 0.15) or black (an occluding rectangle).
        for (index, box) in boxes.enumerated() where labels[index] != SyntheticPatternTask.noneLabel {
            #expect(box.height == 8 && box.width == 8 && box.top >= 0 && box.left >= 0 && box.top + 8 <= 32 && box.left + 8 <= 32)
            for channel in 0..<3 {
                var inside = 0.0
                var outsideRange: ClosedRange<Float> = 0.5...0.5
                for row in 0..<32 {
                    for column in 0..<32 {
                        let value = images[index, channel, row, column]
                        if box.contains(row: row, column: column) {
                            inside += Double(value)
                        } else if value != 0 {
                            outsideRange = min(outsideRange.lowerBound, value)...max(outsideRange.upperBound, value)
                        }
                    }
                }
                #expect(abs(inside / 64 - Double(SyntheticPatternTask.meanColour[channel])) < 0.02, "image \(index) channel \(channel)")
                #expect(outsideRange.lowerBound >= 0.34 && outsideRange.upperBound <= 0.66)
            }
        }
        // Horizontal stripes: rows 0–1 of the box are brighter than rows 2–3; vertical ones likewise by column.
        let horizontal = boxes[0], vertical = boxes[1]
        #expect(images[0, 0, horizontal.top, horizontal.left] > images[0, 0, horizontal.top + 2, horizontal.left] + 0.3)
        #expect(images[1, 0, vertical.top, vertical.left] > images[1, 0, vertical.top, vertical.left + 2] + 0.3)
        let mask = boxes[2].mask(height: 32, width: 32)
        #expect(mask.scalars.reduce(0, +) == 64 && mask[boxes[2].top + 7, boxes[2].left + 7] == 1)
    }

    /// The shared classifier of the explainer tests: it must classify held-out images and lose
    /// that ability when the pattern is painted over with grey.
    @Test func syntheticClassifierReachesHighHeldOutAccuracyFromThePatternAlone() {
        let start = Date()
        let (classifier, testImages, testLabels, testBoxes) = SyntheticPatternTask.trainedClassifier()
        let accuracy = Trainer.accuracy(of: classifier.network, images: testImages, labels: testLabels)
        print("synthetic pattern classifier: held-out accuracy \(accuracy) on \(testLabels.count) images (\(Date().timeIntervalSince(start)) s incl. training)")
        #expect(accuracy >= 0.9)
        #expect(classifier.classNames == ["horizontal", "vertical", "checker", "square", "none"])
        let black = Tensor.zeros([1, 3, 32, 32])
        #expect(classifier.logits(black).argmax() == SyntheticPatternTask.noneLabel, "a black image means no pattern")
        #expect(classifier.network.entries.first?.name == "normalize")

        var covered = testImages
        for (index, box) in testBoxes.enumerated() {
            for channel in 0..<3 {
                for row in box.top..<(box.top + box.height) {
                    for column in box.left..<(box.left + box.width) { covered[index, channel, row, column] = 0.5 }
                }
            }
        }
        let coveredAccuracy = Trainer.accuracy(of: classifier.network, images: covered, labels: testLabels)
        print("synthetic pattern classifier: accuracy with the pattern painted grey \(coveredAccuracy)")
        #expect(coveredAccuracy <= 0.4)  // only the "none" images (a fifth) stay right
    }

    @Test func trainingIsDeterministicForASeed() {
        let (images, labels, _) = SyntheticPatternTask.make(count: 48, seed: 9)
        let initial = SyntheticPatternTask.network().randomlyInitialized(seed: 10)
        func trainOneEpoch(seed: UInt64) -> (Sequential, [EpochSummary]) {
            var network = initial
            var optimizer = Adam(learningRate: 1e-3)
            var reported: [EpochSummary] = []
            let summaries = Trainer.train(
                &network, images: images, labels: labels, epochs: 1, batchSize: 10, optimizer: &optimizer, seed: seed,
                progress: { reported.append($0) })
            #expect(reported == summaries)
            return (network, summaries)
        }
        let (first, firstSummaries) = trainOneEpoch(seed: 3)
        let (second, secondSummaries) = trainOneEpoch(seed: 3)
        let (other, _) = trainOneEpoch(seed: 4)
        let firstTensors = first.namedTensors()
        #expect(firstTensors.map(\.name) == second.namedTensors().map(\.name))
        #expect(zip(firstTensors, second.namedTensors()).allSatisfy { $0.tensor == $1.tensor })
        #expect(firstSummaries == secondSummaries)
        #expect(firstSummaries.count == 1 && firstSummaries[0].epoch == 0 && firstSummaries[0].meanLoss.isFinite)
        #expect(!zip(firstTensors, initial.namedTensors()).allSatisfy { $0.tensor == $1.tensor })
        // Another shuffle order gives other weights.
        #expect(!zip(firstTensors, other.namedTensors()).allSatisfy { $0.tensor == $1.tensor })
    }

    /// With the learning rate so small that the weights barely move, the epoch's mean loss and
    /// accuracy are those of the initial network on the whole set, whatever the batch split.
    @Test func epochSummaryAveragesOverExamplesAndAccuracyCountsArgmaxHits() {
        let (images, labels, _) = SyntheticPatternTask.make(count: 23, imageSize: 16, seed: 12)
        let initial = SyntheticPatternTask.network().randomlyInitialized(seed: 13)
        var network = initial
        var optimizer = SGD(learningRate: 1e-9)
        let summary = Trainer.train(&network, images: images, labels: labels, epochs: 1, batchSize: 5, optimizer: &optimizer, seed: 1)[0]
        let logits = initial(images)
        let expectedLoss = crossEntropy(logits: logits, targets: labels).loss
        let predicted = logits.argmax(alongAxis: 1)
        let expectedAccuracy = Float(zip(predicted, labels).filter { $0 == $1 }.count) / 23
        #expect(abs(summary.meanLoss - expectedLoss) < 1e-4 * max(1, expectedLoss))
        #expect(summary.accuracy == expectedAccuracy)
        #expect(Trainer.accuracy(of: initial, images: images, labels: labels, batchSize: 4) == expectedAccuracy)
        #expect(Trainer.predictions(of: initial, images: images, batchSize: 7) == predicted)
    }

    @Test func accuracyOfAnIdentityClassifierCountsMatches() {
        // Logits equal the three pixels, so the prediction is the brightest channel.
        let network = Sequential([
            .init("flatten", Flatten()),
            .init("fc", Linear(weight: Tensor(shape: [3, 3], scalars: [1, 0, 0, 0, 1, 0, 0, 0, 1]))),
        ])
        let images = Tensor(shape: [4, 3, 1, 1], scalars: [0.9, 0.1, 0.2, 0.1, 0.8, 0.3, 0.0, 0.2, 0.7, 0.6, 0.5, 0.4])
        #expect(Trainer.predictions(of: network, images: images, batchSize: 3) == [0, 1, 2, 0])
        #expect(Trainer.accuracy(of: network, images: images, labels: [0, 1, 1, 2], batchSize: 3) == 0.5)
    }
}
