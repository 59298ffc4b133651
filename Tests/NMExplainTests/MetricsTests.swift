import Foundation
import NMExplain
import NMNets
import NMTensor
import NMTestSupport
import Testing

// MARK: - Test models and explainers

/// A classifier whose class-0 logit is the linear function Σ w · (x − 0.5) of the pixels and
/// whose class-1 logit is the constant `otherLogit` (normalisation mean 0.5, deviation 1, then
/// Flatten and Linear), so every deletion/insertion probability has a closed form.
/// - Parameter weights: `[3, H, W]` per-pixel weights of class 0.
private func linearPixelClassifier(weights: Tensor, otherLogit: Float) -> ImageClassifier {
    let (height, width) = (weights.shape[1], weights.shape[2])
    let inputs = weights.count
    let linear = Linear(
        weight: Tensor(shape: [2, inputs], scalars: weights.scalars + [Float](repeating: 0, count: inputs)),
        bias: Tensor(shape: [2], scalars: [0, otherLogit]))
    precondition(height == width)
    return ImageClassifier(
        name: "linear", normalization: Normalization(mean: [0.5, 0.5, 0.5], standardDeviation: [1, 1, 1]),
        network: Sequential([.init("flatten", Flatten()), .init("fc", linear)]), classNames: ["object", "other"],
        inputSize: height, minimumInputSize: height, acceptsAnySize: false)
}

/// softmax(logits)[0] of the linear classifier on `pixels` ([1, 3, H, W]), computed in Double.
private func linearProbability(weights: Tensor, otherLogit: Float, pixels: Tensor) -> Float {
    var logit = 0.0
    for index in 0..<weights.count { logit += Double(weights.scalars[index]) * (Double(pixels.scalars[index]) - 0.5) }
    return Float(1 / (1 + exp(Double(otherLogit) - logit)))
}

/// A 16×16 image that is 0.5 ± 0.05 everywhere except a bright 4×4 box (0.9) at rows 5..<9,
/// columns 6..<10, and class-0 weights that are 1 inside the box and 0 elsewhere: the box is
/// all the model sees.
private enum BoxScene {
    static let side = 16
    static let rows = 5..<9
    static let columns = 6..<10
    static let otherLogit: Float = 10

    static func contains(_ pixel: Int) -> Bool { rows.contains(pixel / side) && columns.contains(pixel % side) }

    static let image: Tensor = {
        var image = randomTensor([1, 3, side, side], seed: 21) * 0.05 + 0.5
        for channel in 0..<3 {
            for pixel in 0..<(side * side) where contains(pixel) { image.scalars[channel * side * side + pixel] = 0.9 }
        }
        return image
    }()

    static let weights = Tensor(shape: [3, side, side], scalars: (0..<(3 * side * side)).map { contains($0 % (side * side)) ? 1 : 0 })
    static let classifier = linearPixelClassifier(weights: weights, otherLogit: otherLogit)
    /// 1 on the box, 0 elsewhere: the ideal order for both curves.
    static let oracle = Tensor(shape: [side, side], scalars: (0..<(side * side)).map { contains($0) ? 1 : 0 })
}

/// The plain input gradient of the target logit, summed over channels (enough for the
/// randomisation check, which needs only the Explainer protocol).
private struct InputGradientExplainer: Explainer {
    let classifier: ImageClassifier
    var methodName: String { "test-gradient" }

    func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        let target = target ?? classifier.logits(image).argmax()
        let classCount = classifier.classCount
        let (_, gradPixels) = classifier.inputGradient(image) { logits in
            var oneHot = Tensor.zeros(logits.shape)
            oneHot.scalars[target] = 1
            precondition(logits.shape == [1, classCount])
            return oneHot
        }
        let map = gradPixels.sum(alongAxes: [0, 1])  // [H, W]
        return Saliency(values: map, method: methodName, target: target, forwardPasses: 1, backwardPasses: 1)
    }
}

/// Returns, for target k, a map that is 1 on grid cell k of a `rows × columns` grid and −1
/// elsewhere (the perfect grid-pointing-game answer).
private struct CellOracleExplainer: Explainer {
    let rows: Int
    let columns: Int
    var methodName: String { "cell-oracle" }

