import NMNets
import NMTensor
import NMTestSupport
import Testing

/// Narrow copies of the zoo architectures against PyTorch (torchvision wiring, computed in
/// float64) on identical weights and inputs: logits and the input gradient of
/// Σ_n logit[n, target_n] (the targets PyTorch recorded: its top-1 per sample).
@Suite struct ModelZooReferenceTests {
    static let cases: [(name: String, network: @Sendable () -> Sequential)] = [
        ("resnet18_small", { ResNet.network(depth: .resnet18, baseWidth: 8, classCount: 10) }),
        ("resnet50_small", { ResNet.network(depth: .resnet50, baseWidth: 8, classCount: 10) }),
        ("vgg16_small", { VGG16.network(widthDivisor: 16, hiddenFeatures: 64, classCount: 10) }),
        ("inception_v3_small", { InceptionV3.network(widthDivisor: 8, classCount: 10) }),
        ("cifar10_small", { CIFARNet.network(convolutionWidths: (16, 32), hiddenFeatures: 64, classCount: 10) }),
    ]

    @Test(arguments: cases.map(\.name))
    func logitsAndInputGradientMatchPyTorch(model: String) throws {
        var network = Self.cases.first { $0.name == model }!.network()
        try network.load(stateDict: ReferenceFiles.weights(model))
        let input = try ReferenceFiles.array(model + "_input")
        let expectedLogits = try ReferenceFiles.array(model + "_logits")
        let expectedGradient = try ReferenceFiles.array(model + "_input_gradient")

        let (logits, cache) = network.forward(input)
        assertClose(logits.reshaped(expectedLogits.shape), expectedLogits, rtol: 1e-3, atol: 1e-4, "\(model) logits")

        let classes = logits.shape[1]
        var probe = Tensor.zeros(logits.shape)
        for (row, target) in try ReferenceFiles.targets(model).enumerated() { probe.scalars[row * classes + target] = 1 }
        let gradient = network.backward(probe, cache: cache, parameterGradients: false).gradInput
        let error = relativeL2Error(gradient, expectedGradient)
        #expect(error <= 1e-3, "\(model): input gradient relative L2 error \(error)")
    }
}

@Suite struct ModelZooTests {
    @Test(arguments: ModelArchitecture.allCases)
    func featureLayerNamesALayerOfTheNetwork(architecture: ModelArchitecture) throws {
        #expect(try ModelZoo.untrainedNetwork(architecture).layerNames.contains(architecture.featureLayer))
    }

    @Test func unknownModelNamesThrowWithTheList() throws {
        #expect(throws: ModelZooError.unknownModel(name: "resnet9", available: ModelArchitecture.allCases.map(\.rawValue))) {
            try ModelArchitecture(named: "resnet9")
        }
        #expect(try ModelArchitecture(named: "EfficientNet-Lite0") == .efficientNetLite0)
    }

    @Test func wrongShapesAndKeysAreAllNamed() throws {
        var stateDict = ResNet.network(depth: .resnet18, baseWidth: 8, classCount: 10).stateDict
        stateDict["fc.weight"] = .zeros([3, 64])
        stateDict.removeValue(forKey: "bn1.bias")
        stateDict["extra.weight"] = .zeros([1])
        var network = ResNet.network(depth: .resnet18, baseWidth: 8, classCount: 10)
        #expect(throws: StateDictMismatch(
            missingKeys: ["bn1.bias"], unexpectedKeys: ["extra.weight"],
            shapeMismatches: [.init(key: "fc.weight", expected: [10, 64], actual: [3, 64])])) {
            try network.load(stateDict: stateDict)
        }
    }
}
