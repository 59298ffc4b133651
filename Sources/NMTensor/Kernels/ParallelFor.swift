/// Splits `0..<count` into at most `ComputeThreads.count` contiguous chunks and runs `body` on
/// each chunk concurrently (on the calling thread and the library's `WorkerPool`). Chunk
/// boundaries depend only on `count`, the thread count and `minimumChunk`, never on scheduling,
/// so results are deterministic. When the chunks cannot be equal, the first ones are the larger
/// (`chunkBounds`): the calling thread, which starts first, usually takes chunk 0. Small ranges,
/// and calls made while another `parallelFor` runs, run inline.
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
        body(chunkBounds(count, chunk: chunk, of: chunks))
    }
}

/// Chunk `chunk` of `0..<count` cut into `chunks` contiguous pieces whose sizes differ by at most
/// one, the larger ones first (the workers join after the calling thread has started on chunk 0).
@inline(__always)
func chunkBounds(_ count: Int, chunk: Int, of chunks: Int) -> Range<Int> {
    ((count * chunk + chunks - 1) / chunks)..<((count * (chunk + 1) + chunks - 1) / chunks)
}
