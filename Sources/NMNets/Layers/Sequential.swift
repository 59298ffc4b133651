import NMTensor

/// Layers applied in order, each under a name. Names join PyTorch-style: an entry "layer1"
/// holding a tensor "0.conv1.weight" yields "layer1.0.conv1.weight"; an empty name adds nothing.
///
/// Any entry's output can be captured during `forward`, and the gradient flowing into it during
/// `backward` (Grad-CAM needs both). A dotted name ("layer4.1") reaches into nested `Sequential`s.
public struct Sequential: Layer {
    /// One named layer.
    public struct Entry: Sendable {
        public var name: String
        public var layer: any Layer
        public init(_ name: String, _ layer: any Layer) {
            self.name = name
            self.layer = layer
        }
    }

    public var entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    /// The caches of every entry, in order.
    public struct Cache {
        var entryCaches: [Any]
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Cache) {
        let (output, cache, _) = forward(input, capturing: [])
        return (output, cache)
    }

    /// Runs every entry and returns the outputs of the entries named in `names`.
    public func forward(_ input: Tensor, capturing names: Set<String>) -> (output: Tensor, cache: Cache, activations: [String: Tensor]) {
        var activations: [String: Tensor] = [:]
        var caches: [Any] = []
        caches.reserveCapacity(entries.count)
        var current = input
        var index = 0
        while index < entries.count {
            let entry = entries[index]
            let nested = nestedNames(names, under: entry.name)
            if !nested.isEmpty, let sequential = entry.layer as? Sequential {
                let (output, cache, inner) = sequential.forward(current, capturing: nested)
                for (name, value) in inner { activations[join(entry.name, name)] = value }
                current = output
                caches.append(cache)
            } else if let (layer, activation) = fusablePair(at: index), !names.contains(entry.name) {
                // A convolution or residual sum and relu/relu6 in one pass (the pre-activation is
                // not asked for): the same values and caches as the two entries one after the other.
                let (output, cache) = fusedForward(layer, current, activation.function)
                current = output
                caches.append(cache)
                caches.append(Activation.Cache(saved: output, isOutput: true))
                index += 1
                if names.contains(entries[index].name) { activations[entries[index].name] = current }
            } else {
                let (output, cache) = entry.layer.forward(current)
                current = output
                caches.append(cache)
            }
            if names.contains(entry.name) { activations[entry.name] = current }
            index += 1
        }
        return (current, Cache(entryCaches: caches), activations)
    }

    public func backward(_ gradOutput: Tensor, cache: Cache, parameterGradients: Bool) -> (gradInput: Tensor, gradLayer: Sequential?) {
        let (gradInput, gradLayer, _) = backward(gradOutput, cache: cache, parameterGradients: parameterGradients, capturing: [])
        return (gradInput, gradLayer)
    }

    /// Walks the entries in reverse and returns, for each name in `names`, ∂L/∂(that entry's output).
    public func backward(
        _ gradOutput: Tensor, cache: Cache, parameterGradients: Bool, capturing names: Set<String>
    ) -> (gradInput: Tensor, gradLayer: Sequential?, activationGradients: [String: Tensor]) {
        backward(gradOutput, cache: cache, parameterGradients: parameterGradients, capturing: names, inputGate: nil)
    }

    /// `backward` followed by the backward pass of the relu or relu6 whose output was this
    /// network's input: the gate goes to the first entry when it can apply it as it stores.
    public func backward(
        _ gradOutput: Tensor, cache: Cache, parameterGradients: Bool, gatingInputBy gate: ClampGate
    ) -> (gradInput: Tensor, gradLayer: Sequential?) {
        let (gradInput, gradLayer, _) = backward(gradOutput, cache: cache, parameterGradients: parameterGradients, capturing: [], inputGate: gate)
        return (gradInput, gradLayer)
    }

    /// The backward walk. A relu or relu6 whose gradient is not asked for is folded into the
    /// backward pass of the layer after it when that layer can gate its input gradient
    /// (`ClampGatedBackward`: convolutions, nested networks), saving a pass over the gradient.
    private func backward(
        _ gradOutput: Tensor, cache: Cache, parameterGradients: Bool, capturing names: Set<String>, inputGate: ClampGate?
    ) -> (gradInput: Tensor, gradLayer: Sequential?, activationGradients: [String: Tensor]) {
        precondition(cache.entryCaches.count == entries.count, "Sequential.backward: cache from a different network")
        var gradients: [String: Tensor] = [:]
        var gradLayer = parameterGradients ? self : nil
        var current = gradOutput
        var isInputGated = false
        var index = entries.count - 1
        while index >= 0 {
            let entry = entries[index]
            if names.contains(entry.name) { gradients[entry.name] = current }
            let nested = nestedNames(names, under: entry.name)
            let foldedActivation = index > 0 ? foldableActivation(at: index - 1, cache: cache, names: names) : nil
            if !nested.isEmpty, let sequential = entry.layer as? Sequential, let typed = cache.entryCaches[index] as? Sequential.Cache {
                let (gradInput, gradSequential, inner) = sequential.backward(current, cache: typed, parameterGradients: parameterGradients, capturing: nested)
                for (name, value) in inner { gradients[join(entry.name, name)] = value }
                current = gradInput
                if let gradSequential { gradLayer?.entries[index].layer = gradSequential }
            } else if let gate = foldedActivation ?? (index == 0 ? inputGate : nil), let gatable = entry.layer as? any ClampGatedBackward {
                let (gradInput, gradEntry) = erasedGatedBackward(gatable, current, cache.entryCaches[index], parameterGradients, gate)
                current = gradInput
                if let gradEntry { gradLayer?.entries[index].layer = gradEntry }
                if foldedActivation != nil {
                    index -= 1  // the activation's backward pass is done
                } else {
                    isInputGated = true
                }
            } else {
                let (gradInput, gradEntry) = erasedBackward(entry.layer, current, cache.entryCaches[index], parameterGradients)
                current = gradInput
                if let gradEntry { gradLayer?.entries[index].layer = gradEntry }
            }
            index -= 1
        }
        if let inputGate, !isInputGated { current = inputGate.applied(to: current) }
        return (current, gradLayer, gradients)
    }