    func explain(_ image: Tensor, target: Int?) throws -> Saliency {
        let (height, width) = (image.shape[2], image.shape[3])
        let cell = target ?? 0
        let bounds = GridPointingGame.cellBounds(cell: cell, rows: rows, columns: columns, height: height, width: width)
        var map = Tensor(repeating: -1, shape: [height, width])
        for y in bounds.rows { for x in bounds.columns { map[y, x] = 1 } }
        return Saliency(values: map, method: methodName, target: cell, forwardPasses: 0, backwardPasses: 0)
    }
}

/// Three parameterised layers with smooth activations on 8×8 input (no dead units, so the
/// gradient map never becomes constant).
private func threeLayerTanhClassifier(seed: UInt64 = 4) -> ImageClassifier {
    let network = Sequential([
        .init("conv1", Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, padding: .symmetric(1))),
        .init("tanh1", Activation(.tanh)),
        .init("conv2", Conv2d(inputChannels: 4, outputChannels: 6, kernelSize: 3, padding: .symmetric(1))),
        .init("tanh2", Activation(.tanh)),
        .init("pool", GlobalAveragePool()),
        .init("fc", Linear(inputFeatures: 6, outputFeatures: 3)),
    ]).randomlyInitialized(seed: seed)
    // Non-zero biases, so every bias tensor has a spread for the re-initialisation to redraw.
    var classifier = ImageClassifier(
        name: "tanh3", normalization: Normalization(mean: [0.5, 0.5, 0.5], standardDeviation: [0.25, 0.25, 0.25]), network: network,
        classNames: ["a", "b", "c"], inputSize: 8, minimumInputSize: 8, acceptsAnySize: true)
    var generator = SeededGenerator(seed: seed &+ 100)
    classifier.network.updateTensors(prefix: "") { name, _, tensor in
        if name.hasSuffix("bias") { tensor = Tensor.uniform(tensor.shape, low: -0.3, high: 0.3, generator: &generator) }
    }
    return classifier
}

// MARK: - Deletion and insertion

@Suite struct DeletionInsertionTests {
    /// Ideal order < random order < inverted order for deletion AUC, and the reverse for
    /// insertion, on a linear model that looks only at a 4×4 box. Every probability is also
    /// checked against the closed form σ(Σ w·(x' − 0.5) − 10) of the perturbed image x'.
    @Test func oracleBeatsRandomBeatsInvertedOnLinearModel() throws {
        let side = BoxScene.side
        let metric = DeletionInsertion(classifier: BoxScene.classifier, configuration: .init(step: 4, batchSize: 7))
        let randomMap = randomTensor([side, side], seed: 33)
        let maps = [("oracle", BoxScene.oracle), ("random", randomMap), ("inverted", 1 - BoxScene.oracle)]
        let blurred = gaussianBlur(BoxScene.image, sigma: 5, kernelSize: 11)
        var deletionAUC: [Float] = []
        var insertionAUC: [Float] = []
        for (name, map) in maps {
            let result = try metric.evaluate(image: BoxScene.image, saliency: map, target: 0)
            #expect(result.target == 0 && result.step == 4)
            #expect(result.deletion.probabilities.count == 65 && result.insertion.probabilities.count == 65)
            // Closed form: rank by hand (value descending, index ascending), perturb, evaluate the line.
            let order = (0..<(side * side)).sorted { (map.scalars[$0], -$0) > (map.scalars[$1], -$1) }
            for k in 0...64 {
                var deleted = BoxScene.image
                var inserted = blurred
                for pixel in order.prefix(4 * k) {
                    for channel in 0..<3 {
                        deleted.scalars[channel * side * side + pixel] = 0.5
                        inserted.scalars[channel * side * side + pixel] = BoxScene.image.scalars[channel * side * side + pixel]
                    }
                }
                let expectedDeletion = linearProbability(weights: BoxScene.weights, otherLogit: BoxScene.otherLogit, pixels: deleted)
                let expectedInsertion = linearProbability(weights: BoxScene.weights, otherLogit: BoxScene.otherLogit, pixels: inserted)
                #expect(abs(result.deletion.probabilities[k] - expectedDeletion) <= 2e-5, "\(name) deletion step \(k)")
                #expect(abs(result.insertion.probabilities[k] - expectedInsertion) <= 2e-5, "\(name) insertion step \(k)")
            }
            deletionAUC.append(result.deletion.auc)
            insertionAUC.append(result.insertion.auc)
        }
        // The box goes in the first 4 of 64 steps (oracle), spread out (random) or in the last 4
        // (inverted). Measured: deletion 0.030 / 0.520 / 0.967, insertion 0.974 / 0.551 / 0.038.
        // Margins of 0.2 between neighbours.
        let (deletion, insertion) = (deletionAUC, insertionAUC)
        #expect(deletion[0] < 0.1 && deletion[0] + 0.2 < deletion[1] && deletion[1] + 0.2 < deletion[2] && deletion[2] > 0.9, "deletion \(deletion)")
        #expect(insertion[0] > 0.9 && insertion[0] > insertion[1] + 0.2 && insertion[1] > insertion[2] + 0.2 && insertion[2] < 0.1, "insertion \(insertion)")
    }

