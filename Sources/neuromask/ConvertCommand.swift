import ArgumentParser
import Foundation
import NMNets
import NMTensor

/// `neuromask convert INPUT OUTPUT`: a PyTorch checkpoint as safetensors.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert", abstract: "Convert a PyTorch state_dict (.pth, legacy or zip format) to safetensors.")

    @Argument(help: "The PyTorch checkpoint.")
    var input: String

    @Argument(help: "The .safetensors file to write.")
    var output: String

    func run() throws {
        try reportingErrors {
            let tensors = try TorchCheckpoint.load(from: URL(fileURLWithPath: input))
            try Safetensors.write(tensors, metadata: ["source": URL(fileURLWithPath: input).lastPathComponent], to: URL(fileURLWithPath: output))
            let scalars = tensors.values.reduce(0) { $0 + $1.count }
            print("wrote \(output): \(tensors.count) tensors, \(scalars) values")
        }
    }
}
