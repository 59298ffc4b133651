/// Splits `0..<count` into at most `ComputeThreads.count` contiguous chunks and runs `body` on
/// each chunk concurrently (on the calling thread and the library's `WorkerPool`). Chunk
/// boundaries depend only on `count`, the thread count and `minimumChunk`, never on scheduling,
/// so results are deterministic. Small ranges, and calls made while another `parallelFor` runs,
/// run inline.
/// - Parameters:
///   - count: number of independent work items.
///   - minimumChunk: the least number of items worth sending to another thread.
///   - body: called once per chunk with its range, possibly on another thread; it must only
///     write state that belongs to its own chunk.
public func parallelFor(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let threads = ComputeThreads.count
    let chunks = min(threads, max(1, count / max(1, minimumChunk)))
    WorkerPool.shared.run(chunks: chunks, threads: threads) { chunk in
        body((count * chunk / chunks)..<(count * (chunk + 1) / chunks))
    }
}