    /// Curve length ⌈HW/step⌉ + 1 for a step that does not divide HW; the end points are the
    /// clean image, the all-mean-colour image and the blurred image; the batch size changes nothing.
    @Test func curveEndPointsAndLength() throws {
        let image = BoxScene.image
        let map = randomTensor([16, 16], seed: 34)
        let result = try DeletionInsertion(classifier: BoxScene.classifier, configuration: .init(step: 7, batchSize: 16))
            .evaluate(image: image, saliency: map)
        #expect(result.deletion.probabilities.count == 38 && result.insertion.probabilities.count == 38)  // ⌈256 / 7⌉ + 1
        #expect(result.target == 0)  // predicted on the clean image
        let probability = { (pixels: Tensor) in BoxScene.classifier.probabilities(pixels).scalars[0] }
        let clean = probability(image)
        let substituted = probability(Tensor(repeating: 0.5, shape: [1, 3, 16, 16]))
        let blurred = probability(gaussianBlur(image, sigma: 5, kernelSize: 11))
        #expect(abs(result.deletion.probabilities.first! - clean) <= 1e-6)
        #expect(abs(result.deletion.probabilities.last! - substituted) <= 1e-6)
        #expect(abs(result.insertion.probabilities.first! - blurred) <= 1e-6)
        #expect(abs(result.insertion.probabilities.last! - clean) <= 1e-6)
        #expect(abs(result.deletion.auc - DeletionInsertion.areaUnderCurve(result.deletion.probabilities)) == 0)

        let oneAtATime = try DeletionInsertion(classifier: BoxScene.classifier, configuration: .init(step: 7, batchSize: 1))
            .evaluate(image: image, saliency: map)
        let batched = result.deletion.probabilities + result.insertion.probabilities
        for (a, b) in zip(oneAtATime.deletion.probabilities + oneAtATime.insertion.probabilities, batched) {
            #expect(abs(a - b) <= 1e-6)
        }
        // Deletion and insertion alone give the same curves.
        let metric = DeletionInsertion(classifier: BoxScene.classifier, configuration: .init(step: 7))
        #expect(try metric.deletion(image: image, saliency: map) == result.deletion)
        #expect(try metric.insertion(image: image, saliency: map) == result.insertion)
    }

    @Test func defaultStepFollowsRISE() throws {
        #expect(DeletionInsertion.Configuration.defaultStep(height: 224, width: 224) == 224)
        #expect(DeletionInsertion.Configuration.defaultStep(height: 32, width: 32) == 5)  // 1024 / 224 = 4.57
        #expect(DeletionInsertion.Configuration.defaultStep(height: 8, width: 8) == 1)
        let result = try DeletionInsertion(classifier: BoxScene.classifier).evaluate(image: BoxScene.image, saliency: BoxScene.oracle)
        #expect(result.step == 1 && result.deletion.probabilities.count == 257)
    }

    /// The trapezoid rule on hand-made curves, and RISE's closed form on a random one.
    @Test func areaUnderHandMadeCurves() {
        #expect(DeletionInsertion.areaUnderCurve([1, 0.5, 0]) == 0.5)
        #expect(abs(DeletionInsertion.areaUnderCurve([0, 1, 1, 0]) - 2.0 / 3) <= 1e-7)
        #expect(DeletionInsertion.areaUnderCurve([0.25, 0.25]) == 0.25)
        #expect(DeletionInsertion.areaUnderCurve([0.7]) == 0)
        #expect(DeletionInsertion.Curve(probabilities: [1, 1, 1, 1]).auc == 1)
        let values = randomTensor([50], seed: 3).scalars.map { ($0 + 1) / 2 }
        let rise = (values.reduce(0.0) { $0 + Double($1) } - Double(values[0] + values[49]) / 2) / 49
        #expect(abs(Double(DeletionInsertion.areaUnderCurve(values)) - rise) <= 1e-6)
    }

