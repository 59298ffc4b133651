import Foundation
import NMExplain
import NMNets
import NMTensor

// neuromask-gridgame: the grid pointing game (Böhle et al. 2022) on the bundled photos with the
// pretrained EfficientNet-Lite0: 2×2 mosaics of four photos of different, confidently classified
// classes; explain one cell's class on the whole mosaic; score = share of the map inside that
// cell (chance 0.25). Four cyclic arrangements; by default one cell each, so that every photo
// and every cell position is explained once (`--cells all`: every cell of every arrangement).
//
// Usage: neuromask-gridgame [--presets paper,improved] [--tile N] [--cells all|diagonal] [--iterations N] [--json]

struct Options {
    var presets = ["paper", "improved"]
    var tile = 112
    var cellsPerMosaic = 1  // 1: one cell per arrangement (4 runs); 4: every cell (16 runs)
    var iterations: Int?
    var isJSON = false
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst().makeIterator()
    while let argument = arguments.next() {
        switch argument {
        case "--presets": options.presets = (arguments.next() ?? "").split(separator: ",").map(String.init)
        case "--tile": options.tile = Int(arguments.next() ?? "") ?? 112
        case "--cells": options.cellsPerMosaic = arguments.next() == "all" ? 4 : 1
        case "--iterations": options.iterations = Int(arguments.next() ?? "")
        case "--json": options.isJSON = true
        default:
            FileHandle.standardError.write(Data("unknown option \(argument)\n".utf8))
            exit(2)
        }
    }
    return options
}

/// The candidate configurations: the library's presets plus variants that isolate one change.
func configuration(named name: String, imageSize: Int) -> NeuroMaskConfiguration? {
    if let preset = NeuroMaskPreset(rawValue: name) { return preset.configuration(imageSize: imageSize) }
    var improved = NeuroMaskConfiguration.improved(imageSize: imageSize)
    switch name {
    case "improved-black": improved.substrate = .black
    case "improved-pixel": improved.resolution = .perPixel
    case "improved-valid": improved.laplacianBorder = .valid
    case "improved-nostop": improved.stopping = nil
    case "paper-blur":
        var paper = NeuroMaskConfiguration.paper(imageSize: imageSize)
        paper.substrate = .blur(sigma: 10)
        return paper
    case "paper-grid":
        var paper = NeuroMaskConfiguration.paper(imageSize: imageSize)
        paper.resolution = .grid(cellSize: 8)
        return paper
    default: return nil
    }
    return improved
}

MemoryTuning.keepFreedMemoryForReuse()
let options = parseOptions()
let classifier = try ModelZoo.pretrained(.efficientNetLite0).foldingBatchNorms()
let photos = ["chelsea", "coffee", "camera", "rocket"]
let tiles = try photos.map { try classifier.loadImage(at: SampleImages.url(named: $0)!, size: .square(options.tile)) }
let classes = tiles.map { classifier.logits($0).argmax() }
print("photos \(photos) at \(options.tile)²: classes \(classes.map { "\($0) \(classifier.classNames[$0])" })")

for name in options.presets {
    guard var configuration = configuration(named: name, imageSize: 2 * options.tile) else {
        print("unknown preset \(name)")
        continue
    }
    if let iterations = options.iterations { configuration.iterations = iterations }
    let neuroMask = NeuroMask(classifier: classifier, configuration: configuration)
    var scores: [Float] = []
    var seconds: [Double] = []
    var iterations: [Int] = []
    var kept: [Float] = []
    for arrangement in 0..<4 {
        // Shift the photos by 2·a cells and explain cell a (+ step): over the four arrangements
        // every cell position and every photo is explained once.
        let order = (0..<4).map { (2 * arrangement + $0) % 4 }
        let grid = try GridPointingGame.mosaic(order.map { tiles[$0] }, columns: 2)
        for step in 0..<options.cellsPerMosaic {
            let cell = (arrangement + step) % 4
            let target = classes[order[cell]]
            let start = Date()
            let result = try neuroMask.run(grid, target: target)
            seconds.append(Date().timeIntervalSince(start))
            let score = try GridPointingGame.score(result.mask, cell: cell, rows: 2, columns: 2)
            scores.append(score)
            iterations.append(result.iterationsRun)
            kept.append(result.probabilityOnMaskedImage)
            if !options.isJSON {
                print(String(
                    format: "  %@ arrangement %d cell %d (%@): score %.3f, p(masked) %.3f, p(grid) %.3f, %d iterations, %.1f s",
                    name, arrangement, cell, photos[order[cell]], score, result.probabilityOnMaskedImage, result.probabilityOnImage,
                    result.iterationsRun, seconds.last!))
            }
        }
    }
    let mean = scores.reduce(0, +) / Float(scores.count)
    let record: [String: Any] = [
        "preset": name, "tile": options.tile, "runs": scores.count, "mean_score": Double(mean),
        "scores": scores.map(Double.init), "mean_iterations": Double(iterations.reduce(0, +)) / Double(iterations.count),
        "mean_seconds": seconds.reduce(0, +) / Double(seconds.count), "mean_probability_masked": Double(kept.reduce(0, +) / Float(kept.count)),
    ]
    let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}
