import Dispatch
import NMTensor
import Testing

/// `parallelFor` runs on the library's `WorkerPool`: every index exactly once, in the documented
/// chunks, whoever runs them — also for nested calls, many back-to-back jobs and concurrent callers.
@Suite struct ParallelForTests {
    /// Runs `parallelFor` and returns how often each index was visited and the chunks it made.
    private func visits(count: Int, minimumChunk: Int) -> (visits: [Int], chunks: [Range<Int>]) {
        var visits = [Int](repeating: 0, count: count)
        var chunks = [Range<Int>?](repeating: nil, count: ComputeThreads.count)
        visits.withUnsafeMutableBufferPointer { counts in
            chunks.withUnsafeMutableBufferPointer { seen in
                let (counts, seen) = (counts, seen)  // each chunk writes only its own entries
                parallelFor(count, minimumChunk: minimumChunk) { range in
                    for index in range { counts[index] += 1 }
                    // Chunk i starts at ⌈count·i/chunks⌉: find i from the documented split.
                    let chunkCount = min(ComputeThreads.count, max(1, count / max(1, minimumChunk)))
                    let chunk = (0..<chunkCount).first { (count * $0 + chunkCount - 1) / chunkCount == range.lowerBound }!
                    seen[chunk] = range
                }
            }
        }
        return (visits, chunks.compactMap { $0 })
    }

    @Test(arguments: [(1, 1), (2, 1), (7, 1), (1000, 1), (1000, 300), (1000, 2000), (12_345, 64)])
    func everyIndexRunsOnceInTheDocumentedChunks(count: Int, minimumChunk: Int) {
        let (counts, chunks) = visits(count: count, minimumChunk: minimumChunk)
        #expect(counts == [Int](repeating: 1, count: count))
        let chunkCount = min(ComputeThreads.count, max(1, count / minimumChunk))
        // Sizes differ by at most one, the larger chunks first.
        #expect(chunks == (0..<chunkCount).map { ((count * $0 + chunkCount - 1) / chunkCount)..<((count * ($0 + 1) + chunkCount - 1) / chunkCount) })
        #expect(zip(chunks, chunks.dropFirst()).allSatisfy { $0.count >= $1.count && $0.count <= $1.count + 1 })
    }

    @Test func manyBackToBackJobsEachComplete() {
        // Tiny jobs in quick succession: a worker that is late for one job must not run a chunk
        // of the next with the old body, nor miss one.
        var totals = [Int](repeating: 0, count: 20_000)
        for job in 0..<totals.count {
            var parts = [Int](repeating: 0, count: 2)
            parts.withUnsafeMutableBufferPointer { parts in
                let parts = parts
                parallelFor(2) { range in
                    for index in range { parts[index] = job + index }
                }
            }
            totals[job] = parts[0] + parts[1]
        }
        #expect(totals == (0..<totals.count).map { 2 * $0 + 1 })
    }

    @Test func nestedCallsRunInline() {
        var grid = [Int](repeating: 0, count: 64 * 64)
        grid.withUnsafeMutableBufferPointer { cells in
            let cells = cells
            parallelFor(64) { rows in
                for row in rows {
                    parallelFor(64) { columns in
                        for column in columns { cells[row * 64 + column] = row * 1000 + column }
                    }
                }
            }
        }
        #expect(grid == (0..<64 * 64).map { ($0 / 64) * 1000 + $0 % 64 })
    }

    @Test func concurrentCallersAllGetCompleteResults() {
        // Four threads use parallelFor at once; at most one holds the pool, the others run inline.
        let callers = 4
        var sums = [Int](repeating: 0, count: callers)
        sums.withUnsafeMutableBufferPointer { sums in
            nonisolated(unsafe) let sums = sums  // each caller writes only its own entry
            DispatchQueue.concurrentPerform(iterations: callers) { caller in
                var total = 0
                for round in 0..<300 {
                    var values = [Int](repeating: 0, count: 1000)
                    values.withUnsafeMutableBufferPointer { values in
                        let values = values
                        parallelFor(1000, minimumChunk: 10) { range in
                            for index in range { values[index] = index + round + caller }
                        }
                    }
                    total += values.reduce(0, +)
                }
                sums[caller] = total
            }
        }
        let expected = (0..<callers).map { caller in (0..<300).reduce(0) { $0 + 499_500 + 1000 * ($1 + caller) } }
        #expect(sums == expected)
    }
}
