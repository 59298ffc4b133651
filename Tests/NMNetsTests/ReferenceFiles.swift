import Foundation
import NMTensor

/// The PyTorch reference files written by scripts/reference/*.py (see scripts/reference/README.md).
enum ReferenceFiles {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "References/\(name)", withExtension: nil)!
    }

    static func array(_ name: String) throws -> Tensor {
        try Tensor(npyFile: url(name + ".npy"))
    }

    /// The `targets` array of `<name>.json`.
    static func targets(_ name: String) throws -> [Int] {
        let data = try Data(contentsOf: url(name + ".json"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return (object?["targets"] as? [Int]) ?? []
    }

    static func weights(_ name: String) throws -> [String: Tensor] {
        try Safetensors.read(from: url(name + ".safetensors"))
    }
}
