import NMTensor
import NMTestSupport
import Testing

/// `a · b[i] + bias` per batch entry by a naive loop in Double; `a` is `[M, K]`, `b` `[N, K, L]`.
private func naiveBatchProduct(_ a: Tensor, _ b: Tensor, bias: Tensor?) -> Tensor {
    let (m, k) = (a.shape[0], a.shape[1])
    let (batch, length) = (b.shape[0], b.shape[2])
    let (aScalars, bScalars) = (a.scalars, b.scalars)
    var c = [Float](repeating: 0, count: batch * m * length)
    for entry in 0..<batch {
        for i in 0..<m {
            for j in 0..<length {
                var sum = Double(bias?.scalars[i] ?? 0)
                for p in 0..<k { sum += Double(aScalars[i * k + p]) * Double(bScalars[(entry * k + p) * length + j]) }
                c[(entry * m + i) * length + j] = Float(sum)
            }
        }
    }
    return Tensor(shape: [batch, m, length], scalars: c)
}

@Suite struct PackedMatrixTests {
    /// Shapes around the tile (6×16), K-block (256) and column-block (2048) edges, small ones run
    /// in one piece and large ones split over the threads by columns (N ≥ M) or by rows; the
    /// columns past the last full strip take every edge kernel (1, 2, 4: narrow; 6, 8: half
    /// tile; 9+: full tile), as 7×7 (49), 14×14 (196) and 17×17 (289) outputs do. K ≤ 32 takes
    /// the panel-by-panel order (with a short last panel, two column blocks and each edge kind
    /// in (100, 24, 2070), (96, 16, 3000) and (8, 9, 2100)).
    @Test(arguments: [
        (1, 1, 1), (5, 3, 15), (6, 16, 16), (7, 17, 17), (13, 255, 33), (12, 256, 48), (19, 257, 50),
        (64, 600, 100), (300, 70, 40), (8, 9, 2100), (100, 520, 2070), (200, 600, 49), (23, 40, 196), (25, 300, 289),
        (100, 24, 2070), (96, 16, 3000),
    ])
    func productMatchesNaiveLoop(m: Int, k: Int, n: Int) {
        let a = randomTensor([m, k], seed: 1)
        let b = randomTensor([2, k, n], seed: 2)
        let bias = randomTensor([m], seed: 3)
        let packed = PackedMatrix(a, rows: m, columns: k)
        assertClose(matmul(packed, b), naiveBatchProduct(a, b, bias: nil), rtol: 1e-5, atol: 1e-5, "m=\(m) k=\(k) n=\(n)")
        assertClose(matmul(packed, b, rowBias: bias), naiveBatchProduct(a, b, bias: bias), rtol: 1e-5, atol: 1e-5, "bias, m=\(m) k=\(k) n=\(n)")
    }

    /// A fused clamp (relu6, relu) equals clamping the product afterwards, over one and several
    /// K blocks and both splits; NaN stays NaN.
    @Test func clampMatchesClampingAfterwards() {
        for (m, k, n) in [(7, 20, 33), (40, 300, 600), (300, 70, 40)] {
            let a = randomTensor([m, k], seed: 14) * 2
            var b = randomTensor([1, k, n], seed: 15) * 2
            b.scalars[3] = .nan  // column 3 of every row of the product
            let bias = randomTensor([m], seed: 16)
            let packed = PackedMatrix(a, rows: m, columns: k)
            let plain = matmul(packed, b, rowBias: bias)
            for upper: Float in [6, .infinity] {
                let fused = matmul(packed, b, rowBias: bias, clampUpper: upper)
                let expected = plain.scalars.map { $0.isNaN ? $0 : min(max($0, 0), upper) }
                #expect(zip(fused.scalars, expected).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "m=\(m) k=\(k) n=\(n) upper=\(upper)")
            }
        }
    }

