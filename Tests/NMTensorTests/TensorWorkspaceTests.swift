import Dispatch
import Synchronization
import NMTensor
import NMTestSupport
import Testing

/// `TensorWorkspace`: repeated passes reuse every buffer, buffers of dead tensors serve later
/// outputs, results equal the computation without a workspace, and tensors kept from an
/// earlier pass are never overwritten.
@Suite struct TensorWorkspaceTests {
    /// A small chain touching each kind of kernel that draws from the workspace.
    static func pass(_ a: Tensor, _ b: Tensor, image: Tensor) -> [Tensor] {
        let product = matmul(a, b)  // GEMM
        let activated = activationForward(.relu6, product + 1)  // elementwise + activation
        let geometry = ConvGeometry(
            channels: 2, inputHeight: 6, inputWidth: 5, kernelHeight: 3, kernelWidth: 3,
            strideHeight: 1, strideWidth: 1, padding: Padding2D(1), dilationHeight: 1, dilationWidth: 1)
        let columns = im2col(image, geometry: geometry)
        let folded = col2im(columns, geometry: geometry)
        let pooled = maxPool2D(folded, geometry: geometry)
        let scaled = channelAffine(pooled, scale: Tensor(shape: [2], scalars: [2, -1]), shift: nil)
        return [activated, columns, folded, scaled, scaled.exp(), product.permuted([1, 0])]
    }

    static func inputs(seed: UInt64, rows: Int = 4) -> (Tensor, Tensor, Tensor) {
        var generator = SeededGenerator(seed: seed)
        return (
            Tensor.normal([rows, 3], generator: &generator), Tensor.normal([3, 5], generator: &generator),
            Tensor.normal([1, 2, 6, 5], generator: &generator))
    }

    @Test func repeatedPassesReuseEveryBufferAndMatchTheUnpooledResult() {
        let workspace = TensorWorkspace()
        for seed in UInt64(1)...3 {
            let (a, b, image) = Self.inputs(seed: seed)
            let expected = Self.pass(a, b, image: image)
            let actual = workspace.run { Self.pass(a, b, image: image) }
            #expect(actual == expected)
            let statistics = workspace.lastPass
            #expect(statistics.buffers >= 9)
            #expect(statistics.bytes >= statistics.buffers * 4)
            // The first pass fills the pool; later ones allocate nothing (their results were dropped).
            if seed == 1 {
                #expect(statistics.allocations > 0 && statistics.allocations <= statistics.buffers)
            } else {
                #expect(statistics.allocations == 0)
            }
        }
    }

    @Test func tensorsKeptFromAnEarlierPassAreNotOverwritten() {
        let workspace = TensorWorkspace()
        let (a1, b1, image1) = Self.inputs(seed: 10)
        let kept = workspace.run { Self.pass(a1, b1, image: image1) }
        let (a2, b2, image2) = Self.inputs(seed: 11)
        let second = workspace.run { Self.pass(a2, b2, image: image2) }
        #expect(kept == Self.pass(a1, b1, image: image1))
        #expect(second == Self.pass(a2, b2, image: image2))
        // Each kept result's buffer was skipped; the pass allocated at most one buffer per kept
        // result (fewer when another free buffer of that size was available).
        #expect(workspace.lastPass.allocations > 0 && workspace.lastPass.allocations <= kept.count)
    }

    @Test func aChangedSizeReallocatesOnceThenReusesAgain() {
        let workspace = TensorWorkspace()
        let (a, b, image) = Self.inputs(seed: 20)
        _ = workspace.run { Self.pass(a, b, image: image) }
        let (a7, b7, image7) = Self.inputs(seed: 21, rows: 7)
        let resized = workspace.run { Self.pass(a7, b7, image: image7) }
        #expect(resized == Self.pass(a7, b7, image: image7))
        #expect(workspace.lastPass.allocations > 0)
        _ = workspace.run { Self.pass(a7, b7, image: image7) }
        #expect(workspace.lastPass.allocations == 0)
    }

    @Test func buffersOfDeadTensorsServeLaterOutputsOfThePass() {
        let workspace = TensorWorkspace()
        var generator = SeededGenerator(seed: 60)
        let start = Tensor.normal([64, 64], generator: &generator)
        var expected = start
        for step in 0..<20 { expected = (expected * 0.5 + Float(step)).tanh() }
        let result = workspace.run {
            var value = start
            for step in 0..<20 { value = (value * 0.5 + Float(step)).tanh() }
            return value
        }
        #expect(result == expected)
        // 60 outputs of 64×64, but at most three are alive at once (the input, the result
        // being written, and one intermediate): the pool needed no more than that.
        #expect(workspace.lastPass.buffers == 60)
        #expect(workspace.lastPass.allocations <= 3)
        #expect(workspace.retainedBytes <= 3 * 64 * 64 * 4)
    }

    @Test func aNestedOrConcurrentPassRunsWithoutReuseAndStaysCorrect() {
        let workspace = TensorWorkspace()
        let (a, b, image) = Self.inputs(seed: 40)
        let expected = Self.pass(a, b, image: image)
        let (outer, inner) = workspace.run {
            (Self.pass(a, b, image: image), workspace.run { Self.pass(a, b, image: image) })
        }
        #expect(outer == expected && inner == expected)
        // Only the outer pass's buffers were counted: the inner one ran without the workspace.
        let outerOnly = workspace.lastPass.buffers
        _ = workspace.run { Self.pass(a, b, image: image) }
        #expect(workspace.lastPass.buffers == outerOnly)

        let results = Mutex<[[Tensor]]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let result = workspace.run { Self.pass(a, b, image: image) }
            results.withLock { $0.append(result) }
        }
        #expect(results.withLock { $0.allSatisfy { $0 == expected } })
    }

    @Test func freeBuffersOfSizesLeftUnusedForSeveralPassesAreDropped() {
        let workspace = TensorWorkspace()
        let large = Tensor.ones([256, 256])
        let kept = workspace.run { large * 2 }
        // The same size, while `kept` holds one buffer; the result is dropped at once.
        #expect(workspace.run { large + 1 } == large + 1)
        #expect(workspace.retainedBytes == 2 * 256 * 256 * 4)
        withExtendedLifetime(kept) {
            let idle = TensorWorkspace.idlePassesBeforeDropping
            for pass in 1...idle {
                _ = workspace.run { Tensor.ones([3]) + 1 }
                // Until the size has been idle long enough, both 256×256 buffers stay; then the
                // free one goes and the one `kept` holds stays.
                let expected = pass < idle ? 3 * 4 + 2 * 256 * 256 * 4 : 3 * 4 + 256 * 256 * 4
                #expect(workspace.retainedBytes == expected, "pass \(pass)")
            }
        }
    }

    @Test func releasingBuffersStartsOver() {
        let workspace = TensorWorkspace()
        let (a, b, image) = Self.inputs(seed: 50)
        _ = workspace.run { Self.pass(a, b, image: image) }
        workspace.releaseBuffers()
        _ = workspace.run { Self.pass(a, b, image: image) }
        #expect(workspace.lastPass.allocations > 0)
    }
}