    public func visitTensors(prefix: String, _ visit: (String, TensorRole, Tensor) -> Void) {
        for entry in entries {
            entry.layer.visitTensors(prefix: join(prefix, entry.name, trailingDot: true), visit)
        }
    }

    public mutating func updateTensors(prefix: String, _ update: (String, TensorRole, inout Tensor) -> Void) {
        for index in entries.indices {
            entries[index].layer.updateTensors(prefix: join(prefix, entries[index].name, trailingDot: true), update)
        }
    }

    /// The names of every entry, nested ones dotted, in forward order.
    public var layerNames: [String] {
        entries.flatMap { entry -> [String] in
            let inner = (entry.layer as? Sequential)?.layerNames.map { join(entry.name, $0) } ?? []
            return [entry.name] + inner
        }
    }

    /// The convolution or residual block at `index` and the relu or relu6 right after it, which
    /// `forward` runs as one fused pass (`forward(_:fusing:)`); nil when the entries are not such
    /// a pair.
    private func fusablePair(at index: Int) -> (any ActivationFusable, Activation)? {
        guard index + 1 < entries.count, let layer = entries[index].layer as? any ActivationFusable,
            let activation = entries[index + 1].layer as? Activation, activation.function.clampUpperBound != nil
        else { return nil }
        return (layer, activation)
    }

    /// The gate of the relu or relu6 at `index`, when its backward pass can be folded into the
    /// next entry's (its gradient is not asked for); nil otherwise.
    private func foldableActivation(at index: Int, cache: Cache, names: Set<String>) -> ClampGate? {
        guard let activation = entries[index].layer as? Activation, activation.function.clampUpperBound != nil,
            !names.contains(entries[index].name), let activationCache = cache.entryCaches[index] as? Activation.Cache,
            activationCache.isOutput
        else { return nil }
        return ClampGate(activation.function, output: activationCache.saved)
    }

    private func nestedNames(_ names: Set<String>, under name: String) -> Set<String> {
        guard !names.isEmpty else { return [] }
        let prefix = name + "."
        return Set(names.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) })
    }
}

/// A layer whose output a following relu or relu6 can clamp as it is computed.
protocol ActivationFusable: Layer {
    /// `forward` followed by `activation` (relu or relu6), with `forward`'s cache.
    func forward(_ input: Tensor, fusing activation: ActivationFunction) -> (output: Tensor, cache: Cache)
}

extension Conv2d: ActivationFusable {}
extension Residual: ActivationFusable {}

/// A layer whose backward pass can apply the derivative of the relu or relu6 in front of it
/// (a `ClampGate` on its input) as it stores its input gradient.
protocol ClampGatedBackward: Layer {
    /// `backward` followed by the gate: the same values as `gate.applied(to: backward(…).gradInput)`.
    func backward(_ gradOutput: Tensor, cache: Cache, parameterGradients: Bool, gatingInputBy gate: ClampGate) -> (gradInput: Tensor, gradLayer: Self?)
}

extension Conv2d: ClampGatedBackward {}
extension Sequential: ClampGatedBackward {}

/// `layer.backward(gradOutput, cache:, parameterGradients:, gatingInputBy:)` with the cache type-erased.
private func erasedGatedBackward<L: ClampGatedBackward>(
    _ layer: L, _ gradOutput: Tensor, _ cache: Any, _ parameterGradients: Bool, _ gate: ClampGate
) -> (Tensor, (any Layer)?) {
    guard let typed = cache as? L.Cache else {
        preconditionFailure("backward: cache of \(type(of: cache)) does not belong to \(L.self)")
    }
    let (gradInput, gradLayer) = layer.backward(gradOutput, cache: typed, parameterGradients: parameterGradients, gatingInputBy: gate)
    return (gradInput, gradLayer)
}

/// `layer.forward(input, fusing: activation)` with the cache type-erased, for `Sequential`.
private func fusedForward<L: ActivationFusable>(_ layer: L, _ input: Tensor, _ activation: ActivationFunction) -> (Tensor, Any) {
    let (output, cache) = layer.forward(input, fusing: activation)
    return (output, cache)
}

/// Joins a prefix and a name with a dot, skipping empty parts.
func join(_ prefix: String, _ name: String, trailingDot: Bool = false) -> String {
    if trailingDot {
        return name.isEmpty ? prefix : prefix + name + "."
    }
    if prefix.isEmpty { return name }
    return name.isEmpty ? prefix : prefix + "." + name
}

/// Runs `backward` on a layer whose concrete type is known only at run time.
func erasedBackward<L: Layer>(_ layer: L, _ gradOutput: Tensor, _ cache: Any, _ parameterGradients: Bool) -> (Tensor, (any Layer)?) {
    guard let typed = cache as? L.Cache else {
        preconditionFailure("backward: cache of \(type(of: cache)) does not belong to \(L.self)")
    }
    let (gradInput, gradLayer) = layer.backward(gradOutput, cache: typed, parameterGradients: parameterGradients)
    return (gradInput, gradLayer)
}