    @Test func badInputThrowsNamedErrors() {
        let metric = DeletionInsertion(classifier: BoxScene.classifier)
        #expect(throws: ExplainError.mapShape(name: "saliency", shape: [15, 16], reason: "must be [16, 16] to match the image")) {
            try metric.evaluate(image: BoxScene.image, saliency: .zeros([15, 16]))
        }
        #expect(throws: ExplainError.mapShape(name: "saliency", shape: [1, 16, 16], reason: "a map must be [H, W]")) {
            try metric.evaluate(image: BoxScene.image, saliency: .zeros([1, 16, 16]))
        }
        var nanMap = Tensor.zeros([16, 16])
        nanMap[3, 4] = .nan
        #expect(throws: ExplainError.nonFiniteMap(name: "saliency", count: 1)) {
            try metric.evaluate(image: BoxScene.image, saliency: nanMap)
        }
        #expect(throws: ExplainError.targetOutOfRange(target: 2, classCount: 2)) {
            try metric.evaluate(image: BoxScene.image, saliency: BoxScene.oracle, target: 2)
        }
        #expect(throws: ExplainError.imageShape([3, 16, 16])) {
            try metric.evaluate(image: BoxScene.image.reshaped([3, 16, 16]), saliency: BoxScene.oracle)
        }
        #expect(throws: ExplainError.invalidSetting(name: "step", value: "0", reason: "must be at least 1")) {
            try DeletionInsertion(classifier: BoxScene.classifier, configuration: .init(step: 0))
                .evaluate(image: BoxScene.image, saliency: BoxScene.oracle)
        }
        #expect(throws: ExplainError.invalidSetting(name: "blur kernel size", value: "10", reason: "must be odd and at least 1")) {
            try DeletionInsertion(classifier: BoxScene.classifier, configuration: .init(blurKernelSize: 10))
                .evaluate(image: BoxScene.image, saliency: BoxScene.oracle)
        }
    }

    /// On the trained pattern CNN, the pattern box (as a map) deletes better and inserts better
    /// than a random map, which beats the inverted box, averaged over eight test images
    /// (default step 5 on 32 × 32).
    @Test func patternBoxBeatsRandomOnTrainedCNN() throws {
        let task = SyntheticPatternTask.trainedClassifier()
        let metric = DeletionInsertion(classifier: task.classifier, configuration: .init(batchSize: 32))
        var sums = [[Double]](repeating: [0, 0], count: 3)  // [box, random, inverted] × [deletion, insertion]
        var used = 0
        for index in 0..<task.testLabels.count where task.testLabels[index] != SyntheticPatternTask.noneLabel && used < 8 {
            let image = task.testImages.sliced(alongAxis: 0, index..<(index + 1))
            let box = task.testBoxes[index].mask(height: 32, width: 32)
            let maps = [box, randomTensor([32, 32], seed: UInt64(index)), 1 - box]
            for (slot, map) in maps.enumerated() {
                let result = try metric.evaluate(image: image, saliency: map, target: task.testLabels[index])
                sums[slot][0] += Double(result.deletion.auc) / 8
                sums[slot][1] += Double(result.insertion.auc) / 8
            }
            used += 1
        }
        let (box, random, inverted) = (sums[0], sums[1], sums[2])
        // Measured: deletion 0.06 / 0.57 / 0.95 and insertion 0.94 / 0.67 / 0.24 (box / random /
        // inverted). Margins of 0.2 between the box and the others.
        #expect(box[0] + 0.2 < random[0] && random[0] < inverted[0], "deletion AUC box \(box[0]) random \(random[0]) inverted \(inverted[0])")
        #expect(box[1] > random[1] + 0.2 && random[1] > inverted[1], "insertion AUC box \(box[1]) random \(random[1]) inverted \(inverted[1])")
    }
}

// MARK: - Pointing game

@Suite struct PointingGameTests {
    /// A 40×40 map whose single maximum is at (`row`, `column`).
    private func peak(_ row: Int, _ column: Int) -> Tensor {
        var map = randomTensor([40, 40], seed: 8) * 0.1
        map[row, column] = 5
        return map
    }

