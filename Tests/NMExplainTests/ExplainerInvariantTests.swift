import NMExplain
import NMNets
import NMTensor
import NMTestSupport
import Testing

/// Every method through the common `Explainer` shape, on the synthetic-pattern CNN at 32×32:
/// a finite `[H, W]` map, the same map for the same seed, and the named error for bad input.
@Suite(.serialized) struct ExplainerInvariantTests {
    static let task = SyntheticPatternTask.trainedClassifier()

    static func explainer(_ method: ExplanationMethod, seed: UInt64 = 0) -> any Explainer {
        var overrides = ExplanationMethod.Overrides()
        overrides.seed = seed
        overrides.iterations = 20  // optimising methods: enough to exercise the loop
        return method.makeExplainer(classifier: task.classifier, imageSize: 32, overrides: overrides)
    }

    @Test(arguments: ExplanationMethod.allCases)
    func mapHasTheImageShapeIsFiniteAndRepeatsForASeed(method: ExplanationMethod) throws {
        let image = Self.task.testImages.sliced(alongAxis: 0, 0..<1)
        let explainer = Self.explainer(method)
        #expect(explainer.methodName == method.rawValue)
        let first = try explainer.explain(image, target: nil)
        #expect(first.values.shape == [32, 32])
        #expect(first.values.isFinite)
        #expect(first.target == Self.task.classifier.logits(image).argmax())
        #expect(first.forwardPasses >= 1)
        let second = try Self.explainer(method).explain(image, target: nil)
        #expect(second.values == first.values, "same seed, same map")
    }

    @Test(arguments: ExplanationMethod.allCases)
    func badInputThrowsTheNamedError(method: ExplanationMethod) throws {
        let explainer = Self.explainer(method)
        var image = Self.task.testImages.sliced(alongAxis: 0, 0..<1)
        #expect(throws: ExplainError.targetOutOfRange(target: 5, classCount: 5)) { try explainer.explain(image, target: 5) }
        #expect(throws: ExplainError.imageShape([3, 32, 32])) { try explainer.explain(image.reshaped([3, 32, 32]), target: nil) }
        image.scalars[7] = .nan
        #expect(throws: ExplainError.nonFiniteImage(count: 1)) { try explainer.explain(image, target: nil) }

        // A model whose weights hold a NaN gives NaN logits: named, not a map of NaNs.
        var poisoned = Self.task.classifier
        var isFirst = true
        poisoned.network.updateTensors(prefix: "") { _, role, tensor in
            if role == .parameter && isFirst { tensor.scalars[0] = .nan; isFirst = false }
        }
        var overrides = ExplanationMethod.Overrides()
        overrides.iterations = 20
        let broken = method.makeExplainer(classifier: poisoned, imageSize: 32, overrides: overrides)
        let clean = Self.task.testImages.sliced(alongAxis: 0, 0..<1)
        #expect(throws: ExplainError.nonFiniteModelOutput(count: 5)) { try broken.explain(clean, target: nil) }
    }

    @Test func unknownMethodNamesThrowWithTheList() {
        #expect(throws: ExplainError.self) { try ExplanationMethod(named: "shap") }
        #expect(ExplanationMethod.allCases.count == 12)
    }
}
