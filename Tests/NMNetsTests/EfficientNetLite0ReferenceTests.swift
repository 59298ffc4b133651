import NMNets
import NMTensor
import NMTestSupport
import Testing

/// The pretrained EfficientNet-Lite0 (weights fetched into the cache on first use) against
/// PyTorch on the same already-resized pixels: logits within 1e-3 and the input gradient of
/// the top logit within 1e-3 relative L2 error.
@Suite(.serialized) struct EfficientNetLite0ReferenceTests {
    static let classifier = Result { try ModelZoo.pretrained(.efficientNetLite0) }

    @Test(arguments: [("chelsea", 285, false), ("coffee", 967, false), ("chelsea", 285, true)])
    func logitsAndGradientMatchPyTorch(photo: String, expectedClass: Int, foldsBatchNorms: Bool) throws {
        let unfolded = try Self.classifier.get()
        let model = foldsBatchNorms ? unfolded.foldingBatchNorms() : unfolded
        let pixels = try ReferenceFiles.array("lite0_\(photo)_input")  // [1, 3, 224, 224]
        let expectedLogits = try ReferenceFiles.array("lite0_\(photo)_logits")  // [1000]
        let expectedGradient = try ReferenceFiles.array("lite0_\(photo)_input_gradient")

        let (logits, gradient) = model.inputGradient(pixels) { logits in
            var probe = Tensor.zeros(logits.shape)
            probe.scalars[logits.argmax()] = 1
            return probe
        }
        assertClose(logits.reshaped([1000]), expectedLogits, rtol: 0, atol: 1e-3, "\(photo) logits")
        #expect(logits.argmax() == expectedClass)
        let error = relativeL2Error(gradient, expectedGradient)
        // Folding BatchNorm into the weights changes Float rounding (measured up to 1.1e-3 with
        // one thread); the unfolded model is held to the 1e-3 of the specification.
        let tolerance = foldsBatchNorms ? 2e-3 : 1e-3
        #expect(error <= tolerance, "\(photo): input gradient relative L2 error \(error)")
    }

    @Test func parameterCountMatchesThePublishedModel() throws {
        let model = try Self.classifier.get()
        #expect(model.network.parameterCount == 4_652_008)
        // Folding removes all 49 BatchNorms: 2·C parameters each become a bias of C.
        let folded = model.foldingBatchNorms().network
        #expect(folded.namedTensors().count == 247 - 49 * 4 + 49)
    }
}