    /// One object pixel at (10, 10): TorchRay's strict `d² < tolerance²` at tolerance 15.
    @Test func hitAndMissAtTheToleranceBoundary() throws {
        var mask = Tensor.zeros([40, 40])
        mask[10, 10] = 1
        let truth = PointingGame.GroundTruth.mask(mask)
        #expect(try PointingGame.isHit(saliency: peak(10, 24), truth: truth))  // distance 14
        #expect(try !PointingGame.isHit(saliency: peak(10, 25), truth: truth))  // distance 15
        #expect(try PointingGame.isHit(saliency: peak(18, 22), truth: truth))  // 8² + 12² = 208 < 225
        #expect(try !PointingGame.isHit(saliency: peak(19, 22), truth: truth))  // 9² + 12² = 225
        #expect(try PointingGame.isHit(saliency: peak(19, 22), truth: truth, tolerance: 16))
        #expect(try !PointingGame.isHit(saliency: peak(10, 10), truth: truth, tolerance: 0))
        #expect(try PointingGame.isHit(saliency: peak(10, 10), truth: truth, tolerance: 1))
        #expect(try !PointingGame.isHit(saliency: peak(10, 10), truth: .mask(.zeros([40, 40]))))  // no object
    }

    @Test func firstMaximumInRowMajorOrder() {
        var map = Tensor.zeros([6, 9])
        map[5, 2] = 3
        map[3, 7] = 3
        #expect(PointingGame.maximumLocation(map) == (3, 7))
        #expect(PointingGame.maximumLocation(.zeros([4, 4])) == (0, 0))
    }

    /// Boxes give the same answer as the mask they cover, for maxima all over the map.
    @Test func boxesMatchTheirMask() throws {
        let boxes = [PointingGame.Box(top: 30, left: -5, height: 20, width: 12), PointingGame.Box(top: 5, left: 20, height: 4, width: 9)]
        var mask = Tensor.zeros([40, 40])
        for box in boxes {
            for y in max(box.top, 0)..<min(box.top + box.height, 40) { for x in max(box.left, 0)..<min(box.left + box.width, 40) { mask[y, x] = 1 } }
        }
        var disagreements = 0
        var hits = 0
        for row in stride(from: 0, to: 40, by: 3) {
            for column in stride(from: 0, to: 40, by: 3) {
                let map = peak(row, column)
                let byBoxes = try PointingGame.isHit(saliency: map, truth: .boxes(boxes), tolerance: 6)
                let byMask = try PointingGame.isHit(saliency: map, truth: .mask(mask), tolerance: 6)
                if byBoxes != byMask { disagreements += 1 }
                if byMask { hits += 1 }
            }
        }
        #expect(disagreements == 0)
        #expect(hits > 20 && hits < 150)  // both outcomes occur
        // The box pixel nearest to (4, 19) is (4, 4): 15 px away.
        let box = PointingGame.GroundTruth.boxes([.init(top: 0, left: 0, height: 5, width: 5)])
        #expect(try !PointingGame.isHit(saliency: peak(4, 19), truth: box))
        #expect(try PointingGame.isHit(saliency: peak(4, 18), truth: box))
    }

    /// Class 0: 1 hit of 1; class 1: 1 hit of 3 → mean over classes 2/3, pooled 2/4.
    @Test func accuracyIsAveragedOverClasses() throws {
        var mask = Tensor.zeros([40, 40])
        mask[10, 10] = 1
        let truth = PointingGame.GroundTruth.mask(mask)
        let items = [
            PointingGame.Item(saliency: peak(10, 12), truth: truth, classIndex: 0),
            PointingGame.Item(saliency: peak(12, 10), truth: truth, classIndex: 1),
            PointingGame.Item(saliency: peak(35, 35), truth: truth, classIndex: 1),
            PointingGame.Item(saliency: peak(10, 30), truth: truth, classIndex: 1),
        ]
        let result = try PointingGame.evaluate(items)
        #expect(result.itemHits == [true, true, false, false])
        #expect(result.hits == [0: 1, 1: 1] && result.misses == [0: 0, 1: 2])
        #expect(result.classAccuracies[0] == 1 && abs(result.classAccuracies[1]! - 1.0 / 3) <= 1e-7)
        #expect(abs(result.meanAccuracy - 2.0 / 3) <= 1e-7)
        #expect(result.overallAccuracy == 0.5)
    }

