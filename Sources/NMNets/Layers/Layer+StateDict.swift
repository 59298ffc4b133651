import NMTensor

/// A state dict that does not fit a model, with every offending key named.
public struct StateDictMismatch: Error, Equatable, CustomStringConvertible {
    /// Keys the model has and the state dict lacks.
    public var missingKeys: [String]
    /// Keys the state dict has and the model lacks.
    public var unexpectedKeys: [String]
    /// Keys present on both sides with different shapes.
    public var shapeMismatches: [ShapeMismatch]

    public struct ShapeMismatch: Equatable, Sendable {
        public var key: String
        public var expected: [Int]
        public var actual: [Int]

        public init(key: String, expected: [Int], actual: [Int]) {
            self.key = key
            self.expected = expected
            self.actual = actual
        }
    }

    public init(missingKeys: [String], unexpectedKeys: [String], shapeMismatches: [ShapeMismatch]) {
        self.missingKeys = missingKeys
        self.unexpectedKeys = unexpectedKeys
        self.shapeMismatches = shapeMismatches
    }

    public var description: String {
        var parts: [String] = []
        if !missingKeys.isEmpty { parts.append("missing keys: \(listed(missingKeys))") }
        if !unexpectedKeys.isEmpty { parts.append("unexpected keys: \(listed(unexpectedKeys))") }
        if !shapeMismatches.isEmpty {
            parts.append("shape mismatches: " + listed(shapeMismatches.map { "\($0.key) expected \($0.expected) got \($0.actual)" }))
        }
        return "state dict does not fit the model: " + parts.joined(separator: "; ")
    }

    private func listed(_ items: [String]) -> String {
        items.count <= 8 ? items.joined(separator: ", ") : items.prefix(8).joined(separator: ", ") + " and \(items.count - 8) more"
    }
}

extension Layer {
    /// Replaces every tensor of the layer with the state dict's entry of the same name, after
    /// checking that every key is present, none is left over and every shape matches.
    /// - Parameter ignoring: a predicate for state-dict keys that are not model tensors
    ///   (by default PyTorch's `num_batches_tracked` counters).
    /// - Throws: `StateDictMismatch` listing every missing, unexpected and mis-shaped key; the
    ///   layer is left unchanged when it throws.
    public mutating func load(
        stateDict: [String: Tensor],
        ignoring isIgnored: (String) -> Bool = { $0.hasSuffix("num_batches_tracked") }
    ) throws {
        var mismatch = StateDictMismatch(missingKeys: [], unexpectedKeys: [], shapeMismatches: [])
        var used = Set<String>()
        visitTensors(prefix: "") { name, _, tensor in
            guard let value = stateDict[name] else {
                mismatch.missingKeys.append(name)
                return
            }
            used.insert(name)
            if value.shape != tensor.shape {
                mismatch.shapeMismatches.append(.init(key: name, expected: tensor.shape, actual: value.shape))
            }
        }
        mismatch.unexpectedKeys = stateDict.keys.filter { !used.contains($0) && !isIgnored($0) }.sorted()
        guard mismatch.missingKeys.isEmpty, mismatch.unexpectedKeys.isEmpty, mismatch.shapeMismatches.isEmpty else {
            throw mismatch
        }
        updateTensors(prefix: "") { name, _, tensor in tensor = stateDict[name]! }
    }

    /// Every tensor by its PyTorch name, for saving (e.g. as safetensors).
    public var stateDict: [String: Tensor] {
        Dictionary(namedTensors().map { ($0.name, $0.tensor) }, uniquingKeysWith: { first, _ in first })
    }
}
