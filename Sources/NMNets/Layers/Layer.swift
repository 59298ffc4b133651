import NMTensor

/// What a named tensor of a layer is: a trainable parameter or a buffer (BatchNorm statistics).
public enum TensorRole: Sendable {
    case parameter
    case buffer
}

/// A differentiable layer: a forward pass that returns its output and the cache its backward
/// pass needs, and a backward pass to the input and, on request, to the parameters.
///
/// Layers are value types. Their tensors carry PyTorch `state_dict` names relative to the layer
/// ("weight", "bias", "running_mean", …); composite layers prefix their children's names
/// ("conv1.weight"), so a whole model's names equal PyTorch's.
public protocol Layer: Sendable {
    /// What `backward` needs from `forward`.
    associatedtype Cache

    /// Runs the layer on `input` and returns the output with the cache for `backward`.
    func forward(_ input: Tensor) -> (output: Tensor, cache: Cache)

    /// Given ∂L/∂output, returns ∂L/∂input and, when `parameterGradients` is true, a copy of the
    /// layer whose parameter tensors hold ∂L/∂parameter (buffers are zero). Layers without
    /// parameters return `nil` for the gradient layer.
    func backward(_ gradOutput: Tensor, cache: Cache, parameterGradients: Bool) -> (gradInput: Tensor, gradLayer: Self?)

    /// Calls `visit` with the full name (`prefix` + local name), role and value of every tensor.
    func visitTensors(prefix: String, _ visit: (String, TensorRole, Tensor) -> Void)

    /// Calls `update` on every tensor in place, in the same order as `visitTensors`.
    mutating func updateTensors(prefix: String, _ update: (String, TensorRole, inout Tensor) -> Void)
}

extension Layer {
    /// The output of `forward`, without the cache.
    public func callAsFunction(_ input: Tensor) -> Tensor { forward(input).output }

    /// Every tensor of the layer by full name (PyTorch `state_dict` order and names).
    public func namedTensors(role: TensorRole? = nil) -> [(name: String, tensor: Tensor)] {
        var result: [(name: String, tensor: Tensor)] = []
        visitTensors(prefix: "") { name, tensorRole, tensor in
            if role == nil || role == tensorRole { result.append((name, tensor)) }
        }
        return result
    }

    /// The number of scalars in the layer's parameters (buffers excluded).
    public var parameterCount: Int {
        namedTensors(role: .parameter).reduce(0) { $0 + $1.tensor.count }
    }
}

/// A layer without tensors (activations, pooling, reshapes).
public protocol ParameterFreeLayer: Layer {
    /// ∂L/∂input.
    func backward(_ gradOutput: Tensor, cache: Cache) -> Tensor
}

extension ParameterFreeLayer {
    public func backward(_ gradOutput: Tensor, cache: Cache, parameterGradients: Bool) -> (gradInput: Tensor, gradLayer: Self?) {
        (backward(gradOutput, cache: cache), nil)
    }
    public func visitTensors(prefix: String, _ visit: (String, TensorRole, Tensor) -> Void) {}
    public mutating func updateTensors(prefix: String, _ update: (String, TensorRole, inout Tensor) -> Void) {}
}
