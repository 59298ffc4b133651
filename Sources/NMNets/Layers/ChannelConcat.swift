import NMTensor

/// Parallel branches on the same input whose outputs are concatenated along the channel axis
/// (Inception's mixed blocks). Each branch keeps its own names.
public struct ChannelConcat: Layer {
    public var branches: [Sequential]

    public init(_ branches: [Sequential]) {
        precondition(!branches.isEmpty, "ChannelConcat: needs at least one branch")
        self.branches = branches
    }

    public struct Cache {
        var branches: [Sequential.Cache]
        var channelCounts: [Int]
    }

    public func forward(_ input: Tensor) -> (output: Tensor, cache: Cache) {
        let results = branches.map { $0.forward(input) }
        let outputs = results.map(\.output)
        let output = Tensor.concatenated(outputs, alongAxis: 1)
        return (output, Cache(branches: results.map(\.cache), channelCounts: outputs.map { $0.shape[1] }))
    }

    public func backward(_ gradOutput: Tensor, cache: Cache, parameterGradients: Bool) -> (gradInput: Tensor, gradLayer: ChannelConcat?) {
        var gradInput: Tensor?
        var gradLayer = parameterGradients ? self : nil
        var start = 0
        for (index, branch) in branches.enumerated() {
            let channels = cache.channelCounts[index]
            let gradBranchOutput = gradOutput.sliced(alongAxis: 1, start..<(start + channels))
            start += channels
            let (gradBranchInput, gradBranch) = branch.backward(gradBranchOutput, cache: cache.branches[index], parameterGradients: parameterGradients)
            gradInput = gradInput.map { $0 + gradBranchInput } ?? gradBranchInput
            if let gradBranch { gradLayer?.branches[index] = gradBranch }
        }
        return (gradInput!, gradLayer)
    }

    public func visitTensors(prefix: String, _ visit: (String, TensorRole, Tensor) -> Void) {
        for branch in branches { branch.visitTensors(prefix: prefix, visit) }
    }

    public mutating func updateTensors(prefix: String, _ update: (String, TensorRole, inout Tensor) -> Void) {
        for index in branches.indices { branches[index].updateTensors(prefix: prefix, update) }
    }
}
