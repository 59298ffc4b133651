import NMTensor
import NMTestSupport
import Testing

/// Naive triple loop over each batch entry of already-broadcast operands; accumulates in Double.
private func naiveMatmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
    let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let n = transposeB ? b.shape[0] : b.shape[1]
    var c = Tensor.zeros([m, n])
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let aValue = transposeA ? a[p, i] : a[i, p]
                let bValue = transposeB ? b[j, p] : b[p, j]
                sum += Double(aValue) * Double(bValue)
            }
            c[i, j] = Float(sum)
        }
    }
    return c
}

@Suite struct GEMMTests {
    @Test(arguments: [false, true], [false, true])
    func matmulMatchesNaiveForEveryTranspose(transposeA: Bool, transposeB: Bool) {
        // The last three are large enough to be split over the worker threads: one output row or
        // column (sgemv, split over that vector) and a general product (sgemm, split over N).
        for (m, k, n) in [(1, 1, 1), (3, 5, 7), (17, 1, 4), (64, 33, 9), (1, 70, 1), (1, 300, 1000), (1000, 300, 1), (70, 60, 500)] {
            let a = randomTensor(transposeA ? [k, m] : [m, k], seed: 1)
            let b = randomTensor(transposeB ? [n, k] : [k, n], seed: 2)
            let product = matmul(a, b, transposeA: transposeA, transposeB: transposeB)
            assertClose(product, naiveMatmul(a, b, transposeA: transposeA, transposeB: transposeB), rtol: 1e-5, atol: 1e-5, "m=\(m) k=\(k) n=\(n)")
        }
    }

    @Test func alphaAndBetaScaleAsDocumented() {
        let a = randomTensor([4, 3], seed: 3), b = randomTensor([3, 5], seed: 4)
        let initial = randomTensor([4, 5], seed: 5)
        var c = initial
        gemm(a, b, into: &c, alpha: 2, beta: 0.5)
        let expected = naiveMatmul(a, b, transposeA: false, transposeB: false)
        let reference = Tensor(shape: [4, 5], scalars: zip(expected.scalars, initial.scalars).map { 2 * $0 + 0.5 * $1 })
        assertClose(c, reference, atol: 1e-5)
    }

