import Foundation
import NMExplain
import NMNets
import NMTensor

// neuromask-bench: median ms per forward pass and per NeuroMask iteration of the paper preset
// (per-pixel mask, m = sigmoid(w/T), black substrate, CE + L1 + 5×5 valid Laplacian; one iteration =
// `NeuroMaskObjective.evaluate` (forward + backward to w) + one TF-RMSProp update of w), the same
// loop Benchmarks/peers/pytorch_neuromask.py times in PyTorch.
//
// Usage: neuromask-bench [--models a,b] [--reps N] [--quick] [--full] [--json] [--threads N]
//   --models   comma-separated: efficientnet-lite0, resnet50, vgg16, inception-v3 (default: all)
//   --reps     timed repetitions per model (default 10); forward and iteration alternate
//   --quick    a seconds-long smoke run (Lite0, 2 repetitions)
//   --full     also the seconds of a 1000-iteration explanation (NeuroMask.run)
//   --json     one JSON object per line per model
//   --threads  compute threads (default NEUROMASK_NUM_THREADS or the core count)

struct Options {
    var models: [ModelArchitecture] = [.efficientNetLite0, .resnet50, .vgg16, .inceptionV3]
    var repetitions = 10
    var isQuick = false
    var isFull = false
    var isJSON = false
    var threads: Int?
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("neuromask-bench: \(message)\n".utf8))
    exit(2)
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst().makeIterator()
    while let argument = arguments.next() {
        switch argument {
        case "--models":
            let names = (arguments.next() ?? "").split(separator: ",").map(String.init)
            options.models = names.map { name in
                guard let architecture = try? ModelArchitecture(named: name) else { fail("unknown model \(name)") }
                return architecture
            }
        case "--reps": options.repetitions = max(1, Int(arguments.next() ?? "") ?? 10)
        case "--threads":
            guard let count = Int(arguments.next() ?? ""), count >= 1 else { fail("--threads needs a positive integer") }
            options.threads = count
        case "--quick": options.isQuick = true
        case "--full": options.isFull = true
        case "--json": options.isJSON = true
        case "--help", "-h":
            print("usage: neuromask-bench [--models a,b] [--reps N] [--threads N] [--quick] [--full] [--json]")
            exit(0)
        default: fail("unknown option \(argument)")
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

/// Multiply-adds of every convolution and linear layer in one forward pass of `layer` on
/// `input`, counted analytically from the shapes (the layer is run to learn them).
func multiplyAdds(_ layer: any Layer, _ input: Tensor) -> (count: Int, output: Tensor) {
    switch layer {
    case let sequential as Sequential:
        var (total, current) = (0, input)
        for entry in sequential.entries {
            let (count, output) = multiplyAdds(entry.layer, current)
            total += count
            current = output
        }
        return (total, current)
    case let residual as Residual:
        let bodyCount = multiplyAdds(residual.body, input).count
        let shortcutCount = residual.shortcut.map { multiplyAdds($0, input).count } ?? 0
        return (bodyCount + shortcutCount, residual(input))
    case let concat as ChannelConcat:
        return (concat.branches.reduce(0) { $0 + multiplyAdds($1, input).count }, concat(input))
    case let convolution as Conv2d:
        let output = convolution(input)
        let (kernelHeight, kernelWidth) = convolution.kernelSize
        let perOutput = convolution.inputChannels / convolution.groups * kernelHeight * kernelWidth
        return (output.count * perOutput, output)
    case let linear as Linear:
        let output = linear(input)
        return (output.count * linear.inputFeatures, output)
    default:
        return (0, layer(input))
    }
}

var sink: Float = 0

MemoryTuning.keepFreedMemoryForReuse()
let options = parseOptions()
if let threads = options.threads { ComputeThreads.set(threads) }
#if DEBUG
let buildMode = "debug"
#else
let buildMode = "release"
#endif
// Set by Benchmarks/compare.sh when it builds with -Xswiftc -target-cpu -Xswiftc native.
let buildFlags = ProcessInfo.processInfo.environment["NEUROMASK_BENCH_BUILD_FLAGS"] ?? ""
if !options.isJSON {
    print("neuromask-bench: \(ComputeThreads.blasDescription), \(ComputeThreads.count) compute threads, build \(buildMode) \(buildFlags)")
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
    let macs = multiplyAdds(classifier.network, image).count
    var configuration = NeuroMaskConfiguration.paper(imageSize: size)
    configuration.iterations = options.repetitions + 1
    let neuroMask = NeuroMask(classifier: classifier, configuration: configuration)
    let objective = try neuroMask.objective(for: image, target: nil)
    var w = Tensor.uniform(objective.parameterShape, low: -10, high: 10, generator: &generator)
    var optimizer = MaskOptimizerState(configuration.optimizer, learningRate: configuration.learningRate, count: w.count)
    func iterate() {
        let (step, gradient) = objective.evaluate(w)
        optimizer.update(&w.scalars, gradient: gradient.scalars)
        sink += step.totalLoss
    }

    sink += classifier.logits(image).scalars[0]  // warm-up
    iterate()
    var forwardTimes: [Double] = []
    var iterationTimes: [Double] = []
    for _ in 0..<options.repetitions {
        forwardTimes.append(milliseconds { sink += classifier.logits(image).scalars[0] })
        iterationTimes.append(milliseconds { iterate() })
    }
    let (forwardMs, iterationMs) = (median(forwardTimes), median(iterationTimes))
    var record: [String: Any] = [
        "model": architecture.rawValue, "input_size": size, "threads": ComputeThreads.count,
        "forward_ms": forwardMs, "iteration_ms": iterationMs,
        "gmacs": Double(macs) / 1e9,
        // forward: 2 flops per multiply-add; iteration: forward + backward to the input (no weight gradients)
        "forward_gflops": 2 * Double(macs) / forwardMs / 1e6, "iteration_gflops": 4 * Double(macs) / iterationMs / 1e6,
        "build": buildMode, "build_flags": buildFlags, "repetitions": options.repetitions,
        "framework": "neuromask-swift", "blas": ComputeThreads.blasDescription,
    ]
    if options.isFull {
        var full = NeuroMaskConfiguration.paper(imageSize: size)
        full.iterations = 1000
        let seconds = milliseconds { sink += (try? NeuroMask(classifier: classifier, configuration: full).run(image, target: nil).mask.scalars[0]) ?? 0 } / 1000
        record["explanation_s"] = seconds
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let peakMB = Double(usage.ru_maxrss) / 1024
    record["peak_rss_mb"] = peakMB
    if options.isJSON {
        let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    } else {
        print(String(
            format: "%@ %d²: forward %.1f ms (%.1f GFLOP/s), NeuroMask iteration %.1f ms (%.1f GFLOP/s), median of %d; %.2f GMAC; peak RSS %.0f MB%@",
            architecture.rawValue, size, forwardMs, 2 * Double(macs) / forwardMs / 1e6, iterationMs, 4 * Double(macs) / iterationMs / 1e6,
            options.repetitions, Double(macs) / 1e9, peakMB,
            (record["explanation_s"] as? Double).map { String(format: ", 1000 iterations %.1f s", $0) } ?? ""))
    }
}
if sink.isNaN { print("") }