    @Test func badInputThrowsNamedErrors() {
        var nanMap = Tensor.zeros([4, 4])
        nanMap[1, 1] = .infinity
        #expect(throws: ExplainError.nonFiniteMap(name: "saliency", count: 1)) {
            try PointingGame.isHit(saliency: nanMap, truth: .mask(.zeros([4, 4])))
        }
        #expect(throws: ExplainError.invalidSetting(name: "ground-truth mask", value: "[4, 5]", reason: "must be [4, 4] like the map")) {
            try PointingGame.isHit(saliency: .zeros([4, 4]), truth: .mask(.zeros([4, 5])))
        }
        #expect(throws: ExplainError.invalidSetting(name: "tolerance", value: "-1", reason: "must be ≥ 0")) {
            try PointingGame.isHit(saliency: .zeros([4, 4]), truth: .boxes([]), tolerance: -1)
        }
        #expect(throws: ExplainError.invalidSetting(name: "pointing game items", value: "0", reason: "needs at least one item")) {
            try PointingGame.evaluate([])
        }
    }
}

// MARK: - Grid pointing game

@Suite struct GridPointingGameTests {
    /// Image k's pixel (c, y, x) lands at grid row k / columns, column k % columns.
    @Test(arguments: [(4, 2), (6, 3), (9, 3), (3, 1)])
    func mosaicPlacesImageKInCellK(count: Int, columns: Int) throws {
        let (height, width) = (2, 3)
        let images = (0..<count).map { k in
            Tensor(shape: [1, 3, height, width], scalars: (0..<(3 * height * width)).map { Float(k * 100 + $0) })
        }
        let grid = try GridPointingGame.mosaic(images, columns: columns)
        let rows = count / columns
        #expect(grid.shape == [1, 3, rows * height, columns * width])
        for (k, image) in images.enumerated() {
            let (top, left) = ((k / columns) * height, (k % columns) * width)
            for channel in 0..<3 {
                for y in 0..<height {
                    for x in 0..<width { #expect(grid[0, channel, top + y, left + x] == image[0, channel, y, x]) }
                }
            }
            // The cell bounds agree with the mosaic layout.
            let bounds = GridPointingGame.cellBounds(cell: k, rows: rows, columns: columns, height: rows * height, width: columns * width)
            #expect(bounds.rows == top..<(top + height) && bounds.columns == left..<(left + width))
        }
    }

    @Test func scoreIsTheShareOfPositiveAttributionInTheCell() throws {
        // 3×3 grid on a 9×12 map: cells are 3×4.
        for cell in 0..<9 {
            var indicator = Tensor(repeating: -7, shape: [9, 12])  // negatives elsewhere are ignored
            let bounds = GridPointingGame.cellBounds(cell: cell, rows: 3, columns: 3, height: 9, width: 12)
            for y in bounds.rows { for x in bounds.columns { indicator[y, x] = 1 } }
            #expect(try GridPointingGame.score(indicator, cell: cell, rows: 3, columns: 3) == 1)
            #expect(try GridPointingGame.score(indicator, cell: (cell + 1) % 9, rows: 3, columns: 3) == 0)
        }
        #expect(abs(try GridPointingGame.score(.ones([9, 12]), cell: 4, rows: 3, columns: 3) - 1.0 / 9) <= 1e-7)
        #expect(try GridPointingGame.score(.ones([4, 6]), cell: 3, rows: 2, columns: 2) == 0.25)
        // Cell 0 holds mass 1 per pixel, cell 3 mass 3 per pixel, the rest −2: share 1 / 4.
        var map = Tensor(repeating: -2, shape: [4, 6])
        for y in 0..<2 { for x in 0..<3 { map[y, x] = 1; map[y + 2, x + 3] = 3 } }
        #expect(try GridPointingGame.score(map, cell: 0, rows: 2, columns: 2) == 0.25)
        #expect(try GridPointingGame.score(map, cell: 3, rows: 2, columns: 2) == 0.75)
        #expect(try GridPointingGame.score(Tensor(repeating: -1, shape: [4, 6]), cell: 0, rows: 2, columns: 2) == 0)
    }

    @Test func evaluateRunsTheProtocol() throws {
        let images = (0..<4).map { k in Tensor(repeating: Float(k) / 4, shape: [1, 3, 5, 5]) }
        let (scores, grid) = try GridPointingGame.evaluate(
            explainer: CellOracleExplainer(rows: 2, columns: 2), images: images, classes: [0, 1, 2, 3], columns: 2)
        #expect(scores == [1, 1, 1, 1])
        #expect(grid.shape == [1, 3, 10, 10])
        let (swapped, _) = try GridPointingGame.evaluate(
            explainer: CellOracleExplainer(rows: 2, columns: 2), images: images, classes: [1, 0, 3, 2], columns: 2)
        #expect(swapped == [0, 0, 0, 0])
    }

    @Test func badInputThrowsNamedErrors() {
        let image = Tensor.zeros([1, 3, 2, 2])
        #expect(throws: ExplainError.invalidSetting(name: "grid", value: "3 images in 2 columns", reason: "the images must fill whole rows")) {
            try GridPointingGame.mosaic([image, image, image], columns: 2)
        }
        #expect(throws: ExplainError.imageShape([1, 3, 2, 3])) {
            try GridPointingGame.mosaic([image, .zeros([1, 3, 2, 3])], columns: 2)
        }
        #expect(throws: ExplainError.invalidSetting(name: "cell", value: "4", reason: "outside the 2×2 grid")) {
            try GridPointingGame.score(.ones([4, 4]), cell: 4, rows: 2, columns: 2)
        }
        #expect(throws: ExplainError.invalidSetting(name: "grid", value: "5×1", reason: "does not fit a 4×4 map")) {
            try GridPointingGame.score(.ones([4, 4]), cell: 0, rows: 5, columns: 1)
        }
    }
}

