import NMTensor

/// `output = body(input) + shortcut(input)`, where a missing shortcut is the identity
/// (ResNet blocks, EfficientNet's MBConv skip). Both parts keep their own names.
public struct Residual: Layer {
    public var body: Sequential
    public var shortcut: Sequential?

    public init(body: Sequential, shortcut: Sequential? = nil) {
        self.body = body
        self.shortcut = shortcut
    }

    public struct Cache {
        var body: Sequential.Cache
        var shortcut: Sequential.Cache?
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Cache) {
        forward(input, clampUpper: nil)
    }

    /// `forward` followed by `activation` (relu or relu6: a clamp) in the same pass over the
    /// sum: the same values as `Activation(activation).forward(forward(input).output).output`.
    public func forward(_ input: Tensor, fusing activation: ActivationFunction) -> (output: Tensor, cache: Cache) {
        precondition(activation.clampUpperBound != nil, "Residual.forward(fusing:): \(activation) is not relu or relu6")
        return forward(input, clampUpper: activation.clampUpperBound)
    }

    private func forward(_ input: Tensor, clampUpper: Float?) -> (output: Tensor, cache: Cache) {
        let (bodyOutput, bodyCache) = body.forward(input)
        guard let shortcut else {
            return (elementwiseSum(bodyOutput, input, clampUpper: clampUpper), Cache(body: bodyCache, shortcut: nil))
        }
        let (shortcutOutput, shortcutCache) = shortcut.forward(input)
        return (elementwiseSum(bodyOutput, shortcutOutput, clampUpper: clampUpper), Cache(body: bodyCache, shortcut: shortcutCache))
    }

    public func backward(_ gradOutput: Tensor, cache: Cache, parameterGradients: Bool) -> (gradInput: Tensor, gradLayer: Residual?) {
        let (gradBody, gradBodyLayer) = body.backward(gradOutput, cache: cache.body, parameterGradients: parameterGradients)
        var gradLayer = parameterGradients ? self : nil
        gradLayer?.body = gradBodyLayer ?? body
        guard let shortcut, let shortcutCache = cache.shortcut else {
            return (gradBody + gradOutput, gradLayer)
        }
        let (gradShortcut, gradShortcutLayer) = shortcut.backward(gradOutput, cache: shortcutCache, parameterGradients: parameterGradients)
        gradLayer?.shortcut = gradShortcutLayer
        return (gradBody + gradShortcut, gradLayer)
    }

    public func visitTensors(prefix: String, _ visit: (String, TensorRole, Tensor) -> Void) {
        body.visitTensors(prefix: prefix, visit)
        shortcut?.visitTensors(prefix: prefix, visit)
    }

    public mutating func updateTensors(prefix: String, _ update: (String, TensorRole, inout Tensor) -> Void) {
        body.updateTensors(prefix: prefix, update)
        shortcut?.updateTensors(prefix: prefix, update)
    }
}
