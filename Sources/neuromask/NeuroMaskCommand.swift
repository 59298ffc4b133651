import ArgumentParser
import Foundation
import NMTensor

@main
struct NeuroMaskCommand: ParsableCommand {
    static func main() {
        MemoryTuning.keepFreedMemoryForReuse()
        main(nil)
    }

    static let configuration = CommandConfiguration(
        commandName: "neuromask",
        abstract: "Explain an image classifier's prediction by learning a mask (NeuroMask, arXiv:1908.04389).",
        discussion: """
            Run with no arguments to explain the bundled photo chelsea.png with the default model \
            (EfficientNet-Lite0; its weights are fetched into the cache on first use).
            """,
        subcommands: [ExplainCommand.self, ClassifyCommand.self, EvaluateCommand.self, CompareCommand.self, ConvertCommand.self, InfoCommand.self],
        defaultSubcommand: ExplainCommand.self)
}

/// Prints the numerical back end's configuration.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Print the BLAS back end and thread count.")

    func run() throws {
        print(ComputeThreads.blasDescription)
        print("threads: \(ComputeThreads.count) (set \(ComputeThreads.environmentVariable) to change)")
    }
}