// MARK: - Sparseness

@Suite struct SparsenessTests {
    /// Σᵢ Σⱼ |aᵢ − aⱼ| / (2n Σ a): the Gini index without sorting.
    private func naiveGini(_ map: Tensor) -> Double {
        let values = map.scalars.map { Double(abs($0)) }
        var differences = 0.0
        for a in values { for b in values { differences += abs(a - b) } }
        return differences / (2 * Double(values.count) * values.reduce(0, +))
    }

    @Test func extremesAndNaiveFormula() throws {
        var spike = Tensor.zeros([10, 10])
        spike[3, 7] = -4  // the sign does not matter
        #expect(abs(try Sparseness.giniIndex(spike) - 0.99) <= 1e-6)  // (n − 1) / n
        #expect(abs(try Sparseness.giniIndex(.full([10, 10], value: 0.3))) <= 1e-6)
        #expect(try Sparseness.giniIndex(.zeros([5, 5])) == 0)
        for seed in UInt64(0)..<4 {
            let map = randomTensor([12, 9], seed: seed) * Float(seed + 1)
            #expect(abs(Double(try Sparseness.giniIndex(map)) - naiveGini(map)) <= 1e-6)
            #expect(try Sparseness.giniIndex(map) == Sparseness.giniIndex(0 - map))
        }
        // A half-zero, half-constant map: G = 1/2.
        let half = Tensor(shape: [4, 4], scalars: (0..<16).map { $0 < 8 ? 0 : 2 })
        #expect(abs(try Sparseness.giniIndex(half) - 0.5) <= 1e-6)
    }

    @Test func nonFiniteMapThrows() {
        var map = Tensor.ones([3, 3])
        map[0, 0] = .nan
        #expect(throws: ExplainError.nonFiniteMap(name: "saliency", count: 1)) {
            try Sparseness.giniIndex(map)
        }
    }
}

// MARK: - Rank correlation and model randomisation

@Suite struct RandomizationCheckTests {
    @Test func spearmanOnHandCases() {
        let values: [Float] = [0.3, -1, 2, 5, 4.5, 0]
        #expect(spearmanCorrelation(values, values) == 1)
        #expect(spearmanCorrelation(values, values.map { -$0 }) == -1)
        #expect(spearmanCorrelation(values, values.map { $0 * $0 * $0 + 7 }) == 1)  // monotone
        // With ties: ranks [1, 2.5, 2.5, 4] and [1, 3, 2, 4] → 4.5 / √(4.5 · 5) (SciPy: 0.9486832980505139).
        #expect(abs(spearmanCorrelation([1, 2, 2, 3], [1, 3, 2, 4]) - 0.948_683_3) <= 1e-6)
        #expect(averageRanks([5, 1, 5, 5, 0]) == [4, 2, 4, 4, 1])
        #expect(spearmanCorrelation([1, 1, 1], [1, 2, 3]).isNaN)
        // Without ties, 1 − 6 Σ d² / (n (n² − 1)).
        let a = randomTensor([40], seed: 1).scalars, b = randomTensor([40], seed: 2).scalars
        let (ra, rb) = (averageRanks(a), averageRanks(b))
        let squared = zip(ra, rb).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        #expect(abs(Double(spearmanCorrelation(a, b)) - (1 - 6 * squared / (40 * (1600 - 1)))) <= 1e-6)
    }

