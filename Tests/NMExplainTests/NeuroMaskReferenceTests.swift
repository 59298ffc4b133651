import Foundation
import NMExplain
import NMNets
import NMTensor
import NMTestSupport
import Testing

/// NeuroMask's paper preset against the authors' algorithm run in PyTorch (float64) from the
/// same initial w: the gradient of each loss term and w after 1, 2 and 10 TF-RMSProp updates
/// (scripts/reference/neuromask_reference.py).
@Suite struct NeuroMaskReferenceTests {
    static func reference(_ name: String) throws -> Tensor {
        let url = Bundle.module.url(forResource: "References/neuromask_tiny_\(name)", withExtension: "npy")!
        return try Tensor(npyFile: url)
    }

    /// The CIFAR net at width /8 with the authors' `x − 0.5` input shift.
    static func classifier() throws -> ImageClassifier {
        var network = CIFARNet.network(convolutionWidths: (8, 16), hiddenFeatures: 32, classCount: 10)
        let url = Bundle.module.url(forResource: "References/neuromask_tiny_model", withExtension: "safetensors")!
        try network.load(stateDict: Safetensors.read(from: url))
        return ImageClassifier(
            name: "cifar-tiny", normalization: CIFARNet.normalization, network: network, classNames: ClassNames.cifar10,
            inputSize: 32, minimumInputSize: 32, acceptsAnySize: false)
    }

    static func configuration(iterations: Int = 1) throws -> NeuroMaskConfiguration {
        var configuration = NeuroMaskConfiguration.paper(imageSize: 32)
        configuration.initialization = .explicit(try reference("w0"))
        configuration.iterations = iterations
        return configuration
    }

    @Test func paperPresetUsesTheCIFARDemoSettings() {
        let configuration = NeuroMaskConfiguration.paper(imageSize: 32)
        #expect(configuration.predictionWeight == 0.4 && configuration.sparsityWeight == 0.35 && configuration.smoothnessWeight == 0.15)
        #expect(configuration.temperature == 1 && configuration.laplacianSize == 3 && configuration.learningRate == 0.03)
        let imageNet = NeuroMaskConfiguration.paper(imageSize: 224)
        #expect(imageNet.smoothnessWeight == 0.03 && imageNet.temperature == 0.3 && imageNet.laplacianSize == 5)
        #expect(imageNet.optimizer == .tensorFlowRMSProp(decay: 0.9, epsilon: 1e-10, initialAccumulator: 1))
    }

    @Test(arguments: [("pred", 1 as Float, 0 as Float, 0 as Float), ("sparse", 0, 1, 0), ("smooth", 0, 0, 1), ("total", 0.4, 0.35, 0.15)])
    func gradientOfEachTermMatchesPyTorch(term: String, a: Float, b: Float, g: Float) throws {
        var configuration = try Self.configuration()
        (configuration.predictionWeight, configuration.sparsityWeight, configuration.smoothnessWeight) = (a, b, g)
        let objective = try NeuroMask(classifier: Self.classifier(), configuration: configuration)
            .objective(for: Self.reference("image"), target: nil)
        #expect(objective.target == 8)
        let (_, gradient) = objective.evaluate(try Self.reference("w0"))
        let expected = try Self.reference("grad_\(term)_iter0")
        assertClose(gradient, expected, rtol: 1e-4, atol: 1e-6, "∂\(term)/∂w")
    }

    @Test(arguments: [1, 2, 10])
    func parametersAfterUpdatesMatchPyTorch(updates: Int) throws {
        let neuroMask = NeuroMask(classifier: try Self.classifier(), configuration: try Self.configuration(iterations: updates))
        let result = try neuroMask.run(Self.reference("image"), target: nil)
        assertClose(result.finalParameters, try Self.reference("w\(updates)"), rtol: 0, atol: 2e-5, "w after \(updates) updates")
        // The returned mask is the one the last iteration used: σ(w_{k−1} / T).
        let previous = updates == 1 ? try Self.reference("w0") : nil
        if let previous { assertClose(result.mask, previous.sigmoid(), rtol: 1e-6, atol: 1e-7) }
        #expect(result.iterationsRun == updates)
    }

    @Test func lossTraceMatchesPyTorch() throws {
        let neuroMask = NeuroMask(classifier: try Self.classifier(), configuration: try Self.configuration(iterations: 10))
        let result = try neuroMask.run(Self.reference("image"), target: nil)
        let url = Bundle.module.url(forResource: "References/neuromask_tiny", withExtension: "json")!
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let log = json["log"] as! [[String: Any]]
        for (step, expected) in zip(result.trace, log) {
            let total = Float(expected["total"] as! Double)
            let probability = Float(expected["target_probability"] as! Double)
            #expect(abs(step.totalLoss - total) <= 1e-4 * abs(total), "iteration \(step.iteration): total \(step.totalLoss) vs \(total)")
            #expect(abs(step.targetProbability - probability) <= 1e-4, "iteration \(step.iteration): p \(step.targetProbability) vs \(probability)")
        }
    }
}