    /// A gate (relu6, relu) applied as the product is stored equals gating it afterwards, bit for
    /// bit, over one and several K blocks, both splits, narrow edge strips and a batch of two;
    /// NaN and gate values exactly at 0 or 6 block.
    @Test func gateMatchesGatingAfterwards() {
        // K ≤ 32 (panel order): (7, 20, 33), (13, 9, 3), and two column blocks split over the
        // threads with a wide (96, 24, 3000) and a narrow (50, 16, 2100) last strip.
        for (m, k, n) in [(7, 20, 33), (40, 300, 600), (300, 70, 40), (13, 9, 3), (96, 24, 3000), (50, 16, 2100)] {
            let a = randomTensor([m, k], seed: 17)
            let b = randomTensor([2, k, n], seed: 18)
            let packed = PackedMatrix(a, rows: m, columns: k)
            let plain = matmul(packed, b)
            var output = (randomTensor(plain.shape, seed: 19) * 8).relu()  // some at 0, some above 6
            for (index, value) in [(0, Float.nan), (1, 6), (2, 0), (m * n + 5, .nan)] { output.scalars[index] = value }
            for function in [ActivationFunction.relu6, .relu] {
                let gate = ClampGate(function, output: output)
                #expect(matmul(packed, b, gate: gate).scalars == gate.applied(to: plain).scalars, "m=\(m) k=\(k) n=\(n) \(function)")
            }
        }
    }

    /// Packing a transposed matrix reads it as its transpose: the same product as packing the
    /// explicit transpose.
    @Test func transposedPackingReadsTheTranspose() {
        let (m, k, n) = (23, 300, 70)
        let stored = randomTensor([k, m], seed: 4)
        let b = randomTensor([1, k, n], seed: 5)
        let packed = PackedMatrix(stored, rows: m, columns: k, transposed: true)
        let explicitTranspose = stored.permuted([1, 0])
        assertClose(matmul(packed, b), naiveBatchProduct(explicitTranspose, b, bias: nil), rtol: 1e-5, atol: 1e-5)
    }

    /// An empty depth leaves the bias (or zeros); empty rows or columns give empty outputs.
    @Test func emptyDimensions() {
        let bias = Tensor(shape: [3], scalars: [1, -2, 0.5])
        let noDepth = PackedMatrix(Tensor.zeros([3, 0]), rows: 3, columns: 0)
        let filled = matmul(noDepth, Tensor.zeros([2, 0, 4]), rowBias: bias)
        #expect(filled.shape == [2, 3, 4])
        let biasRows: [Float] = [1, 1, 1, 1, -2, -2, -2, -2, 0.5, 0.5, 0.5, 0.5]
        #expect(filled.scalars == biasRows + biasRows)
        #expect(matmul(noDepth, Tensor.zeros([1, 0, 4])).scalars == [Float](repeating: 0, count: 12))
        #expect(matmul(PackedMatrix(Tensor.zeros([0, 5]), rows: 0, columns: 5), Tensor.zeros([1, 5, 4])).shape == [1, 0, 4])
        #expect(matmul(PackedMatrix(randomTensor([3, 5], seed: 6), rows: 3, columns: 5), Tensor.zeros([1, 5, 0])).shape == [1, 3, 0])
    }

    /// Reused output buffers hold stale values: every output element must be written. A first
    /// workspace pass leaves NaNs in the buffer the product then receives.
    @Test func overwritesEveryOutputElement() {
        let a = randomTensor([10, 40], seed: 7), b = randomTensor([1, 40, 37], seed: 8)
        let packed = PackedMatrix(a, rows: 10, columns: 40)
        let workspace = TensorWorkspace()
        _ = workspace.run { matmul(packed, Tensor(shape: [1, 40, 37], scalars: [Float](repeating: .nan, count: 40 * 37))) }
        let product = workspace.run { matmul(packed, b) }
        #expect(workspace.lastPass.allocations == 0)
        assertClose(product, naiveBatchProduct(a, b, bias: nil), rtol: 1e-5, atol: 1e-5)
    }
}
