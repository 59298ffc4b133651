import Foundation
import NMTensor

extension Layer {
    /// A copy with He-uniform weights (`U(−√(6/fan_in), √(6/fan_in))`, fan_in = weight.count / out)
    /// for every parameter named `weight` of rank ≥ 2, zero biases, and BatchNorm parameters and
    /// buffers left at their defaults. Deterministic for a seed.
    public func randomlyInitialized(seed: UInt64) -> Self {
        var generator = SeededGenerator(seed: seed)
        var copy = self
        copy.updateTensors(prefix: "") { name, role, tensor in
            guard role == .parameter, tensor.rank >= 2 else {
                if role == .parameter && tensor.rank == 1 && name.hasSuffix("bias") { tensor = .zeros(tensor.shape) }
                return
            }
            let fanIn = tensor.count / max(tensor.shape[0], 1)
            let bound = Float((6 / Double(max(fanIn, 1))).squareRoot())
            tensor = Tensor.uniform(tensor.shape, low: -bound, high: bound, generator: &generator)
        }
        return copy
    }
}
