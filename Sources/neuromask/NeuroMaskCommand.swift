import ArgumentParser
import NMTensor

@main
struct NeuroMaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neuromask",
        abstract: "Explain an image classifier's prediction by learning a mask (NeuroMask, arXiv:1908.04389).")

    func run() throws {
        print(ComputeThreads.blasDescription)
    }
}
