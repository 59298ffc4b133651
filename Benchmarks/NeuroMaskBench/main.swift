import Foundation
import NMExplain
import NMNets
import NMTensor

// neuromask-bench: median ms per forward pass and per NeuroMask iteration (paper preset).
// Usage: neuromask-bench [--models a,b] [--reps N] [--quick] [--full] [--json]

struct Options {
    var models: [ModelArchitecture] = [.efficientNetLite0, .resnet50, .vgg16, .inceptionV3]
    var repetitions = 10
    var isQuick = false
    var isFull = false
    var isJSON = false
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst().makeIterator()
    while let argument = arguments.next() {
        switch argument {
        case "--models":
            let names = (arguments.next() ?? "").split(separator: ",").map(String.init)
            options.models = names.compactMap { try? ModelArchitecture(named: $0) }
        case "--reps": options.repetitions = max(1, Int(arguments.next() ?? "") ?? 10)
        case "--quick": options.isQuick = true
        case "--full": options.isFull = true
        case "--json": options.isJSON = true
        default:
            FileHandle.standardError.write(Data("unknown option \(argument)\n".utf8))
            exit(2)
        }
    }
    if options.isQuick {
        options.models = [.efficientNetLite0]
        options.repetitions = 2
    }
    return options
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func milliseconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

var sink: Float = 0

MemoryTuning.keepFreedMemoryForReuse()
let options = parseOptions()
#if DEBUG
let buildMode = "debug"
#else
let buildMode = "release"
#endif
if !options.isJSON {
    print("neuromask-bench: \(ComputeThreads.blasDescription), build \(buildMode)")
}
for architecture in options.models {
    let unfolded: ImageClassifier
    if architecture == .efficientNetLite0, let pretrained = try? ModelZoo.pretrained(.efficientNetLite0) {
        unfolded = pretrained
    } else {
        unfolded = try ModelZoo.randomClassifier(architecture, seed: 1)
    }
    let classifier = unfolded.foldingBatchNorms()
    let size = architecture.inputSize
    var generator = SeededGenerator(seed: 7)
    let image = Tensor.uniform([1, 3, size, size], generator: &generator)
    var configuration = NeuroMaskConfiguration.paper(imageSize: size)
    configuration.iterations = options.repetitions + 1
    let neuroMask = NeuroMask(classifier: classifier, configuration: configuration)
    let objective = try neuroMask.objective(for: image, target: nil)
    let w = Tensor.uniform(objective.parameterShape, low: -10, high: 10, generator: &generator)

    sink += classifier.logits(image).scalars[0]  // warm-up
    sink += objective.evaluate(w).step.totalLoss
    var forwardTimes: [Double] = []
    var iterationTimes: [Double] = []
    for _ in 0..<options.repetitions {
        forwardTimes.append(milliseconds { sink += classifier.logits(image).scalars[0] })
        iterationTimes.append(milliseconds { sink += objective.evaluate(w).step.totalLoss })
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    var record: [String: Any] = [
        "model": architecture.rawValue, "input_size": size, "threads": ComputeThreads.count,
        "forward_ms": median(forwardTimes), "iteration_ms": median(iterationTimes),
        "peak_rss_mb": Double(usage.ru_maxrss) / 1024, "build": buildMode,
    ]
    if options.isFull {
        var full = NeuroMaskConfiguration.paper(imageSize: size)
        full.iterations = 1000
        let seconds = milliseconds { sink += (try? NeuroMask(classifier: classifier, configuration: full).run(image, target: nil).mask.scalars[0]) ?? 0 } / 1000
        record["explanation_s"] = seconds
    }
    if options.isJSON {
        let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    } else {
        print(String(
            format: "%@ %d²: forward %.1f ms, NeuroMask iteration %.1f ms (median of %d), peak RSS %.0f MB%@",
            architecture.rawValue, size, median(forwardTimes), median(iterationTimes), options.repetitions,
            Double(usage.ru_maxrss) / 1024, (record["explanation_s"] as? Double).map { String(format: ", 1000 iterations %.1f s", $0) } ?? ""))
    }
}
if sink.isNaN { print("") }