    /// Single-row and single-column products run as split matrix-vector products: alpha, beta
    /// and every transpose must still hold.
    @Test(arguments: [(1, 400, 900), (900, 400, 1)])
    func vectorProductsHonourAlphaBetaAndTransposes(m: Int, k: Int, n: Int) {
        for (transposeA, transposeB) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = randomTensor(transposeA ? [k, m] : [m, k], seed: 10)
            let b = randomTensor(transposeB ? [n, k] : [k, n], seed: 11)
            let initial = randomTensor([m, n], seed: 12)
            var c = initial
            gemm(a, b, into: &c, transposeA: transposeA, transposeB: transposeB, alpha: -1.5, beta: 0.25)
            let product = naiveMatmul(a, b, transposeA: transposeA, transposeB: transposeB)
            let expected = Tensor(shape: [m, n], scalars: zip(product.scalars, initial.scalars).map { -1.5 * $0 + 0.25 * $1 })
            assertClose(c, expected, rtol: 1e-5, atol: 1e-4, "m=\(m) n=\(n) transposeA=\(transposeA) transposeB=\(transposeB)")
        }
    }

    /// A convolution's GEMM: per group `weight · input` plus a per-row bias filled block by block —
    /// small, split (over columns or rows) and matrix-vector (L = 1, M = 1) products.
    @Test(arguments: [(2, 3, 5, 4, 7), (1, 1, 64, 48, 3136), (1, 2, 300, 40, 49), (2, 2, 40, 30, 1), (1, 1, 1, 500, 600)])
    func matmulWithRowBiasMatchesNaive(batch: Int, groups: Int, rows: Int, depth: Int, length: Int) {
        let weight = randomTensor([groups, rows, depth], seed: 13)
        let input = randomTensor([batch, groups, depth, length], seed: 14)
        let bias = randomTensor([groups * rows], seed: 15)
        let output = matmul(weight, input, rowBias: bias)
        #expect(output.shape == [batch, groups, rows, length])
        for n in 0..<batch {
            for g in 0..<groups {
                let w = Tensor(shape: [rows, depth], scalars: Array(weight.scalars[(g * rows * depth)..<((g + 1) * rows * depth)]))
                let entry = (n * groups + g) * depth * length
                let x = Tensor(shape: [depth, length], scalars: Array(input.scalars[entry..<(entry + depth * length)]))
                let product = naiveMatmul(w, x, transposeA: false, transposeB: false)
                let expected = Tensor(shape: [rows, length], scalars: product.scalars.enumerated().map { $1 + bias.scalars[g * rows + $0 / length] })
                let offset = (n * groups + g) * rows * length
                let found = Tensor(shape: [rows, length], scalars: Array(output.scalars[offset..<(offset + rows * length)]))
                assertClose(found, expected, rtol: 1e-5, atol: 1e-4, "n=\(n) g=\(g)")
            }
        }
    }

    @Test func batchedMatmulBroadcastsAndMatchesPerEntryProducts() {
        let a = randomTensor([2, 1, 3, 4], seed: 6)  // broadcast over axis 1
        let b = randomTensor([3, 4, 5], seed: 7)  // broadcast over axis 0
        let c = matmul(a, b)
        #expect(c.shape == [2, 3, 3, 5])
        for i in 0..<2 {
            for j in 0..<3 {
                let aEntry = Tensor(shape: [3, 4], scalars: Array(a.scalars[(i * 12)..<(i * 12 + 12)]))
                let bEntry = Tensor(shape: [4, 5], scalars: Array(b.scalars[(j * 20)..<(j * 20 + 20)]))
                let offset = (i * 3 + j) * 15
                let cEntry = Tensor(shape: [3, 5], scalars: Array(c.scalars[offset..<(offset + 15)]))
                assertClose(cEntry, naiveMatmul(aEntry, bEntry, transposeA: false, transposeB: false), atol: 1e-5)
            }
        }
    }

    @Test func broadcastOutputSumsOverTheBatch() {
        // Σ_n gradOutput[n] · columns[n]ᵀ — the weight-gradient reduction of a convolution.
        let gradOutput = randomTensor([3, 4, 6], seed: 8)
        let columns = randomTensor([3, 5, 6], seed: 9)
        var gradWeight = Tensor.ones([4, 5])
        gemm(gradOutput, columns, into: &gradWeight, transposeB: true, beta: 1)
        var expected = Tensor.ones([4, 5])
        for n in 0..<3 {
            let g = Tensor(shape: [4, 6], scalars: Array(gradOutput.scalars[(n * 24)..<(n * 24 + 24)]))
            let x = Tensor(shape: [5, 6], scalars: Array(columns.scalars[(n * 30)..<(n * 30 + 30)]))
            let product = naiveMatmul(g, x, transposeA: false, transposeB: true)
            expected.scalars = zip(expected.scalars, product.scalars).map { $0 + $1 }
        }
        assertClose(gradWeight, expected, atol: 1e-5)
    }

    @Test func zeroSizeDimensions() {
        #expect(matmul(Tensor.zeros([0, 3]), Tensor.ones([3, 2])).shape == [0, 2])
        let empty = matmul(Tensor.zeros([2, 0]), Tensor.zeros([0, 3]))
        #expect(empty == Tensor.zeros([2, 3]))
        var c = Tensor.ones([2, 3])
        gemm(Tensor.zeros([2, 0]), Tensor.zeros([0, 3]), into: &c, beta: 2)
        #expect(c == Tensor.full([2, 3], value: 2))
    }
}