    /// One step per layer group, top first; step k re-initialises exactly the top k + 1 groups;
    /// correlations are Spearman's on the maps of those classifiers; the same seed repeats.
    @Test func cascadeOnSmallModel() throws {
        let classifier = threeLayerTanhClassifier()
        let image = (randomTensor([1, 3, 8, 8], seed: 12) + 1) * 0.5
        let check = ModelRandomizationCheck(classifier: classifier, configuration: .init(seed: 5)) { InputGradientExplainer(classifier: $0) }
        #expect(ModelRandomizationCheck.layerGroups(of: classifier.network) == ["fc", "conv2", "conv1"])

        let cascade = check.randomizedClassifiers()
        #expect(cascade.map(\.layer) == ["fc", "conv2", "conv1"])
        let original = Dictionary(uniqueKeysWithValues: classifier.network.namedTensors().map { ($0.name, $0.tensor) })
        for (k, step) in cascade.enumerated() {
            let damagedGroups = Set(cascade.prefix(k + 1).map(\.layer))
            for (name, tensor) in step.classifier.network.namedTensors() {
                let group = String(name[..<name.lastIndex(of: ".")!])
                #expect(tensor.shape == original[name]!.shape)
                if damagedGroups.contains(group) {
                    #expect(tensor != original[name]!, "\(name) should be redrawn at step \(k)")
                } else {
                    #expect(tensor == original[name]!, "\(name) should be intact at step \(k)")
                }
            }
        }
        // The redrawn weights keep their tensor's spread (144 values: within 30%).
        let deviation = { (t: Tensor) -> Float in
            let mean = t.scalars.reduce(0, +) / Float(t.count)
            return (t.scalars.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(t.count)).squareRoot()
        }
        let redrawn = cascade[1].classifier.network.namedTensors().first { $0.name == "conv2.weight" }!.tensor
        #expect(abs(deviation(redrawn) / deviation(original["conv2.weight"]!) - 1) < 0.3)

        let result = try check.run(image: image)
        #expect(result.original.target == classifier.logits(image).argmax())
        #expect(result.steps.map(\.layer) == ["fc", "conv2", "conv1"])
        let reference = try InputGradientExplainer(classifier: classifier).explain(image, target: result.original.target).values
        assertClose(result.original.values, reference, rtol: 0, atol: 0)
        for (k, step) in result.steps.enumerated() {
            let map = try InputGradientExplainer(classifier: cascade[k].classifier).explain(image, target: result.original.target).values
            assertClose(step.saliency, map, rtol: 0, atol: 0)
            let expected = spearmanCorrelation(reference.scalars.map { abs($0) }, map.scalars.map { abs($0) })
            #expect(step.correlation == expected)
            #expect(step.correlation >= -1 && step.correlation <= 1 && step.correlation < 0.999, "step \(k): \(step.correlation)")
        }

        let again = try check.run(image: image)
        #expect(again.steps.map(\.correlation) == result.steps.map(\.correlation))
        let otherSeed = try ModelRandomizationCheck(classifier: classifier, configuration: .init(seed: 6)) { InputGradientExplainer(classifier: $0) }
            .run(image: image)
        #expect(otherSeed.steps.map(\.correlation) != result.steps.map(\.correlation))
        let signed = try ModelRandomizationCheck(classifier: classifier, configuration: .init(seed: 5, usesAbsoluteValues: false)) {
            InputGradientExplainer(classifier: $0)
        }.run(image: image)
        for (k, step) in signed.steps.enumerated() {
            #expect(step.correlation == spearmanCorrelation(reference.scalars, result.steps[k].saliency.scalars))
        }
    }
}
